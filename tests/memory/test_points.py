"""memory.points: the explicit RGB point-cloud memory renders back what it stored."""

import pytest
import torch

from memory.points import BYTES_PER_POINT, PointCloudMemory
from worldengine.geometry.cube import face_rotations


def _pose(x: float = 0.0) -> torch.Tensor:
    pose = torch.eye(4)
    pose[0, 3] = x
    return pose


def test_a_cubemap_renders_back_from_where_it_was_seen():
    rotations, size = face_rotations(), 16
    gen = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (6, size, size, 3), generator=gen, dtype=torch.uint8)
    depth = 1 + 4 * torch.rand(6, size, size, generator=gen)
    depth[0, :4] = 0  # no surface: nothing stored there
    points = PointCloudMemory()
    added = points.add(rgb, depth, _pose(), rotations)
    assert added == len(points) == 6 * size * size - 4 * size and points.nbytes == added * BYTES_PER_POINT
    render = points.render(_pose(), rotations, size)
    assert torch.equal(render.mask, depth > 0)
    assert torch.equal(render.rgb[render.mask], rgb[depth > 0])
    assert torch.allclose(render.depth[render.mask], depth[depth > 0], rtol=1e-5)


def test_keep_mask_and_a_moved_camera():
    rotations, size = face_rotations(), 8
    rgb = torch.full((6, size, size, 3), 200, dtype=torch.uint8)
    depth = torch.full((6, size, size), 2.0)
    points = PointCloudMemory()
    keep = torch.zeros(6, size, size, dtype=torch.bool)
    keep[2] = True
    assert points.add(rgb, depth, _pose(), rotations, keep) == size * size
    moved = points.render(_pose(1.0), rotations, size)  # one metre along +x: a face's wall comes nearer or recedes
    assert moved.mask.any() and ((moved.depth[moved.mask] - 2.0).abs() > 0.5).any()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="rgb"):
        PointCloudMemory().add(torch.zeros(6, 4, 4, 3), torch.ones(6, 4, 4), _pose(), face_rotations())
