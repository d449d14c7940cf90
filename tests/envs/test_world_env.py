"""worldengine/World-v0 and its vector env (tiny random models: plumbing and contracts)."""

import json

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

import envs  # noqa: F401  (registers the environments)
from tests.conftest import make_tiny_generator

KWARGS = {"scene_seed": 3, "backend": "torch", "sampler_steps": 1}


@pytest.fixture(scope="module")
def generator():
    return make_tiny_generator()


def make(generator, **kwargs):
    return gymnasium.make("worldengine/World-v0", generator=generator, **{**KWARGS, **kwargs})


def test_passes_the_gymnasium_checker(generator):
    env = make(generator, render_mode="rgb_array")
    check_env(env.unwrapped)
    env.close()


def test_same_spaces_as_the_ground_truth_twin(generator):
    env = make(generator)
    twin = gymnasium.make("worldengine/Scene-v0", face_size=32)
    assert env.observation_space == twin.observation_space and env.action_space == twin.action_space
    continuous = make(generator, action_kind="continuous")
    assert continuous.action_space == gymnasium.make("worldengine/Scene-v0", action_kind="continuous").action_space
    obs, _ = continuous.reset(seed=0)
    obs, *_ = continuous.step(np.array([1.0, 0.0, 0.5, 0.0], np.float32))
    assert continuous.observation_space.contains(obs)
    for e in (env, twin, continuous):
        e.close()


def test_step_reward_info_render_and_truncation(generator):
    env = make(generator, render_mode="rgb_array", max_steps=3, info_timings=True)
    obs, info = env.reset(seed=1)
    assert info["scene_seed"] == 3 and info["memory_tokens"] > 0
    for step in range(3):
        obs, reward, terminated, truncated, info = env.step(1)
        assert env.observation_space.contains(obs) and reward == info["new_voxels"] >= 0
        assert info["step"] == step + 1 and truncated == (step == 2) and not terminated
        generated = sorted(info["order"]) == list(range(6))  # or all -1: it stood still (blocked) or turned
        assert info["coverage"].shape == (6,) and (generated or (info["order"] == -1).all())
        assert set(info["timings_ms"]) >= {"generate_ms", "memory_read_ms", "memory_write_ms"}
    assert env.render().shape == (64, 128, 3)
    env.close()


@pytest.mark.parametrize("options, message", [
    ({"pose": np.eye(3)}, "must be a \\(4, 4\\) matrix"),
    ({"pose": "here"}, "must be a \\(4, 4\\) matrix"),
    ({"scene_seed": "3"}, "'scene_seed' must be an int"),
    ({"scene_seed": 1.5}, "'scene_seed' must be an int"),
    ({"colour": 1}, "unknown reset options"),
    ({"equirect": np.zeros((8, 16, 3), np.uint8)}, "go together"),
    ({"equirect": np.zeros((8, 16, 3), np.float32), "depth": np.zeros((8, 16))}, "must be a uint8"),
    ({"equirect": np.zeros((8, 16, 3), np.uint8), "depth": np.zeros((8, 8))}, "'depth' must be"),
    ({"start": "somewhere"}, "'start' must be one of"),
    ({"resume": 3}, "must be a folder path"),
])
def test_bad_reset_options_are_named(generator, options, message):
    env = make(generator)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
    env.close()


def test_bad_actions_are_named(generator):
    env = make(generator)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown discrete action id 9"):
        env.step(9)
    with pytest.raises(RuntimeError, match="reset"):
        make(generator).unwrapped.step(0)
    env.close()


def test_starts_from_a_panorama_and_from_nothing(generator):
    env = make(generator)
    panorama = np.random.default_rng(0).integers(0, 255, (16, 32, 3), dtype=np.uint8)
    obs, info = env.reset(seed=0, options={"equirect": panorama, "depth": np.full((16, 32), 3.0)})
    assert info["scene_seed"] == -1 and info["memory_tokens"] > 0 and np.allclose(obs["depth"][0, 16, 16], 3.0, rtol=0.05)
    obs, info = env.reset(seed=0, options={"start": "empty"})
    assert env.observation_space.contains(obs) and len(info["order"]) == 6
    env.close()


def test_save_and_resume_continue_the_episode(generator, tmp_path):
    env = make(generator, max_steps=10)
    env.reset(seed=4)
    for action in (1, 5):
        env.step(action)
    env.unwrapped.save(tmp_path / "saved")
    expected = [env.step(1) for _ in range(2)]
    other = make(generator, max_steps=10)
    obs, info = other.reset(options={"resume": str(tmp_path / "saved")})
    assert info["step"] == 2 and info["scene_seed"] == 3
    got = [other.step(1) for _ in range(2)]
    for (o1, r1, *_, i1), (o2, r2, *_, i2) in zip(expected, got):
        assert np.array_equal(o1["rgb"], o2["rgb"]) and r1 == r2 and i1["step"] == i2["step"]
    env.close()
    other.close()


@pytest.mark.parametrize("damage", ["world.json", "extra"])
def test_a_damaged_resume_leaves_the_running_world_stepping(generator, tmp_path, damage):
    env = make(generator, max_steps=10)
    env.reset(seed=4)
    env.step(1)
    env.unwrapped.save(tmp_path / "saved")
    record = json.loads((tmp_path / "saved" / "world.json").read_text())
    text = "{garbage" if damage == "world.json" else json.dumps({**record, "extra": {"step": "three"}})
    (tmp_path / "saved" / "world.json").write_text(text)
    with pytest.raises(ValueError, match=str(tmp_path / "saved")):
        env.reset(options={"resume": str(tmp_path / "saved")})
    obs, *_ = env.step(5)
    assert env.observation_space.contains(obs)
    env.close()


def make_vec(generator, num_envs=3, **kwargs):
    return gymnasium.make_vec("worldengine/World-v0", num_envs=num_envs, vectorization_mode="vector_entry_point",
                              generator=generator, **{**KWARGS, **kwargs})


def test_vector_env_batches_worlds_with_next_step_autoreset(generator):
    vec = make_vec(generator, max_steps=2)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = vec.reset(seed=0)
    assert vec.observation_space.contains(obs) and obs["rgb"].shape == (3, 6, 32, 32, 3)
    steps = []
    for _ in range(4):
        obs, reward, terminated, truncated, info = vec.step(np.array([1, 5, 0]))
        assert vec.observation_space.contains(obs) and reward.shape == (3,)
        steps.append((info["step"].tolist(), truncated.tolist()))
    assert steps == [([1, 1, 1], [False] * 3), ([2, 2, 2], [True] * 3), ([0, 0, 0], [False] * 3),
                     ([1, 1, 1], [False] * 3)]
    vec.close()


def test_vector_env_matches_single_envs(generator):
    """The batched worlds are the single-env worlds: same seeds, same actions, same frames."""
    vec = make_vec(generator, num_envs=2)
    sync = SyncVectorEnv([lambda: make(generator) for _ in range(2)])
    obs_v, _ = vec.reset(seed=5)
    obs_s, _ = sync.reset(seed=5)
    assert np.array_equal(obs_v["rgb"], obs_s["rgb"])
    for action in ([1, 5], [1, 1]):
        obs_v, reward_v, *_ = vec.step(np.array(action))
        obs_s, reward_s, *_ = sync.step(np.array(action))
        assert np.abs(obs_v["rgb"].astype(int) - obs_s["rgb"]).max() <= 2  # batched matmuls round differently
        np.testing.assert_allclose(obs_v["pose"], obs_s["pose"], atol=1e-5)
    vec.close()
    sync.close()


def test_vector_env_takes_gymnasium_wrappers_and_partial_resets(generator):
    vec = RecordEpisodeStatistics(make_vec(generator, num_envs=2, max_steps=2))
    vec.reset(seed=0)
    for _ in range(2):
        *_, info = vec.step(np.array([1, 1]))
    assert "episode" in info and info["_episode"].all()
    obs, info = vec.reset(options={"reset_mask": np.array([False, True])})
    assert info["_step"].tolist() == [False, True]
    with pytest.raises(ValueError, match="2 actions for 2 worlds|got 3 actions"):
        vec.step(np.array([1, 1, 1]))
    vec.close()
