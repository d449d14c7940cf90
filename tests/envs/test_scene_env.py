import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the environments)
from envs import SceneEnv
from worldengine.agent.actions import DiscreteAction


def _make(**kwargs):
    kwargs.setdefault("face_size", 16)
    return gym.make("worldengine/Scene-v0", **kwargs)


@pytest.mark.parametrize("action_kind", ["discrete", "continuous"])
def test_check_env_passes(action_kind):
    env = _make(scene_seed=3, action_kind=action_kind, max_steps=20, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)


def test_check_env_with_scenes_drawn_at_reset():
    check_env(_make(max_steps=5).unwrapped)


def _rollout(seed, steps=8):
    env = _make(max_steps=50)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = [obs]
    for k in range(steps):
        obs, *_ = env.step(int(env.action_space.sample()) if k % 2 else int(DiscreteAction.FORWARD))
        frames.append(obs)
    return env, frames


def test_same_seed_same_frames():
    env_a, a = _rollout(11)
    env_b, b = _rollout(11)
    assert env_a.unwrapped.scene.seed == env_b.unwrapped.scene.seed
    for x, y in zip(a, b):
        for key in ("rgb", "depth", "pose"):
            np.testing.assert_array_equal(x[key], y[key])
    _, c = _rollout(12)
    assert not np.array_equal(a[0]["rgb"], c[0]["rgb"])


def test_observation_contents_and_reward():
    env = _make(scene_seed=2, scene_kind="room")
    obs, info = env.reset(seed=0)
    assert obs["rgb"].shape == (6, 16, 16, 3) and obs["rgb"].dtype == np.uint8
    assert obs["depth"].shape == (6, 16, 16) and obs["depth"].dtype == np.float32
    assert abs(np.median(obs["depth"][5]) - 1.5) < 1e-4  # mostly floor, 1.5 m below the eye
    assert info["seen_voxels"] > 0 and info["scene_seed"] == 2
    _, reward, terminated, truncated, info = env.step(int(DiscreteAction.NOOP))
    assert reward == 0.0 and not terminated and not truncated  # nothing new without moving
    before = env.unwrapped.pose.copy() if hasattr(env.unwrapped.pose, "copy") else env.unwrapped.pose.clone()
    obs, reward, *_ = env.step(int(DiscreteAction.TURN_LEFT))
    np.testing.assert_allclose(obs["pose"][:3, 3], before[:3, 3].numpy(), atol=1e-6)


def test_episode_truncates_at_max_steps():
    env = _make(scene_seed=0, max_steps=3)
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_render_gives_equirectangular_frame():
    env = _make(scene_seed=0, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (32, 64, 3) and frame.dtype == np.uint8


def test_reset_options():
    env = _make(scene_seed=0)
    obs, _ = env.reset(seed=0)
    env.reset(options={"pose": obs["pose"]})
    np.testing.assert_allclose(env.unwrapped.pose.numpy(), obs["pose"])
    _, info = env.reset(seed=0, options={"scene_seed": 5})
    assert info["scene_seed"] == 5
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"teleport": 1})
    with pytest.raises(ValueError, match=r"\(4, 4\) matrix"):
        env.reset(options={"pose": np.eye(3)})
    scaled = obs["pose"].copy()
    scaled[:3, :3] *= 2
    with pytest.raises(ValueError, match="rigid|scaled"):
        env.reset(options={"pose": scaled})
    outside = obs["pose"].copy()
    outside[:3, 3] = (1e3, 1.5, 1e3)
    with pytest.raises(ValueError, match="inside an obstacle or outside the scene"):
        env.reset(options={"pose": outside})


@pytest.mark.parametrize("bad", [9, -1, "forward", 1.5])
def test_unknown_action_is_rejected(bad):
    env = _make(scene_seed=0)
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(bad)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="face_size must be a positive int"):
        SceneEnv(face_size=0)
    with pytest.raises(ValueError, match="unknown action_kind"):
        SceneEnv(action_kind="joystick")
    with pytest.raises(ValueError, match="render_mode"):
        SceneEnv(render_mode="human")
    with pytest.raises(FileNotFoundError, match="mesh file not found"):
        SceneEnv(mesh_path="/nonexistent/room.glb")


def test_make_vec():
    vec = gym.make_vec("worldengine/Scene-v0", num_envs=2, vectorization_mode="sync", face_size=8, max_steps=3)
    obs, _ = vec.reset(seed=[0, 1])
    assert obs["rgb"].shape == (2, 6, 8, 8, 3)
    for _ in range(4):  # runs through an autoreset
        obs, reward, terminated, truncated, _ = vec.step(np.array([1, 5]))
    assert reward.shape == (2,) and obs["depth"].shape == (2, 6, 8, 8)
    vec.close()
