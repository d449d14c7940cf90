"""Latent warping: memory points projected straight into a target view's latent grid.

Never through pixels (Mirage's latent spatial memory): each point lands in the latent
cell its direction falls in, and a z-buffer keeps the nearest point per cell
(kernels.splat: deterministic, also on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kernels.splat import splat
from memory.index import retrieve
from memory.rig import check_pose, check_rotations, project_to_cells
from memory.store import LatentMemory

NEAR = 0.05  # metres: points closer to the camera than this are ignored


@dataclass
class Warped:
    """Memory seen from a pose: features (F, C, s, s) (zero where empty), mask (F, s, s),
    depth (F, s, s) z-depth of the winning point (0 where empty), coverage (F,) the
    fraction of valid cells per face (what orders face generation), source (F, s, s)
    index of the winning point (-1 where empty)."""

    features: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    coverage: torch.Tensor
    source: torch.Tensor


def warp_points(positions: torch.Tensor, features: torch.Tensor, pose: torch.Tensor, rotations: torch.Tensor,
                size: int, backend: str = "auto") -> Warped:
    """Splat points (N, 3) with features (N, C) into the faces of body pose (4, 4)."""
    check_rotations(rotations)
    check_pose(pose)
    if positions.ndim != 2 or positions.shape[1] != 3 or features.shape[:1] != positions.shape[:1] or features.ndim != 2:
        raise ValueError(f"positions must be (N, 3) and features (N, C); got {tuple(positions.shape)} and {tuple(features.shape)}")
    faces = rotations.shape[0]
    body = (positions.float() - pose[:3, 3].float()) @ pose[:3, :3].float()  # R^T (p - t), (N, 3)
    cell, depth = project_to_cells(body, rotations.float(), size)
    cell = torch.where(depth > NEAR, cell, torch.full_like(cell, -1))
    depth = torch.where(depth > NEAR, depth, torch.ones_like(depth))
    result = splat(cell, depth.float(), features, faces * size * size, backend=backend)
    grid = (faces, size, size)
    mask = result.mask.reshape(grid)
    return Warped(
        features=result.features.reshape(faces, size, size, -1).permute(0, 3, 1, 2),
        mask=mask, depth=result.depth.reshape(grid), coverage=mask.float().mean(dim=(1, 2)),
        source=result.index.reshape(grid),
    )


def warp_memory(memory: LatentMemory, pose: torch.Tensor, rotations: torch.Tensor, size: int,
                radius: float = 12.0, backend: str = "auto", retrieval: str = "radius") -> tuple[Warped, torch.Tensor]:
    """Query the tokens within `radius` of the camera that the `retrieval` policy reads
    (memory.index.retrieve) and warp them into its faces.

    Returns the warp and the memory rows of the queried tokens (`source` indexes them).
    """
    check_pose(pose)
    rows = retrieve(memory, pose, radius, retrieval)
    positions = memory.table.columns_at(rows, "position")
    features = memory.table.columns_at(rows, "feature")
    return warp_points(positions, features, pose.to(memory.device), rotations.to(memory.device), size, backend), rows
