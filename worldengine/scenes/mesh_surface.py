"""The colours of a user's mesh, looked up per pixel at ray hits.

Each triangle has one kind of colour: a texture sampled at the hit's UV (bilinear, UVs
repeat, v up as in OBJ and glTF), colours interpolated from its vertices, one flat colour
(a plain material or a face colour), or none (the renderer's procedural fallback). The
hit's barycentric coordinates come from the hit point and the triangle's corners.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

NONE, FLAT, VERTEX, TEXTURE = range(4)


@dataclass
class MeshSurface:
    """vertices (V, 3) float64 and triangles (T, 3) int64 in world metres; kind (T,) one of
    NONE / FLAT / VERTEX / TEXTURE; flat (T, 3) colour in [0, 1] of FLAT triangles; texture
    (T,) index into `textures` of TEXTURE triangles (-1 otherwise); uv (V, 2) and
    vertex_colour (V, 3) in [0, 1] (zeros where unused); textures: (H, W, 3) uint8 images."""

    vertices: np.ndarray
    triangles: np.ndarray
    kind: np.ndarray
    flat: np.ndarray
    texture: np.ndarray
    uv: np.ndarray
    vertex_colour: np.ndarray
    textures: list[np.ndarray]

    def __post_init__(self) -> None:
        self._torch = {
            "corners": torch.as_tensor(self.vertices[self.triangles], dtype=torch.float64),  # (T, 3, 3)
            "kind": torch.as_tensor(self.kind, dtype=torch.int64),
            "flat": torch.as_tensor(self.flat, dtype=torch.float32),
            "texture": torch.as_tensor(self.texture, dtype=torch.int64),
            "uv": torch.as_tensor(self.uv[self.triangles], dtype=torch.float64),  # (T, 3, 2)
            "vertex_colour": torch.as_tensor(self.vertex_colour[self.triangles], dtype=torch.float32),  # (T, 3, 3)
            "textures": [torch.from_numpy(np.array(image, dtype=np.uint8)) for image in self.textures],
        }

    @cached_property
    def area_normals(self) -> np.ndarray:
        """(T, 3): each triangle's normal by its winding (counter-clockwise is front), scaled
        to twice its area."""
        corners = self.vertices[self.triangles]
        return np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])

    def colours(self, points: torch.Tensor, triangle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Colours (N, 3) in [0, 1] at hit points (N, 3) of triangles (N,), and which of them
        have none (N,) bool (the caller shades those its own way)."""
        device = points.device
        triangle = triangle.cpu()
        kind = self._torch["kind"][triangle]
        colour = torch.zeros(len(triangle), 3, dtype=torch.float32)
        flat = kind == FLAT
        colour[flat] = self._torch["flat"][triangle[flat]]
        needs_weights = (kind == VERTEX) | (kind == TEXTURE)
        if needs_weights.any():
            rows = needs_weights.nonzero().squeeze(1)
            weights = barycentric(points.detach().cpu().double()[rows], self._torch["corners"][triangle[rows]])  # (M, 3)
            vertex = kind[rows] == VERTEX
            colour[rows[vertex]] = torch.einsum("mk,mkc->mc", weights[vertex].float(),
                                                self._torch["vertex_colour"][triangle[rows[vertex]]])
            textured = rows[~vertex]
            uv = torch.einsum("mk,mkc->mc", weights[~vertex], self._torch["uv"][triangle[textured]])  # (M', 2)
            image_of = self._torch["texture"][triangle[textured]]
            for index in image_of.unique().tolist():
                pick = image_of == index
                colour[textured[pick]] = sample_texture(self._torch["textures"][index], uv[pick])
        return colour.to(device), (kind == NONE).to(device)


def barycentric(points: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Barycentric weights (N, 3) of points (N, 3) in triangles (N, 3 corners, 3), clamped
    into the triangle (a hit lies on it up to rounding); degenerate triangles give their first corner."""
    a, b, c = corners.unbind(1)
    e1, e2, p = b - a, c - a, points - a
    d11, d12, d22 = (e1 * e1).sum(-1), (e1 * e2).sum(-1), (e2 * e2).sum(-1)
    p1, p2 = (p * e1).sum(-1), (p * e2).sum(-1)
    det = d11 * d22 - d12 * d12
    ok = det > 1e-18 * (d11 * d22).clamp_min(1e-30)
    safe = torch.where(ok, det, torch.ones_like(det))
    v = torch.where(ok, (d22 * p1 - d12 * p2) / safe, torch.zeros_like(det))
    w = torch.where(ok, (d11 * p2 - d12 * p1) / safe, torch.zeros_like(det))
    weights = torch.stack([1 - v - w, v, w], dim=-1).clamp_min(0)
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)


def sample_texture(image: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (N, 3) in [0, 1] of an (H, W, 3) uint8 image at UVs (N, 2): u right,
    v up (row 0 is v = 1), repeating outside [0, 1], texel centres at half-integers."""
    height, width = image.shape[:2]
    x = torch.remainder(uv[:, 0], 1.0) * width - 0.5
    y = torch.remainder(1.0 - uv[:, 1], 1.0) * height - 0.5
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = (x - x0).float()[:, None], (y - y0).float()[:, None]
    x0, y0 = x0.long(), y0.long()

    def texel(ix: torch.Tensor, iy: torch.Tensor) -> torch.Tensor:
        return image[torch.remainder(iy, height), torch.remainder(ix, width)].float()

    top = texel(x0, y0) * (1 - fx) + texel(x0 + 1, y0) * fx
    bottom = texel(x0, y0 + 1) * (1 - fx) + texel(x0 + 1, y0 + 1) * fx
    return (top * (1 - fy) + bottom * fy) / 255.0


__all__ = ["FLAT", "NONE", "TEXTURE", "VERTEX", "MeshSurface", "barycentric", "sample_texture"]
