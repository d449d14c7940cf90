import math

import pytest
import torch

from worldengine.agent.actions import DiscreteAction as A
from worldengine.agent.actions import Motion, MotionConfig, decode_action
from worldengine.agent.kinematics import clamp_pitch, probe_rays, step_pose
from worldengine.geometry.pose import check_rigid, pose_from_yaw_pitch, yaw_pitch_from_pose

CFG = MotionConfig()
INF = float("inf")


def free_space(origins, directions):
    return torch.full((origins.shape[0],), INF, dtype=origins.dtype)


def plane_z(z0: float):
    """Wall filling the plane z = z0 (seen from either side)."""

    def ray_distance(origins, directions):
        dz = directions[:, 2]
        t = (z0 - origins[:, 2]) / dz
        return torch.where((dz != 0) & (t >= 0), t, torch.full_like(t, INF))

    return ray_distance


def box(lo, hi):
    """Axis-aligned solid box [lo, hi] (slab test; rays starting inside hit at 0)."""
    lo = torch.tensor(lo, dtype=torch.float64)
    hi = torch.tensor(hi, dtype=torch.float64)

    def ray_distance(origins, directions):
        with torch.no_grad():
            inv = 1.0 / directions  # +-inf on axis-parallel rays, as the slab test wants
            t1, t2 = (lo - origins) * inv, (hi - origins) * inv
            t1 = torch.where(torch.isnan(t1), torch.full_like(t1, -INF), t1)
            t2 = torch.where(torch.isnan(t2), torch.full_like(t2, INF), t2)
            near = torch.minimum(t1, t2).amax(dim=-1).clamp(min=0)
            far = torch.maximum(t1, t2).amin(dim=-1)
        return torch.where(near <= far, near, torch.full_like(near, INF))

    return ray_distance


def start(x=0.0, y=1.5, z=0.0, yaw=0.0, pitch=0.0, dtype=torch.float32):
    return pose_from_yaw_pitch(torch.tensor([x, y, z], dtype=dtype), yaw, pitch)


def act(pose, action, ray_distance=free_space, config=CFG):
    return step_pose(pose, decode_action(int(action), "discrete", config), config, ray_distance)


def forward_of(pose):
    return pose[:3, :3] @ torch.tensor([0.0, 0.0, -1.0], dtype=pose.dtype)


def test_forward_from_identity():
    pose, blocked = act(torch.eye(4), A.FORWARD)
    torch.testing.assert_close(pose[:3, 3], torch.tensor([0.0, 0.0, -0.25]))
    torch.testing.assert_close(pose[:3, :3], torch.eye(3))
    assert blocked is False


def test_backward_and_strafes():
    pose, _ = act(torch.eye(4), A.BACKWARD)
    torch.testing.assert_close(pose[:3, 3], torch.tensor([0.0, 0.0, 0.25]))
    pose, _ = act(torch.eye(4), A.STRAFE_RIGHT)
    torch.testing.assert_close(pose[:3, 3], torch.tensor([0.25, 0.0, 0.0]))
    pose, _ = act(torch.eye(4), A.STRAFE_LEFT)
    torch.testing.assert_close(pose[:3, 3], torch.tensor([-0.25, 0.0, 0.0]))


def test_turn_left_rotates_forward_towards_minus_x():
    pose, _ = act(torch.eye(4), A.TURN_LEFT)
    f = forward_of(pose)
    assert float(f[0]) == pytest.approx(-math.sin(math.radians(15)), abs=1e-6)
    torch.testing.assert_close(pose[:3, 3], torch.zeros(3))
    for _ in range(5):
        pose, _ = act(pose, A.TURN_LEFT)
    torch.testing.assert_close(forward_of(pose), torch.tensor([-1.0, 0.0, 0.0]), atol=1e-6, rtol=0)
    # Walking now goes along -x; TURN_RIGHT undoes the turn.
    moved, _ = act(pose, A.FORWARD)
    torch.testing.assert_close(moved[:3, 3], torch.tensor([-0.25, 0.0, 0.0]), atol=1e-6, rtol=0)
    for _ in range(6):
        pose, _ = act(pose, A.TURN_RIGHT)
    torch.testing.assert_close(pose, torch.eye(4), atol=1e-6, rtol=0)


def test_turns_and_looks_cast_no_rays_and_keep_the_position_exactly():
    def no_rays(origins, directions):
        raise AssertionError("a step that does not translate must not cast collision rays")

    pose = start(x=1.25, z=-3.5, yaw=0.7, pitch=0.1)
    for action in (A.TURN_LEFT, A.TURN_RIGHT, A.LOOK_UP, A.LOOK_DOWN):
        moved, blocked = act(pose, action, no_rays)
        assert blocked is False and torch.equal(moved[:3, 3], pose[:3, 3])


def test_pitch_clamps_and_does_not_tilt_motion():
    pose = start()
    for _ in range(10):
        pose, _ = act(pose, A.LOOK_UP)
    _, pitch = yaw_pitch_from_pose(pose)
    assert float(pitch) == pytest.approx(math.radians(60), abs=1e-6)
    moved, _ = act(pose, A.FORWARD)
    torch.testing.assert_close(moved[:3, 3], torch.tensor([0.0, 1.5, -0.25]))  # stays level
    for _ in range(20):
        pose, _ = act(pose, A.LOOK_DOWN)
    assert float(yaw_pitch_from_pose(pose)[1]) == pytest.approx(-math.radians(60), abs=1e-6)


def test_clamp_pitch():
    assert clamp_pitch(2.0, CFG) == pytest.approx(math.radians(60))
    assert clamp_pitch(-2.0, CFG) == pytest.approx(-math.radians(60))
    assert clamp_pitch(0.1, CFG) == 0.1
    torch.testing.assert_close(
        clamp_pitch(torch.tensor([-2.0, 0.5, 2.0]), CFG), torch.tensor([-math.radians(60), 0.5, math.radians(60)])
    )


def test_free_space_moves_freely_and_keeps_height():
    pose = start(dtype=torch.float64)
    for i in range(40):
        pose, blocked = act(pose, A.FORWARD)
        assert not blocked
    torch.testing.assert_close(pose[:3, 3], torch.tensor([0.0, 1.5, -10.0], dtype=torch.float64))
    assert pose.dtype == torch.float64
    cont = decode_action([0.5, 0.5, 0.0, 0.0], "continuous")
    pose, blocked = step_pose(start(), cont, CFG, free_space)
    torch.testing.assert_close(pose[:3, 3], torch.tensor([0.125, 1.5, -0.125]))


def test_wall_stops_agent_at_radius():
    wall = plane_z(-1.0)
    pose = start(z=0.1)
    blocked_seen = False
    for _ in range(30):
        pose, blocked = act(pose, A.FORWARD, wall)
        assert float(pose[2, 3]) >= -1.0 + CFG.agent_radius - 1e-6  # never closer than the radius
        blocked_seen |= blocked
    assert float(pose[2, 3]) == pytest.approx(-1.0 + CFG.agent_radius, abs=1e-5)
    assert blocked_seen and blocked
    check_rigid(pose)
    # Backing away is free; walking back into the wall from behind is blocked too.
    away, blocked = act(pose, A.BACKWARD, wall)
    assert not blocked and float(away[2, 3]) == pytest.approx(-0.5, abs=1e-5)
    behind = start(z=-1.3)
    moved, blocked = act(behind, A.BACKWARD, wall)
    assert blocked and float(moved[2, 3]) == pytest.approx(-1.0 - CFG.agent_radius, abs=1e-5)


def test_oblique_approach_keeps_the_radius():
    # The side rays see the wall first when walking at it at an angle, so the body's
    # centre stays at least r from the wall (a centre ray alone would allow r cos(angle)).
    wall = plane_z(-1.0)
    pose = start(yaw=math.radians(40))
    for _ in range(30):
        pose, _ = act(pose, A.FORWARD, wall)
        assert float(pose[2, 3]) >= -1.0 + CFG.agent_radius - 1e-6
    assert float(pose[0, 3]) < -0.1  # it did walk towards the wall


def test_low_obstacle_blocks():
    # A box only 0.5 m tall (floor at y = 0) in front: only the low rays see it.
    low_box = box([-0.5, 0.0, -1.4], [0.5, 0.5, -1.0])
    pose = start()
    for _ in range(20):
        pose, blocked = act(pose, A.FORWARD, low_box)
    assert blocked
    assert float(pose[2, 3]) == pytest.approx(-1.0 + CFG.agent_radius, abs=1e-5)


def test_obstacle_off_centre_within_radius_blocks():
    # A wall segment ending 0.2 m to the right of the path: the centre ray misses it.
    side_box = box([0.2, 0.0, -1.4], [2.0, 2.0, -1.0])
    pose = start()
    for _ in range(20):
        pose, blocked = act(pose, A.FORWARD, side_box)
    assert blocked and float(pose[2, 3]) == pytest.approx(-0.75, abs=1e-5)
    # The same segment 0.3 m to the right of the path is cleared.
    clear = box([0.3, 0.0, -1.4], [2.0, 2.0, -1.0])
    pose = start()
    for _ in range(20):
        pose, blocked = act(pose, A.FORWARD, clear)
    assert not blocked and float(pose[2, 3]) == pytest.approx(-5.0, abs=1e-5)


def test_obstacles_below_clearance_or_above_eye_are_ignored():
    pose = start()
    for lo, hi in (([-1, 0.0, -1.4], [1, 0.1, -1.0]), ([-1, 1.6, -1.4], [1, 3.0, -1.0])):
        moved = pose
        for _ in range(10):
            moved, blocked = act(moved, A.FORWARD, box(lo, hi))
            assert not blocked
        assert float(moved[2, 3]) == pytest.approx(-2.5, abs=1e-5)


def test_probe_ray_fan():
    origins, dirs = probe_rays(torch.tensor([1.0, 1.5, 0.0]), torch.tensor([0.0, 0.0, -1.0]), CFG)
    assert origins.shape == dirs.shape and origins.shape[0] % 5 == 0 and origins.shape[0] >= 15
    heights = origins[:, 1].unique()
    assert float(heights.min()) == pytest.approx(0.2) and float(heights.max()) == pytest.approx(1.5)
    assert float(heights.diff().max()) <= 0.25 + 1e-9
    assert sorted(origins[:, 0].unique().tolist()) == pytest.approx([0.75, 0.875, 1.0, 1.125, 1.25])
    torch.testing.assert_close(dirs, torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64).expand_as(dirs))


def test_step_pose_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"single pose of shape \(4, 4\), got \(2, 4, 4\)"):
        step_pose(torch.eye(4).expand(2, 4, 4), Motion(forward_m=1), CFG, free_space)
    scaled = torch.eye(4)
    scaled[:3, :3] *= 1.1
    with pytest.raises(ValueError, match=r"not a rigid transform"):
        step_pose(scaled, Motion(), CFG, free_space)
    with pytest.raises(ValueError, match=r"motion must be a worldengine.agent.actions.Motion, got int"):
        step_pose(torch.eye(4), 1, CFG, free_space)
    with pytest.raises(ValueError, match=r"motion must be finite"):
        step_pose(torch.eye(4), Motion(forward_m=float("nan")), CFG, free_space)
    with pytest.raises(ValueError, match=r"ray_distance must return shape \(35,\)"):
        step_pose(torch.eye(4), Motion(forward_m=1), CFG, lambda o, d: torch.zeros(3))
    with pytest.raises(ValueError, match=r"NaN or negative"):
        step_pose(torch.eye(4), Motion(forward_m=1), CFG, lambda o, d: torch.full((o.shape[0],), float("nan")))
    with pytest.raises(ValueError, match=r"settle returned a position that is not finite"):
        step_pose(torch.eye(4), Motion(forward_m=0.25), CFG, free_space, settle=lambda p: torch.full((3,), float("nan")))
