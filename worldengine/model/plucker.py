"""Plücker raymaps: where each latent cell of a frame looks, in the current frame's body axes.

A history frame's tokens carry their pose relative to the frame being generated as one
Plücker ray (direction d, moment o x d) per latent cell, expressed in the current body
frame; the current frame's own cells have o = 0, so its raymap is just its directions.
"""

from __future__ import annotations

import torch

from memory.rig import cell_rays
from worldengine.geometry.cube import face_rotations
from worldengine.geometry.pose import invert


def plucker_rays(poses: torch.Tensor, reference: torch.Tensor, size: int) -> torch.Tensor:
    """poses (..., 4, 4) and reference (..., 4, 4) body-to-world -> (..., F, 6, s, s)."""
    if poses.shape[-2:] != (4, 4) or reference.shape[-2:] != (4, 4):
        raise ValueError(f"poses and reference must be (..., 4, 4), got {tuple(poses.shape)} and {tuple(reference.shape)}")
    relative = invert(reference.float()) @ poses.float()  # (..., 4, 4) frame -> current body
    rays = torch.nn.functional.normalize(cell_rays(face_rotations(device=poses.device), size), dim=-1)  # (F, s, s, 3)
    rotation = relative[..., None, None, None, :3, :3]  # (..., 1, 1, 1, 3, 3)
    direction = (rotation @ rays[..., None])[..., 0]  # (..., F, s, s, 3)
    origin = relative[..., None, None, None, :3, 3].expand_as(direction)
    moment = torch.cross(origin, direction, dim=-1)
    return torch.cat([direction, moment], dim=-1).movedim(-1, -3)  # (..., F, 6, s, s)
