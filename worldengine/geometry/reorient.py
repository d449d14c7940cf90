"""One RGB-D cubemap seen in another orientation from the same point.

A 360 degree view depends on where you stand, not where you look (DESIGN.md): the engine
keeps each position's view as one world-aligned cube and resamples the agent's
body-frame faces from it. Colour is sampled bilinearly across faces; depth is carried as
range along the ray, sampled at the nearest pixel (no blending of a near surface into a
far one) and written back as the new face's z-depth. A rotation within IDENTITY_ATOL of
the identity returns the cube as it is, so a full turn gives back the exact start frame.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from worldengine.geometry.checks import NUM_FACES
from worldengine.geometry.cube import face_rays, range_to_zdepth, zdepth_to_range
from worldengine.geometry.padding import CubemapSampler

IDENTITY_ATOL = 1e-5
# Turns come in fixed steps, and blocked moves and looks back repeat a heading: the taps
# of the rotations used last are kept, up to SAMPLER_CACHE_BYTES (1.5 MB per rotation at
# S = 64: 32 of them). Rotations are keyed to ROTATION_DECIMALS (1e-6 rad of direction:
# 1e-4 of a pixel at S = 64), so float noise from recomputing a heading finds its entry.
SAMPLER_CACHE_BYTES = 48 * 2**20
ROTATION_DECIMALS = 6


def _check(rgb: torch.Tensor, depth: torch.Tensor, rotation: torch.Tensor) -> int:
    size = rgb.shape[1] if rgb.ndim == 4 else -1
    if rgb.shape != (NUM_FACES, size, size, 3) or depth.shape != (NUM_FACES, size, size):
        raise ValueError(f"reorient takes rgb (6, S, S, 3) and depth (6, S, S), got {tuple(rgb.shape)} "
                         f"and {tuple(depth.shape)}")
    if rotation.shape != (3, 3):
        raise ValueError(f"rotation must be (3, 3), got {tuple(rotation.shape)}")
    return size


def _build_samplers(size: int, rotation: tuple[float, ...]) -> tuple[CubemapSampler, CubemapSampler]:
    """The bilinear (colour) and nearest (range) samplers of faces of `size` turned by
    `rotation` (9 floats, row-major). Built from the rounded rotation alone, so a kept
    and a fresh sampler are the same: the output never depends on what was kept."""
    turn = torch.tensor(rotation, dtype=torch.float64).reshape(3, 3)
    directions = (face_rays(size, torch.float64) @ turn.T).float()  # (F, S, S, 3) in the given cube's frame
    return CubemapSampler(directions, size, "bilinear"), CubemapSampler(directions, size, "nearest")


class _SamplerCache:
    """The samplers of the turns used last, least recently used dropped first, within a budget of bytes."""

    def __init__(self, budget_bytes: int):
        self.budget, self.hits, self.misses = budget_bytes, 0, 0
        self._kept: OrderedDict[tuple, tuple[tuple[CubemapSampler, CubemapSampler], int]] = OrderedDict()

    def __call__(self, size: int, rotation: tuple[float, ...]) -> tuple[CubemapSampler, CubemapSampler]:
        key = (size, rotation)
        if key in self._kept:
            self.hits += 1
            self._kept.move_to_end(key)
            return self._kept[key][0]
        self.misses += 1
        samplers = _build_samplers(size, rotation)
        self._kept[key] = samplers, sum(t.numel() * t.element_size() for s in samplers for t in (s.idx, s.w))
        while sum(nbytes for _, nbytes in self._kept.values()) > self.budget and len(self._kept) > 1:
            self._kept.popitem(last=False)
        return samplers

    def clear(self) -> None:
        self._kept.clear()
        self.hits = self.misses = 0


_samplers = _SamplerCache(SAMPLER_CACHE_BYTES)


def reorient(rgb: torch.Tensor, depth: torch.Tensor, rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The faces of a cube turned by `rotation` (3, 3): the directions of the new faces,
    written in the given cube's frame, are rotation @ d. rgb (F, S, S, 3) (any dtype; uint8
    is rounded back), depth (F, S, S) z-depth (0 = sky) -> the same shapes."""
    size = _check(rgb, depth, rotation)
    rotation = rotation.to(torch.float64)
    if (rotation - torch.eye(3, dtype=torch.float64)).abs().max() <= IDENTITY_ATOL:
        return rgb.clone(), depth.clone()
    bilinear, nearest = _samplers(size, tuple(round(v, ROTATION_DECIMALS) for v in rotation.flatten().tolist()))
    colour = bilinear(rgb.permute(0, 3, 1, 2)[None].float())
    colour = colour[0].permute(1, 2, 3, 0)  # (F, S, S, 3)
    if rgb.dtype == torch.uint8:
        colour = colour.round().clamp(0, 255).to(torch.uint8)
    rng = zdepth_to_range(depth.float())[None, :, None]  # (1, F, 1, S, S)
    new_range = nearest(rng)[0, 0]  # (F, S, S)
    return colour.to(rgb.dtype), range_to_zdepth(new_range).to(depth.dtype)


__all__ = ["IDENTITY_ATOL", "reorient"]
