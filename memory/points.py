"""An explicit RGB point-cloud memory: the baseline the latent memory replaces.

What GEN3C- and Voyager-style caches keep: every remembered pixel as a coloured 3D point
(pixel resolution, not latent cells), rendered into a new view with a z-buffer (the same
deterministic splat as the latent warp, at S x S per face instead of s x s). A world
model conditioned on it has to re-encode the rendering every step; the latent memory
skips both the pixels and the encoder. Held in RAM as float32 xyz + uint8 rgb.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from memory.rig import cell_rays, check_pose, check_rotations
from memory.warp import warp_points

BYTES_PER_POINT = 3 * 4 + 3  # xyz float32, rgb uint8


@dataclass
class PointRender:
    """The cloud seen from a pose: rgb (F, S, S, 3) uint8 (0 where empty), depth (F, S, S)
    z-depth (0 where empty), mask (F, S, S) bool."""

    rgb: torch.Tensor
    depth: torch.Tensor
    mask: torch.Tensor


class PointCloudMemory:
    """Coloured points appended frame by frame; `render` splats them into a cubemap."""

    def __init__(self) -> None:
        self._positions: list[torch.Tensor] = []
        self._colours: list[torch.Tensor] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._count * BYTES_PER_POINT

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every point's position (N, 3) float32 and colour (N, 3) uint8, in the order added."""
        if len(self._positions) > 1:  # append is amortised: concatenate once per read
            self._positions = [torch.cat(self._positions)]
            self._colours = [torch.cat(self._colours)]
        if not self._positions:
            return torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.uint8)
        return self._positions[0], self._colours[0]

    def add(self, rgb: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, rotations: torch.Tensor,
            keep: torch.Tensor | None = None) -> int:
        """Lift the pixels of one cubemap, rgb (F, S, S, 3) uint8 and z-depth (F, S, S)
        (0 = no surface), seen from body pose (4, 4), where `keep` (F, S, S) allows (all by
        default). Returns the points added."""
        check_rotations(rotations)
        check_pose(pose)
        faces, size = rotations.shape[0], rgb.shape[1]
        if rgb.shape != (faces, size, size, 3) or rgb.dtype != torch.uint8 or depth.shape != rgb.shape[:3]:
            raise ValueError(f"need rgb (F={faces}, S, S, 3) uint8 and depth (F, S, S); got {tuple(rgb.shape)} "
                             f"{rgb.dtype} and {tuple(depth.shape)}")
        valid = depth > 0 if keep is None else (depth > 0) & keep
        body = depth[..., None].float() * cell_rays(rotations.float(), size)  # (F, S, S, 3)
        world = body[valid] @ pose[:3, :3].float().T + pose[:3, 3].float()
        self._positions.append(world)
        self._colours.append(rgb[valid])
        self._count += len(world)
        return len(world)

    def render(self, pose: torch.Tensor, rotations: torch.Tensor, size: int) -> PointRender:
        """The nearest point per pixel of the S = `size` cubemap at body pose (4, 4)."""
        positions, colours = self.arrays()
        warped = warp_points(positions, colours.float(), pose, rotations, size)
        rgb = warped.features.permute(0, 2, 3, 1).round().to(torch.uint8)  # (F, S, S, 3)
        return PointRender(rgb, warped.depth, warped.mask)


__all__ = ["BYTES_PER_POINT", "PointCloudMemory", "PointRender"]
