"""Action spaces of the environments, and their decoding into body-frame motion.

Two kinds of action, both documented Gymnasium spaces:

- "discrete": `discrete_space()` = Discrete(9), ids as in `DiscreteAction`. Each id is
  one fixed step: move `move_step` metres, turn `turn_step_deg`, or look `look_step_deg`.
- "continuous": `continuous_space()` = Box(-1, 1, (4,), float32), the rates
  (forward, strafe_right, yaw_left, pitch_up); each is multiplied by the matching step
  size (move_step, move_step, turn_step_deg, look_step_deg) of `MotionConfig`.

`decode_action` turns either into a `Motion` (metres and radians in the body frame),
which `worldengine.kinematics.step_pose` applies to a pose.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np
from gymnasium import spaces

__all__ = [
    "ACTION_KINDS",
    "ActionKind",
    "MotionConfig",
    "DiscreteAction",
    "Motion",
    "discrete_space",
    "continuous_space",
    "action_space",
    "decode_action",
    "action_rates",
]

ActionKind = Literal["discrete", "continuous"]
ACTION_KINDS = ("discrete", "continuous")


@dataclass(frozen=True)
class MotionConfig:
    """Step sizes and body dimensions of the agent.

    move_step: metres per step (forward/backward/strafe, and the continuous rate 1).
    turn_step_deg: yaw per turn step, degrees. look_step_deg: pitch per look step.
    max_pitch_deg: pitch is clamped to [-max, +max] (must be below 90: no flipping over).
    agent_radius: metres; the body is a vertical cylinder kept this far from surfaces.
    eye_height: metres from the floor to the eye (the pose's origin).
    floor_clearance: height of the lowest collision ray above the floor; anything
        lower is ignored (walked over, though the body keeps its height).
    """

    move_step: float = 0.25
    turn_step_deg: float = 15.0
    look_step_deg: float = 10.0
    max_pitch_deg: float = 60.0
    agent_radius: float = 0.25
    eye_height: float = 1.5
    floor_clearance: float = 0.2

    def __post_init__(self) -> None:
        for field in ("move_step", "turn_step_deg", "look_step_deg", "agent_radius", "eye_height"):
            value = getattr(self, field)
            if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
                raise ValueError(f"MotionConfig.{field} must be a positive finite number, got {value!r}")
        if not (isinstance(self.max_pitch_deg, numbers.Real) and 0 <= self.max_pitch_deg < 90):
            raise ValueError(f"MotionConfig.max_pitch_deg must be in [0, 90), got {self.max_pitch_deg!r}")
        if not (isinstance(self.floor_clearance, numbers.Real) and 0 <= self.floor_clearance < self.eye_height):
            raise ValueError(
                f"MotionConfig.floor_clearance must be in [0, eye_height={self.eye_height}), "
                f"got {self.floor_clearance!r}"
            )

    @property
    def turn_step_rad(self) -> float:
        return math.radians(self.turn_step_deg)

    @property
    def look_step_rad(self) -> float:
        return math.radians(self.look_step_deg)

    @property
    def max_pitch_rad(self) -> float:
        return math.radians(self.max_pitch_deg)


class DiscreteAction(IntEnum):
    """Ids of the discrete action space. TURN_LEFT is positive yaw (counter-clockwise from above)."""

    NOOP = 0
    FORWARD = 1
    BACKWARD = 2
    STRAFE_LEFT = 3
    STRAFE_RIGHT = 4
    TURN_LEFT = 5
    TURN_RIGHT = 6
    LOOK_UP = 7
    LOOK_DOWN = 8


@dataclass(frozen=True)
class Motion:
    """One step of body-frame motion.

    forward_m: metres along the heading (-z of the yawed body; pitch is ignored).
    right_m: metres along body +x (strafe). yaw_rad: positive turns left.
    pitch_rad: positive looks up.
    """

    forward_m: float = 0.0
    right_m: float = 0.0
    yaw_rad: float = 0.0
    pitch_rad: float = 0.0


def discrete_space() -> spaces.Discrete:
    """Discrete(9): the ids of `DiscreteAction`."""
    return spaces.Discrete(len(DiscreteAction))


def continuous_space() -> spaces.Box:
    """Box(-1, 1, (4,), float32): rates (forward, strafe_right, yaw_left, pitch_up)."""
    return spaces.Box(low=-1.0, high=1.0, shape=(4,), dtype=np.float32)


def action_space(kind: ActionKind) -> spaces.Space:
    """The Gymnasium space of an action kind, "discrete" or "continuous"."""
    _check_kind(kind)
    return discrete_space() if kind == "discrete" else continuous_space()


def _check_kind(kind) -> None:
    if not isinstance(kind, str) or kind not in ACTION_KINDS:
        raise ValueError(f"unknown action kind {kind!r}; expected one of {ACTION_KINDS}")


def _discrete_id(action) -> int:
    """The int id of a discrete action: int, numpy int, or 0-d integer array/tensor."""
    if hasattr(action, "shape") and hasattr(action, "dtype") and not isinstance(action, np.generic):
        # 0-d numpy arrays and tensors carry a single id; anything bigger is a batch.
        if tuple(action.shape) != ():
            raise ValueError(
                f"discrete action must be a single integer id, got an array of shape {tuple(action.shape)}"
            )
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral):
        raise ValueError(
            f"discrete action must be an integer id in [0, {len(DiscreteAction) - 1}], "
            f"got {type(action).__name__} {action!r}"
        )
    value = int(action)
    if not 0 <= value < len(DiscreteAction):
        names = ", ".join(f"{a.value}={a.name}" for a in DiscreteAction)
        raise ValueError(f"unknown discrete action id {value}; expected one of {names}")
    return value


def _decode_discrete(action, config: MotionConfig) -> Motion:
    a = DiscreteAction(_discrete_id(action))
    m, turn, look = config.move_step, config.turn_step_rad, config.look_step_rad
    table = {
        DiscreteAction.NOOP: Motion(),
        DiscreteAction.FORWARD: Motion(forward_m=m),
        DiscreteAction.BACKWARD: Motion(forward_m=-m),
        DiscreteAction.STRAFE_LEFT: Motion(right_m=-m),
        DiscreteAction.STRAFE_RIGHT: Motion(right_m=m),
        DiscreteAction.TURN_LEFT: Motion(yaw_rad=turn),
        DiscreteAction.TURN_RIGHT: Motion(yaw_rad=-turn),
        DiscreteAction.LOOK_UP: Motion(pitch_rad=look),
        DiscreteAction.LOOK_DOWN: Motion(pitch_rad=-look),
    }
    return table[a]


def _continuous_rates(action) -> np.ndarray:
    """The (4,) float64 rates of a continuous action, validated."""
    if isinstance(action, (str, bytes)):
        raise ValueError(f"continuous action must be 4 numbers in [-1, 1], got {type(action).__name__} {action!r}")
    if hasattr(action, "detach"):  # torch tensor, without importing torch here
        action = action.detach().cpu().numpy()
    try:
        a = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"continuous action must be 4 numbers in [-1, 1], got {action!r} ({e})") from None
    if a.shape != (4,):
        raise ValueError(
            f"continuous action must have shape (4,) = (forward, strafe_right, yaw_left, pitch_up), "
            f"got shape {a.shape}"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"continuous action must be finite, got {a.tolist()}")
    # float32 round-off of a value at the bound is tolerated, then clipped away.
    if np.abs(a).max() > 1 + 1e-6:
        raise ValueError(f"continuous action must lie in [-1, 1] in every component, got {a.tolist()}")
    return np.clip(a, -1.0, 1.0)


def _decode_continuous(action, config: MotionConfig) -> Motion:
    fwd, right, yaw, pitch = _continuous_rates(action).tolist()
    return Motion(
        forward_m=fwd * config.move_step,
        right_m=right * config.move_step,
        yaw_rad=yaw * config.turn_step_rad,
        pitch_rad=pitch * config.look_step_rad,
    )


def decode_action(action, kind: ActionKind = "discrete", config: MotionConfig | None = None) -> Motion:
    """Decode an action of `kind` into a body-frame `Motion`, scaled by `config`.

    discrete: an int id (python/numpy int, 0-d integer array or tensor, or DiscreteAction).
    continuous: 4 numbers in [-1, 1] (array, list, tensor), shape (4,).
    Raises ValueError naming what was wrong and what was expected.
    """
    _check_kind(kind)
    if config is None:
        config = MotionConfig()
    elif not isinstance(config, MotionConfig):
        raise ValueError(f"config must be a MotionConfig, got {type(config).__name__}")
    if kind == "discrete":
        return _decode_discrete(action, config)
    return _decode_continuous(action, config)


def action_rates(action, kind: ActionKind = "discrete", config: MotionConfig | None = None) -> np.ndarray:
    """Any action as the 4 rates (forward, strafe_right, yaw_left, pitch_up) in [-1, 1]:
    the generator's action input, the same for discrete and continuous agents."""
    config = config or MotionConfig()
    motion = decode_action(action, kind, config)
    return np.array([motion.forward_m / config.move_step, motion.right_m / config.move_step,
                     motion.yaw_rad / config.turn_step_rad, motion.pitch_rad / config.look_step_rad], dtype=np.float32)
