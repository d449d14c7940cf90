"""Pictures of what the engine sees: equirectangular frames, cube crosses, top-down maps."""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from worldengine.geometry.equirect import cube_to_equirect
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


def pointcloud_topdown(positions: np.ndarray, colours: np.ndarray, path: np.ndarray, ceiling: float,
                       pixels_per_metre: float = 24.0, margin: float = 1.0) -> np.ndarray:
    """A top-down uint8 picture of a point cloud with a camera path drawn over it.

    positions (N, 3) world metres, colours (N, 3) uint8; points at or above `ceiling`
    (world y) are left out so a roof does not hide the rooms; of the rest, the highest
    point in each pixel shows. path (T, 3): camera centres, drawn from blue (first) to
    red (last), the first as a green square. Rows run along +z, columns along +x.
    """
    positions, colours = np.asarray(positions, np.float64).reshape(-1, 3), np.asarray(colours, np.uint8).reshape(-1, 3)
    path = np.asarray(path, np.float64).reshape(-1, 3)
    if len(positions) != len(colours):
        raise ValueError(f"got {len(positions)} positions and {len(colours)} colours")
    keep = positions[:, 1] < ceiling
    positions, colours = positions[keep], colours[keep]
    # The frame spans the path and the bulk of the points (a few stray far ones are cut).
    bulk = np.percentile(positions[:, [0, 2]], [1, 99], axis=0) if len(positions) else np.zeros((0, 2))
    extent = np.concatenate([bulk, path[:, [0, 2]]]) if len(bulk) + len(path) else np.zeros((1, 2))
    low, high = extent.min(0) - margin, extent.max(0) + margin
    cols, rows = np.ceil((high - low) * pixels_per_metre).astype(int) + 1
    image = np.full((rows, cols, 3), 24, dtype=np.uint8)

    def pixels(xz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ij = ((xz - low) * pixels_per_metre).astype(int)
        return ij[:, 1].clip(0, rows - 1), ij[:, 0].clip(0, cols - 1)

    inside = ((positions[:, [0, 2]] >= low) & (positions[:, [0, 2]] <= high)).all(1)
    positions, colours = positions[inside], colours[inside]
    order = np.argsort(positions[:, 1])  # lowest first: later (higher) points overwrite
    i, j = pixels(positions[order][:, [0, 2]])
    for di in (0, 1):  # each point covers 2 x 2 pixels
        for dj in (0, 1):
            image[(i + di).clip(0, rows - 1), (j + dj).clip(0, cols - 1)] = colours[order]
    if len(path):
        dense = np.concatenate([np.linspace(a, b, 8, endpoint=False) for a, b in zip(path[:-1], path[1:])] + [path[-1:]])
        t = np.linspace(0, 1, len(dense))[:, None]
        i, j = pixels(dense[:, [0, 2]])
        image[i, j] = (np.hstack([255 * t, 40 + 0 * t, 255 * (1 - t)])).astype(np.uint8)
        i0, j0 = pixels(path[:1, [0, 2]])
        image[max(i0[0] - 3, 0):i0[0] + 4, max(j0[0] - 3, 0):j0[0] + 4] = (30, 200, 60)
    return image
