"""Cube-aware rotary positions (CubeComposer): token positions on the unfolded cube cross.

Each token of a face-window has a position (time, row, column). Rows and columns are
laid out on the cross, so tokens of adjacent faces sit next to each other:

          U
          F  R  B  L        (F R B L side by side in the middle band)
          D

F spans rows [n, 2n) and columns [0, n); R, B, L follow to the right; U sits above F
and D below it (n = tokens per face side). The cube's own conventions (worldengine.geometry.cube)
orient U and D so that U's bottom edge meets F's top edge and D's top edge F's bottom
edge, column for column. Positions are in units of the finest token; a coarser token
(a history patch covering k x k fine tokens) sits at the centre of what it covers.
"""

from __future__ import annotations

import torch

# (row block, column block) of each face F R B L U D on the cross
CROSS_BLOCKS = ((1, 0), (1, 1), (1, 2), (1, 3), (0, 0), (2, 0))


def cross_positions(tokens_per_side: int, span: int = 1) -> torch.Tensor:
    """(row, column) of every token of the six faces on the cross, (F, n, n, 2) float,
    for faces cut into n x n tokens each covering `span` x `span` fine tokens."""
    n = tokens_per_side
    local = (torch.arange(n, dtype=torch.float32) + 0.5) * span - 0.5  # centre, in fine-token units
    rows, cols = torch.meshgrid(local, local, indexing="ij")
    fine = n * span
    blocks = torch.tensor(CROSS_BLOCKS, dtype=torch.float32) * fine  # (F, 2)
    grid = torch.stack([rows, cols], dim=-1)  # (n, n, 2)
    return grid[None] + blocks[:, None, None, :]  # (F, n, n, 2)


def _split(head_dim: int) -> tuple[int, int, int]:
    """Frequency pairs per axis (time, row, column): a quarter for time, the rest shared."""
    pairs = head_dim // 2
    time = max(1, pairs // 4)
    row = (pairs - time) // 2
    return time, row, pairs - time - row


def rope_angles(positions: torch.Tensor, head_dim: int, base: float = 100.0) -> torch.Tensor:
    """Positions (..., 3) = (time, row, column) -> rotation angles (..., head_dim // 2)."""
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for rotary positions, got {head_dim}")
    if positions.shape[-1] != 3:
        raise ValueError(f"positions must end in 3 axes (time, row, column), got {tuple(positions.shape)}")
    parts = []
    for axis, pairs in enumerate(_split(head_dim)):
        freqs = base ** (-torch.arange(pairs, dtype=torch.float32, device=positions.device) / pairs)
        parts.append(positions[..., axis:axis + 1].float() * freqs)
    return torch.cat(parts, dim=-1)


def apply_rope(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate feature pairs of x (B, H, N, Dh) by angles (B, N, Dh / 2)."""
    cos, sin = angles.cos()[:, None], angles.sin()[:, None]  # (B, 1, N, Dh/2)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.flatten(-2).to(x.dtype)


__all__ = ["CROSS_BLOCKS", "cross_positions", "rope_angles", "apply_rope"]
