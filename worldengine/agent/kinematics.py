"""Agent kinematics: apply a body-frame `Motion` to a pose, with collisions.

The body is a vertical cylinder of radius `agent_radius` from the floor (the pose's
y minus `eye_height`) up to the eye (the pose's origin). It turns (yaw), looks up and
down (pitch, clamped), and moves in the horizontal plane along its yaw heading; pitch
never tilts the motion. Obstacles lower than `floor_clearance` are passed over.

Collisions are found by ray casting with a caller-supplied `ray_distance`, so the same
code runs against the ground-truth scene's geometry or against a learned memory's depth.
A caller may also supply `settle`, the scene's own rule for where a body stands: the move
then ends where the body fits (stepping onto the floor under its feet, as on a ramp or a
terrace), so every pose a move reaches is one the scene accepts. Without it the body
keeps its height (a generated world has no floor to stand on but its memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from worldengine.agent.actions import Motion, MotionConfig
from worldengine.geometry.pose import pose_from_yaw_pitch, yaw_pitch_position

__all__ = ["RayDistanceFn", "SETTLE_FRACTIONS", "SettleFn", "StepResult", "clamp_pitch", "probe_rays", "step_pose"]

# Vertical spacing of the collision rays; a thin horizontal slab narrower than this
# can slip between two rows, so keep it below the smallest obstacle that matters.
_MAX_RAY_SPACING = 0.25
_LATERAL_OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # in agent radii

SETTLE_FRACTIONS = (1.0, 0.75, 0.5, 0.25)  # of the collision-free move, tried in turn

RayDistanceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""ray_distance(origins (N, 3), directions (N, 3) unit) -> (N,) distance to the first
surface along each ray, inf where there is none. Called with float64 CPU world-frame tensors;
may return anything torch.as_tensor accepts."""

SettleFn = Callable[[torch.Tensor], "torch.Tensor | None"]
"""settle(eye position (3,) float64) -> where the body stands after moving there (3,), or
None where it does not fit (no floor within a step, or no room)."""


class StepResult(NamedTuple):
    """pose: the new camera-to-world pose (4, 4), rigid, in the input's dtype.
    blocked: True when a collision shortened the requested move."""

    pose: torch.Tensor
    blocked: bool


def clamp_pitch(pitch, config: MotionConfig):
    """Clamp pitch (radians; float or tensor) to [-max_pitch, +max_pitch] of `config`."""
    limit = config.max_pitch_rad
    if isinstance(pitch, torch.Tensor):
        return pitch.clamp(-limit, limit)
    return min(max(float(pitch), -limit), limit)


def _wrap_angle(a: float) -> float:
    """Angle in (-pi, pi]."""
    return math.atan2(math.sin(a), math.cos(a))


def _heading_axes(yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """World-frame forward (-z of Ry(yaw)) and right (+x of Ry(yaw)) unit vectors, (3,) float64 each."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([-s, 0.0, -c]), np.array([c, 0.0, -s])


def probe_rays(
    position: torch.Tensor | np.ndarray, direction: torch.Tensor | np.ndarray, config: MotionConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fan of collision rays for a move from `position` (3,) along `direction` (3,).

    Rows at heights from `floor_clearance` above the floor up to the eye, spaced at
    most `_MAX_RAY_SPACING`; on each row five rays at lateral offsets -r, -r/2, 0, r/2, +r
    perpendicular to the (horizontal, unit) direction (half-radius spacing keeps round
    obstacles from slipping between rays). Returns origins (N, 3) and directions (N, 3),
    float64, N = 5 x rows.
    """
    # In numpy: a fan is a few tiny arrays, and every move (blocked ones too) builds one.
    x, y, z = position.tolist()
    dx, dy, dz = direction.tolist()
    floor_y = y - config.eye_height
    span = config.eye_height - config.floor_clearance
    rows = max(2, math.ceil(span / _MAX_RAY_SPACING) + 1)
    heights = floor_y + np.linspace(config.floor_clearance, config.eye_height, rows)
    side = np.array([-dz, 0.0, dx])  # horizontal, unit
    offsets = np.array(_LATERAL_OFFSETS) * config.agent_radius
    n = len(_LATERAL_OFFSETS)
    origins = np.empty((rows, n, 3))  # row, offset, xyz
    origins[...] = (x, y, z)
    origins[..., 1] = heights[:, None]
    origins = (origins + offsets[None, :, None] * side).reshape(rows * n, 3)  # (N, 3)
    directions = np.empty((rows * n, 3))
    directions[:] = (dx, dy, dz)
    return torch.from_numpy(origins), torch.from_numpy(directions)


def _hit_distances(ray_distance: RayDistanceFn, origins: torch.Tensor, directions: torch.Tensor) -> np.ndarray:
    """Call the caller's ray caster and check its answer, (N,) float64."""
    n = origins.shape[0]
    hits = ray_distance(origins, directions)
    try:
        hits = torch.as_tensor(hits, dtype=torch.float64).cpu().numpy()
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"ray_distance must return {n} distances, got {type(hits).__name__} ({e})") from None
    if hits.shape != (n,):
        raise ValueError(f"ray_distance must return shape ({n},) for {n} rays, got {hits.shape}")
    if np.isnan(hits).any() or (hits < 0).any():
        raise ValueError(f"ray_distance returned NaN or negative distances: min {float(hits.min())}")
    return hits


def _check_motion(motion: Motion) -> None:
    if not isinstance(motion, Motion):
        raise ValueError(f"motion must be a worldengine.agent.actions.Motion, got {type(motion).__name__}")
    values = (motion.forward_m, motion.right_m, motion.yaw_rad, motion.pitch_rad)
    if not all(math.isfinite(float(v)) for v in values):
        raise ValueError(f"motion must be finite, got {motion}")


def _settled_move(position: np.ndarray, direction: np.ndarray, distance: float,
                  settle: SettleFn) -> tuple[np.ndarray, float]:
    """The longest of SETTLE_FRACTIONS of the move where the body fits, settled; (position, 0) if none."""
    for fraction in SETTLE_FRACTIONS:
        settled = settle(torch.from_numpy(position + fraction * distance * direction))
        if settled is not None:
            settled = torch.as_tensor(settled, dtype=torch.float64).reshape(3).cpu().numpy()
            if not np.isfinite(settled).all():
                raise ValueError(f"settle returned a position that is not finite: {settled.tolist()}")
            return settled, fraction * distance
    return position, 0.0


def step_pose(
    pose: torch.Tensor, motion: Motion, config: MotionConfig, ray_distance: RayDistanceFn,
    settle: SettleFn | None = None,
) -> StepResult:
    """Apply `motion` to one pose (4, 4) float; returns StepResult(pose, blocked).

    Order: turn and look first (pitch clamped to +-max_pitch), then translate along the
    new heading in the horizontal plane by forward_m and right_m. The translation is
    cut to min(requested, min(hit) - agent_radius, floored at 0) over the ray fan of
    `probe_rays`, so the body stops short of surfaces and never enters them. With `settle`,
    the move is then cut to the longest of SETTLE_FRACTIONS where the body fits and ends
    where `settle` puts it (on the floor); without, the body keeps its height. No sliding.
    """
    if not isinstance(pose, torch.Tensor) or tuple(pose.shape) != (4, 4):
        got = tuple(pose.shape) if isinstance(pose, torch.Tensor) else type(pose).__name__
        raise ValueError(f"step_pose takes a single pose of shape (4, 4), got {got}")
    _check_motion(motion)
    yaw, pitch, position = yaw_pitch_position(pose, name="pose")  # checks it; position (3,) float64
    yaw = _wrap_angle(yaw + motion.yaw_rad)
    pitch = clamp_pitch(pitch + motion.pitch_rad, config)

    requested = math.hypot(motion.forward_m, motion.right_m)  # forward and right are orthonormal
    blocked = False
    if requested > 0:  # a turn or a look casts no rays
        forward, right = _heading_axes(yaw)
        direction = (motion.forward_m * forward + motion.right_m * right) / requested  # (3,), horizontal
        origins, directions = probe_rays(position, direction, config)
        hits = _hit_distances(ray_distance, origins, directions)
        allowed = max(float(hits.min()) - config.agent_radius, 0.0)
        distance = min(requested, allowed)
        if settle is not None and distance > 0:
            position, distance = _settled_move(position, direction, distance, settle)
        else:
            position = position + distance * direction
        blocked = distance < requested

    new_pose = pose_from_yaw_pitch(position.tolist(), yaw, pitch, dtype=pose.dtype).to(pose.device)  # rigid by construction
    return StepResult(new_pose, bool(blocked))
