"""Where an agent begins in a ground-truth scene."""

from __future__ import annotations

import numpy as np
import torch

from worldengine.agent.actions import MotionConfig
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import Scene


def start_pose(scene: Scene, rng: np.random.Generator, motion: MotionConfig) -> torch.Tensor:
    """A seeded free pose of `scene`, level and facing a multiple of the turn step: the
    explorer's paths run along multiples of 45 degrees, which the body can then face
    exactly instead of crabbing through narrow passages."""
    position = scene.sample_free_position(rng)
    yaw = int(rng.integers(0, round(2 * np.pi / motion.turn_step_rad))) * motion.turn_step_rad
    return pose_from_yaw_pitch(torch.as_tensor(position, dtype=torch.float32), yaw, 0.0)


__all__ = ["start_pose"]
