"""Both environments on users' meshes as they come: a textured z-up OBJ+MTL and a y-up
multi-material OBJ+MTL with open surroundings (the sample plaza, written as files)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the environments)
from tests.conftest import make_tiny_generator
from worldengine.agent.actions import MotionConfig
from worldengine.agent.explorer import LoopExplorer
from worldengine.scenes.sample_mesh import PLAZA_HALF, write_sample_scene


@pytest.fixture(scope="module")
def meshes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meshes")
    return {up: str(write_sample_scene(folder / up, up=up, ground_cells=8)) for up in ("y", "z")}


@pytest.fixture(scope="module")
def generator():
    return make_tiny_generator()


@pytest.mark.parametrize("up", ["y", "z"])
def test_scene_env_walks_200_steps_on_a_floor_and_accepts_every_pose_it_reached(meshes, up):
    env = gym.make("worldengine/Scene-v0", mesh_path=meshes[up], mesh_up=up, face_size=16)
    scene = env.unwrapped.scene
    obs, _ = env.reset(seed=0)
    policy = LoopExplorer(scene.grid, np.random.default_rng(0), MotionConfig())
    poses = []
    for _ in range(200):
        obs, _, _, _, info = env.step(policy.act(torch.from_numpy(obs["pose"])))
        if info["blocked"]:
            policy.blocked()
        poses.append(obs["pose"])
    positions = np.array([p[:3, 3] for p in poses])
    assert scene.is_free(positions).all()
    assert np.abs(positions[:, [0, 2]]).max() < PLAZA_HALF  # never off the floored plaza
    for pose in poses[::40]:
        env.reset(options={"pose": pose})  # the env accepts what it reached
    env.close()


def test_scene_env_renders_the_texture_and_passes_the_checker(meshes):
    env = gym.make("worldengine/Scene-v0", mesh_path=meshes["z"], mesh_up="z", face_size=32, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    obs, _ = env.reset(seed=1)
    down = obs["rgb"][5].reshape(-1, 3)
    assert len(np.unique(down, axis=0)) > 100  # the ground's texture, per pixel
    assert env.render().shape == (64, 128, 3)  # RGB (Gymnasium's contract); depth is obs["depth"]


def test_scene_env_mesh_options_are_checked(meshes):
    with pytest.raises(ValueError, match="mesh_up must be one of"):
        gym.make("worldengine/Scene-v0", mesh_path=meshes["y"], mesh_up="up")
    with pytest.raises(ValueError, match="not both"):
        gym.make("worldengine/Scene-v0", mesh_path=meshes["y"], scene_seed=3)
    env = gym.make("worldengine/Scene-v0", mesh_path=meshes["y"], face_size=16)
    with pytest.raises(ValueError, match="scene_seed' does not apply"):
        env.reset(options={"scene_seed": 3})


@pytest.mark.parametrize("up", ["y", "z"])
def test_world_env_starts_from_the_meshs_ground_truth_frame(meshes, generator, up):
    world = gym.make("worldengine/World-v0", mesh_path=meshes[up], mesh_up=up, generator=generator, sampler_steps=1)
    truth = gym.make("worldengine/Scene-v0", mesh_path=meshes[up], mesh_up=up, face_size=world.unwrapped.sessions.face_size)
    obs, info = world.reset(seed=3)
    assert info["scene_seed"] == -1
    expected, _ = truth.reset(options={"pose": obs["pose"]})  # a start pose World-v0 drew is one Scene-v0 accepts
    np.testing.assert_array_equal(obs["rgb"], expected["rgb"])
    np.testing.assert_allclose(obs["depth"], expected["depth"], atol=1e-4)
    assert world.unwrapped.scene is world.unwrapped.sessions.mesh
    for action in (1, 5, 1):
        obs, *_ = world.step(action)
    assert obs["rgb"].shape == expected["rgb"].shape
    with pytest.raises(ValueError, match="scene_seed' does not apply"):
        world.reset(options={"scene_seed": 3})
    world.close()


def test_world_env_checker_on_a_mesh(meshes, generator):
    env = gym.make("worldengine/World-v0", mesh_path=meshes["y"], generator=generator, sampler_steps=1)
    check_env(env.unwrapped)
    env.close()
