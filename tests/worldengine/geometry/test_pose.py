import math

import numpy as np
import pytest
import torch

from worldengine.geometry.pose import (
    check_rigid,
    compose,
    invert,
    make_pose,
    pose_from_yaw_pitch,
    relative_pose,
    rotation_angle,
    transform_points,
    yaw_pitch_from_pose,
    yaw_pitch_position,
)


def random_rotations(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 3, 3) random proper rotations via QR with a sign fix."""
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    flip = torch.linalg.det(q) < 0
    q[flip, :, 0] = -q[flip, :, 0]
    return q


def random_poses(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return make_pose(random_rotations(n, g), 5 * torch.randn(n, 3, generator=g, dtype=torch.float64))


def test_make_pose_layout_and_broadcast():
    R = torch.eye(3).expand(2, 3, 3)
    T = make_pose(R, torch.tensor([1.0, 2.0, 3.0]))
    assert T.shape == (2, 4, 4)
    assert torch.equal(T[0, :3, 3], torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(T[1, 3], torch.tensor([0.0, 0.0, 0.0, 1.0]))


def test_compose_invert_round_trip():
    T = random_poses(64, seed=1)
    eye = torch.eye(4, dtype=torch.float64).expand(64, 4, 4)
    torch.testing.assert_close(compose(T, invert(T)), eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(compose(invert(T), T), eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(invert(invert(T)), T, atol=1e-12, rtol=0)
    torch.testing.assert_close(invert(T), torch.linalg.inv(T), atol=1e-12, rtol=0)
    check_rigid(invert(T))


def test_compose_is_associative_and_matches_points():
    a, b, c = random_poses(3, seed=2)
    torch.testing.assert_close(compose(compose(a, b), c), compose(a, compose(b, c)))
    p = torch.randn(10, 3, dtype=torch.float64)
    torch.testing.assert_close(
        transform_points(compose(a, b), p), transform_points(a, transform_points(b, p))
    )


def test_relative_pose_known_answer():
    # a at (1, 0, 0) facing left (yaw +90 deg: forward -z becomes -x); b 2 m in front of it.
    a = pose_from_yaw_pitch(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), math.pi / 2)
    b = pose_from_yaw_pitch(torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64), math.pi / 2)
    rel = relative_pose(a, b)
    expected = make_pose(torch.eye(3, dtype=torch.float64), torch.tensor([0.0, 0.0, -2.0], dtype=torch.float64))
    torch.testing.assert_close(rel, expected, atol=1e-12, rtol=0)
    # And the general identity a @ rel(a, b) = b on random poses.
    x, y = random_poses(2, seed=3)
    torch.testing.assert_close(compose(x, relative_pose(x, y)), y)


def test_rotation_angle_known_answers():
    origin = torch.zeros(3, dtype=torch.float64)
    I = pose_from_yaw_pitch(origin, 0.0)
    assert float(rotation_angle(I, I)) == 0.0
    assert float(rotation_angle(I, pose_from_yaw_pitch(origin, math.pi / 2))) == pytest.approx(math.pi / 2, abs=1e-12)
    assert float(rotation_angle(I, pose_from_yaw_pitch(origin, math.pi))) == pytest.approx(math.pi, abs=1e-12)
    assert float(rotation_angle(I, pose_from_yaw_pitch(origin, 0.0, -0.3))) == pytest.approx(0.3, abs=1e-12)
    # Translation does not count.
    moved = pose_from_yaw_pitch(torch.tensor([4.0, 5.0, 6.0], dtype=torch.float64), 0.0)
    assert float(rotation_angle(I, moved)) == 0.0


def test_rotation_angle_precise_near_zero_and_pi():
    origin = torch.zeros(3, dtype=torch.float64)
    I = pose_from_yaw_pitch(origin, 0.0)
    for angle in (1e-7, math.pi - 1e-7):
        got = float(rotation_angle(I, pose_from_yaw_pitch(origin, angle)))
        assert got == pytest.approx(angle, abs=1e-12)
    # Float32 near identity: acos would give ~3e-4 of noise; atan2 stays tiny.
    I32 = pose_from_yaw_pitch(torch.zeros(3), 0.0)
    assert float(rotation_angle(I32, pose_from_yaw_pitch(torch.zeros(3), 1e-5))) == pytest.approx(1e-5, rel=1e-3)


def test_rotation_angle_batched_symmetric():
    a, b = random_poses(8, seed=4), random_poses(8, seed=5)
    ang = rotation_angle(a, b)
    assert ang.shape == (8,)
    torch.testing.assert_close(ang, rotation_angle(b, a))
    assert bool(((ang >= 0) & (ang <= math.pi)).all())


def test_yaw_pitch_round_trip():
    g = torch.Generator().manual_seed(6)
    yaw = (torch.rand(100, generator=g, dtype=torch.float64) * 2 - 1) * (math.pi - 1e-3)
    pitch = (torch.rand(100, generator=g, dtype=torch.float64) * 2 - 1) * 1.5
    pos = torch.randn(100, 3, generator=g, dtype=torch.float64)
    T = pose_from_yaw_pitch(pos, yaw, pitch)
    check_rigid(T)
    y2, p2 = yaw_pitch_from_pose(T)
    torch.testing.assert_close(y2, yaw, atol=1e-12, rtol=0)
    torch.testing.assert_close(p2, pitch, atol=1e-12, rtol=0)
    torch.testing.assert_close(T[:, :3, 3], pos)


def test_yaw_and_pitch_directions():
    T = pose_from_yaw_pitch(torch.zeros(3), math.pi / 2)
    forward = T[:3, :3] @ torch.tensor([0.0, 0.0, -1.0])
    torch.testing.assert_close(forward, torch.tensor([-1.0, 0.0, 0.0]), atol=1e-6, rtol=0)  # left turn
    T = pose_from_yaw_pitch(torch.zeros(3), 0.0, 0.5)
    assert float((T[:3, :3] @ torch.tensor([0.0, 0.0, -1.0]))[1]) > 0.4  # looks up


def test_yaw_pitch_from_pose_rejects_roll():
    c, s = math.cos(0.2), math.sin(0.2)
    roll = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # about body z
    with pytest.raises(ValueError, match="roll"):
        yaw_pitch_from_pose(make_pose(roll, torch.zeros(3)))


def test_check_rigid_accepts_rigid_and_returns_it():
    T = random_poses(5).float()
    assert check_rigid(T) is T


def _scaled():
    T = torch.eye(4)
    T[:3, :3] *= 2.0
    return T


def _bad_last_row():
    T = torch.eye(4)
    T[3, 0] = 0.5
    return T


def _nan():
    T = torch.eye(4)
    T[0, 3] = float("nan")
    return T


@pytest.mark.parametrize(
    "make, match",
    [
        (_scaled, r"pose is not a rigid transform: R\^T R differs from I .*scaled"),
        (lambda: torch.diag(torch.tensor([1.0, 1.0, -1.0, 1.0])),
         r"pose is not a rigid transform: det\(R\) = -1\.000 \(a reflection\)"),
        (_bad_last_row, r"pose is not a rigid transform: last row is \[0\.5, 0, 0, 1\].*expected \[0, 0, 0, 1\]"),
        (_nan, r"pose is not finite"),
        (lambda: torch.eye(4)[:3], r"pose must have shape \(\.\.\., 4, 4\), got \(3, 4\)"),
        (lambda: torch.eye(4, dtype=torch.int64), r"floating-point"),
        (lambda: [[1.0]], r"pose must be a torch.Tensor"),
    ],
    ids=["scaled", "reflection", "last-row", "nan", "shape", "int", "not-tensor"],
)
def test_check_rigid_rejects(make, match):
    with pytest.raises(ValueError, match=match):
        check_rigid(make())
    with pytest.raises(ValueError, match=match):  # the single-pose reader's plain-Python check agrees
        yaw_pitch_position(make())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_yaw_pitch_position_equals_the_batched_reader(dtype):
    """One pose's (yaw, pitch, position) as floats equals yaw_pitch_from_pose's and the
    pose's own translation, over yaws and pitches of every quadrant."""
    g = torch.Generator().manual_seed(3)
    yaws = torch.rand(40, generator=g, dtype=torch.float64) * 2 * math.pi - math.pi
    pitches = torch.rand(40, generator=g, dtype=torch.float64) * 3.0 - 1.5
    positions = 10 * torch.randn(40, 3, generator=g, dtype=torch.float64)
    poses = pose_from_yaw_pitch(positions, yaws, pitches).to(dtype)
    batched_yaw, batched_pitch = yaw_pitch_from_pose(poses)
    for n, pose in enumerate(poses):
        yaw, pitch, position = yaw_pitch_position(pose)
        assert isinstance(yaw, float) and isinstance(pitch, float) and position.dtype == np.float64
        assert yaw == pytest.approx(float(batched_yaw[n]), abs=1e-6)
        assert pitch == pytest.approx(float(batched_pitch[n]), abs=1e-6)
        np.testing.assert_array_equal(position, pose[:3, 3].double().numpy())


def test_yaw_pitch_from_pose_keeps_gradients():
    """The batched reader stays differentiable (its checks run on a host copy, its angles in torch)."""
    pose = pose_from_yaw_pitch(torch.zeros(3, dtype=torch.float64), 0.4, 0.2).requires_grad_(True)
    yaw, pitch = yaw_pitch_from_pose(pose)
    (yaw + pitch).backward()
    assert pose.grad is not None and float(pose.grad.abs().sum()) > 0


def test_yaw_pitch_position_takes_one_pose_and_refuses_roll():
    with pytest.raises(ValueError, match=r"single pose of shape \(4, 4\), got \(2, 4, 4\)"):
        yaw_pitch_position(torch.eye(4).repeat(2, 1, 1))
    c, s = math.cos(0.2), math.sin(0.2)
    roll = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="camera has roll"):
        yaw_pitch_position(make_pose(roll, torch.zeros(3)), name="camera")
    nearly = torch.eye(4, dtype=torch.float64)
    nearly[:3, :3] *= 1 + 2e-5  # within check_rigid's tolerance: accepted by both checks
    check_rigid(nearly)
    assert yaw_pitch_position(nearly)[:2] == (0.0, 0.0)


def test_check_rigid_names_batch_index_and_custom_name():
    T = torch.eye(4).repeat(3, 1, 1)
    T[2, 0, 0] = -1.0
    with pytest.raises(ValueError, match=r"camera is not a rigid transform: det\(R\) = -1\.000 at index \(2,\)"):
        check_rigid(T, name="camera")


def test_transform_points_shapes_and_values():
    T = pose_from_yaw_pitch(torch.tensor([1.0, 2.0, 3.0]), math.pi / 2)
    p = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    out = transform_points(T, p)
    torch.testing.assert_close(out, torch.tensor([[0.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), atol=1e-6, rtol=0)
    batched = transform_points(T.expand(4, 4, 4), p.expand(4, 2, 3))
    assert batched.shape == (4, 2, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 3\)"):
        transform_points(T, torch.zeros(2, 4))


def test_turned_adds_yaw_and_keeps_position_and_pitch():
    """Turned by 0.3 rad: the pose of yaw + 0.3 at the same place and pitch; a full turn in
    24 steps of 15 deg is back where it started; a pose with roll is refused."""
    from worldengine.geometry.pose import turned

    pose = pose_from_yaw_pitch(torch.tensor([1.0, 1.5, -2.0], dtype=torch.float64), 0.7, -0.2)
    torch.testing.assert_close(turned(pose, 0.3), pose_from_yaw_pitch(pose[:3, 3], 1.0, -0.2))
    around = pose
    for _ in range(24):
        around = turned(around, math.radians(15))
    torch.testing.assert_close(around, pose)
    left = turned(pose_from_yaw_pitch(torch.zeros(3), 0.0), math.pi / 2)
    torch.testing.assert_close(left[:3, 2], torch.tensor([1.0, 0.0, 0.0]))  # forward (-z) now points along -x: left
    rolled = make_pose(torch.tensor([[1.0, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]]) @ torch.tensor(
        [[0.8, -0.6, 0], [0.6, 0.8, 0], [0, 0, 1.0]]), torch.zeros(3))
    with pytest.raises(ValueError, match="roll"):
        turned(rolled, 0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_pose_from_float_angles_equals_the_batched_path(dtype):
    position = torch.tensor([1.5, -0.25, 3.0], dtype=dtype)
    for yaw, pitch in [(0.0, 0.0), (0.3, -0.4), (-2.9, 1.2), (math.pi, 0.0)]:
        one = pose_from_yaw_pitch(position, yaw, pitch)  # plain floats: the single-pose path
        batched = pose_from_yaw_pitch(position[None], torch.tensor([yaw], dtype=torch.float64),
                                      torch.tensor([pitch], dtype=torch.float64), dtype=dtype)[0]
        assert one.dtype == dtype and one.shape == (4, 4)
        torch.testing.assert_close(one, batched, atol=1e-7 if dtype == torch.float32 else 1e-15, rtol=0)
        check_rigid(one)
