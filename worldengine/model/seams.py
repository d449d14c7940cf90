"""Cube seams: closing them after decoding, and measuring them.

Faces decoded from independently denoised latents can disagree along the 12 cube edges.
`blend_seams` removes the *excess* jump at every edge: with own rows A0 (at the edge),
A1 and the neighbour's B0, B1 across it, a smooth image would step from A0 to B0 by the
mean of the steps beside it, ((A1 - A0) + (B0 - B1)) / 2; whatever exceeds that is the
seam. Both sides move half of it, with a linear weight from 1 at the seam to 0 `width`
pixels inward (CubeComposer's linear overlap blending, written as a correction so each
face keeps its own pixels away from the edges and natural gradients survive).
`seam_difference` is the metric: the mean absolute difference between each face's
border pixels and the neighbour's pixels across the edge, which for a real cube is just
the natural pixel-to-pixel change.
"""

from __future__ import annotations

import torch

from worldengine.geometry.cube import NUM_FACES
from worldengine.geometry.padding import pad_faces


def _edge_rows(x: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """For each side (top, bottom, left, right) of x (..., F, C, S, S): own rows A0 (at the
    edge), A1, and the neighbour's rows B0 (across the edge), B1, each (..., S)."""
    padded = pad_faces(x, 2, "copy")
    inner = slice(2, -2)
    return [
        (x[..., 0, :], x[..., 1, :], padded[..., 1, inner], padded[..., 0, inner]),  # top
        (x[..., -1, :], x[..., -2, :], padded[..., -2, inner], padded[..., -1, inner]),  # bottom
        (x[..., :, 0], x[..., :, 1], padded[..., inner, 1], padded[..., inner, 0]),  # left
        (x[..., :, -1], x[..., :, -2], padded[..., inner, -2], padded[..., inner, -1]),  # right
    ]


def _edge_jumps(x: torch.Tensor) -> list[torch.Tensor]:
    """Own border minus the neighbour's border across each side, (..., S) each."""
    return [a0 - b0 for a0, _, b0, _ in _edge_rows(x)]


def _excess_jumps(x: torch.Tensor) -> list[torch.Tensor]:
    """The part of each side's jump a smooth continuation does not explain, (..., S) each."""
    return [(a0 - b0) - ((a1 - a0) + (b0 - b1)) / 2 for a0, a1, b0, b1 in _edge_rows(x)]


def blend_seams(x: torch.Tensor, width: int = 4) -> torch.Tensor:
    """Close the seams of cubemaps x (..., F, C, S, S) over `width` pixels each side."""
    if x.ndim < 4 or x.shape[-4] != NUM_FACES or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x must be cubemaps (..., 6, C, S, S), got {tuple(x.shape)}")
    side = x.shape[-1]
    if not 1 <= width <= side // 2:
        raise ValueError(f"blend width must be in [1, {side // 2}], got {width}")
    top, bottom, left, right = _excess_jumps(x)
    ramp = (1 - torch.arange(side, dtype=x.dtype, device=x.device) / width).clamp_min(0)  # (S,) 1 at the seam
    back = ramp.flip(0)
    correction = (top[..., None, :] * ramp[:, None] + bottom[..., None, :] * back[:, None]
                  + left[..., :, None] * ramp[None, :] + right[..., :, None] * back[None, :])
    return x - 0.5 * correction


def seam_difference(x: torch.Tensor) -> float:
    """Mean |difference| across the 12 cube edges (both sides) of cubemaps x (..., F, C, S, S)."""
    return float(torch.stack([jump.abs().mean() for jump in _edge_jumps(x)]).mean())
