import numpy as np
import pytest
import torch

from worldengine.agent.actions import MotionConfig, decode_action
from worldengine.agent.kinematics import step_pose
from worldengine.data.record import record, walk
from worldengine.data.trajectory import TrajectoryReader
from worldengine.scenes import ProceduralScene, render_cubemaps

SEED, STEPS, S = 5, 12, 8


@pytest.fixture(scope="module")
def walked():
    scene = ProceduralScene(SEED)
    frames = []
    rollout = walk(scene, STEPS, S, SEED, frames.append)
    return scene, rollout, frames


def test_walk_calls_back_once_per_frame(walked):
    _, rollout, frames = walked
    assert len(frames) == len(rollout.poses) == len(rollout.actions) == STEPS + 1
    assert rollout.actions[0] == -1 and all(0 <= a < 9 for a in rollout.actions[1:])
    for t, frame in enumerate(frames):
        assert frame["rgb"].shape == (6, S, S, 3) and frame["rgb"].dtype == np.uint8
        assert frame["depth"].shape == (6, S, S) and frame["depth"].dtype == np.float32
        assert frame["action"] == rollout.actions[t]
        np.testing.assert_array_equal(frame["pose"], rollout.poses[t])


def test_walk_frames_are_renders_of_its_poses(walked):
    scene, rollout, frames = walked
    for t in (0, STEPS):
        again = render_cubemaps(scene, torch.as_tensor(rollout.poses[t]), S)
        np.testing.assert_array_equal(frames[t]["rgb"], again.rgb.numpy())
        np.testing.assert_array_equal(frames[t]["depth"], again.depth.numpy())


def test_walk_poses_follow_its_actions(walked):
    # Replaying the recorded actions with the kinematics reproduces every pose and
    # the count of blocked steps: action[t] is what led from frame t - 1 to frame t.
    scene, rollout, _ = walked
    motion = MotionConfig()
    pose, blocked = torch.as_tensor(rollout.poses[0]), 0
    start = pose[:3, 3].numpy()
    assert scene.is_free(start[None]).all()
    assert start[1] == pytest.approx(scene.bounds[0][1] + motion.eye_height)
    for t in range(1, STEPS + 1):
        pose, hit = step_pose(pose, decode_action(rollout.actions[t], "discrete", motion), motion, scene.ray_distance)
        blocked += hit
        np.testing.assert_allclose(pose.numpy(), rollout.poses[t], atol=1e-6)
    assert blocked == rollout.blocked


def test_record_stores_exactly_what_walk_saw(tmp_path, walked):
    _, rollout, frames = walked
    path = tmp_path / "traj.zarr"
    summaries = record(path, episodes=1, steps=STEPS, face_size=S, first_seed=SEED, progress=False)
    assert summaries == [{"scene_seed": SEED, "scene_kind": ProceduralScene(SEED).layout.kind, "steps": STEPS,
                          "routes": len(rollout.routes), "blocked_steps": rollout.blocked}]
    reader = TrajectoryReader(path)
    assert len(reader) == 1 and reader.episode_length(0) == STEPS + 1
    window = reader.window(0, 0, STEPS + 1)
    np.testing.assert_array_equal(window.rgb, np.stack([f["rgb"] for f in frames]))
    np.testing.assert_array_equal(window.depth, np.stack([f["depth"] for f in frames]))
    np.testing.assert_array_equal(window.pose, np.stack(rollout.poses))
    np.testing.assert_array_equal(window.action, rollout.actions)
    attrs = reader.episode_attrs(0)
    assert attrs["scene_seed"] == SEED and attrs["policy"] == "LoopExplorer" and attrs["action_kind"] == "discrete"
    assert attrs["routes"] == rollout.routes and attrs["blocked_steps"] == rollout.blocked


def test_record_appends_episodes_with_consecutive_seeds(tmp_path):
    path = tmp_path / "traj.zarr"
    record(path, episodes=2, steps=3, face_size=S, first_seed=7, progress=False)
    record(path, episodes=1, steps=2, face_size=S, first_seed=20, progress=False)
    reader = TrajectoryReader(path)
    assert [reader.episode_attrs(k)["scene_seed"] for k in range(3)] == [7, 8, 20]
    assert [reader.episode_length(k) for k in range(3)] == [4, 4, 3]
    with pytest.raises(ValueError, match="face size"):
        record(path, episodes=1, steps=2, face_size=2 * S, progress=False)
    assert len(TrajectoryReader(path)) == 3


@pytest.mark.parametrize("episodes, steps", [(0, 5), (1, 0), (-1, 3)])
def test_record_refuses_empty_runs(tmp_path, episodes, steps):
    with pytest.raises(ValueError, match="must be > 0"):
        record(tmp_path / "x.zarr", episodes=episodes, steps=steps, face_size=S, progress=False)
