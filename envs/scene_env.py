"""`worldengine/Scene-v0`: a 360-degree RGB-D environment over a ground-truth 3D scene.

Observations are rendered by ray casting (no learned model): the oracle the world model
is measured against, its training-data source, and a fast RGB-D environment of its own.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from worldengine.agent.actions import ACTION_KINDS, MotionConfig, action_space, decode_action
from worldengine.agent.coverage import VoxelCoverage
from worldengine.agent.ground import scene_settle
from worldengine.agent.kinematics import step_pose
from worldengine.eval.visualize import equirect_image
from worldengine.geometry.cube import NUM_FACES
from worldengine.geometry.pose import check_rigid, pose_from_yaw_pitch
from worldengine.scenes import MeshScene, ProceduralScene, Scene, render_cubemaps
from worldengine.scenes.seeds import TRAIN_SCENE_SEEDS  # scenes drawn at reset when none is fixed

MAX_EXTENT = 1e4  # metres: bounds of depth and pose entries in the observation space


def observation_space(face_size: int) -> spaces.Dict:
    """Dict(rgb (F, S, S, 3) uint8, depth (F, S, S) float32 metres (0 = sky), pose (4, 4))."""
    return spaces.Dict({
        "rgb": spaces.Box(0, 255, (NUM_FACES, face_size, face_size, 3), np.uint8),
        "depth": spaces.Box(0.0, MAX_EXTENT, (NUM_FACES, face_size, face_size), np.float32),
        "pose": spaces.Box(-MAX_EXTENT, MAX_EXTENT, (4, 4), np.float32),
    })


def pose_option(value: Any) -> np.ndarray:
    """Reset option 'pose' as a rigid (4, 4) float32 matrix, or a ValueError naming what is wrong."""
    try:
        pose = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"reset option 'pose' must be a (4, 4) matrix, got {type(value).__name__}") from error
    if pose.shape != (4, 4):
        raise ValueError(f"reset option 'pose' must be a (4, 4) matrix, got shape {pose.shape}")
    check_rigid(torch.from_numpy(pose), "reset option 'pose'")
    return pose


def check_free(scene: Scene, pose: torch.Tensor, motion: MotionConfig) -> None:
    """A start pose must leave the body in the scene's free space."""
    if not scene.is_free(pose[:3, 3].numpy()[None], motion.agent_radius, motion.eye_height)[0]:
        raise ValueError(f"reset option 'pose' puts the agent inside an obstacle or outside the scene: "
                         f"{pose[:3, 3].tolist()}")


class SceneEnv(gym.Env):
    """Walk a ground-truth scene; the reward is the number of voxels seen for the first time.

    Args:
        scene_seed: fix the procedural scene; None draws one from `scene_seeds` at reset.
        scene_kind: force a procedural kind ("room", "corridor", "courtyard", "house").
        mesh_path: walk a user's mesh instead of a procedural scene (anything trimesh loads:
            OBJ+MTL with textures, GLB/GLTF, PLY, ...); mesh_up: its up axis, "y" (default)
            or "z"; mesh_scale: metres per file unit (default 1).
        face_size: cubemap face side S in pixels.
        action_kind: "discrete" (9 actions) or "continuous" (4 rates), see worldengine.agent.actions.
        max_steps: episode length before truncation.
        render_mode: None or "rgb_array" (an equirectangular frame of height 2S).
        backend: "auto", "open3d" (CPU mesh rays) or "torch" (analytic, any device).
    reset(options=): {"scene_seed": int} to switch scenes, {"pose": (4, 4)} to start there.
    render() gives the equirectangular RGB frame (Gymnasium's contract); depth is obs["depth"].
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, scene_seed: int | None = None, scene_kind: str | None = None, mesh_path: str | None = None,
                 mesh_up: str = "y", mesh_scale: float = 1.0, face_size: int = 64, action_kind: str = "discrete", max_steps: int = 500,
                 render_mode: str | None = None, backend: str = "auto", motion: MotionConfig | None = None,
                 scene_seeds: range = TRAIN_SCENE_SEEDS, voxel_size: float = 0.25):
        if not isinstance(face_size, int) or face_size <= 0:
            raise ValueError(f"face_size must be a positive int, got {face_size!r}")
        if action_kind not in ACTION_KINDS:
            raise ValueError(f"unknown action_kind {action_kind!r}; expected one of {ACTION_KINDS}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unsupported render_mode {render_mode!r}; expected None or 'rgb_array'")
        if max_steps <= 0:
            raise ValueError(f"max_steps must be > 0, got {max_steps}")
        self.face_size, self.action_kind, self.max_steps = face_size, action_kind, max_steps
        self.render_mode, self.backend = render_mode, backend
        self.motion = motion or MotionConfig()
        self.scene_kind, self.scene_seeds = scene_kind, scene_seeds
        self.observation_space = observation_space(face_size)
        self.action_space = action_space(action_kind)
        if mesh_path is not None and scene_seed is not None:
            raise ValueError("give mesh_path or scene_seed, not both")
        self.scene: Scene | None = MeshScene(mesh_path, mesh_up, mesh_scale) if mesh_path is not None else None
        self._fixed_seed = scene_seed
        if scene_seed is not None:
            self.scene = ProceduralScene(scene_seed, scene_kind)
        self.coverage = VoxelCoverage(voxel_size)
        self.pose: torch.Tensor | None = None
        self._observation: dict | None = None
        self._steps = 0

    # ------------------------------------------------------------------ helpers

    def _choose_scene(self, options: dict) -> None:
        seed = options.get("scene_seed", self._fixed_seed)
        if seed is None:
            seed = int(self.np_random.integers(self.scene_seeds.start, self.scene_seeds.stop))
        if isinstance(self.scene, MeshScene):
            if "scene_seed" in options:
                raise ValueError("reset option 'scene_seed' does not apply to a mesh scene")
            return
        if self.scene is None or self.scene.seed != seed:
            self.scene = ProceduralScene(seed, self.scene_kind)

    def _start_pose(self, options: dict) -> torch.Tensor:
        if "pose" in options:
            pose = torch.from_numpy(pose_option(options["pose"]))
            check_free(self.scene, pose, self.motion)
            return pose
        position = self.scene.sample_free_position(self.np_random)
        yaw = float(self.np_random.uniform(-np.pi, np.pi))
        return pose_from_yaw_pitch(torch.as_tensor(position, dtype=torch.float32), yaw, 0.0, dtype=torch.float32)

    def _observe(self) -> dict:
        frame = render_cubemaps(self.scene, self.pose, self.face_size, self.backend)
        return {"rgb": frame.rgb.numpy(), "depth": frame.depth.numpy(), "pose": self.pose.numpy().astype(np.float32)}

    def _info(self, new_voxels: int, blocked: bool) -> dict:
        return {"scene_seed": getattr(self.scene, "seed", None), "step": self._steps, "blocked": blocked,
                "new_voxels": new_voxels, "seen_voxels": len(self.coverage)}

    # ------------------------------------------------------------------ gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"scene_seed", "pose"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; expected 'scene_seed' and/or 'pose'")
        self._choose_scene(options)
        self.pose = self._start_pose(options)
        self._steps = 0
        self.coverage.reset()
        self._observation = self._observe()
        new = self.coverage.update(self._observation["depth"], self._observation["pose"])
        return self._observation, self._info(new, False)

    def step(self, action):
        if self.pose is None:
            raise RuntimeError("call reset() before step()")
        motion = decode_action(action, self.action_kind, self.motion)
        self.pose, blocked = step_pose(self.pose, motion, self.motion, self.scene.ray_distance,
                                       scene_settle(self.scene, self.motion))
        self._steps += 1
        self._observation = self._observe()
        new = self.coverage.update(self._observation["depth"], self._observation["pose"])
        truncated = self._steps >= self.max_steps
        return self._observation, float(new), False, truncated, self._info(new, blocked)

    def render(self):
        if self.render_mode != "rgb_array" or self._observation is None:
            return None
        return equirect_image(self._observation["rgb"])

