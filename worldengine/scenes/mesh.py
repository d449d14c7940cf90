"""Triangle meshes: procedural layouts tessellated with trimesh, and users' own files.

trimesh is imported inside the functions that build or read meshes, so importing the
scenes package (as the generation path does) does not need it (DESIGN.md)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from worldengine.scenes.layout import SceneLayout
from worldengine.scenes.mesh_surface import FLAT, NONE, TEXTURE, VERTEX, MeshSurface

if TYPE_CHECKING:
    import trimesh

SPHERE_SUBDIVISIONS = 4  # 5,120 triangles a sphere: silhouettes within ~0.2% of the radius
CYLINDER_SECTIONS = 96


def _yaw_transform(centre, yaw: float) -> np.ndarray:
    import trimesh

    transform = trimesh.transformations.rotation_matrix(yaw, [0, 1, 0])
    transform[:3, 3] = centre
    return transform


def layout_mesh(layout: SceneLayout) -> tuple[trimesh.Trimesh, np.ndarray]:
    """The layout as one mesh, plus the primitive id of every triangle (T,).

    Primitive ids follow the analytic order (boxes, spheres, cylinders) so both
    renderers name the same object the same way.
    """
    import trimesh

    parts = []
    for centre, half, yaw in zip(layout.box_centre, layout.box_half, layout.box_yaw):
        parts.append(trimesh.creation.box(extents=2 * half, transform=_yaw_transform(centre, yaw)))
    for centre, radius in zip(layout.sphere_centre, layout.sphere_radius):
        sphere = trimesh.creation.icosphere(subdivisions=SPHERE_SUBDIVISIONS, radius=radius)
        sphere.apply_translation(centre)
        parts.append(sphere)
    for (x, z), (y0, y1), radius in zip(layout.cyl_xz, layout.cyl_y, layout.cyl_radius):
        # trimesh cylinders run along z; turn them upright about x.
        transform = trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0])
        transform[:3, 3] = (x, (y0 + y1) / 2, z)
        parts.append(trimesh.creation.cylinder(radius=radius, height=y1 - y0, sections=CYLINDER_SECTIONS, transform=transform))
    triangle_primitive = np.concatenate([np.full(len(p.faces), k, dtype=np.int64) for k, p in enumerate(parts)])
    return trimesh.util.concatenate(parts), triangle_primitive


MESH_UPS = ("y", "z")
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # (x, y, z) -> (x, z, -y)


def load_mesh_file(path: str | Path, up: str = "y", scale: float = 1.0) -> MeshSurface:
    """A user's mesh file (.obj with its .mtl and textures, .glb/.gltf, .ply, .stl, ...
    anything trimesh loads, scene graphs included) as one y-up surface in metres.

    up: the file's up axis, "y" (glTF, most game assets) or "z" (robotics, CAD); z-up
    files are turned so that +z becomes +y. scale: metres per file unit (0.01 for cm).
    Every geometry keeps its own colours: textures (per pixel, at the UVs), vertex or
    face colours, or a plain material's colour.
    """
    import trimesh

    path = Path(path)
    if up not in MESH_UPS:
        raise ValueError(f"mesh_up must be one of {MESH_UPS}, got {up!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"mesh_scale must be a positive number of metres per file unit, got {scale!r}")
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    try:
        loaded = trimesh.load(path, force="scene")
    except Exception as error:  # trimesh raises many types for unreadable files
        raise ValueError(f"could not read a mesh from {path}: {type(error).__name__}: {error}") from error
    meshes = [m for m in loaded.dump(concatenate=False) if isinstance(m, trimesh.Trimesh) and len(m.faces)]
    if not meshes:
        raise ValueError(f"{path} holds no triangles (points, lines or an empty scene cannot be walked)")
    parts = [_surface_part(mesh, path) for mesh in meshes]
    surface = _surface(parts, (Z_UP_TO_Y_UP if up == "z" else np.eye(3)) * float(scale))
    if not np.isfinite(surface.vertices).all():
        raise ValueError(f"{path} has vertices that are not finite numbers")
    return surface


class _Part:
    """One geometry's arrays before concatenation (textures as images, not yet indexed)."""

    def __init__(self, vertices, triangles, kind, flat=None, uv=None, vertex_colour=None, image=None):
        t, v = len(triangles), len(vertices)
        self.vertices, self.triangles = np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)
        self.kind = np.full(t, kind, np.int8)
        self.flat = np.zeros((t, 3), np.float32) if flat is None else np.broadcast_to(flat, (t, 3)).astype(np.float32)
        self.uv = np.zeros((v, 2), np.float64) if uv is None else np.asarray(uv, np.float64)
        self.vertex_colour = np.zeros((v, 3), np.float32) if vertex_colour is None else vertex_colour.astype(np.float32)
        self.image = image


def _rgb(colour) -> np.ndarray:
    """An RGB(A) colour in 0..255 as (3,) floats in [0, 1]."""
    return np.asarray(colour, dtype=np.float32)[..., :3] / 255.0


def _texture_image(material) -> np.ndarray | None:
    """The base-colour image of a trimesh material as (H, W, 3) uint8, or None."""
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    if image is None:
        return None
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    factor = getattr(material, "baseColorFactor", None)  # glTF multiplies the texture by it
    if factor is not None:
        array = np.clip(array.astype(np.float32) * _rgb(factor), 0, 255).round().astype(np.uint8)
    return array


def _surface_part(mesh, path: Path) -> _Part:
    visual = mesh.visual
    kind = getattr(visual, "kind", None)
    if kind == "texture":
        material = visual.material
        image = _texture_image(material)
        if image is not None and visual.uv is not None and len(visual.uv) == len(mesh.vertices):
            return _Part(mesh.vertices, mesh.faces, TEXTURE, uv=visual.uv, image=image)
        if image is not None:
            warnings.warn(f"{path}: a textured material ({getattr(material, 'name', '?')}) has no UVs; "
                          "using its plain colour", stacklevel=3)
        return _Part(mesh.vertices, mesh.faces, FLAT, flat=_rgb(material.main_color))
    if kind == "vertex":
        return _Part(mesh.vertices, mesh.faces, VERTEX, vertex_colour=_rgb(visual.vertex_colors))
    if kind == "face":
        return _Part(mesh.vertices, mesh.faces, FLAT, flat=_rgb(visual.face_colors))
    return _Part(mesh.vertices, mesh.faces, NONE)


def _surface(parts: list[_Part], to_world: np.ndarray) -> MeshSurface:
    """One surface of all parts, vertices mapped by the 3 x 3 `to_world` (up axis and units);
    each textured part's image gets the next texture index."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts])
    textured = np.cumsum([p.image is not None for p in parts]) - 1  # index of each part's image
    return MeshSurface(
        vertices=np.concatenate([p.vertices for p in parts]) @ to_world.T,
        triangles=np.concatenate([p.triangles + o for p, o in zip(parts, offsets)]),
        kind=np.concatenate([p.kind for p in parts]),
        flat=np.concatenate([p.flat for p in parts]),
        texture=np.concatenate([np.full(len(p.triangles), k if p.image is not None else -1, np.int64)
                                for p, k in zip(parts, textured)]),
        uv=np.concatenate([p.uv for p in parts]),
        vertex_colour=np.concatenate([p.vertex_colour for p in parts]),
        textures=[p.image for p in parts if p.image is not None],
    )
