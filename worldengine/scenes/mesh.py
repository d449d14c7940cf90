"""Triangle meshes: procedural layouts tessellated with trimesh, and users' own files.

trimesh is imported inside the functions that build or read meshes, so importing the
scenes package (as the generation path does) does not need it (DESIGN.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from worldengine.scenes.layout import SceneLayout

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


def load_mesh_file(path: str | Path) -> trimesh.Trimesh:
    """A user's mesh (.glb, .gltf, .obj, .ply, .stl, ... anything trimesh loads) as one mesh.

    Scenes with several nodes are flattened with their transforms applied.
    """
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    try:
        loaded = trimesh.load(path, force="mesh")
    except Exception as error:  # trimesh raises many types for unreadable files
        raise ValueError(f"could not read a mesh from {path}: {error}") from error
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ValueError(f"{path} holds no triangles")
    return loaded


def face_colours(mesh: trimesh.Trimesh) -> np.ndarray | None:
    """Per-triangle RGB in [0, 1] (T, 3) from the mesh's own colours or texture, if any."""
    visual = mesh.visual
    if visual is None or not visual.defined:
        return None
    if visual.kind == "texture":
        try:
            visual = visual.to_color()  # samples the texture at the UVs
        except Exception:  # a broken texture reference: fall back to procedural shading
            return None
    colours = visual.face_colors
    return np.asarray(colours[:, :3], dtype=np.float32) / 255.0
