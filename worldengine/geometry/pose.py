"""SE(3) helpers on torch: rigid camera(body)-to-world poses.

A pose is a 4x4 float matrix T = [[R, t], [0, 0, 0, 1]] mapping body coordinates to
world coordinates; every function here is batched over leading dims, (..., 4, 4).
Frames follow `worldengine/geometry/cube.py`: right-handed, +y up, +x right, forward is -z.

Yaw is a rotation about world +y (positive = turn left: -z turns towards -x); pitch is
a rotation about body +x (positive = look up). The body rotation is Ry(yaw) @ Rx(pitch),
with no roll.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "make_pose",
    "compose",
    "invert",
    "relative_pose",
    "rotation_angle",
    "pose_from_yaw_pitch",
    "yaw_pitch_from_pose",
    "yaw_pitch_position",
    "turned",
    "check_rigid",
    "transform_points",
]

_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])
_EYE3 = np.eye(3)


def _check_matrix(x, name: str, n: int) -> None:
    """Raise unless `x` is a floating tensor of shape (..., n, n)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (..., {n}, {n}), got {type(x).__name__}")
    if x.dim() < 2 or tuple(x.shape[-2:]) != (n, n):
        raise ValueError(f"{name} must have shape (..., {n}, {n}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def _check_pose_shape(T, name: str = "pose") -> None:
    _check_matrix(T, name, 4)


def make_pose(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Pose from rotation R (..., 3, 3) and translation t (..., 3) -> (..., 4, 4).

    Leading dims broadcast; the result has R's dtype and device.
    """
    _check_matrix(R, "R", 3)
    if not isinstance(t, torch.Tensor) or t.dim() < 1 or t.shape[-1] != 3:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"t must be a torch.Tensor of shape (..., 3), got {got}")
    t = t.to(dtype=R.dtype, device=R.device)
    batch = torch.broadcast_shapes(R.shape[:-2], t.shape[:-1])
    T = torch.zeros(*batch, 4, 4, dtype=R.dtype, device=R.device)  # (..., 4, 4)
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b for poses (..., 4, 4): apply b, then a. Leading dims broadcast."""
    _check_pose_shape(a, "a")
    _check_pose_shape(b, "b")
    return a @ b


def invert(T: torch.Tensor) -> torch.Tensor:
    """Inverse of rigid poses (..., 4, 4) in closed form: [R^T, -R^T t].

    Assumes T is rigid (see `check_rigid`); it never calls a general matrix inverse.
    """
    _check_pose_shape(T, "T")
    Rt = T[..., :3, :3].transpose(-1, -2)  # (..., 3, 3)
    t = -(Rt @ T[..., :3, 3:4])[..., 0]  # (..., 3)
    return make_pose(Rt, t)


def relative_pose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pose of b expressed in a's frame: inv(a) @ b, (..., 4, 4)."""
    _check_pose_shape(a, "a")
    _check_pose_shape(b, "b")
    return invert(a) @ b


def _rotation_part(x: torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor) and x.dim() >= 2 and tuple(x.shape[-2:]) == (3, 3):
        _check_matrix(x, name, 3)
        return x
    _check_pose_shape(x, name)
    return x[..., :3, :3]


def rotation_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in radians, in [0, pi], of the rotation taking a's orientation to b's.

    a, b: poses (..., 4, 4) or rotations (..., 3, 3); leading dims broadcast -> (...).
    Uses atan2(|axis vector|, trace - 1) = atan2(2 sin, 2 cos) rather than
    acos((trace - 1) / 2), whose slope is infinite at 0 and pi.
    """
    Ra = _rotation_part(a, "a")
    Rb = _rotation_part(b, "b")
    R = Ra.transpose(-1, -2) @ Rb  # (..., 3, 3)
    axis = torch.stack(
        [R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], dim=-1
    )  # (..., 3), = 2 sin(angle) * unit axis
    cos2 = R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1  # (...), = 2 cos(angle)
    return torch.atan2(axis.norm(dim=-1), cos2)


def _as_float_tensor(x, dtype: torch.dtype, device, name: str) -> torch.Tensor:
    try:
        out = torch.as_tensor(x, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{name} must be a number or a tensor, got {type(x).__name__}: {e}") from None
    return out


def pose_from_yaw_pitch(
    position: torch.Tensor | Sequence[float],
    yaw: torch.Tensor | float,
    pitch: torch.Tensor | float = 0.0,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Pose (..., 4, 4) at `position` (..., 3) with rotation Ry(yaw) @ Rx(pitch).

    yaw, pitch: radians, scalars or tensors (...); all leading dims broadcast.
    dtype: defaults to position's dtype if it is a floating tensor, else torch's default.
    """
    if dtype is None:
        floating = isinstance(position, torch.Tensor) and position.is_floating_point()
        dtype = position.dtype if floating else torch.get_default_dtype()
    device = position.device if isinstance(position, torch.Tensor) else None
    p = _as_float_tensor(position, dtype, device, "position")
    if p.dim() < 1 or p.shape[-1] != 3:
        raise ValueError(f"position must have shape (..., 3), got {tuple(p.shape)}")
    if p.shape == (3,) and isinstance(yaw, (int, float)) and isinstance(pitch, (int, float)):
        return _single_pose_from_yaw_pitch(p, float(yaw), float(pitch))
    y = _as_float_tensor(yaw, dtype, device, "yaw")
    x = _as_float_tensor(pitch, dtype, device, "pitch")
    cy, sy, cp, sp = torch.cos(y), torch.sin(y), torch.cos(x), torch.sin(x)
    cy, sy, cp, sp = torch.broadcast_tensors(cy, sy, cp, sp)
    zero = torch.zeros_like(cy)
    # Ry(yaw) @ Rx(pitch) written out; row 1 column 0 is exactly 0 (no roll).
    R = torch.stack(
        [
            torch.stack([cy, sy * sp, sy * cp], dim=-1),
            torch.stack([zero, cp, -sp], dim=-1),
            torch.stack([-sy, cy * sp, cy * cp], dim=-1),
        ],
        dim=-2,
    )  # (..., 3, 3)
    return make_pose(R, p)


def _single_pose_from_yaw_pitch(position: torch.Tensor, yaw: float, pitch: float) -> torch.Tensor:
    """`pose_from_yaw_pitch` of one pose from plain floats, built in one tensor call (the
    batched path's dozen small ops cost ~10x as much, and every env step makes one)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    x, y, z = position.tolist()
    return torch.tensor([[cy, sy * sp, sy * cp, x], [0.0, cp, -sp, y], [-sy, cy * sp, cy * cp, z],
                         [0.0, 0.0, 0.0, 1.0]], dtype=position.dtype, device=position.device)


def yaw_pitch_from_pose(T: torch.Tensor, atol: float = 1e-4, name: str = "T") -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of `pose_from_yaw_pitch`: (yaw, pitch), each (...), radians in (-pi, pi].

    T: rigid poses (..., 4, 4), checked (`check_rigid`; errors call it `name`). Raises
    ValueError if any pose has roll, i.e. its body x axis leaves the horizontal plane by
    more than `atol` (as the sine of the tilt).
    """
    tilt = np.abs(_checked_host(T, name, max(atol, 1e-4))[..., 1, 0])  # y component of body x; 0 for Ry @ Rx
    _refuse_roll(float(tilt.max()) if tilt.size else 0.0, atol, name)
    R = T[..., :3, :3]
    yaw = torch.atan2(-R[..., 2, 0], R[..., 0, 0])  # body x = (cos yaw, 0, -sin yaw)
    pitch = torch.atan2(-R[..., 1, 2], R[..., 1, 1])  # row 1 = (0, cos pitch, -sin pitch)
    return yaw, pitch


def yaw_pitch_position(T: torch.Tensor, name: str = "pose", atol: float = 1e-4) -> tuple[float, float, np.ndarray]:
    """One pose (4, 4), checked as `yaw_pitch_from_pose` checks it: its yaw and pitch
    (radians, floats, as `yaw_pitch_from_pose` gives them in float64) and its position (3,)
    float64. In plain Python: every env step reads its pose this way, and a dozen torch ops
    on a 4x4 cost ~10x as much."""
    _check_pose_shape(T, name)
    if tuple(T.shape) != (4, 4):
        raise ValueError(f"{name} must be a single pose of shape (4, 4), got {tuple(T.shape)}")
    rows = T.tolist()
    if not _plainly_rigid(rows, max(atol, 1e-4)):
        _checked_host(T, name, max(atol, 1e-4))  # says what is wrong
    _refuse_roll(abs(rows[1][0]), atol, name)
    yaw, pitch = math.atan2(-rows[2][0], rows[0][0]), math.atan2(-rows[1][2], rows[1][1])  # as above
    return yaw, pitch, np.array([rows[0][3], rows[1][3], rows[2][3]])


def _plainly_rigid(rows: list[list[float]], atol: float) -> bool:
    """Whether one pose's rows (4 x 4 floats) pass every check of `check_rigid`, in plain
    Python: on one pose it costs a fifth of the numpy checks, which then run only to say
    what failed."""
    if not math.isfinite(sum(map(sum, rows))):  # NaN and inf survive a sum (and a huge sum just says "look")
        return False
    if max(abs(rows[3][0]), abs(rows[3][1]), abs(rows[3][2]), abs(rows[3][3] - 1)) > atol:
        return False
    (a, b, c), (d, e, f), (g, h, i) = (row[:3] for row in rows[:3])
    gram_error = (a * a + d * d + g * g - 1, b * b + e * e + h * h - 1, c * c + f * f + i * i - 1,
                  a * b + d * e + g * h, a * c + d * f + g * i, b * c + e * f + h * i)  # R^T R - I, upper half
    if max(map(abs, gram_error)) > atol:
        return False
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return abs(det - 1) <= 3 * atol


def _refuse_roll(worst_tilt: float, atol: float, name: str) -> None:
    """Raise unless the largest |R[1, 0]| (the sine of body x's tilt out of the horizontal) is within atol."""
    if worst_tilt > atol:
        roll = math.degrees(math.asin(min(worst_tilt, 1.0)))
        raise ValueError(
            f"{name} has roll: its body x axis tilts {roll:.3f} deg out of the horizontal plane "
            f"(|R[1, 0]| = {worst_tilt:.2e} > atol {atol:g}); only yaw and pitch are representable"
        )


def _where(mask: np.ndarray) -> str:
    """' at index (i, j)' of the first True in a batched mask, '' when unbatched."""
    if mask.ndim == 0:
        return ""
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return f" at index {idx}"


def check_rigid(T, name: str = "pose", atol: float = 1e-4) -> torch.Tensor:
    """Raise ValueError unless T (..., 4, 4) is a finite rigid transform; return T.

    Checks, in order: shape and floating dtype, finiteness, last row [0, 0, 0, 1],
    R^T R = I (within atol, elementwise), det(R) = +1. The message says which failed.
    """
    _checked_host(T, name, atol)
    return T


def _checked_host(T, name: str, atol: float) -> np.ndarray:
    """`check_rigid`'s checks of T (..., 4, 4), done on (and returning) its float64 numpy copy."""
    _check_pose_shape(T, name)
    # On the host: poses are tiny, and a dozen torch ops on a 4x4 cost ~10x
    # their numpy twins, which every env step pays (kinematics checks each pose it makes).
    Td = T.detach().to("cpu", torch.float64).numpy()
    finite = np.isfinite(Td).all(axis=(-2, -1))  # (...)
    if not finite.all():
        raise ValueError(f"{name} is not finite: it contains NaN or inf{_where(~finite)}")
    row_err = np.abs(Td[..., 3, :] - _LAST_ROW).max(axis=-1)  # (...)
    if (row_err > atol).any():
        bad = row_err > atol
        first = Td[..., 3, :][bad][0].tolist() if bad.ndim else Td[..., 3, :].tolist()
        shown = ", ".join(f"{v:.4g}" for v in first)
        raise ValueError(
            f"{name} is not a rigid transform: last row is [{shown}]{_where(bad)}, expected [0, 0, 0, 1]"
        )
    R = Td[..., :3, :3]
    ortho_err = np.abs(np.swapaxes(R, -1, -2) @ R - _EYE3).max(axis=(-2, -1))  # (...)
    if (ortho_err > atol).any():
        bad = ortho_err > atol
        raise ValueError(
            f"{name} is not a rigid transform: R^T R differs from I by up to {float(ortho_err.max()):.3g}"
            f"{_where(bad)} (R is scaled or sheared, not a rotation; atol {atol:g})"
        )
    det = np.linalg.det(R)  # (...); +-1 here since R is orthonormal
    # An orthonormal R within atol has |det| within ~3 atol of 1, so this only fails for reflections.
    bad = np.abs(det - 1) > 3 * atol
    if bad.any():
        worst = float(det[bad][0]) if bad.ndim else float(det)
        raise ValueError(f"{name} is not a rigid transform: det(R) = {worst:.3f}{_where(bad)} (a reflection)")
    return Td


def transform_points(T: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Map points p (..., N, 3) by poses T (..., 4, 4) -> (..., N, 3): R p + t.

    Leading dims broadcast (one pose for many point sets, or one per set).
    """
    _check_pose_shape(T, "T")
    if not isinstance(p, torch.Tensor) or p.dim() < 2 or p.shape[-1] != 3:
        got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"p must be a torch.Tensor of shape (..., N, 3), got {got}")
    R = T[..., :3, :3]  # (..., 3, 3)
    t = T[..., None, :3, 3]  # (..., 1, 3)
    return p.to(T.dtype) @ R.transpose(-1, -2) + t


def turned(T: torch.Tensor, radians: float) -> torch.Tensor:
    """Pose T (..., 4, 4) turned about the world's vertical by `radians` (positive turns
    left, as Ry does): yaw added exactly, as the kinematics composes it; position and
    pitch kept. Raises as `yaw_pitch_from_pose` does for a pose with roll."""
    yaw, pitch = yaw_pitch_from_pose(T)
    return pose_from_yaw_pitch(T[..., :3, 3], yaw + radians, pitch)
