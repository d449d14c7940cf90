"""A sample scene written as a user's asset would be: OBJ + MTL + a PNG texture.

A 12 m textured plaza (its ground subdivided to any triangle count) with a 0.6 m terrace
reached by a ramp, a round pillar, and open surroundings: two tall buildings and a
backdrop wall beyond the plaza with no floor under them. Plain materials (Kd) for all
but the ground. Written y-up or z-up, for the README's example, the tests and the
mesh benchmark; run `python -m worldengine.scenes.sample_mesh FOLDER [--up z]`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from worldengine.scenes.mesh import Z_UP_TO_Y_UP

PLAZA_HALF = 6.0
TERRACE = ((1.0, 5.0), 0.6, (1.0, 5.0))  # x range, height, z range
RAMP = ((2.0, 4.0), (-2.0, 1.0))  # x range, z range: rises from the ground at z=-2 to the terrace at z=1
PILLAR = ((-3.0, 3.0), 0.3, 3.0)  # centre (x, z), radius, height
UV_PERIOD = 3.0  # metres per texture repeat on the ground
TEXTURE_SIZE = 128
COLOURS = {"stone": (0.62, 0.62, 0.64), "ramp": (0.72, 0.52, 0.30), "brick": (0.70, 0.30, 0.22)}


def ground_texture() -> np.ndarray:
    """The ground's (128, 128, 3) uint8 texture: red grows to the right, green downwards,
    blue is an 8-texel checker, so any texel is known by where it is."""
    i, j = np.meshgrid(np.arange(TEXTURE_SIZE), np.arange(TEXTURE_SIZE), indexing="ij")
    red, green = j * 255 // (TEXTURE_SIZE - 1), i * 255 // (TEXTURE_SIZE - 1)
    blue = np.where((i // 8 + j // 8) % 2 == 0, 40, 220)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def _ground(cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plaza as a cells x cells grid of quads at y = 0, facing up: vertices, UVs, faces."""
    ticks = np.linspace(-PLAZA_HALF, PLAZA_HALF, cells + 1)
    x, z = np.meshgrid(ticks, ticks, indexing="xy")  # row = z, column = x
    vertices = np.stack([x.ravel(), np.zeros(x.size), z.ravel()], axis=-1)
    uv = np.stack([(x.ravel() + PLAZA_HALF) / UV_PERIOD, (z.ravel() + PLAZA_HALF) / UV_PERIOD], axis=-1)
    r, c = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
    a = (r * (cells + 1) + c).ravel()  # (x0, z0)
    b, cc, d = a + cells + 1, a + cells + 2, a + 1  # (x0, z1), (x1, z1), (x1, z0)
    faces = np.concatenate([np.stack([a, b, cc], -1), np.stack([a, cc, d], -1)])  # counter-clockwise from above
    return vertices, uv, faces


def _solids() -> dict[str, list]:
    """Plain-material solids with outward faces, by material."""
    import trimesh

    (tx0, tx1), height, (tz0, tz1) = TERRACE
    terrace = trimesh.creation.box(extents=(tx1 - tx0, height, tz1 - tz0))
    terrace.apply_translation(((tx0 + tx1) / 2, height / 2, (tz0 + tz1) / 2))
    (rx0, rx1), (rz0, rz1) = RAMP
    wedge = np.array([[x, y, z] for x in (rx0, rx1) for (y, z) in ((0, rz0), (0, rz1), (height, rz1))])
    ramp = trimesh.convex.convex_hull(wedge)
    (px, pz), radius, pillar_height = PILLAR
    pillar = trimesh.creation.cylinder(radius=radius, height=pillar_height, sections=48,
                                       transform=trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    pillar.apply_translation((px, pillar_height / 2, pz))
    buildings = []
    for z in (-3.0, 3.0):  # beyond the plaza's +x edge, nothing under them but their own base
        building = trimesh.creation.box(extents=(2.0, 5.0, 3.0))
        building.apply_translation((9.0, 2.5, z))
        buildings.append(building)
    wall = trimesh.creation.box(extents=(20.0, 4.0, 0.4))
    wall.apply_translation((0.0, 2.0, -10.0))
    return {"stone": [terrace], "ramp": [ramp], "brick": [pillar, *buildings, wall]}


def write_sample_scene(folder: str | Path, up: str = "y", ground_cells: int = 24, name: str = "plaza") -> Path:
    """Write `<folder>/<name>.obj`, `<name>.mtl` and `ground.png`; returns the OBJ's path.

    up: "y" writes y-up coordinates, "z" z-up ones (the same scene turned).
    ground_cells: the ground has 2 x ground_cells^2 triangles (224 gives about 100 k in all).
    """
    import imageio.v3 as iio

    if up not in ("y", "z"):
        raise ValueError(f"up must be 'y' or 'z', got {up!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    iio.imwrite(folder / "ground.png", ground_texture())
    mtl = ["newmtl ground", "Kd 1 1 1", "map_Kd ground.png", ""]
    mtl += [line for material, (r, g, b) in COLOURS.items() for line in (f"newmtl {material}", f"Kd {r} {g} {b}", "")]
    (folder / f"{name}.mtl").write_text("\n".join(mtl))

    def turned(vertices: np.ndarray) -> np.ndarray:  # y-up -> the file's axes: the inverse of what loading does
        return vertices if up == "y" else vertices @ Z_UP_TO_Y_UP

    lines = [f"mtllib {name}.mtl"]
    vertices, uv, faces = _ground(ground_cells)
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in turned(vertices)]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines += ["o ground", "usemtl ground"] + [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in faces + 1]
    offset = len(vertices)
    for material, solids in _solids().items():
        lines += [f"o {material}", f"usemtl {material}"]
        for solid in solids:
            lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in turned(np.asarray(solid.vertices))]
            lines += [f"f {a} {b} {c}" for a, b, c in np.asarray(solid.faces) + 1 + offset]
            offset += len(solid.vertices)
    path = folder / f"{name}.obj"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--up", choices=("y", "z"), default="y")
    parser.add_argument("--ground-cells", type=int, default=24)
    args = parser.parse_args()
    print(write_sample_scene(args.folder, args.up, args.ground_cells))


if __name__ == "__main__":
    main()


__all__ = ["ground_texture", "write_sample_scene"]
