"""What a world remembers, and how it reads it back into a view's latent grid.

memory kinds (WorldConfig.memory, or per world at reset):
- "latent" (the engine's): voxel-fused latent tokens, read by querying the tokens near
  the camera and splatting them straight into the latent grid (memory.warp_memory).
- "rgb_points": the explicit baseline, an RGB point cloud at pixel resolution
  (memory.points), rendered into the new view and encoded by the autoencoder each step.
- "none": nothing is remembered; only the generator's history frames condition it.

retrieval policies (which latent tokens are read; WorldConfig.retrieval): memory.RETRIEVALS,
defined in memory/index.py.
"""

from __future__ import annotations

import torch

from memory import RETRIEVALS, Warped, block_depth, fill_holes
from memory.points import PointCloudMemory, PointRender
from worldengine.autoencoder import CubeAutoencoder, pack_rgbd

MEMORY_KINDS = ("latent", "rgb_points", "none")
CRACK_FILL = 2  # pixels: gaps between splatted points that an "rgb_points" rendering fills


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


__all__ = ["MEMORY_KINDS", "RETRIEVALS", "empty_recall", "recall_points"]
