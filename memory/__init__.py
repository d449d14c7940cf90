"""memory: the Zarr-backed 3D store of latent tokens, pose retrieval and latent warping.

Knows points, poses and opaque C-channel features; imports no model and no worldengine
module (the cube's face rotations are handed in by the caller).
"""

from memory.backproject import LatentPoints, backproject, block_depth
from memory.export import ExportedFiles, cube_cross, export_ply, fill_holes, preview_png, trajectory_json
from memory.index import RETRIEVALS, frames_by_overlap, nearest_frames, retrieve, tokens_near
from memory.store import LatentMemory
from memory.warp import Warped, warp_memory, warp_points

__all__ = [
    "LatentPoints", "backproject", "block_depth",
    "ExportedFiles", "cube_cross", "export_ply", "fill_holes", "preview_png", "trajectory_json",
    "RETRIEVALS", "frames_by_overlap", "nearest_frames", "retrieve", "tokens_near",
    "LatentMemory",
    "Warped", "warp_memory", "warp_points",
]
