"""Gymnasium environments of worldengine; importing this package registers them.

    import envs, gymnasium
    env = gymnasium.make("worldengine/Scene-v0", scene_seed=0)
"""

from envs.registration import register_envs
from envs.scene_env import SceneEnv, observation_space

register_envs()

__all__ = ["SceneEnv", "observation_space", "register_envs"]
