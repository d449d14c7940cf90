"""A user's own mesh as a ground-truth scene (CPU, open3d), e.g. a scanned room as .glb or
a robotics package's OBJ+MTL world."""

from __future__ import annotations

import warnings
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from worldengine.scenes.freespace import FreeGrid
from worldengine.scenes.materials import procedural_albedo
from worldengine.scenes.mesh import load_mesh_file
from worldengine.scenes.scene import DEFAULT_EYE_HEIGHT, DEFAULT_RADIUS, DEFAULT_STEP_HEIGHT, GRID_RESOLUTION, Scene
from worldengine.scenes.walkable import Walkable, walkable_grid

FALLBACK_MATERIAL = 6  # surfaces without colours get a tiled pattern, so motion stays visible
FLOOR_TOLERANCE = 0.05  # metres: a free pose's feet stand this close to a floor


class MeshScene(Scene):
    """Any trimesh-loadable mesh (see `load_mesh_file`), in metres once scaled, +y up once turned.

    Walkable space is where a floor lies under the feet and the body has room above it
    (worldengine.scenes.walkable): terraces, ramps and floors above floors work, open
    surroundings with no floor do not. Surfaces keep their own colours, textures per pixel.

    Args: path; up: the file's up axis, "y" or "z"; scale: metres per file unit.
    """

    backends = ("open3d",)

    def __init__(self, path: str | Path, up: str = "y", scale: float = 1.0):
        from worldengine.scenes.raycast_open3d import MeshRaycaster

        self.path, self.up, self.scale = Path(path), up, scale
        self.surface = load_mesh_file(self.path, up, scale)
        self._raycaster = MeshRaycaster(self.surface.vertices, self.surface.triangles)
        self.walkable = Walkable(self._raycaster, _floor_sign(self.surface, self.path))
        if up == "y" and _looks_z_up(self.surface):
            warnings.warn(f"{self.path} looks z-up (its open floors face +z); pass mesh_up='z' "
                          "if its floors are walls here", stacklevel=2)

    def source(self) -> dict:
        """Which file, read how: what results record about a mesh scene."""
        return {"mesh": str(self.path), "mesh_up": self.up, "mesh_scale": self.scale}

    def cast(self, origins: torch.Tensor, directions: torch.Tensor, backend: str = "auto"):
        self.resolve_backend(backend, origins.device)
        return self._raycaster.cast(origins, directions)

    def albedo(self, points: torch.Tensor, normals: torch.Tensor, primitive: torch.Tensor) -> torch.Tensor:
        colour, uncoloured = self.surface.colours(points, primitive.clamp_min(0))
        if uncoloured.any():
            material = torch.full_like(primitive[uncoloured], FALLBACK_MATERIAL)
            colour[uncoloured] = procedural_albedo(points[uncoloured], normals[uncoloured], material).to(colour.dtype)
        return colour

    def settle(self, positions: np.ndarray, radius: float = DEFAULT_RADIUS, eye_height: float = DEFAULT_EYE_HEIGHT,
               step_height: float = DEFAULT_STEP_HEIGHT) -> tuple[np.ndarray, np.ndarray]:
        settled, ok = self.walkable.settle(positions, radius, eye_height, step_height)
        return settled, ok & self._inside(settled)

    def is_free(self, positions: np.ndarray, radius: float = DEFAULT_RADIUS, eye_height: float = DEFAULT_EYE_HEIGHT) -> np.ndarray:
        """Free where a floor lies under the feet (within FLOOR_TOLERANCE) with room for the body."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        settled, ok = self.settle(positions, radius, eye_height)
        return ok & (np.abs(settled[:, 1] - positions[:, 1]) <= FLOOR_TOLERANCE)

    def _inside(self, positions: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds
        return np.all((positions[:, [0, 2]] >= lo[[0, 2]]) & (positions[:, [0, 2]] <= hi[[0, 2]]), axis=1)

    @cached_property
    def grid(self) -> FreeGrid:
        """The largest connected walkable region for the default body, with its floor heights."""
        try:
            return walkable_grid(self.walkable, self.is_free, self.bounds, GRID_RESOLUTION, DEFAULT_EYE_HEIGHT,
                                 DEFAULT_STEP_HEIGHT)
        except ValueError as error:
            hint = " (is the file z-up? pass mesh_up='z')" if self.up == "y" else ""
            raise ValueError(f"{self.path}: {error}; in metres the mesh spans {np.ptp(self.surface.vertices, 0).round(2)}"
                             f"{hint} (other units: mesh_scale)") from None

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.surface.vertices.min(axis=0), self.surface.vertices.max(axis=0)


def _facing_surplus(surface, axis: int) -> tuple[float, float]:
    """Area facing +axis minus area facing -axis, and the total area (both x2). Closed solids
    cancel out; open floors (a ground with no underside) do not: they tell where up is."""
    cross = surface.area_normals
    return float(cross[:, axis].sum()), float(np.linalg.norm(cross, axis=1).sum())


def _looks_z_up(surface) -> bool:
    surplus_z, total = _facing_surplus(surface, 2)
    surplus_y, _ = _facing_surplus(surface, 1)
    return surplus_z > 0.1 * total and surplus_z > 2 * max(surplus_y, 0.0)


def _floor_sign(surface, path: Path) -> int:
    """+1 (floors face up by their winding); -1 if the whole mesh is wound the other way."""
    normal_y = surface.area_normals[:, 1]
    if (normal_y > 0).any() or not (normal_y < 0).any():
        return 1
    warnings.warn(f"{path}: every horizontal surface faces down by its winding; treating the mesh as wound "
                  "clockwise (floors face down)", stacklevel=3)
    return -1
