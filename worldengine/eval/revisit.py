"""What counts as a revisit: the one definition the main job and the benchmarks share.

From the ground truth alone, per step:
- overlap: the fraction of the view's latent cells (with a surface) whose surface an
  earlier frame saw: the earlier frames' cells, lifted by their true depth into a point
  cloud, are splatted into the view and a cell counts where the remembered surface lies
  within OVERLAP_TOLERANCE (relative) of the true one.
- overlap_old: the same against frames at least `gap` (REVISIT_GAP) steps older. A step
  is a revisit when overlap_old >= REVISIT_OVERLAP: most of what it sees was seen long
  ago. Its time since first visit is the step minus the median frame that first saw
  those cells.
"""

from __future__ import annotations

import numpy as np
import torch

from memory import block_depth, warp_points
from memory.rig import cell_rays
from worldengine.geometry.cube import face_rotations

OVERLAP_TOLERANCE = 0.1
REVISIT_OVERLAP = 0.5
REVISIT_GAP = 20  # steps


class SeenBefore:
    """The ground truth's record of what has been seen: every frame's latent cells lifted by
    their true depth, each point tagged with the frame that first saw it."""

    def __init__(self, latent_size: int):
        self.size, self.rotations = latent_size, face_rotations()
        self.rays = cell_rays(self.rotations, latent_size)
        self.positions, self.frames = torch.zeros(0, 3), torch.zeros(0)

    def _match(self, depth: torch.Tensor, pose: torch.Tensor, before: int | None):
        """Cell depth (F, s, s) at pose -> (cells with a surface, matched cells, first-seen frame per cell)."""
        keep = self.frames < before if before is not None else torch.ones_like(self.frames, dtype=torch.bool)
        warped = warp_points(self.positions[keep], self.frames[keep, None], pose, self.rotations, self.size)
        surface = depth > 0
        matched = surface & warped.mask & ((warped.depth - depth).abs() <= OVERLAP_TOLERANCE * depth)
        return surface, matched, warped.features[:, 0]

    def observe(self, depth: np.ndarray, pose: np.ndarray, frame: int, gap: int) -> dict[str, float | None]:
        """Score frame `frame` (true depth (F, S, S), pose) against what came before, then
        remember its cells no earlier frame saw."""
        cells = block_depth(torch.from_numpy(depth)[None], self.size)[0]
        pose_t = torch.from_numpy(np.asarray(pose, np.float32))
        surface, matched, _ = self._match(cells, pose_t, None)
        _, matched_old, first = self._match(cells, pose_t, frame - gap + 1)
        count = max(int(surface.sum()), 1)
        overlap, overlap_old = float(matched.sum()) / count, float(matched_old.sum()) / count
        since = float(frame - first[matched_old].median()) if matched_old.any() else None
        new = surface & ~matched
        world = (cells[..., None] * self.rays)[new] @ pose_t[:3, :3].T + pose_t[:3, 3]
        self.positions = torch.cat([self.positions, world])
        self.frames = torch.cat([self.frames, torch.full((len(world),), float(frame))])
        return {"overlap": overlap, "overlap_old": overlap_old, "since_first_visit": since}


def is_revisit(record: dict) -> bool:
    """Whether a step's `SeenBefore.observe` record is a revisit."""
    return record["overlap_old"] >= REVISIT_OVERLAP


def longest_return(records: list[dict]) -> tuple[int, int] | None:
    """(first, back): the revisit step `back` with the longest time since its first visit,
    and the frame `first` that visit began at (back minus that time, rounded); None if
    the walk never came back. `records[t]` is step t's `SeenBefore.observe` record."""
    revisits = [(r["since_first_visit"], t) for t, r in enumerate(records)
                if is_revisit(r) and r["since_first_visit"] is not None]
    if not revisits:
        return None
    since, back = max(revisits, key=lambda pair: (pair[0], -pair[1]))  # the earliest of equal gaps
    return int(back - round(since)), back


__all__ = ["OVERLAP_TOLERANCE", "REVISIT_GAP", "REVISIT_OVERLAP", "SeenBefore", "is_revisit", "longest_return"]
