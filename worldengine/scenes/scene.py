"""Ground-truth scenes: something rays hit, that has colours, and where an agent fits.

`Scene` is the interface the renderer, the kinematics and the environments use;
`ProceduralScene` is the seeded procedural world (open3d or analytic torch rays).
"""

from __future__ import annotations

import functools
from functools import cached_property

import numpy as np
import torch

from worldengine.scenes.freespace import FreeGrid, free_grid, layout_clearance
from worldengine.scenes.layout import SceneLayout, generate_layout
from worldengine.scenes.materials import procedural_albedo
from worldengine.scenes.raycast_torch import Hits, LayoutTensors, cast_rays_analytic

BACKENDS = ("auto", "open3d", "torch")
DEFAULT_EYE_HEIGHT = 1.5
DEFAULT_RADIUS = 0.25
DEFAULT_STEP_HEIGHT = 0.2  # as MotionConfig.floor_clearance: what the body steps over (or onto)
GRID_RESOLUTION = 0.25


@functools.lru_cache(maxsize=1)
def _open3d_available() -> bool:
    try:
        import open3d  # noqa: F401
    except ImportError:
        return False
    return True


class Scene:
    """Interface of a ground-truth scene. Subclasses set `backends` and implement the hooks."""

    backends: tuple[str, ...] = ("open3d",)

    def resolve_backend(self, backend: str, device: torch.device) -> str:
        if backend not in BACKENDS:
            raise ValueError(f"unknown render backend {backend!r}; expected one of {BACKENDS}")
        if backend == "auto":
            if device.type == "cpu" and "open3d" in self.backends and _open3d_available():
                return "open3d"
            backend = "torch" if "torch" in self.backends else "open3d"
        if backend not in self.backends:
            raise ValueError(f"{type(self).__name__} cannot render with {backend!r}; it supports {self.backends}")
        return backend

    def cast(self, origins: torch.Tensor, directions: torch.Tensor, backend: str = "auto") -> Hits:
        """First hits of rays (N, 3) + (N, 3); t in units of |direction|."""
        raise NotImplementedError

    def albedo(self, points: torch.Tensor, normals: torch.Tensor, primitive: torch.Tensor) -> torch.Tensor:
        """Surface colour (N, 3) in [0, 1] at hit points of the given primitives (all hits)."""
        raise NotImplementedError

    def is_free(self, positions: np.ndarray, radius: float = DEFAULT_RADIUS, eye_height: float = DEFAULT_EYE_HEIGHT) -> np.ndarray:
        """Whether an agent whose eye is at each position (N, 3) fits there, (N,) bool."""
        raise NotImplementedError

    def settle(self, positions: np.ndarray, radius: float = DEFAULT_RADIUS, eye_height: float = DEFAULT_EYE_HEIGHT,
               step_height: float = DEFAULT_STEP_HEIGHT) -> tuple[np.ndarray, np.ndarray]:
        """Where a body that moved to eye positions (N, 3) stands, (N, 3), and whether it fits
        there (N,): the eye goes to the floor under the feet (within a step up or down).
        Scenes whose floor is y = 0 everywhere keep the height: positions are returned as given."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        return positions.copy(), self.is_free(positions, radius, eye_height)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned world bounds (min (3,), max (3,)) of the walkable region."""
        raise NotImplementedError

    def ray_distance(self, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Distance (N,) along unit rays to the first surface (inf if none): for collisions."""
        return self.cast(origins, directions).t

    @cached_property
    def grid(self) -> FreeGrid:
        """Free cells for the default agent at eye height (largest connected region)."""
        lo, hi = self.bounds

        def is_free_xz(xz: np.ndarray) -> np.ndarray:
            eye = np.stack([xz[:, 0], np.full(len(xz), DEFAULT_EYE_HEIGHT + lo[1]), xz[:, 1]], axis=-1)
            return self.is_free(eye)

        return free_grid(is_free_xz, (lo[0], lo[2]), (hi[0], hi[2]), GRID_RESOLUTION)

    def sample_free_position(self, rng: np.random.Generator) -> np.ndarray:
        """A random free eye position (3,) in the largest connected free region."""
        cells = np.argwhere(self.grid.free)
        i, j = cells[rng.integers(0, len(cells))]
        x, z = self.grid.centre(i, j)
        return np.array([x, self.grid.floor_at(i, j) + DEFAULT_EYE_HEIGHT, z])


class ProceduralScene(Scene):
    """The seeded procedural world: same seed, same world, on every machine and device."""

    backends = ("open3d", "torch")

    def __init__(self, seed: int, kind: str | None = None):
        self.layout: SceneLayout = generate_layout(seed, kind)
        self.seed = self.layout.seed
        self._tensors: dict[tuple, LayoutTensors] = {}
        self._materials = torch.as_tensor(self.layout.primitive_material)

    @cached_property
    def _mesh(self):
        from worldengine.scenes.mesh import layout_mesh
        from worldengine.scenes.raycast_open3d import MeshRaycaster

        mesh, triangle_primitive = layout_mesh(self.layout)
        return MeshRaycaster(mesh.vertices, mesh.faces), torch.as_tensor(triangle_primitive)

    def mesh(self):
        """The scene as a trimesh mesh (for export or for users' own tools)."""
        from worldengine.scenes.mesh import layout_mesh

        return layout_mesh(self.layout)[0]

    def _layout_tensors(self, device: torch.device) -> LayoutTensors:
        key = (device.type, device.index)
        if key not in self._tensors:
            self._tensors[key] = LayoutTensors(self.layout, device=device)
        return self._tensors[key]

    def cast(self, origins: torch.Tensor, directions: torch.Tensor, backend: str = "auto") -> Hits:
        backend = self.resolve_backend(backend, origins.device)
        if backend == "torch":
            return cast_rays_analytic(self._layout_tensors(origins.device), origins.float(), directions.float())
        raycaster, triangle_primitive = self._mesh
        hits = raycaster.cast(origins, directions)
        primitive = triangle_primitive.to(origins.device)[hits.primitive.clamp_min(0)]
        hits.primitive = torch.where(hits.primitive < 0, hits.primitive, primitive)
        return hits

    def albedo(self, points: torch.Tensor, normals: torch.Tensor, primitive: torch.Tensor) -> torch.Tensor:
        material = self._materials.to(points.device)[primitive.clamp_min(0)]
        return procedural_albedo(points, normals, material)

    def is_free(self, positions: np.ndarray, radius: float = DEFAULT_RADIUS, eye_height: float = DEFAULT_EYE_HEIGHT) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        xz = positions[:, [0, 2]]
        clear = layout_clearance(self.layout, xz, eye_height) > radius
        return clear & self.layout.in_walkable(xz[:, 0], xz[:, 1])

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = self.layout.walkable.shape
        ox, oz = self.layout.origin
        return np.array([ox, 0.0, oz]), np.array([ox + cols, self.layout.height, oz + rows])
