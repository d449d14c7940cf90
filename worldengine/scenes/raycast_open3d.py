"""CPU ray casting of any triangle mesh with open3d's RaycastingScene (Embree).

open3d is imported here only, lazily, so the generation path runs where it is absent.
"""

from __future__ import annotations

import numpy as np
import torch

from worldengine.scenes.raycast_torch import Hits


class MeshRaycaster:
    """Casts rays against one static triangle mesh; thread count is open3d's default."""

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray):
        import open3d as o3d  # heavy; only needed on the CPU mesh path

        self._o3d = o3d
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(triangles, dtype=np.uint32)),
        )

    def cast_raw(self, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First hits of rays (N, 3) + (N, 3): t (N,) (inf: none), triangle (N,) int64 and the
        triangle's own normal (N, 3) by its winding (front faces are counter-clockwise)."""
        rays = np.concatenate([origins, directions], axis=-1).astype(np.float32)
        result = self._scene.cast_rays(self._o3d.core.Tensor(rays))
        return (result["t_hit"].numpy(), result["primitive_ids"].numpy().astype(np.int64),
                result["primitive_normals"].numpy())

    def cast(self, origins: torch.Tensor, directions: torch.Tensor) -> Hits:
        """First hits of rays (N, 3) + (N, 3); t in units of |direction|, normals face the ray."""
        t, triangle, normal = self.cast_raw(origins.detach().cpu().numpy(), directions.detach().cpu().numpy())
        t, normal = torch.from_numpy(t).to(origins.device), torch.from_numpy(normal).to(origins.device)
        triangle = torch.from_numpy(triangle).to(origins.device)
        miss = torch.isinf(t)
        triangle = torch.where(miss, torch.full_like(triangle, -1), triangle)
        normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        normal = torch.where(((normal * directions.to(normal.dtype)).sum(-1) > 0)[:, None], -normal, normal)
        return Hits(t=t, normal=normal, primitive=triangle)

    def unsigned_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance (N,) from points (N, 3) to the nearest surface."""
        query = self._o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
        return self._scene.compute_distance(query).numpy()
