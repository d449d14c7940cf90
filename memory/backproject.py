"""Lifting latent cubemaps into the world: one 3D point per latent cell with valid depth."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F_

from memory.rig import cell_rays, check_pose, check_rotations


@dataclass
class LatentPoints:
    """Points of latent cells: positions (N, 3) world metres, features (N, C), rgb (N, 3)
    uint8 preview colour, frame (N,) int64 id of the frame each came from."""

    positions: torch.Tensor
    features: torch.Tensor
    rgb: torch.Tensor
    frame: torch.Tensor

    def __len__(self) -> int:
        return self.positions.shape[0]


def block_depth(depth: torch.Tensor, size: int) -> torch.Tensor:
    """Depth (T, F, S, S) -> one depth per latent cell (T, F, s, s), 0 where unreliable.

    A cell takes the median of its block's valid pixels (robust at depth edges, where a
    mean would float between surfaces) if at least half of them are valid.
    """
    t, f, side, _ = depth.shape
    if side == size:
        return depth
    if side % size:
        raise ValueError(f"depth side {side} is not a multiple of the latent side {size}")
    k = side // size
    blocks = depth.reshape(t, f, size, k, size, k).permute(0, 1, 2, 4, 3, 5).reshape(t, f, size, size, k * k)
    valid = blocks > 0
    masked = torch.where(valid, blocks, torch.full_like(blocks, float("nan")))
    median = masked.nanmedian(dim=-1).values
    enough = valid.float().mean(-1) >= 0.5
    return torch.where(enough, median, torch.zeros_like(median))


def _block_rgb(rgb: torch.Tensor, size: int) -> torch.Tensor:
    """rgb (T, F, S, S, 3) uint8 -> mean colour per latent cell (T, F, s, s, 3) uint8."""
    t, f, side = rgb.shape[:3]
    x = rgb.reshape(t * f, side, side, 3).permute(0, 3, 1, 2).float()
    pooled = F_.adaptive_avg_pool2d(x, size)
    return pooled.permute(0, 2, 3, 1).round().to(torch.uint8).reshape(t, f, size, size, 3)


def backproject(features: torch.Tensor, depth: torch.Tensor, poses: torch.Tensor, rotations: torch.Tensor,
                frame_ids: torch.Tensor, rgb: torch.Tensor | None = None) -> LatentPoints:
    """Lift latent cubemaps into world points.

    features (T, F, C, s, s) latent cells; depth (T, F, S, S) metric z-depth at pixel
    (S = k s) or latent (S = s) resolution, 0 = no hit; poses (T, 4, 4) body-to-world;
    rotations (F, 3, 3) the faces' camera-to-body rotations; frame_ids (T,) int64;
    rgb (T, F, S, S, 3) uint8 for the preview colours (grey if None).
    Each cell's point lies on the ray through the cell centre at the cell's depth;
    cells without reliable depth are dropped.
    """
    check_rotations(rotations)
    if features.ndim != 5 or features.shape[1] != rotations.shape[0] or features.shape[-1] != features.shape[-2]:
        raise ValueError(f"features must have shape (T, F={rotations.shape[0]}, C, s, s), got {tuple(features.shape)}")
    t, f, c, size, _ = features.shape
    if depth.ndim != 4 or depth.shape[:2] != (t, f) or depth.shape[-1] != depth.shape[-2]:
        raise ValueError(f"depth must have shape (T={t}, F={f}, S, S), got {tuple(depth.shape)}")
    if not torch.isfinite(depth).all() or (depth < 0).any():
        raise ValueError("depth must be finite and >= 0 (0 marks no hit); got NaN, inf or negative values")
    if poses.shape != (t, 4, 4):
        raise ValueError(f"poses must have shape (T={t}, 4, 4), got {tuple(poses.shape)}")
    check_pose(poses, "poses")
    if frame_ids.shape != (t,):
        raise ValueError(f"frame_ids must have shape (T={t},), got {tuple(frame_ids.shape)}")
    cell_depth = block_depth(depth.to(torch.float32), size)  # (T, F, s, s)
    rays = cell_rays(rotations.to(torch.float32), size)  # (F, s, s, 3)
    body = cell_depth[..., None] * rays  # (T, F, s, s, 3)
    world = torch.einsum("tij,tfhwj->tfhwi", poses[:, :3, :3].float(), body) + poses[:, None, None, None, :3, 3].float()
    valid = cell_depth > 0  # (T, F, s, s)
    cells = features.permute(0, 1, 3, 4, 2)  # (T, F, s, s, C)
    colours = _block_rgb(rgb, size) if rgb is not None else torch.full((t, f, size, size, 3), 128, dtype=torch.uint8)
    frames = frame_ids.to(torch.int64)[:, None, None, None].expand(t, f, size, size)
    return LatentPoints(world[valid], cells[valid], colours[valid], frames[valid])
