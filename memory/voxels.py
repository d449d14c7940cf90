"""Voxel keys that sort by block: one int64 orders tokens for fusion and range queries.

key = block x | block y | block z (17 bits each, offset) | voxel within the block
(4 bits per axis, BLOCK = 16 voxels a side; 63 bits in all). Sorting tokens by key groups each block's
tokens into one contiguous run, so a spatial query is a few binary searches.
"""

from __future__ import annotations

import numpy as np
import torch

BLOCK = 16  # voxels per block side
_LOCAL_BITS = 4
_AXIS_BITS = 17
_OFFSET = 1 << (_AXIS_BITS - 1)  # blocks from -65536 to 65535 on each axis
_LOCAL_SPAN = 1 << (3 * _LOCAL_BITS)  # keys per block


def voxel_coords(positions: torch.Tensor, voxel_size: float) -> torch.Tensor:
    """Integer voxel coordinates (N, 3) of positions (N, 3)."""
    return torch.floor(positions / voxel_size).to(torch.int64)


def _pack_blocks(blocks):
    """Block coordinates (..., 3) int64, torch or numpy, packed into the key's top bits (...)."""
    b = blocks + _OFFSET
    if (b < 0).any() or (b >= (1 << _AXIS_BITS)).any():
        raise ValueError(f"positions beyond the memory's extent ({_OFFSET} blocks from the origin on each axis)")
    return (b[..., 0] << (2 * _AXIS_BITS)) | (b[..., 1] << _AXIS_BITS) | b[..., 2]


def voxel_keys(positions: torch.Tensor, voxel_size: float) -> torch.Tensor:
    """Sortable int64 keys (N,) of the voxels holding positions (N, 3)."""
    v = voxel_coords(positions, voxel_size)
    blocks, local = torch.div(v, BLOCK, rounding_mode="floor"), torch.remainder(v, BLOCK)
    local_index = (local[:, 0] << (2 * _LOCAL_BITS)) | (local[:, 1] << _LOCAL_BITS) | local[:, 2]
    return (_pack_blocks(blocks) << (3 * _LOCAL_BITS)) | local_index


def _block_span(c: np.ndarray, radius: float, voxel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest block coordinates (3,) of the box around the ball (centre `c` on the host)."""
    block_size = voxel_size * BLOCK
    return np.floor((c - radius) / block_size).astype(np.int64), np.floor((c + radius) / block_size).astype(np.int64)


def _host(centre: torch.Tensor) -> np.ndarray:
    """A query centre (3,) as float64 numpy: the block arithmetic is a few dozen tiny array ops,
    about half the time in numpy that it took in torch, and every memory read and collision
    query pays it."""
    return np.asarray(centre.tolist(), dtype=np.float64)


def column_count(centre: torch.Tensor, radius: float, voxel_size: float) -> int:
    """How many key ranges block_key_ranges can return at most: the columns of blocks (one
    x, y) the box around the ball spans (blocks adjacent along z are one range of keys)."""
    lo, hi = _block_span(_host(centre), radius, voxel_size)
    return int((hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1))


def block_key_ranges(centre: torch.Tensor, radius: float, voxel_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Key ranges [start, stop) (K,) covering every block whose box meets the ball (centre
    (3,), radius): one range per run of such blocks along z."""
    block_size = voxel_size * BLOCK
    c = _host(centre)
    lo, hi = _block_span(c, radius, voxel_size)
    axes = [np.arange(lo[k], hi[k] + 1) for k in range(3)]
    blocks = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)  # (K, 3) x-major, z fastest
    box_lo = blocks * block_size
    nearest = np.maximum(box_lo, np.minimum(c, box_lo + block_size))
    blocks = blocks[((nearest - c) ** 2).sum(-1) <= radius * radius]  # x-major, z ascending within a column
    if len(blocks) == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=centre.device)
        return empty, empty
    # Blocks adjacent along z have consecutive keys: one range per run (the ball meets each column in one run).
    starts_run = np.ones(len(blocks), dtype=bool)
    starts_run[1:] = (blocks[1:, :2] != blocks[:-1, :2]).any(axis=1) | (blocks[1:, 2] != blocks[:-1, 2] + 1)
    ends_run = np.roll(starts_run, -1)
    start = _pack_blocks(blocks[starts_run]) << (3 * _LOCAL_BITS)
    stop = (_pack_blocks(blocks[ends_run]) << (3 * _LOCAL_BITS)) + _LOCAL_SPAN
    return torch.from_numpy(start).to(centre.device), torch.from_numpy(stop).to(centre.device)
