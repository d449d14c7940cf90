"""Gymnasium environments of worldengine; importing this package registers them.

    import envs, gymnasium
    env = gymnasium.make("worldengine/Scene-v0", scene_seed=0)      # ground truth
    env = gymnasium.make("worldengine/World-v0", scene_seed=0)      # generated
    envs = gymnasium.make_vec("worldengine/World-v0", num_envs=8, vectorization_mode="vector_entry_point")
"""

from envs.registration import register_envs
from envs.scene_env import SceneEnv, observation_space
from envs.world_core import WorldSessions
from envs.world_env import WorldEnv
from envs.world_vector_env import WorldVectorEnv

register_envs()

__all__ = ["SceneEnv", "WorldEnv", "WorldSessions", "WorldVectorEnv", "observation_space", "register_envs"]
