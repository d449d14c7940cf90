"""What `World-v0` and its vector env share: many generated worlds over one WorldModel,
with the Gymnasium bookkeeping of each (seeds, scenes, reset options, step counts, info).

Reset options (one world):
  {"scene_seed": int}      start from the first ground-truth frame of that scene (default:
                           the env's fixed seed, or one drawn from `scene_seeds`; not with
                           `mesh_path`, whose mesh is the scene);
  {"pose": (4, 4)}         start there (in the scene: must be free space);
  {"equirect": (H, 2H, 3) uint8, "depth": (H, 2H) metres}
                           start from a user's RGB-D panorama (at "pose", or the origin at
                           eye height);
  {"start": "empty"}       start from nothing: the first frame is generated;
  {"resume": folder}       continue a world `save`d to that folder.
"""

from __future__ import annotations

import numbers
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from envs.scene_env import check_free, observation_space, pose_option
from worldengine.agent.actions import MotionConfig, action_space
from worldengine.agent.start import start_pose
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, DEFAULT_GENERATOR, load_world_generator
from worldengine.model.generate import CubeGenerator
from worldengine.scenes import MeshScene, ProceduralScene, Scene
from worldengine.scenes.seeds import TRAIN_SCENE_SEEDS
from worldengine.world import Frame, WorldConfig, WorldModel
from worldengine.world.start import StartFrame, equirect_start, scene_start

RESET_OPTIONS = ("scene_seed", "pose", "equirect", "depth", "start", "resume")
STARTS = ("scene", "empty")


def check_options(options: dict | None) -> dict:
    """Reset options, checked for names, types and shapes (see the module docstring)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"reset options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise ValueError(f"unknown reset options {unknown}; expected some of {list(RESET_OPTIONS)}")
    seed = options.get("scene_seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"reset option 'scene_seed' must be an int >= 0, got {seed!r}")
    if ("equirect" in options) != ("depth" in options):
        raise ValueError("reset options 'equirect' and 'depth' go together: give both or neither")
    start = options.get("start", "scene")
    if start not in STARTS:
        raise ValueError(f"reset option 'start' must be one of {STARTS}, got {start!r}")
    if "resume" in options and len(options) > 1:
        raise ValueError("reset option 'resume' takes no other options")
    if "resume" in options and not isinstance(options["resume"], (str, Path)):
        raise ValueError(f"reset option 'resume' must be a folder path, got {type(options['resume']).__name__}")
    return {**options, "pose": pose_option(options["pose"])} if "pose" in options else dict(options)


def saved_episode(extra: dict, folder: str | Path) -> tuple[int, int | None]:
    """The step count and scene seed a saved world's env episode stopped at (its `extra`), checked."""
    step, scene_seed = extra.get("step", 0), extra.get("scene_seed")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"{folder}/world.json: extra.step must be an int >= 0, got {step!r}")
    if scene_seed is not None and (isinstance(scene_seed, bool) or not isinstance(scene_seed, int)):
        raise ValueError(f"{folder}/world.json: extra.scene_seed must be an int or null, got {scene_seed!r}")
    return step, scene_seed


class WorldSessions:
    """`num_worlds` Gymnasium episodes of generated worlds, stepped in one batch.

    Args (as World-v0's): scene_seed / scene_kind / scene_seeds choose the ground-truth
    scene a world starts in; mesh_path (with mesh_up "y" | "z" and mesh_scale, as Scene-v0)
    starts every world from a user's mesh instead, at a walkable pose; action_kind
    "discrete" | "continuous"; max_steps before truncation; generator: a loaded
    CubeGenerator to share, else `checkpoint` and `autoencoder` folders (the shipped ones
    by default); mode "sequential" | "joint"; sampler_steps; backend of the ground-truth
    start render; workdir for the stores; info_timings: put the step's wall-clock timings
    in info["timings_ms"]. Off by default: Gymnasium asks info to be a function of seed
    and actions (check_env tests it), which a clock is not; they are always at
    `env.unwrapped.world.last_frame(i).timings`.
    """

    def __init__(self, num_worlds: int, scene_seed: int | None = None, scene_kind: str | None = None,
                 mesh_path: str | Path | None = None, mesh_up: str = "y", mesh_scale: float = 1.0,
                 action_kind: str = "discrete", max_steps: int = 500, generator: CubeGenerator | None = None,
                 checkpoint: str | Path = DEFAULT_GENERATOR, autoencoder: str | Path = DEFAULT_AUTOENCODER,
                 mode: str = "sequential", sampler_steps: int = 4, backend: str = "auto",
                 scene_seeds: range = TRAIN_SCENE_SEEDS, workdir: str | Path | None = None,
                 motion: MotionConfig | None = None, info_timings: bool = False):
        if not isinstance(max_steps, int) or max_steps <= 0:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        if not isinstance(sampler_steps, int) or sampler_steps <= 0:
            raise ValueError(f"sampler_steps must be a positive int, got {sampler_steps!r}")
        if mesh_path is not None and scene_seed is not None:
            raise ValueError("give mesh_path or scene_seed, not both")
        self.mesh = MeshScene(mesh_path, mesh_up, mesh_scale) if mesh_path is not None else None
        generator = generator or load_world_generator(checkpoint, autoencoder)
        config = WorldConfig(mode=mode, action_kind=action_kind, motion=motion or MotionConfig(),
                             sampler=replace(generator.sampler, steps=sampler_steps))
        self.model = WorldModel(generator, num_worlds, config, workdir)
        self.face_size = self.model.face_size
        self.observation_space, self.action_space = observation_space(self.face_size), action_space(action_kind)
        self.action_kind, self.max_steps, self.backend = action_kind, max_steps, backend
        self.scene_kind, self.scene_seeds, self._fixed_seed = scene_kind, scene_seeds, scene_seed
        self._scenes: dict[int, ProceduralScene] = {}
        self._scene_seed: list[int | None] = [None] * num_worlds
        self._steps = [0] * num_worlds
        self.info_timings = info_timings

    # ---------------------------------------------------------------- helpers

    def scene(self, index: int) -> Scene | None:
        """The ground-truth scene world `index` started in (None: a panorama or nothing)."""
        if self.mesh is not None:
            return self.mesh
        seed = self._scene_seed[index]
        return None if seed is None else self._scene(seed)

    def _scene(self, seed: int) -> ProceduralScene:
        if seed not in self._scenes:
            if len(self._scenes) >= 16:  # a vector env cycling scenes keeps a bounded cache
                self._scenes.pop(next(iter(self._scenes)))
            self._scenes[seed] = ProceduralScene(seed, self.scene_kind)
        return self._scenes[seed]

    def _start(self, index: int, rng: np.random.Generator, options: dict) -> tuple[StartFrame | None, np.ndarray]:
        motion = self.model.config.motion
        default_pose = options.get("pose")
        if default_pose is None:
            default_pose = pose_from_yaw_pitch(torch.tensor([0.0, motion.eye_height, 0.0]), 0.0, 0.0).numpy()
        if "equirect" in options:
            self._scene_seed[index] = None
            return equirect_start(options["equirect"], options["depth"], default_pose, self.face_size), default_pose
        if options.get("start") == "empty":
            self._scene_seed[index] = None
            return None, default_pose
        scene = self._ground_truth(index, rng, options)
        if "pose" in options:
            pose = torch.from_numpy(options["pose"])
            check_free(scene, pose, motion)
        else:
            pose = start_pose(scene, rng, motion)
        return scene_start(scene, pose, self.face_size, self.backend), pose.numpy()

    def _ground_truth(self, index: int, rng: np.random.Generator, options: dict) -> Scene:
        """The scene world `index` starts in: the env's mesh, else a seeded procedural scene."""
        if self.mesh is not None:
            if "scene_seed" in options:
                raise ValueError("reset option 'scene_seed' does not apply to a mesh scene (mesh_path)")
            self._scene_seed[index] = None
            return self.mesh
        seed = options.get("scene_seed", self._fixed_seed)
        if seed is None:
            seed = int(rng.integers(self.scene_seeds.start, self.scene_seeds.stop))
        self._scene_seed[index] = int(seed)
        return self._scene(int(seed))

    def observation(self, frame: Frame) -> dict[str, np.ndarray]:
        return {"rgb": frame.rgb, "depth": frame.depth, "pose": frame.pose}

    def info(self, index: int, frame: Frame) -> dict[str, Any]:
        return {"pose": frame.pose, "coverage": frame.coverage, "order": frame.order, "blocked": frame.blocked,
                "new_voxels": frame.new_voxels, "memory_tokens": len(self.model.memory(index)),
                "step": self._steps[index], "scene_seed": -1 if self._scene_seed[index] is None else self._scene_seed[index],
                **({"timings_ms": dict(frame.timings)} if self.info_timings else {})}

    # ---------------------------------------------------------------- episodes

    def reset(self, index: int, rng: np.random.Generator, options: dict | None = None) -> tuple[dict, dict]:
        """Begin world `index`'s episode; `rng` (the env's np_random) draws its scene, pose and noise seed."""
        options = check_options(options)
        if "resume" in options:
            folder = options["resume"]
            extra = self.model.resume(index, folder, check_extra=lambda e: saved_episode(e, folder))  # checked first
            self._steps[index], self._scene_seed[index] = saved_episode(extra, folder)
            frame = self.model.last_frame(index)
        else:
            start, pose = self._start(index, rng, options)
            noise_seed = int(rng.integers(0, 2**62))
            frame = self.model.reset(index, start, pose, noise_seed)
            self._steps[index] = 0
        return self.observation(frame), self.info(index, frame)

    def step(self, actions: dict[int, Any]) -> dict[int, tuple]:
        """Step worlds {index: action} in one batch -> {index: (obs, reward, terminated, truncated, info)}."""
        frames = self.model.step(actions)  # checks every action before any world moves
        out = {}
        for index, frame in frames.items():
            self._steps[index] += 1
            truncated = self._steps[index] >= self.max_steps
            out[index] = (self.observation(frame), float(frame.new_voxels), False, truncated, self.info(index, frame))
        return out

    def save(self, index: int, folder: str | Path, replace: bool = False) -> Path:
        """Save world `index` (memory, pose, history, noise, step count); reset(options=
        {"resume": folder}) continues the episode where it stopped. `replace`: overwrite a
        world saved in `folder` before (anything else there is refused)."""
        extra = {"step": self._steps[index], "scene_seed": self._scene_seed[index]}
        return self.model.save(index, folder, extra, replace)

    def close(self) -> None:
        self.model.close()


__all__ = ["RESET_OPTIONS", "WorldSessions", "check_options"]
