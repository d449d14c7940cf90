"""A position's view: the world-aligned cube a world generates and stores, and the
agent's body-frame faces resampled from it.

The cube keeps a fixed heading (the episode's start heading, level: gravity- and
yaw-fixed), so what is generated and remembered at a point does not depend on where the
agent looks; turning or looking only resamples (worldengine.geometry.reorient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from worldengine.geometry.pose import pose_from_yaw_pitch, yaw_pitch_position
from worldengine.geometry.reorient import reorient

POSITION_ATOL = 1e-5  # metres: closer than this, a pose stands where the cube was made


@dataclass
class CubeView:
    """One generated (or given) cube: rgb (F, S, S, 3) uint8, depth (F, S, S) z-depth,
    position (3,) where it stands, heading (3, 3) its faces' rotation in the world."""

    rgb: torch.Tensor
    depth: torch.Tensor
    position: torch.Tensor
    heading: torch.Tensor

    def stands_at(self, pose: torch.Tensor) -> bool:
        """Whether body pose (4, 4) stands where this cube was made (only its heading may differ)."""
        return bool((pose[:3, 3] - self.position).abs().max() <= POSITION_ATOL)

    def seen_from(self, pose: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The body-frame faces (rgb uint8 (F, S, S, 3), z-depth (F, S, S)) at body pose (4, 4)."""
        rgb, depth = reorient(self.rgb, self.depth, self.heading.T @ pose[:3, :3].to(self.heading.dtype))
        return rgb.numpy(), depth.numpy().astype(np.float32)


def level_heading(pose: torch.Tensor) -> torch.Tensor:
    """The rotation (3, 3) of a body pose's heading with its pitch removed (gravity- and yaw-fixed)."""
    yaw, _, _ = yaw_pitch_position(pose)
    return pose_from_yaw_pitch(torch.zeros(3), yaw, 0.0, dtype=torch.float32)[:3, :3]


def cube_pose(heading: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """The pose (4, 4) of a cube with faces turned by `heading` (3, 3), standing at `position` (3,)."""
    pose = torch.eye(4)
    pose[:3, :3], pose[:3, 3] = heading, position
    return pose


def cube_from_body(rgb: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, heading: torch.Tensor) -> CubeView:
    """Body-frame faces (rgb (F, S, S, 3), depth (F, S, S)) seen at body `pose` as the cube of `heading`."""
    cube_rgb, cube_depth = reorient(rgb, depth, pose[:3, :3].T.to(heading.dtype) @ heading)
    return CubeView(cube_rgb, cube_depth.float(), pose[:3, 3].clone().float(), heading.float())


__all__ = ["POSITION_ATOL", "CubeView", "cube_from_body", "cube_pose", "level_heading"]
