"""Collisions against the memory's own geometry: the agent cannot walk through a wall it
has seen (and generated), with no ground-truth scene anywhere in the loop.

A ray hits the memory where it first passes within `surface_radius` of a stored token
(tokens sit one per latent cell on the surfaces the world's depth put them on) that
stands at least `floor_band` above the lowest ray of the fan. Only
tokens within `reach` of the rays' origins are looked at, so the cost follows the tokens
near the agent, not the size of the memory.
"""

from __future__ import annotations

import torch

from memory import LatentMemory, tokens_near


class MemoryCollider:
    """`ray_distance(origins (N, 3), directions (N, 3))` -> (N,) against a LatentMemory,
    the `kinematics.RayDistanceFn` of a generated world. Rays are answered up to `reach`
    metres (inf beyond): enough for one step plus the body's radius."""

    def __init__(self, memory: LatentMemory, reach: float = 1.5, surface_radius: float = 0.1,
                 floor_band: float = 0.3):
        if not reach > 0 or not surface_radius > 0 or not floor_band >= 0:
            raise ValueError(f"reach and surface_radius must be > 0 and floor_band >= 0, got {reach}, "
                             f"{surface_radius} and {floor_band}")
        self.memory, self.reach, self.surface_radius, self.floor_band = memory, reach, surface_radius, floor_band
        self._last: tuple[int, torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # frames, origins, directions, answer

    def ray_distance(self, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        origins, directions = origins.to(torch.float64), directions.to(torch.float64)
        # An agent pushing against a wall casts the same fan again and again: while the memory
        # has not been written since, the answer is the same.
        last = self._last
        if (last is not None and last[0] == self.memory.frame_count and torch.equal(last[1], origins)
                and torch.equal(last[2], directions)):
            return last[3].clone()
        answer = self._cast(origins, directions)
        self._last = (self.memory.frame_count, origins.clone(), directions.clone(), answer.clone())
        return answer

    def _cast(self, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        spread = float((origins - origins.mean(0)).norm(dim=-1).max()) if len(origins) else 0.0
        rows = tokens_near(self.memory, origins.mean(0).float(), self.reach + spread)
        points = self.memory.table.columns_at(rows, "position").to("cpu", torch.float64)  # (K, 3)
        # The lowest rays run at the body's floor clearance: what lies lower is walked over,
        # as against the ground truth; and so is a band above it, where the floor's own
        # tokens land when generated depth is off (an error of 0.3 m at 1.5 m is common).
        points = points[points[:, 1] >= float(origins[:, 1].min()) + self.floor_band]
        if len(points) == 0:
            return torch.full((len(origins),), float("inf"), dtype=torch.float64)
        offset = points[None] - origins[:, None]  # (N, K, 3)
        along = (offset * directions[:, None]).sum(-1)  # (N, K)
        across = (offset.pow(2).sum(-1) - along.pow(2)).clamp_min(0)  # squared distance to the ray
        hit = (along > 0) & (along <= self.reach) & (across < self.surface_radius ** 2)
        return torch.where(hit, along, torch.full_like(along, float("inf"))).min(dim=1).values


__all__ = ["MemoryCollider"]
