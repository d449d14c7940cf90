"""Frame: one world's observation and what came with it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldengine.geometry.cube import NUM_FACES


@dataclass
class Frame:
    """One world's observation and what came with it: rgb (F, S, S, 3) uint8, depth
    (F, S, S) float32, pose (4, 4) float32; new_voxels written to the memory; blocked
    (a collision cut the move); coverage (F,) of the memory before generation; order (F,)
    faces in generation order, all -1 where nothing was generated (a ground-truth start,
    or a step that only turned or looked); timings in ms."""

    rgb: np.ndarray
    depth: np.ndarray
    pose: np.ndarray
    new_voxels: int
    blocked: bool = False
    coverage: np.ndarray = field(default_factory=lambda: np.zeros(NUM_FACES, np.float32))
    order: np.ndarray = field(default_factory=lambda: np.full(NUM_FACES, -1, np.int64))
    timings: dict[str, float] = field(default_factory=dict)


__all__ = ["Frame"]
