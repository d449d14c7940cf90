"""Cube seams: closing them after decoding, and measuring them.

Faces decoded from independently denoised latents can disagree along the 12 cube edges.
`blend_seams` moves both sides of every edge towards their common mean with a linear
weight: the full half-jump at the seam, fading to nothing `width` pixels inward
(CubeComposer's overlap blending, written as a correction so each face keeps its own
pixels away from the edges). `seam_difference` is the metric: the mean absolute
difference between each face's border pixels and the neighbour's pixels across the
edge, which for a real cube is just the natural pixel-to-pixel change.
"""

from __future__ import annotations

import torch

from worldengine.cube import NUM_FACES, pad_faces


def _edge_jumps(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Own border minus the neighbour's border across each side: top, bottom (..., S) rows
    and left, right (..., S) columns, for x (..., F, C, S, S)."""
    padded = pad_faces(x, 1, "copy")
    return (x[..., 0, :] - padded[..., 0, 1:-1], x[..., -1, :] - padded[..., -1, 1:-1],
            x[..., :, 0] - padded[..., 1:-1, 0], x[..., :, -1] - padded[..., 1:-1, -1])


def blend_seams(x: torch.Tensor, width: int = 4) -> torch.Tensor:
    """Close the seams of cubemaps x (..., F, C, S, S) over `width` pixels each side."""
    if x.ndim < 4 or x.shape[-4] != NUM_FACES or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x must be cubemaps (..., 6, C, S, S), got {tuple(x.shape)}")
    side = x.shape[-1]
    if not 1 <= width <= side // 2:
        raise ValueError(f"blend width must be in [1, {side // 2}], got {width}")
    top, bottom, left, right = _edge_jumps(x)
    ramp = (1 - torch.arange(side, dtype=x.dtype, device=x.device) / width).clamp_min(0)  # (S,) 1 at the seam
    back = ramp.flip(0)
    correction = (top[..., None, :] * ramp[:, None] + bottom[..., None, :] * back[:, None]
                  + left[..., :, None] * ramp[None, :] + right[..., :, None] * back[None, :])
    return x - 0.5 * correction


def seam_difference(x: torch.Tensor) -> float:
    """Mean |difference| across the 12 cube edges (both sides) of cubemaps x (..., F, C, S, S)."""
    return float(torch.stack([jump.abs().mean() for jump in _edge_jumps(x)]).mean())
