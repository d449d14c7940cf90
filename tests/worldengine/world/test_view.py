"""worldengine.world.view: a level heading, a cube made from body faces, and the body faces seen from it."""

import math

import numpy as np
import torch

from worldengine.geometry.pose import pose_from_yaw_pitch, yaw_pitch_from_pose
from worldengine.world.view import cube_from_body, cube_pose, level_heading


def _faces(seed=0, size=16):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (6, size, size, 3), generator=gen, dtype=torch.uint8),
            torch.rand(6, size, size, generator=gen) * 4 + 0.5)


def test_level_heading_keeps_yaw_and_drops_pitch():
    pose = pose_from_yaw_pitch(torch.tensor([1.0, 1.5, -2.0]), 0.7, 0.4)
    yaw, pitch = yaw_pitch_from_pose(cube_pose(level_heading(pose), pose[:3, 3]).double())
    assert math.isclose(float(yaw), 0.7, abs_tol=1e-6) and abs(float(pitch)) < 1e-6


def test_a_level_start_is_its_own_cube_and_comes_back_exactly():
    rgb, depth = _faces()
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.3, 0.0)
    view = cube_from_body(rgb, depth, pose, level_heading(pose))
    assert torch.equal(view.rgb, rgb) and torch.equal(view.depth, depth)
    body_rgb, body_depth = view.seen_from(pose)
    assert np.array_equal(body_rgb, rgb.numpy()) and np.array_equal(body_depth, depth.numpy())
    assert view.stands_at(pose) and not view.stands_at(cube_pose(pose[:3, :3], pose[:3, 3] + 0.01))


def test_looking_down_and_back_up_returns_the_faces():
    """A pitched body: its faces become a level cube, and are seen again from the same pose."""
    rgb, depth = _faces(1, 32)
    rgb = torch.nn.functional.avg_pool2d(rgb.permute(0, 3, 1, 2).float(), 5, 1, 2).round().to(torch.uint8)
    rgb = rgb.permute(0, 2, 3, 1).contiguous()  # smooth content: resampling twice stays close
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.0, -0.3)
    view = cube_from_body(rgb, torch.full_like(depth, 3.0), pose, level_heading(pose))
    assert not torch.equal(view.rgb, rgb)  # the cube is level, the body looked down
    back, _ = view.seen_from(pose)
    assert np.abs(back.astype(int) - rgb.numpy().astype(int)).mean() < 6
