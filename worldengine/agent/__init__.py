"""The agent's body: actions and how they move it, collision-aware kinematics, where it
starts, the ground-truth explorer that walks scenes, and the coverage it earns."""

from worldengine.agent.actions import (
    ACTION_KINDS,
    DiscreteAction,
    Motion,
    MotionConfig,
    action_rates,
    action_space,
    continuous_space,
    decode_action,
    discrete_space,
)
from worldengine.agent.coverage import VoxelCoverage
from worldengine.agent.explorer import ROUTES, LoopExplorer, plan_path
from worldengine.agent.ground import scene_settle
from worldengine.agent.kinematics import step_pose
from worldengine.agent.start import start_pose

__all__ = [
    "ACTION_KINDS", "DiscreteAction", "Motion", "MotionConfig", "action_rates", "action_space", "continuous_space",
    "decode_action", "discrete_space", "VoxelCoverage", "ROUTES", "LoopExplorer", "plan_path", "step_pose",
    "scene_settle", "start_pose",
]
