"""Cube-aware RoPE: the cross layout puts adjacent faces' border tokens next to each other."""

import pytest
import torch

from worldengine.geometry.cube import face_to_direction
from worldengine.model.rope import apply_rope, cross_positions, rope_angles

N = 8  # tokens per face side
# adjacent on the cross: (face a, face b, which border of a meets which of b)
CROSS_EDGES = [(0, 1, "right", "left"), (1, 2, "right", "left"), (2, 3, "right", "left"),
               (4, 0, "bottom", "top"), (0, 5, "bottom", "top")]


def _border(grid: torch.Tensor, side: str) -> torch.Tensor:
    return {"top": grid[0], "bottom": grid[-1], "left": grid[:, 0], "right": grid[:, -1]}[side]


def _token_directions(face: int) -> torch.Tensor:
    centres = (2 * torch.arange(N) + 1) / N - 1.0
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return face_to_direction(torch.full_like(x, face, dtype=torch.long), x, y, unit=True)  # (n, n, 3)


@pytest.mark.parametrize("a, b, side_a, side_b", CROSS_EDGES)
def test_adjacent_faces_border_tokens_are_neighbours(a, b, side_a, side_b):
    pos = cross_positions(N)
    pa, pb = _border(pos[a], side_a), _border(pos[b], side_b)
    assert torch.equal((pa - pb).abs().sum(-1), torch.ones(N))  # one step apart, token for token
    # and they really are neighbours on the sphere: the pair's directions are one token apart
    da, db = _border(_token_directions(a), side_a), _border(_token_directions(b), side_b)
    step = torch.acos((_token_directions(0)[0, 0] * _token_directions(0)[0, 1]).sum())
    assert (torch.acos((da * db).sum(-1).clamp(-1, 1)) <= 1.01 * step).all()


def test_faces_do_not_overlap_and_coarse_tokens_sit_at_centres():
    pos = cross_positions(N).reshape(-1, 2)
    assert len({tuple(p.tolist()) for p in pos}) == 6 * N * N
    coarse = cross_positions(N // 2, span=2)
    assert torch.equal(coarse[:, 0, 0], cross_positions(N)[:, :2, :2].reshape(6, 4, 2).mean(1))


def test_rope_scores_depend_only_on_position_difference():
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 1, 24, generator=gen), torch.randn(1, 1, 1, 24, generator=gen)
    p1, p2, shift = torch.tensor([[1.0, 3.0, 5.0]]), torch.tensor([[0.0, 7.0, 2.0]]), torch.tensor([[2.0, -4.0, 9.0]])

    def score(a, b):
        return (apply_rope(q, rope_angles(a, 24)[None]) * apply_rope(k, rope_angles(b, 24)[None])).sum()

    assert torch.allclose(score(p1, p2), score(p1 + shift, p2 + shift), atol=1e-4)
    assert not torch.allclose(score(p1, p2), score(p1, p2 + shift), atol=1e-3)
    assert torch.allclose(apply_rope(q, rope_angles(p1, 24)[None]).norm(), q.norm())
