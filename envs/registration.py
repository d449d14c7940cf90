"""Registration of worldengine's environments with Gymnasium."""

from __future__ import annotations

import gymnasium

SCENE_ENV_ID = "worldengine/Scene-v0"
WORLD_ENV_ID = "worldengine/World-v0"


def register_envs() -> None:
    """Register every environment once (importing `envs` calls this)."""
    if SCENE_ENV_ID not in gymnasium.registry:
        gymnasium.register(id=SCENE_ENV_ID, entry_point="envs.scene_env:SceneEnv", max_episode_steps=None)
    if WORLD_ENV_ID not in gymnasium.registry:  # the env truncates at its own max_steps, as Scene-v0
        gymnasium.register(id=WORLD_ENV_ID, entry_point="envs.world_env:WorldEnv",
                           vector_entry_point="envs.world_vector_env:WorldVectorEnv", max_episode_steps=None)
