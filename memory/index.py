"""Retrieval by pose: the tokens near a camera, and the past frames most relevant to it.

Token queries cost about the number of tokens near the camera: the table is sorted by
block-major voxel keys, so the blocks meeting the query ball are key ranges found by
binary search (memory/voxels.py), and only their tokens are touched. A ball spanning
more blocks than the memory has tokens is answered by one scan instead.

Retrieval policies (`retrieve`: which tokens a view reads):
- "radius": every token within the radius of the camera (the default).
- "nearest_frames": only tokens last written by the NEAREST_FRAMES past frames nearest
  the camera by translation (DeepVerse's retrieval, `nearest_frames`).
- "recent": only tokens last written by the RECENT_FRAMES newest frames (a sliding
  window: what memory amounts to without a spatial index).
"""

from __future__ import annotations

import torch

from memory.rig import check_pose
from memory.store import LatentMemory
from memory.voxels import block_key_ranges, column_count

RETRIEVALS = ("radius", "nearest_frames", "recent")
NEAREST_FRAMES = 5
RECENT_FRAMES = 8


def tokens_near(memory: LatentMemory, centre: torch.Tensor, radius: float) -> torch.Tensor:
    """Rows (K,) (into memory.tokens() order) of tokens within `radius` metres of `centre` (3,)."""
    centre = torch.as_tensor(centre, dtype=torch.float32, device=memory.device)
    if centre.shape != (3,) or not torch.isfinite(centre).all():
        raise ValueError(f"centre must be a finite (3,) position, got {tuple(centre.shape)}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if column_count(centre, radius, memory.voxel_size) > max(len(memory), 1):
        # A ball spanning more key ranges than there are tokens: one scan is cheaper.
        rows = torch.arange(len(memory), device=memory.device)
    else:
        starts, stops = block_key_ranges(centre, radius, memory.voxel_size)
        rows = memory.table.rows_in_key_ranges(starts, stops)
    positions = memory.table.columns_at(rows, "position")
    return rows[((positions - centre) ** 2).sum(-1) <= radius * radius]


def _rotation_angles(poses: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Angle (M,) in radians between each pose's rotation and `pose`'s."""
    relative = pose[:3, :3].T.to(poses.dtype) @ poses[:, :3, :3]  # (M, 3, 3)
    cos = ((relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.arccos(cos)


def nearest_frames(memory: LatentMemory, pose: torch.Tensor, k: int = 5) -> torch.Tensor:
    """DeepVerse's retrieval: the k past frames nearest by translation, ordered by rotation
    angle to `pose` (first = the one DeepVerse conditions on). Frame ids (<= k,)."""
    check_pose(pose)
    frames = memory.frames()
    if len(frames["frame_id"]) == 0:
        return torch.zeros(0, dtype=torch.int64)
    poses = frames["frame_pose"]
    distance = (poses[:, :3, 3] - pose[:3, 3].to(poses.dtype)).norm(dim=-1)
    near = torch.topk(distance, min(k, len(distance)), largest=False).indices
    order = torch.argsort(_rotation_angles(poses[near], pose), stable=True)
    return frames["frame_id"][near[order]]


def frames_by_overlap(memory: LatentMemory, rows: torch.Tensor, k: int = 5, age_penalty: float = 0.0,
                      now: float | None = None) -> torch.Tensor:
    """Past frames ranked by field-of-view overlap with a view: how many of the view's
    visible tokens (`rows`, e.g. from tokens_near or a warp's winners) each frame last
    wrote, as a fraction, minus `age_penalty` x age (WorldMem uses 0.2). Frame ids (<= k,)."""
    if len(rows) == 0:
        return torch.zeros(0, dtype=torch.int64)
    contributed = memory.table.columns_at(rows, "frame")
    ids, counts = torch.unique(contributed, return_counts=True)
    score = counts.float() / len(rows)
    if age_penalty:
        frames = memory.frames()
        times = dict(zip(frames["frame_id"].tolist(), frames["frame_time"].tolist()))
        current = max(times.values()) if now is None else now
        score = score - age_penalty * torch.tensor([current - times[int(i)] for i in ids])
    order = torch.argsort(score, descending=True, stable=True)[:k]
    return ids[order].cpu()


def retrieve(memory: LatentMemory, pose: torch.Tensor, radius: float, retrieval: str = "radius") -> torch.Tensor:
    """Rows of the tokens the `retrieval` policy reads for a camera at `pose` (4, 4)."""
    if retrieval not in RETRIEVALS:
        raise ValueError(f"retrieval must be one of {RETRIEVALS}, got {retrieval!r}")
    rows = tokens_near(memory, pose[:3, 3], radius)
    if retrieval == "radius" or len(rows) == 0:
        return rows
    if retrieval == "nearest_frames":
        chosen = nearest_frames(memory, pose, NEAREST_FRAMES)
    else:
        chosen = memory.frames()["frame_id"][-RECENT_FRAMES:]
    writers = memory.table.columns_at(rows, "frame")
    return rows[torch.isin(writers, chosen.to(writers.device))]
