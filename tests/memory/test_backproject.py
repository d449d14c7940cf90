import pytest
import torch

from memory.backproject import backproject
from worldengine.geometry.cube import cubemap_to_points, face_rotations
from worldengine.geometry.pose import pose_from_yaw_pitch

R = face_rotations()


def _room_depth(size, half=2.0):
    return torch.full((1, 6, size, size), half)  # camera at the centre of a cube room


def test_points_lie_on_the_room_walls():
    pose = pose_from_yaw_pitch(torch.tensor([1.0, 1.5, -2.0]), 0.7, 0.0)[None]
    pts = backproject(torch.randn(1, 6, 4, 8, 8), _room_depth(32), pose, R, torch.tensor([3]))
    assert len(pts) == 6 * 64 and (pts.frame == 3).all()
    body = (pts.positions - pose[0, :3, 3]) @ pose[0, :3, :3]  # back in the body frame
    assert torch.allclose(body.abs().max(dim=1).values, torch.tensor(2.0), atol=1e-5)  # on the cube's faces


def test_latent_resolution_depth_matches_engine_back_projection():
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.2, 0.1)
    depth = torch.rand(1, 6, 8, 8) * 3 + 0.5
    pts = backproject(torch.randn(1, 6, 2, 8, 8), depth, pose[None], R, torch.tensor([0]))
    expected, _ = cubemap_to_points(depth[0], pose)
    torch.testing.assert_close(pts.positions, expected.reshape(-1, 3), atol=1e-5, rtol=1e-5)


def test_cells_without_enough_depth_are_dropped():
    depth = _room_depth(16)
    depth[0, 0, :8, :8] = 0  # the top-left quarter of F is sky: its 4x4 latent cells vanish
    depth[0, 1, :2, :] = 0  # half of each top cell row on R: still >= 50% valid, kept
    pts = backproject(torch.zeros(1, 6, 1, 4, 4), depth, torch.eye(4)[None], R, torch.tensor([0]))
    assert len(pts) == 6 * 16 - 4


def test_median_depth_resists_edges():
    depth = torch.full((1, 6, 4, 4), 2.0)
    depth[0, 0, 0, :] = 50.0  # one row of far background inside F's single cell
    pts = backproject(torch.zeros(1, 6, 1, 1, 1), depth, torch.eye(4)[None], R, torch.tensor([0]))
    assert torch.isclose(pts.positions[0].norm(), torch.tensor(2.0))


def test_preview_colours_are_block_means():
    rgb = torch.zeros(1, 6, 4, 4, 3, dtype=torch.uint8)
    rgb[0, :, :2] = 200
    pts = backproject(torch.zeros(1, 6, 1, 2, 2), _room_depth(4), torch.eye(4)[None], R, torch.tensor([0]), rgb)
    assert pts.rgb[:, 0].tolist() == [200, 200, 0, 0] * 6


@pytest.mark.parametrize("case", ["nan", "shape", "pose", "faces", "ids"])
def test_bad_inputs(case):
    features, depth, poses, ids = torch.zeros(1, 6, 1, 4, 4), _room_depth(16), torch.eye(4)[None], torch.tensor([0])
    if case == "nan":
        depth[0, 0, 0, 0] = float("nan")
        match = "finite"
    elif case == "shape":
        depth = depth[:, :, :15, :15]
        match = "multiple of the latent side"
    elif case == "pose":
        poses = poses * 2
        match = "rigid"
    elif case == "faces":
        features = features[:, :5]
        match = "features must have shape"
    else:
        ids = torch.tensor([0, 1])
        match = "frame_ids"
    with pytest.raises(ValueError, match=match):
        backproject(features, depth, poses, R, ids)
