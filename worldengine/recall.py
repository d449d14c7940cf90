"""What a world remembers, and how it reads it back into a view's latent grid.

memory kinds (WorldConfig.memory, or per world at reset):
- "latent" (the engine's): voxel-fused latent tokens, read by querying the tokens near
  the camera and splatting them straight into the latent grid (memory.warp_memory).
- "rgb_points": the explicit baseline, an RGB point cloud at pixel resolution
  (memory.points), rendered into the new view and encoded by the autoencoder each step.
- "none": nothing is remembered; only the generator's history frames condition it.

retrieval policies (which latent tokens are read; WorldConfig.retrieval):
- "radius": every token within memory_radius of the camera (the default).
- "nearest_frames": only tokens last written by the NEAREST_FRAMES past frames nearest the
  camera by translation (DeepVerse's retrieval, memory.nearest_frames).
- "recent": only tokens last written by the RECENT_FRAMES newest frames (a sliding
  window: what memory amounts to without a spatial index).
"""

from __future__ import annotations

import torch

from memory import LatentMemory, Warped, block_depth, fill_holes, nearest_frames, tokens_near, warp_points
from memory.points import PointCloudMemory, PointRender
from worldengine.autoencoder import CubeAutoencoder, pack_rgbd

MEMORY_KINDS = ("latent", "rgb_points", "none")
RETRIEVALS = ("radius", "nearest_frames", "recent")
NEAREST_FRAMES = 5
RECENT_FRAMES = 8
CRACK_FILL = 2  # pixels: gaps between splatted points that an "rgb_points" rendering fills


def retrieve(memory: LatentMemory, pose: torch.Tensor, radius: float, retrieval: str = "radius") -> torch.Tensor:
    """Rows of the tokens `retrieval` reads for a camera at `pose` (4, 4)."""
    if retrieval not in RETRIEVALS:
        raise ValueError(f"retrieval must be one of {RETRIEVALS}, got {retrieval!r}")
    rows = tokens_near(memory, pose[:3, 3], radius)
    if retrieval == "radius" or len(rows) == 0:
        return rows
    if retrieval == "nearest_frames":
        chosen = nearest_frames(memory, pose, NEAREST_FRAMES)
    else:
        ids = memory.frames()["frame_id"]
        chosen = ids[-RECENT_FRAMES:]
    writers = memory.table.columns_at(rows, "frame")
    return rows[torch.isin(writers, chosen.to(writers.device))]


def recall_latent(memory: LatentMemory, pose: torch.Tensor, rotations: torch.Tensor, size: int, radius: float,
                  retrieval: str = "radius") -> Warped:
    """The latent memory warped into the s = `size` grid of the faces at `pose`."""
    rows = retrieve(memory, pose, radius, retrieval)
    positions = memory.table.columns_at(rows, "position")
    features = memory.table.columns_at(rows, "feature")
    return warp_points(positions, features, pose.to(memory.device), rotations.to(memory.device), size)


def empty_recall(faces: int, channels: int, size: int) -> Warped:
    """What a world without memory sees: nothing, everywhere."""
    return Warped(torch.zeros(faces, channels, size, size), torch.zeros(faces, size, size, dtype=torch.bool),
                  torch.zeros(faces, size, size), torch.zeros(faces), torch.full((faces, size, size), -1))


def recall_points(points: PointCloudMemory, pose: torch.Tensor, rotations: torch.Tensor,
                  autoencoder: CubeAutoencoder, size: int) -> tuple[Warped, PointRender]:
    """The point cloud rendered at the autoencoder's face size, its cracks filled (pixels
    no point landed on, up to CRACK_FILL pixels from one that did: memory.fill_holes) and
    encoded to the s = `size` latent grid; a cell counts as remembered where half of its
    pixels are (the rule block_depth applies). Returns the warp and the pixel rendering
    (unfilled: what the write policy compares against)."""
    render = points.render(pose, rotations, autoencoder.config.face_size)
    colour, filled = fill_holes(render.rgb.permute(0, 3, 1, 2).float(), render.depth, CRACK_FILL)
    rgb = colour.round().to(torch.uint8).permute(0, 2, 3, 1)
    with torch.no_grad():
        latents = autoencoder.encode(pack_rgbd(rgb[None], filled[None], autoencoder.config.near))[0]
    depth = block_depth(filled[None], size)[0]  # (F, s, s), 0 where under half covered
    mask = depth > 0
    features = latents.float() * mask[:, None]
    return Warped(features, mask, depth, mask.float().mean(dim=(1, 2)), torch.full_like(depth, -1, dtype=torch.long)), render


__all__ = ["MEMORY_KINDS", "NEAREST_FRAMES", "RECENT_FRAMES", "RETRIEVALS", "empty_recall", "recall_latent",
           "recall_points", "retrieve"]
