"""A user's own mesh as a ground-truth scene (CPU, open3d), e.g. a scanned room as .glb."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from worldengine.scenes.materials import procedural_albedo
from worldengine.scenes.mesh import face_colours, load_mesh_file
from worldengine.scenes.scene import DEFAULT_EYE_HEIGHT, DEFAULT_RADIUS, Scene

FALLBACK_MATERIAL = 6  # meshes without colours get a tiled pattern, so motion stays visible


class MeshScene(Scene):
    """Any trimesh-loadable mesh in metres with +y up (glTF's convention).

    The floor is taken to be the lowest point of the mesh. Triangles keep their own
    colours (vertex/face colours or a texture sampled at the UVs) where the file has them.
    """

    backends = ("open3d",)

    def __init__(self, path: str | Path):
        from worldengine.scenes.raycast_open3d import MeshRaycaster

        self.path = Path(path)
        self.mesh = load_mesh_file(self.path)
        self._raycaster = MeshRaycaster(self.mesh.vertices, self.mesh.faces)
        colours = face_colours(self.mesh)
        self._colours = None if colours is None else torch.as_tensor(colours)

    def cast(self, origins: torch.Tensor, directions: torch.Tensor, backend: str = "auto"):
        self.resolve_backend(backend, origins.device)
        return self._raycaster.cast(origins, directions)

    def albedo(self, points: torch.Tensor, normals: torch.Tensor, primitive: torch.Tensor) -> torch.Tensor:
        if self._colours is None:
            material = torch.full_like(primitive, FALLBACK_MATERIAL)
            return procedural_albedo(points, normals, material)
        return self._colours.to(points.device)[primitive.clamp_min(0)]

    def is_free(self, positions: np.ndarray, radius: float = DEFAULT_RADIUS, eye_height: float = DEFAULT_EYE_HEIGHT) -> np.ndarray:
        """Free where every sample on the body's axis keeps `radius` from all surfaces."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        lo, hi = self.bounds
        inside = np.all((positions[:, [0, 2]] > lo[[0, 2]]) & (positions[:, [0, 2]] < hi[[0, 2]]), axis=1)
        heights = np.linspace(radius + 0.05, eye_height, 4)
        samples = positions[:, None, :].repeat(len(heights), axis=1)
        samples[:, :, 1] = positions[:, None, 1] - eye_height + heights
        distance = self._raycaster.unsigned_distance(samples.reshape(-1, 3)).reshape(len(positions), -1)
        return inside & np.all(distance > radius, axis=1)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.mesh.bounds
        return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
