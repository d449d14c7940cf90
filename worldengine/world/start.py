"""Where a generated world begins: a ground-truth frame of a seeded scene, a user's
equirectangular RGB-D image, or nothing at all (the first frame is then generated)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from worldengine.geometry.cube import NUM_FACES
from worldengine.geometry.equirect import equirect_to_cube
from worldengine.geometry.pose import check_rigid
from worldengine.scenes import Scene, render_cubemaps

MAX_DEPTH = 1000.0  # metres: the farthest surface a start frame may hold (use 0 for sky)


@dataclass
class StartFrame:
    """A world's first frame: rgb (F, S, S, 3) uint8, depth (F, S, S) float32 z-depth in
    metres (0 = sky), pose (4, 4) float32 body-to-world."""

    rgb: np.ndarray
    depth: np.ndarray
    pose: np.ndarray

    def __post_init__(self) -> None:
        f, s = NUM_FACES, self.rgb.shape[1] if self.rgb.ndim == 4 else -1
        if self.rgb.shape != (f, s, s, 3) or self.rgb.dtype != np.uint8:
            raise ValueError(f"start rgb must be uint8 (6, S, S, 3), got {self.rgb.dtype} {self.rgb.shape}")
        if self.depth.shape != (f, s, s):
            raise ValueError(f"start depth must be (6, {s}, {s}) to match the rgb, got {self.depth.shape}")
        if not np.isfinite(self.depth).all() or (self.depth < 0).any():
            raise ValueError("start depth must be finite and >= 0 (0 = sky)")
        if (self.depth > MAX_DEPTH).any():
            raise ValueError(f"start depth must be at most {MAX_DEPTH:g} m (0 for sky), got {float(self.depth.max()):g}")
        check_rigid(torch.as_tensor(self.pose, dtype=torch.float32), "start pose")


def scene_start(scene: Scene, pose: torch.Tensor, face_size: int, backend: str = "auto") -> StartFrame:
    """The ground-truth frame of `scene` at `pose` (4, 4)."""
    frame = render_cubemaps(scene, pose, face_size, backend)
    return StartFrame(frame.rgb.numpy(), frame.depth.numpy().astype(np.float32), pose.numpy().astype(np.float32))


def equirect_start(image: np.ndarray, depth: np.ndarray, pose: np.ndarray, face_size: int) -> StartFrame:
    """A user's equirectangular image (H, 2H, 3) uint8 and its depth (H, 2H) (distance
    along each pixel's ray in metres, 0 = sky), seen from `pose` (4, 4), as cubemap faces."""
    image, depth = np.asarray(image), np.asarray(depth)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[1] != 2 * image.shape[0] or image.dtype != np.uint8:
        raise ValueError(f"reset option 'equirect' must be a uint8 (H, 2H, 3) image, got {image.dtype} {image.shape}")
    if depth.shape != image.shape[:2]:
        raise ValueError(f"reset option 'depth' must be (H, 2H) = {image.shape[:2]} like the image, got {depth.shape}")
    if not np.issubdtype(depth.dtype, np.number) or not np.isfinite(depth).all() or (depth < 0).any():
        raise ValueError("reset option 'depth' must be finite metres >= 0 (0 = sky)")
    if (depth > MAX_DEPTH).any():
        raise ValueError(f"reset option 'depth' must be at most {MAX_DEPTH:g} m (0 for sky), got {float(depth.max()):g}")
    rgb = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, 2H)
    faces = equirect_to_cube(rgb, face_size, "rgb")[0].permute(0, 2, 3, 1)  # (F, S, S, 3)
    zdepth = equirect_to_cube(torch.from_numpy(depth.astype(np.float32))[None, None], face_size, "depth", "nearest")
    rgb_faces = (faces.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return StartFrame(rgb_faces, zdepth[0, :, 0].numpy().astype(np.float32), np.asarray(pose, dtype=np.float32))


__all__ = ["StartFrame", "equirect_start", "scene_start"]
