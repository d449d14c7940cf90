"""Input checks shared by the geometry modules: each says what it wanted and what it got."""

from __future__ import annotations

import torch

NUM_FACES = 6


def check_face_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"face size must be a positive int, got {size!r}")


def check_vectors(v: torch.Tensor, name: str) -> None:
    if not isinstance(v, torch.Tensor) or v.dim() < 1 or v.shape[-1] != 3 or not v.is_floating_point():
        got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(f"{name} must be a floating tensor of shape (..., 3), got {got}")


def check_cubemap(t: torch.Tensor, name: str) -> int:
    """t must be (..., F, S, S); returns S."""
    if not isinstance(t, torch.Tensor) or t.dim() < 3 or t.shape[-3] != NUM_FACES or t.shape[-1] != t.shape[-2]:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{name} must have shape (..., 6, S, S), got {got}")
    check_face_size(t.shape[-1])
    return t.shape[-1]


def check_pose(pose: torch.Tensor) -> None:
    if not isinstance(pose, torch.Tensor) or pose.dim() < 2 or pose.shape[-2:] != (4, 4):
        got = tuple(pose.shape) if isinstance(pose, torch.Tensor) else type(pose).__name__
        raise ValueError(f"pose must have shape (..., 4, 4), got {got}")


def check_faces(x: torch.Tensor, name: str, lead: int | None = None) -> int:
    """x must be (..., F, C, S, S) floating (exactly `lead` leading axes if given); returns S."""
    ok = isinstance(x, torch.Tensor) and x.dim() >= 4 and x.shape[-4] == NUM_FACES and x.shape[-1] == x.shape[-2]
    ok = ok and x.is_floating_point() and (lead is None or x.dim() == lead + 4)
    if not ok:
        want = "(B, 6, C, S, S)" if lead == 1 else "(..., 6, C, S, S)"
        got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating tensor of shape {want}, got {got}")
    check_face_size(x.shape[-1])
    return x.shape[-1]


__all__ = ["NUM_FACES", "check_cubemap", "check_face_size", "check_faces", "check_pose", "check_vectors"]
