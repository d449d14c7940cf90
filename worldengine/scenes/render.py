"""RGB-D cubemap rendering of ground-truth scenes by ray casting."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from worldengine.geometry.cube import face_rays
from worldengine.geometry.pose import check_rigid
from worldengine.scenes.materials import shade, sky
from worldengine.scenes.scene import Scene


@dataclass
class CubemapRGBD:
    """Rendered cubemaps: rgb (B, F, S, S, 3) uint8, depth (B, F, S, S) float32 metric
    z-depth (0 where the ray hit nothing), primitive (B, F, S, S) long (-1 = sky)."""

    rgb: torch.Tensor
    depth: torch.Tensor
    primitive: torch.Tensor


def world_rays(poses: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Origins and directions (B, F, S, S, 3) of every cubemap pixel for poses (B, 4, 4).

    Directions have camera z = 1, so the hit parameter along them is the z-depth.
    """
    rays = face_rays(size, dtype=poses.dtype, device=poses.device)  # (F, S, S, 3)
    directions = torch.einsum("bij,fhwj->bfhwi", poses[:, :3, :3], rays)  # (B, F, S, S, 3)
    origins = poses[:, None, None, None, :3, 3].expand_as(directions)  # (B, F, S, S, 3)
    return origins, directions


def render_cubemaps(scene: Scene, poses: torch.Tensor, size: int, backend: str = "auto") -> CubemapRGBD:
    """Render RGB-D cubemaps of `scene` seen from body poses (B, 4, 4) or (4, 4), face side S.

    A single pose (4, 4) gives outputs without the leading B axis.
    """
    poses = torch.as_tensor(poses)
    single = poses.ndim == 2
    poses = poses.unsqueeze(0) if single else poses
    check_rigid(poses, "pose")
    origins, directions = world_rays(poses.to(torch.float32), size)
    colour, depth, primitive = render_rays(scene, origins, directions, backend)
    result = CubemapRGBD(rgb=(colour * 255).round().to(torch.uint8), depth=depth, primitive=primitive)
    if single:
        result = CubemapRGBD(result.rgb[0], result.depth[0], result.primitive[0])
    return result


def render_rays(scene: Scene, origins: torch.Tensor, directions: torch.Tensor,
                backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shade arbitrary rays (..., 3) + (..., 3): colour (..., 3) float in [0, 1], hit
    parameter (..., ) in units of |direction| (0 = no hit), primitive (...,) (-1 = sky)."""
    shape = directions.shape[:-1]
    origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)  # (N, 3)
    hits = scene.cast(origins, directions, backend)
    hit = hits.primitive >= 0
    colour = sky(directions)
    if hit.any():
        points = origins[hit] + hits.t[hit, None] * directions[hit]
        albedo = scene.albedo(points, hits.normal[hit], hits.primitive[hit])
        colour[hit] = shade(albedo, hits.normal[hit])
    depth = torch.where(hit, hits.t, torch.zeros_like(hits.t)).to(torch.float32)
    return colour.reshape(*shape, 3), depth.reshape(shape), hits.primitive.reshape(shape)

