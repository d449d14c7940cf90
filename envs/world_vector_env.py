"""The batched `worldengine/World-v0`: `num_envs` generated worlds through one model.

    gymnasium.make_vec("worldengine/World-v0", num_envs=8, vectorization_mode="vector_entry_point")

Every step generates all stepped worlds in one batch (one network call per sampler step).
Autoreset is Gymnasium's next-step mode: the step after a world's episode ends resets
that world (its action is ignored) and returns its first observation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from envs.world_core import WorldSessions
from worldengine.eval.visualize import equirect_image


class WorldVectorEnv(VectorEnv):
    """`num_envs` independent generated worlds (kwargs as World-v0's).

    reset(seed=int) seeds world i with seed + i (or pass one seed per world);
    options apply to every world, or to those of options["reset_mask"] (num_envs,) bool.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any):
        if not isinstance(num_envs, int) or num_envs <= 0:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unsupported render_mode {render_mode!r}; expected None or 'rgb_array'")
        self.num_envs, self.render_mode = num_envs, render_mode
        self.sessions = WorldSessions(num_envs, **kwargs)
        self.single_observation_space = self.sessions.observation_space
        self.single_action_space = self.sessions.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._started = np.zeros(num_envs, dtype=bool)
        self._observations: list[dict | None] = [None] * num_envs

    @property
    def world(self):
        """The WorldModel behind the env (world i's memory: `env.world.memory(i)`)."""
        return self.sessions.model

    def _seeds(self, seed: int | Sequence[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"reset got {len(seeds)} seeds for {self.num_envs} worlds")
        return seeds

    def _batch(self) -> dict:
        return concatenate(self.single_observation_space, self._observations,
                           create_empty_array(self.single_observation_space, self.num_envs))

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        mask = np.asarray(options.pop("reset_mask", np.ones(self.num_envs, dtype=bool)))
        if mask.shape != (self.num_envs,) or mask.dtype != bool:
            raise ValueError(f"reset option 'reset_mask' must be a bool array of shape ({self.num_envs},), got "
                             f"{mask.dtype} {mask.shape}")
        infos: dict[str, Any] = {}
        for index, world_seed in enumerate(self._seeds(seed)):
            if not mask[index]:
                continue
            if world_seed is not None:
                self._rngs[index], _ = seeding.np_random(world_seed)
            self._observations[index], info = self.sessions.reset(index, self._rngs[index], options)
            infos = self._add_info(infos, info, index)
        self._started |= mask
        self._autoreset[mask] = False
        if not self._started.all():
            raise RuntimeError("reset with a reset_mask before every world has been reset once")
        return self._batch(), infos

    def step(self, actions):
        if not self._started.all():
            raise RuntimeError("call reset() before step()")
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ValueError(f"step got {len(actions)} actions for {self.num_envs} worlds")
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}
        stepping = {i: actions[i] for i in range(self.num_envs) if not self._autoreset[i]}
        results = self.sessions.step(stepping) if stepping else {}
        for index in range(self.num_envs):
            if index in results:
                self._observations[index], rewards[index], terminated[index], truncated[index], info = results[index]
            else:  # next-step autoreset
                self._observations[index], info = self.sessions.reset(index, self._rngs[index])
            infos = self._add_info(infos, info, index)
        self._autoreset = terminated | truncated
        return self._batch(), rewards, terminated, truncated, infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode != "rgb_array" or not self._started.all():
            return None
        return tuple(equirect_image(self.sessions.model.last_frame(i).rgb) for i in range(self.num_envs))

    def save(self, index: int, folder: str | Path, replace: bool = False) -> Path:
        """Save world `index`; reset(options={"resume": folder, "reset_mask": ...}) continues it."""
        return self.sessions.save(index, folder, replace)

    def close_extras(self, **kwargs: Any) -> None:
        self.sessions.close()
