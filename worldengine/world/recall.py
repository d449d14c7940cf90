"""What a world remembers, and how it reads it back into a view's latent grid.

memory kinds (WorldConfig.memory, or per world at reset):
- "latent" (the engine's): voxel-fused latent tokens, read by querying the tokens near
  the camera and splatting them straight into the latent grid (memory.warp_memory).
- "rgb_points": the explicit baseline, an RGB point cloud at pixel resolution
  (memory.points), rendered into the new view and encoded by the autoencoder each step.
- "none": nothing is remembered; only the generator's history frames condition it.

retrieval policies (which latent tokens are read; WorldConfig.retrieval): memory.RETRIEVALS,
defined in memory/index.py.

Each kind is one small class with the same face: `read` (the memory in a view's latent
grid, and what was remembered there at the resolution the kind writes), `write` (a new
frame, through the shared write policy `novel`) and `nbytes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from memory import RETRIEVALS, LatentMemory, Warped, backproject, block_depth, fill_holes, warp_memory
from memory.points import PointCloudMemory, PointRender
from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd

MEMORY_KINDS = ("latent", "rgb_points", "none")
CRACK_FILL = 2  # pixels: gaps between splatted points that an "rgb_points" rendering fills


@dataclass
class Seen:
    """What a read found remembered, at the resolution its memory writes: mask and z-depth
    (F, R, R), R = the latent side for tokens, the face side for a point cloud."""

    mask: torch.Tensor
    depth: torch.Tensor


def novel(depth: torch.Tensor, seen: Seen | None, margin: float | None) -> torch.Tensor:
    """The write policy: new depth (F, R, R) kept (0 elsewhere) where nothing was remembered
    or the new surface stands more than `margin` (a fraction) in front of the remembered
    one. Everything is kept when there was no read (a first frame) or `margin` is None
    (write policy "all")."""
    if seen is None or margin is None:
        return depth
    keep = ~seen.mask | (depth < seen.depth * (1 - margin))
    return torch.where(keep, depth, torch.zeros_like(depth))


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



class LatentRecall:
    """"latent": the world's token store (the one its collisions and rewards use too)."""

    kind = "latent"

    def __init__(self, memory: LatentMemory, radius: float, retrieval: str, margin: float | None,
                 footprint: bool = True):
        self.memory, self.radius, self.retrieval, self.margin = memory, radius, retrieval, margin
        self.footprint = footprint

    @property
    def nbytes(self) -> int:
        return self.memory.nbytes_in_ram()

    def read(self, pose: torch.Tensor, rotations: torch.Tensor, size: int) -> tuple[Warped, Seen]:
        warped, _ = warp_memory(self.memory, pose, rotations, size, self.radius, retrieval=self.retrieval,
                                footprint=self.footprint)
        return warped, Seen(warped.mask, warped.depth)

    def write(self, latents: torch.Tensor, depth: torch.Tensor, rgb: torch.Tensor, pose: torch.Tensor,
              rotations: torch.Tensor, frame: int, seen: Seen | None = None) -> int:
        """Latents (F, C, s, s) lifted by the cells' depth (from (F, S, S)); new voxels."""
        cells = novel(block_depth(depth[None].float(), latents.shape[-1])[0], seen, self.margin)
        points = backproject(latents[None].float(), cells[None], pose[None], rotations, torch.tensor([frame]), rgb[None])
        return self.memory.write(points, frame, pose, float(frame))


class PointRecall:
    """"rgb_points": the explicit baseline, every remembered pixel a coloured point."""

    kind = "rgb_points"

    def __init__(self, autoencoder: CubeAutoencoder, margin: float | None):
        self.points, self.autoencoder, self.margin = PointCloudMemory(), autoencoder, margin

    @property
    def nbytes(self) -> int:
        return self.points.nbytes

    def read(self, pose: torch.Tensor, rotations: torch.Tensor, size: int) -> tuple[Warped, Seen]:
        warped, render = recall_points(self.points, pose, rotations, self.autoencoder, size)
        return warped, Seen(render.mask, render.depth)

    def write(self, latents: torch.Tensor, depth: torch.Tensor, rgb: torch.Tensor, pose: torch.Tensor,
              rotations: torch.Tensor, frame: int, seen: Seen | None = None) -> int:
        """Pixels rgb (F, S, S, 3) lifted by depth (F, S, S); points added."""
        return self.points.add(rgb, novel(depth, seen, self.margin), pose, rotations)


class NoRecall:
    """"none": remembers nothing; only the generator's history conditions it."""

    kind = "none"
    nbytes = 0

    def __init__(self, channels: int):
        self.channels = channels

    def read(self, pose: torch.Tensor, rotations: torch.Tensor, size: int) -> tuple[Warped, None]:
        return empty_recall(rotations.shape[0], self.channels, size), None

    def write(self, *frame, seen: Seen | None = None) -> int:
        return 0


Recall = LatentRecall | PointRecall | NoRecall

__all__ = ["CRACK_FILL", "MEMORY_KINDS", "LatentRecall", "NoRecall", "PointRecall", "RETRIEVALS", "Recall", "Seen",
           "empty_recall", "novel", "recall_points"]
