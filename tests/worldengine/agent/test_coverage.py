import math

import numpy as np
import pytest
import torch

from worldengine.agent.coverage import VoxelCoverage
from worldengine.geometry.pose import pose_from_yaw_pitch

A = 2.1  # half-size of the box room, metres: chosen so no surface point lies on a voxel face


def _room(size: int) -> torch.Tensor:
    """Depth cubemap (F, S, S) seen from the centre of a cube room of half-size A: the
    z-depth is A on every pixel of every face."""
    return torch.full((6, size, size), A)


def _pose(x=0.0, y=0.0, z=0.0, yaw=0.0) -> torch.Tensor:
    return pose_from_yaw_pitch(torch.tensor([x, y, z], dtype=torch.float64), yaw, 0.0).float()


def _room_voxels(size: int, voxel: float, faces=range(6)) -> int:
    """Independent count: pixel centres of every face of the cube room are the points
    (+-A on one axis, A u, A v on the other two), u, v = (2k + 1) / S - 1 (the whole set
    is the same whichever way each face's camera is turned)."""
    u = (2 * np.arange(size) + 1) / size - 1
    a, b = np.meshgrid(A * u, A * u, indexing="ij")
    a, b = a.ravel(), b.ravel()
    planes = []
    for axis in range(3):
        for sign in (1, -1):
            p = np.empty((len(a), 3))
            p[:, axis] = sign * A
            others = [k for k in range(3) if k != axis]
            p[:, others[0]], p[:, others[1]] = a, b
            planes.append(p)
    points = np.concatenate([planes[f] for f in faces])
    return len(np.unique(np.floor(points / voxel).astype(np.int64), axis=0))


@pytest.mark.parametrize("size, voxel", [(8, 0.25), (8, 1.0), (16, 0.5), (12, 0.4)])
def test_box_room_voxel_count_is_known(size, voxel):
    coverage = VoxelCoverage(voxel_size=voxel, stride=1)
    new = coverage.update(_room(size), _pose())
    assert new == len(coverage) == _room_voxels(size, voxel)
    # plausible: about the room's surface area in voxel faces, never more than the samples
    assert new <= 6 * size * size
    assert new <= 6 * (2 * A / voxel + 2) ** 2


def test_box_room_counts_by_hand():
    # S = 8, voxel 0.25: pixel spacing 2A/8 = 0.525 > 0.25, so every pixel is its own voxel
    # and the six walls share none: 6 x 64.
    assert VoxelCoverage(0.25, stride=1).update(_room(8), _pose()) == 384
    # S = 16 every 2nd pixel: again 8 x 8 samples a face 0.525 m apart.
    assert VoxelCoverage(0.25, stride=2).update(_room(16), _pose()) == 384
    assert VoxelCoverage(0.25, stride=1).update(_room(16), _pose()) == 6 * 256


def test_same_observation_again_adds_nothing():
    coverage = VoxelCoverage(0.25, stride=2)
    first = coverage.update(_room(16), _pose())
    assert first > 0
    assert coverage.update(_room(16), _pose()) == 0
    assert len(coverage) == first


def test_turning_in_place_sees_the_same_room():
    # A quarter turn maps the cube room onto itself: the same voxels.
    coverage = VoxelCoverage(0.25, stride=1)
    first = coverage.update(_room(8), _pose())
    assert coverage.update(_room(8), _pose(yaw=math.pi / 2)) == 0
    assert coverage.update(_room(8), _pose(yaw=-math.pi)) == 0
    assert len(coverage) == first


def test_a_far_translation_sees_new_voxels():
    coverage = VoxelCoverage(0.25, stride=2)
    first = coverage.update(_room(16), _pose())
    assert coverage.update(_room(16), _pose(x=10.0, z=-7.0)) == first  # a disjoint room
    assert len(coverage) == 2 * first
    # half a room over: the two rooms share part of the floor and ceiling planes
    shifted = coverage.update(_room(16), _pose(x=A))
    assert 0 < shifted < first


def test_invalid_depth_is_ignored():
    depth = _room(8)
    depth[5] = 0.0  # D face: no hit
    depth[0, :4] = 0.0  # top half of F: no hit
    coverage = VoxelCoverage(0.25, stride=1)
    # the camera's own voxel (where invalid pixels back-project) must not be counted
    assert coverage.update(depth, _pose()) == 384 - 64 - 32
    assert VoxelCoverage(0.25).update(torch.zeros(6, 8, 8), _pose()) == 0


def test_numpy_inputs_negative_coordinates_and_reset():
    coverage = VoxelCoverage(0.5, stride=1)
    # Rooms either side of the origin, numpy in: voxel keys of negative coordinates stay distinct.
    a = coverage.update(_room(8).numpy(), _pose(x=-50.0, y=-3.0, z=-80.0).numpy())
    b = coverage.update(_room(8).numpy(), _pose(x=50.0, y=3.0, z=80.0).numpy())
    assert a == b == _room_voxels(8, 0.5) and len(coverage) == a + b
    keys = coverage.voxel_keys(_room(8).numpy(), _pose().numpy())
    assert len(keys) == _room_voxels(8, 0.5) and (np.diff(keys) > 0).all()
    coverage.reset()
    assert len(coverage) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="voxel_size"):
        VoxelCoverage(0.0)
    with pytest.raises(ValueError):
        VoxelCoverage().update(torch.ones(5, 8, 8), _pose())
    with pytest.raises(ValueError):
        VoxelCoverage().update(torch.ones(6, 8, 8), torch.eye(3))
