"""Pictures of what the engine sees: equirectangular frames, cube crosses, top-down maps."""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from worldengine.equirect import cube_to_equirect
from worldengine.scenes.freespace import FreeGrid

# Where each face sits in the unfolded cross (row, column), in face order F R B L U D.
CROSS_SLOTS = ((1, 1), (1, 2), (1, 3), (1, 0), (0, 1), (2, 1))


def _check_faces(rgb: np.ndarray) -> None:
    if rgb.ndim != 4 or rgb.shape[0] != 6 or rgb.shape[1] != rgb.shape[2] or rgb.shape[3] != 3:
        raise ValueError(f"cubemap rgb must have shape (6, S, S, 3), got {rgb.shape}")


def equirect_image(rgb: np.ndarray, height: int | None = None) -> np.ndarray:
    """An equirectangular uint8 image (H, 2H, 3) from cubemap faces (F, S, S, 3) uint8;
    H defaults to 2S (about the faces' own angular resolution at the equator)."""
    _check_faces(rgb)
    faces = rearrange(torch.as_tensor(rgb), "f h w c -> 1 f c h w").float() / 255.0
    image = cube_to_equirect(faces, height or 2 * rgb.shape[1], kind="rgb")[0]  # (3, H, W)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def cube_cross(rgb: np.ndarray) -> np.ndarray:
    """The six faces (F, S, S, 3) unfolded as a cross (3S, 4S, 3), black outside it."""
    _check_faces(rgb)
    size = rgb.shape[1]
    cross = np.zeros((3 * size, 4 * size, 3), dtype=rgb.dtype)
    for face, (row, col) in enumerate(CROSS_SLOTS):
        cross[row * size:(row + 1) * size, col * size:(col + 1) * size] = rgb[face]
    return cross


def topdown_map(grid: FreeGrid, positions: np.ndarray, scale: int = 4) -> np.ndarray:
    """A top-down uint8 map (rows along +z, cols along +x): free floor light, the rest dark,
    the walked path coloured from blue (start) to red (end), the start as a green square.
    positions: (N, 3) world positions (x, y, z); off-map ones are not drawn."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.size == 0:
        positions = positions.reshape(0, 3)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {positions.shape}")
    image = np.where(grid.free[..., None], 235, 60).astype(np.uint8).repeat(3, axis=-1)
    image = image.repeat(scale, axis=0).repeat(scale, axis=1)
    rows, cols = image.shape[:2]

    def pixel(x: float, z: float) -> tuple[int, int]:
        return int((z - grid.origin[1]) / grid.resolution * scale), int((x - grid.origin[0]) / grid.resolution * scale)

    count = max(len(positions) - 1, 1)
    for k, (x, _, z) in enumerate(positions):
        i, j = pixel(x, z)
        if 0 <= i < rows and 0 <= j < cols:
            t = k / count
            image[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2] = (int(255 * t), 40, int(255 * (1 - t)))
    if len(positions):
        i, j = pixel(positions[0][0], positions[0][2])
        if 0 <= i < rows and 0 <= j < cols:
            image[max(i - 3, 0):i + 4, max(j - 3, 0):j + 4] = (30, 200, 60)
    return image
