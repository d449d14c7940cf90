"""Walkable space of a triangle mesh: a floor under the feet and room for the body above it.

One rule, used for moves, free-space tests, start poses and the walkable grid alike:

- **floor**: a ray cast down from one step height above the feet meets an upward-facing
  surface (by its winding; at most FLOOR_SLOPE_DEG steep) no more than one step height
  below the feet. The body stands on it: the eye goes to the floor plus the eye height.
  Terraces, ramps and stairs lower than a step are walked up and down; open surroundings
  with no floor, and drops deeper than a step, are not walkable.
- **room**: a ray up from the floor meets nothing below the eye plus HEAD_CLEARANCE, and
  rings of CLEARANCE_DIRECTIONS horizontal rays around the body's axis, in rows from a
  step above the floor to the eye, meet nothing closer than the body's radius.

The walkable grid keeps, per cell, every floor a downward ray meets when peeled through
the mesh (so floors above floors are found), joins neighbouring floors within a step
height of each other, and keeps the largest connected region.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from worldengine.scenes.freespace import FreeGrid

FLOOR_SLOPE_DEG = 40.0
HEAD_CLEARANCE = 0.1
CLEARANCE_DIRECTIONS = 16
MAX_ROW_SPACING = 0.25  # metres between rings of clearance rays
MAX_FLOORS = 6  # floors peeled per grid cell
MAX_GRID_CELLS = 250_000  # coarser cells for very large meshes
_DOWN = np.array([0.0, -1.0, 0.0])
_UP = np.array([0.0, 1.0, 0.0])


def _rays(directions: np.ndarray, count: int) -> np.ndarray:
    return np.broadcast_to(directions, (count, 3))


class Walkable:
    """Walkable-space queries against a `MeshRaycaster`.

    floor_sign: +1 when floors face up by their winding (the rule); -1 for meshes wound the
    other way throughout (MeshScene decides); 0 accepts either side.
    """

    def __init__(self, raycaster, floor_sign: int = 1):
        self.raycaster, self.floor_sign = raycaster, floor_sign
        self._cos_slope = math.cos(math.radians(FLOOR_SLOPE_DEG))
        angles = np.arange(CLEARANCE_DIRECTIONS) * 2 * np.pi / CLEARANCE_DIRECTIONS
        self._ring = np.stack([np.cos(angles), np.zeros_like(angles), np.sin(angles)], axis=-1)  # (D, 3)

    def _is_floor(self, normal_y: np.ndarray) -> np.ndarray:
        if self.floor_sign == 0:
            return np.abs(normal_y) >= self._cos_slope
        return self.floor_sign * normal_y >= self._cos_slope

    def floor_under(self, feet: np.ndarray, step_height: float) -> np.ndarray:
        """Height (N,) of the floor under feet positions (N, 3) within a step up or down, NaN if none."""
        origins = feet + np.array([0.0, step_height, 0.0])
        t, _, normal = self.raycaster.cast_raw(origins, _rays(_DOWN, len(feet)))
        found = np.isfinite(t) & (t <= 2 * step_height) & self._is_floor(normal[:, 1])
        return np.where(found, origins[:, 1] - t, np.nan)

    def has_room(self, floors: np.ndarray, radius: float, eye_height: float, step_height: float) -> np.ndarray:
        """Whether a body standing on floor points (N, 3) fits: headroom and radial clearance, (N,) bool."""
        n = len(floors)
        if n == 0:
            return np.zeros(0, dtype=bool)
        up, _, _ = self.raycaster.cast_raw(floors + np.array([0.0, 1e-3, 0.0]), _rays(_UP, n))
        headroom = up > eye_height + HEAD_CLEARANCE
        low, high = step_height + 0.05, eye_height
        rows = max(2, math.ceil((high - low) / MAX_ROW_SPACING) + 1)
        heights = np.linspace(low, high, rows)
        origins = floors[:, None, None, :] + heights[None, :, None, None] * _UP  # (N, R, 1, 3)
        origins = np.broadcast_to(origins, (n, rows, len(self._ring), 3)).reshape(-1, 3)
        directions = np.broadcast_to(self._ring, (n, rows, len(self._ring), 3)).reshape(-1, 3)
        t, _, _ = self.raycaster.cast_raw(origins, directions)
        clear = (t.reshape(n, -1) > radius).all(axis=1)
        return headroom & clear

    def settle(self, eyes: np.ndarray, radius: float, eye_height: float,
               step_height: float) -> tuple[np.ndarray, np.ndarray]:
        """Eye positions (N, 3) stood on the floor under them, and whether the body fits there (N,)."""
        eyes = np.asarray(eyes, dtype=np.float64).reshape(-1, 3)
        floor = self.floor_under(eyes - eye_height * _UP, step_height)
        found = np.isfinite(floor)
        settled = eyes.copy()
        settled[found, 1] = floor[found] + eye_height
        ok = np.zeros(len(eyes), dtype=bool)
        floors = settled[found] - eye_height * _UP
        ok[found] = self.has_room(floors, radius, eye_height, step_height)
        return settled, ok

    def floors_peeled(self, xz: np.ndarray, top: float) -> np.ndarray:
        """Heights (N, MAX_FLOORS) of the floors under columns xz (N, 2), top down (NaN: none)."""
        n = len(xz)
        heights = np.full((n, MAX_FLOORS), np.nan)
        origins = np.stack([xz[:, 0], np.full(n, top), xz[:, 1]], axis=-1)
        alive = np.ones(n, dtype=bool)
        for layer in range(MAX_FLOORS * 2):  # back faces (undersides) are peeled too
            if not alive.any():
                break
            rows = np.nonzero(alive)[0]
            t, _, normal = self.raycaster.cast_raw(origins[rows], _rays(_DOWN, len(rows)))
            hit = np.isfinite(t)
            alive[rows[~hit]] = False
            rows, t, normal = rows[hit], t[hit], normal[hit]
            y = origins[rows, 1] - t
            floor = self._is_floor(normal[:, 1])
            slot = np.sum(np.isfinite(heights[rows[floor]]), axis=1)
            keep = slot < MAX_FLOORS
            heights[rows[floor][keep], slot[keep]] = y[floor][keep]
            origins[rows, 1] = y - 1e-3
        return heights


def walkable_grid(walkable: Walkable, is_free, bounds: tuple[np.ndarray, np.ndarray], resolution: float,
                  eye_height: float, step_height: float) -> FreeGrid:
    """The largest connected walkable region over the mesh's bounds, as a FreeGrid whose
    `floor` holds each free cell's floor height (the lowest, where floors are stacked).

    is_free: the scene's own test of eye positions (N, 3), so the grid and the scene agree.
    """
    lo, hi = bounds
    area = (hi[0] - lo[0]) * (hi[2] - lo[2])
    resolution = max(resolution, math.sqrt(area / MAX_GRID_CELLS))
    cols = max(1, int(np.ceil((hi[0] - lo[0]) / resolution)))
    rows = max(1, int(np.ceil((hi[2] - lo[2]) / resolution)))
    grid = FreeGrid(np.zeros((rows, cols), dtype=bool), (float(lo[0]), float(lo[2])), resolution)
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    xz = grid.centre(i.ravel(), j.ravel())  # (C, 2)
    heights = walkable.floors_peeled(xz, float(hi[1]) + 1.0)  # (C, L)
    cell, layer = np.nonzero(np.isfinite(heights))
    eyes = np.stack([xz[cell, 0], heights[cell, layer] + eye_height, xz[cell, 1]], axis=-1)
    free = is_free(eyes)
    cell, height = cell[free], heights[cell[free], layer[free]]
    if len(cell) == 0:
        raise ValueError("no walkable floor: nowhere is there a floor with room for the body above it")
    labels = _connected_floors(cell, height, rows, cols, step_height)
    largest = np.argmax(np.bincount(labels))
    cell, height = cell[labels == largest], height[labels == largest]
    floor = np.full(rows * cols, np.inf)
    np.minimum.at(floor, cell, height)
    grid.free = np.isfinite(floor).reshape(rows, cols)
    grid.floor = np.where(grid.free, floor.reshape(rows, cols), np.nan)
    return grid


def _connected_floors(cell: np.ndarray, height: np.ndarray, rows: int, cols: int, step_height: float) -> np.ndarray:
    """Component label of each floor node: 4-neighbouring cells' floors within a step join."""
    order = np.argsort(cell, kind="stable")
    sorted_cell = cell[order]
    edges_a, edges_b = [], []
    for neighbour in (1, cols):  # right and down
        target = cell + neighbour
        if neighbour == 1:
            valid = (cell % cols) < cols - 1
        else:
            valid = target < rows * cols
        # every node of the target cell, against every node of this cell
        start = np.searchsorted(sorted_cell, target, side="left")
        stop = np.searchsorted(sorted_cell, target, side="right")
        for offset in range(MAX_FLOORS):
            pick = valid & (start + offset < stop)
            other = order[start[pick] + offset]
            near = np.abs(height[pick] - height[other]) <= step_height
            edges_a.append(np.nonzero(pick)[0][near])
            edges_b.append(other[near])
    a, b = np.concatenate(edges_a), np.concatenate(edges_b)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(cell), len(cell)))
    return connected_components(graph, directed=False)[1]


__all__ = ["FLOOR_SLOPE_DEG", "HEAD_CLEARANCE", "Walkable", "walkable_grid"]
