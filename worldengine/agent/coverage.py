"""Voxel coverage: how many voxels of the world observations have shown, and which are new.

The ground-truth environment rewards exploration with it; runs summarise with it."""

from __future__ import annotations

import numpy as np
import torch

from worldengine.geometry.cube import cubemap_to_points

_KEY_OFFSET = 1 << 20  # voxel coordinates are packed into one int64 key, 21 bits each


class VoxelCoverage:
    """The set of voxels (edge `voxel_size` metres) seen so far, fed with depth cubemaps.

    Depth is subsampled every `stride` pixels: at the default face sizes neighbouring
    pixels mostly land in the same voxel anyway.
    """

    def __init__(self, voxel_size: float = 0.25, stride: int = 2):
        if voxel_size <= 0:
            raise ValueError(f"voxel_size must be > 0, got {voxel_size}")
        self.voxel_size = voxel_size
        self.stride = stride
        self._seen = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._seen)

    def reset(self) -> None:
        self._seen = np.zeros(0, dtype=np.int64)

    def voxel_keys(self, depth: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Unique packed voxel keys of the surfaces in a depth cubemap (F, S, S) at pose (4, 4)."""
        # Back-project at full resolution (a subsampled grid is not a face grid of its
        # own size), then keep every stride-th pixel.
        points, valid = cubemap_to_points(torch.as_tensor(depth, dtype=torch.float32), torch.as_tensor(pose, dtype=torch.float32))
        points = points[:, :: self.stride, :: self.stride][valid[:, :: self.stride, :: self.stride]]
        cells = torch.floor(points / self.voxel_size).to(torch.int64) + _KEY_OFFSET  # (N, 3)
        keys = (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]
        return np.unique(keys.numpy())

    def update(self, depth: np.ndarray, pose: np.ndarray) -> int:
        """Add an observation; returns how many of its voxels were never seen before."""
        keys = self.voxel_keys(depth, pose)
        new = np.setdiff1d(keys, self._seen, assume_unique=True)
        if len(new):
            self._seen = np.union1d(self._seen, new)
        return int(len(new))
