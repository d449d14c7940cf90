"""How a body stands in a ground-truth scene: the scene's settle rule as a kinematics `SettleFn`."""

from __future__ import annotations

import torch

from worldengine.agent.actions import MotionConfig
from worldengine.agent.kinematics import SettleFn
from worldengine.scenes import Scene

MOVE_MARGIN = 0.005  # metres: moves keep this much more room than `is_free` asks, so float
# rounding of the pose never makes a reached pose one the scene refuses


def scene_settle(scene: Scene, motion: MotionConfig) -> SettleFn:
    """settle(eye (3,)) -> the eye stood on `scene`'s floor, or None where the body does not fit."""

    def settle(position: torch.Tensor) -> torch.Tensor | None:
        settled, ok = scene.settle(position.detach().cpu().numpy()[None], motion.agent_radius + MOVE_MARGIN,
                                   motion.eye_height, motion.floor_clearance)
        return torch.from_numpy(settled[0]) if ok[0] else None

    return settle


__all__ = ["MOVE_MARGIN", "scene_settle"]
