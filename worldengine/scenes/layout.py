"""Seeded procedural scene layouts: floor plans on a metre grid, walls, furniture.

A layout is pure data (numpy arrays of analytic primitives), so the same seed gives
the same world on every machine: numpy's PCG64 generator is platform independent.
Everything stands on the floor plane y = 0; +y is up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldengine.scenes.materials import FLOOR_MATERIALS, MATERIAL_COUNT, WALL_MATERIALS

SCENE_KINDS = ("room", "corridor", "courtyard", "house")
CELL = 1.0  # metres per floor-plan cell
WALL_THICKNESS = 0.2


@dataclass
class SceneLayout:
    """Analytic primitives of one scene. Shapes: Nb boxes, Ns spheres, Nc cylinders.

    boxes: centre (Nb, 3), half extents (Nb, 3), yaw about +y in radians (Nb,).
    spheres: centre (Ns, 3), radius (Ns,). cylinders (vertical): centre x z (Nc, 2),
    y range (Nc, 2), radius (Nc,). `*_material` index the material palette.
    `walkable` is the floor plan, (rows along z, cols along x), cell (i, j) covering
    x in [origin_x + j, origin_x + j + 1), z in [origin_z + i, origin_z + i + 1).
    """

    seed: int
    kind: str
    height: float
    has_ceiling: bool
    walkable: np.ndarray
    origin: tuple[float, float]
    box_centre: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_half: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_yaw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    box_material: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sphere_centre: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    sphere_radius: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sphere_material: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cyl_xz: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    cyl_y: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    cyl_radius: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cyl_material: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def counts(self) -> tuple[int, int, int]:
        return len(self.box_yaw), len(self.sphere_radius), len(self.cyl_radius)

    @property
    def primitive_material(self) -> np.ndarray:
        """Material of every primitive in the global order boxes, spheres, cylinders."""
        return np.concatenate([self.box_material, self.sphere_material, self.cyl_material])

    def cell_centre(self, i: int, j: int) -> tuple[float, float]:
        return self.origin[0] + (j + 0.5) * CELL, self.origin[1] + (i + 0.5) * CELL

    def in_walkable(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether world (x, z) lies on a walkable floor cell, elementwise."""
        j = np.floor((np.asarray(x) - self.origin[0]) / CELL).astype(np.int64)
        i = np.floor((np.asarray(z) - self.origin[1]) / CELL).astype(np.int64)
        rows, cols = self.walkable.shape
        inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
        out = np.zeros(np.shape(inside), dtype=bool)
        out[inside] = self.walkable[i[inside], j[inside]]
        return out


# ---------------------------------------------------------------- floor plans


def _plan_room(rng: np.random.Generator) -> np.ndarray:
    return np.ones((rng.integers(6, 12), rng.integers(6, 12)), dtype=bool)


def _plan_corridor(rng: np.random.Generator) -> np.ndarray:
    """A ring corridor around a solid block: walking it is a natural loop closure."""
    rows, cols, width = rng.integers(10, 16), rng.integers(12, 20), rng.integers(2, 4)
    plan = np.ones((rows, cols), dtype=bool)
    plan[width:rows - width, width:cols - width] = False
    return plan


def _plan_courtyard(rng: np.random.Generator) -> np.ndarray:
    return np.ones((rng.integers(14, 20), rng.integers(14, 20)), dtype=bool)


def _plan_house(rng: np.random.Generator) -> np.ndarray:
    """Two or three rooms in a row joined by doorways through shared walls."""
    depth = rng.integers(6, 10)
    widths = rng.integers(5, 9, size=rng.integers(2, 4))
    gap = 1  # one solid cell of wall between rooms, pierced by a doorway
    plan = np.zeros((depth, int(widths.sum()) + gap * (len(widths) - 1)), dtype=bool)
    col = 0
    for k, width in enumerate(widths):
        plan[:, col:col + width] = True
        if k < len(widths) - 1:
            door = rng.integers(1, depth - 2)
            plan[door:door + 2, col + width] = True  # 2 m wide doorway
        col += width + gap
    return plan


_PLANS = {"room": _plan_room, "corridor": _plan_corridor, "courtyard": _plan_courtyard, "house": _plan_house}


# ---------------------------------------------------------------- walls


def _wall_runs(plan: np.ndarray) -> list[tuple[str, int, int, int]]:
    """Maximal runs of cell edges with floor on exactly one side.

    Returns (axis, line, start, stop): axis "z" is a wall along x at row line `line`
    spanning columns [start, stop); axis "x" a wall along z at column line `line`.
    """
    padded = np.pad(plan, 1)
    runs = []
    horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # (rows + 1, cols): edges between rows
    vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # (rows, cols + 1): edges between cols
    for axis, edges in (("z", horizontal), ("x", vertical.T)):
        for line, row in enumerate(edges):
            start = None
            for k, on in enumerate(list(row) + [False]):
                if on and start is None:
                    start = k
                elif not on and start is not None:
                    runs.append((axis, line, start, k))
                    start = None
    return runs


def _add_walls(layout: SceneLayout, material: int) -> list:
    boxes = []
    ox, oz = layout.origin
    half_height = layout.height / 2
    for axis, line, start, stop in _wall_runs(layout.walkable):
        length = (stop - start) * CELL + WALL_THICKNESS
        if axis == "z":  # wall along x at z = oz + line
            centre = (ox + (start + stop) / 2 * CELL, half_height, oz + line * CELL)
            half = (length / 2, half_height, WALL_THICKNESS / 2)
        else:
            centre = (ox + line * CELL, half_height, oz + (start + stop) / 2 * CELL)
            half = (WALL_THICKNESS / 2, half_height, length / 2)
        boxes.append((centre, half, 0.0, material))
    return boxes


# ---------------------------------------------------------------- furniture


def _furnishable_cells(layout: SceneLayout) -> list[tuple[int, int]]:
    """Floor cells that are not a passage (walls on two opposite sides), so furniture
    never blocks a doorway."""
    plan = np.pad(layout.walkable, 1)
    cells = []
    for i, j in np.argwhere(layout.walkable):
        i, j = i + 1, j + 1
        passage = (not plan[i - 1, j] and not plan[i + 1, j]) or (not plan[i, j - 1] and not plan[i, j + 1])
        if not passage:
            cells.append((i - 1, j - 1))
    return cells


def _furniture(layout: SceneLayout, rng: np.random.Generator) -> tuple[list, list, list]:
    """Boxes, spheres and pillars scattered over floor cells, one object per cell at most."""
    cells = _furnishable_cells(layout)
    rng.shuffle(cells)
    count = int(len(cells) * rng.uniform(0.08, 0.15)) + 2
    boxes, spheres, cylinders = [], [], []
    for i, j in cells[:count]:
        x, z = layout.cell_centre(i, j)
        x += rng.uniform(-0.2, 0.2)
        z += rng.uniform(-0.2, 0.2)
        material = int(rng.integers(0, MATERIAL_COUNT))
        shape = rng.choice(["box", "table", "sphere", "pillar"], p=[0.4, 0.2, 0.2, 0.2])
        if shape == "box":
            half = rng.uniform([0.2, 0.2, 0.2], [0.45, 0.9, 0.45])
            boxes.append(((x, half[1], z), tuple(half), rng.uniform(0, np.pi / 2), material))
        elif shape == "table":  # a slab on four legs
            half = rng.uniform([0.3, 0.03, 0.3], [0.45, 0.05, 0.45])
            top_y = rng.uniform(0.7, 0.9)
            yaw = rng.uniform(0, np.pi / 2)
            boxes.append(((x, top_y - half[1], z), tuple(half), yaw, material))
            leg = 0.04
            c, s = np.cos(yaw), np.sin(yaw)
            for lx, lz in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                px, pz = lx * (half[0] - leg), lz * (half[2] - leg)
                wx, wz = x + c * px + s * pz, z - s * px + c * pz  # Ry(yaw) applied to (px, pz)
                leg_h = (top_y - 2 * half[1]) / 2
                boxes.append(((wx, leg_h, wz), (leg, leg_h, leg), yaw, material))
        elif shape == "sphere":
            radius = rng.uniform(0.2, 0.45)
            spheres.append(((x, radius, z), radius, material))
        else:
            radius = rng.uniform(0.12, 0.3)
            top = layout.height if layout.has_ceiling else rng.uniform(1.5, 3.5)
            cylinders.append(((x, z), (0.0, top), radius, material))
    return boxes, spheres, cylinders


# ---------------------------------------------------------------- assembly


def generate_layout(seed: int, kind: str | None = None) -> SceneLayout:
    """The procedural scene for `seed`; `kind` (one of SCENE_KINDS) defaults to a seeded choice."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"scene seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    chosen = SCENE_KINDS[int(rng.integers(0, len(SCENE_KINDS)))]
    kind = chosen if kind is None else kind
    if kind not in _PLANS:
        raise ValueError(f"unknown scene kind {kind!r}; expected one of {SCENE_KINDS}")
    plan = _PLANS[kind](rng)
    rows, cols = plan.shape
    outdoor = kind == "courtyard"
    layout = SceneLayout(
        seed=int(seed), kind=kind, height=4.0 if outdoor else float(rng.uniform(2.6, 3.4)),
        has_ceiling=not outdoor, walkable=plan, origin=(-cols * CELL / 2, -rows * CELL / 2),
    )
    wall_mat = int(rng.choice(WALL_MATERIALS))
    floor_mat = int(rng.choice(FLOOR_MATERIALS))
    span = (cols * CELL / 2 + 1, rows * CELL / 2 + 1)
    boxes = [((0.0, -0.1, 0.0), (span[0], 0.1, span[1]), 0.0, floor_mat)]
    if layout.has_ceiling:
        ceil_mat = int(rng.choice(WALL_MATERIALS))
        boxes.append(((0.0, layout.height + 0.1, 0.0), (span[0], 0.1, span[1]), 0.0, ceil_mat))
    boxes += _add_walls(layout, wall_mat)
    more_boxes, spheres, cylinders = _furniture(layout, rng)
    boxes += more_boxes
    layout.box_centre = np.array([b[0] for b in boxes], dtype=np.float64).reshape(-1, 3)
    layout.box_half = np.array([b[1] for b in boxes], dtype=np.float64).reshape(-1, 3)
    layout.box_yaw = np.array([b[2] for b in boxes], dtype=np.float64)
    layout.box_material = np.array([b[3] for b in boxes], dtype=np.int64)
    layout.sphere_centre = np.array([s[0] for s in spheres], dtype=np.float64).reshape(-1, 3)
    layout.sphere_radius = np.array([s[1] for s in spheres], dtype=np.float64)
    layout.sphere_material = np.array([s[2] for s in spheres], dtype=np.int64)
    layout.cyl_xz = np.array([c[0] for c in cylinders], dtype=np.float64).reshape(-1, 2)
    layout.cyl_y = np.array([c[1] for c in cylinders], dtype=np.float64).reshape(-1, 2)
    layout.cyl_radius = np.array([c[2] for c in cylinders], dtype=np.float64)
    layout.cyl_material = np.array([c[3] for c in cylinders], dtype=np.int64)
    return layout
