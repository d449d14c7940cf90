"""Where an agent's body fits: signed distances in the floor plane and a free-space grid.

The body is a vertical cylinder of radius r from just above the floor to just above
the eye. Only obstacles whose height range meets the body's count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from worldengine.scenes.layout import SceneLayout

FLOOR_CLEARANCE = 0.05  # the body starts this far above the floor (y = 0)
HEAD_CLEARANCE = 0.1  # and ends this far above the eye


def _overlaps(lo: np.ndarray, hi: np.ndarray, body_lo: float, body_hi: float) -> np.ndarray:
    return (hi > body_lo) & (lo < body_hi)


def _box_sdf_2d(xz: np.ndarray, centre: np.ndarray, half: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Signed distance (N, M) from points (N, 2) to yaw-rotated rectangles (M,)."""
    dx = xz[:, None, 0] - centre[None, :, 0]
    dz = xz[:, None, 1] - centre[None, :, 2]
    cos, sin = np.cos(yaw), np.sin(yaw)
    lx, lz = cos * dx - sin * dz, sin * dx + cos * dz  # Ry(-yaw) into the box frame
    qx, qz = np.abs(lx) - half[:, 0], np.abs(lz) - half[:, 2]
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qz, 0))
    return outside + np.minimum(np.maximum(qx, qz), 0)


def layout_clearance(layout: SceneLayout, xz: np.ndarray, eye_height: float) -> np.ndarray:
    """Distance (N,) in the floor plane from body axes at xz (N, 2) to the nearest obstacle."""
    body_lo, body_hi = FLOOR_CLEARANCE, eye_height + HEAD_CLEARANCE
    best = np.full(len(xz), np.inf)
    y_lo, y_hi = layout.box_centre[:, 1] - layout.box_half[:, 1], layout.box_centre[:, 1] + layout.box_half[:, 1]
    boxes = _overlaps(y_lo, y_hi, body_lo, body_hi)
    if boxes.any():
        sdf = _box_sdf_2d(xz, layout.box_centre[boxes], layout.box_half[boxes], layout.box_yaw[boxes])
        best = np.minimum(best, sdf.min(axis=1))
    c, r = layout.sphere_centre, layout.sphere_radius
    spheres = _overlaps(c[:, 1] - r, c[:, 1] + r, body_lo, body_hi)
    if spheres.any():
        d = np.hypot(xz[:, None, 0] - c[None, spheres, 0], xz[:, None, 1] - c[None, spheres, 2]) - r[spheres]
        best = np.minimum(best, d.min(axis=1))
    cylinders = _overlaps(layout.cyl_y[:, 0], layout.cyl_y[:, 1], body_lo, body_hi)
    if cylinders.any():
        c, r = layout.cyl_xz[cylinders], layout.cyl_radius[cylinders]
        d = np.hypot(xz[:, None, 0] - c[None, :, 0], xz[:, None, 1] - c[None, :, 1]) - r
        best = np.minimum(best, d.min(axis=1))
    return best


@dataclass
class FreeGrid:
    """Free cells of the floor plane at `resolution` metres; `free[i, j]` is the cell at
    x = origin[0] + (j + 0.5) * resolution, z = origin[1] + (i + 0.5) * resolution,
    restricted to the largest connected free region (so any two free cells connect).
    floor: the floor height (y) of each free cell (NaN elsewhere), or None where the floor
    is the plane y = 0 everywhere (procedural scenes)."""

    free: np.ndarray
    origin: tuple[float, float]
    resolution: float
    floor: np.ndarray | None = None

    def floor_at(self, i: int, j: int) -> float:
        return 0.0 if self.floor is None else float(self.floor[i, j])

    def centre(self, i: int | np.ndarray, j: int | np.ndarray) -> np.ndarray:
        """World (x, z) of cell centres, (..., 2)."""
        return np.stack([self.origin[0] + (np.asarray(j) + 0.5) * self.resolution,
                         self.origin[1] + (np.asarray(i) + 0.5) * self.resolution], axis=-1)

    def cell_of(self, x: float, z: float) -> tuple[int, int]:
        return int((z - self.origin[1]) // self.resolution), int((x - self.origin[0]) // self.resolution)


def free_grid(is_free_xz, bounds_min: tuple[float, float], bounds_max: tuple[float, float], resolution: float) -> FreeGrid:
    """Rasterise a free-space test `is_free_xz((N, 2)) -> (N,) bool` over a rectangle,
    keeping only the largest 4-connected free component."""
    cols = int(np.ceil((bounds_max[0] - bounds_min[0]) / resolution))
    rows = int(np.ceil((bounds_max[1] - bounds_min[1]) / resolution))
    grid = FreeGrid(np.zeros((rows, cols), dtype=bool), bounds_min, resolution)
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    free = is_free_xz(grid.centre(i.ravel(), j.ravel())).reshape(rows, cols)
    labels, count = ndimage.label(free)
    if count == 0:
        raise ValueError("the scene has no free space for the agent")
    sizes = ndimage.sum(free, labels, index=range(1, count + 1))
    grid.free = labels == (int(np.argmax(sizes)) + 1)
    return grid
