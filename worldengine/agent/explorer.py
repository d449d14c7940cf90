"""An exploration policy that walks long routes with loop closures.

Routes visit waypoints and come back: out and back (A -> B -> A) or a loop
(A -> B -> C -> A), so recorded trajectories revisit places, which is what the memory
is trained and measured on. Paths are planned on the scene's free grid (A*, with a cost
that keeps the body away from walls) and followed with discrete actions. A move blocked
three times in a row marks the cell ahead as taken (the world the agent walks in may hold
an obstacle the grid does not: a generated world blocks moves against its own memory),
and routes are planned around it.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import torch
from scipy import ndimage

from worldengine.agent.actions import DiscreteAction, MotionConfig
from worldengine.geometry.pose import yaw_pitch_position
from worldengine.scenes.freespace import FreeGrid

ROUTES = ("out_and_back", "loop")
MIN_EXCURSION = 3.0  # metres from a route's start to each of its waypoints, where possible
_NEIGHBOURS = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]


def plan_path(grid: FreeGrid, start: tuple[int, int], goal: tuple[int, int],
              free: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Cheapest 8-connected path of free cells (the grid's, or `free` in its place) from start
    to goal (inclusive), A*.

    Each step costs its length times (1 + 8 / clearance^2, clearance in cells), which
    keeps paths off the cells next to obstacles unless there is no other way: collision
    checks treat the body's front as square, so a path one cell from a wall, walked a
    few degrees off its heading, gets blocked. Diagonal steps must not cut a corner.
    """
    free = grid.free if free is None else free
    clearance = ndimage.distance_transform_edt(free)
    rows, cols = free.shape
    frontier = [(0.0, 0.0, start)]
    came_from = {start: None}
    cost_so_far = {start: 0.0}
    while frontier:
        _, cost, cell = heapq.heappop(frontier)
        if cell == goal:
            break
        if cost > cost_so_far[cell]:
            continue
        for di, dj in _NEIGHBOURS:
            i, j = cell[0] + di, cell[1] + dj
            if not (0 <= i < rows and 0 <= j < cols and free[i, j]):
                continue
            if di and dj and not (free[cell[0] + di, cell[1]] and free[cell[0], cell[1] + dj]):
                continue
            new_cost = cost + math.hypot(di, dj) * (1 + 8 / clearance[i, j] ** 2)
            if new_cost < cost_so_far.get((i, j), math.inf):
                cost_so_far[(i, j)] = new_cost
                came_from[(i, j)] = cell
                heapq.heappush(frontier, (new_cost + math.hypot(goal[0] - i, goal[1] - j), new_cost, (i, j)))
    if goal not in came_from:
        raise ValueError(f"no path from cell {start} to {goal}")
    path, cell = [], goal
    while cell is not None:
        path.append(cell)
        cell = came_from[cell]
    return path[::-1]


class LoopExplorer:
    """Discrete-action policy: walks routes of waypoints that return to where they began.

    Between routes it turns a full circle in place with probability `look_around_prob`.
    Call `act(pose)` with the current body pose each step. `route_log` records each
    route's kind and waypoints (world x, z) so revisits can be found afterwards;
    `route_kinds` limits the routes it picks.
    """

    def __init__(self, grid: FreeGrid, rng: np.random.Generator, motion: MotionConfig | None = None,
                 look_around_prob: float = 0.2, route_kinds: tuple[str, ...] = ROUTES):
        if not route_kinds or any(kind not in ROUTES for kind in route_kinds):
            raise ValueError(f"route_kinds must be a non-empty subset of {ROUTES}, got {route_kinds!r}")
        self.grid, self.rng, self.route_kinds = grid, rng, tuple(route_kinds)
        self.motion = motion or MotionConfig()
        self.look_around_prob = look_around_prob
        self._free = grid.free.copy()  # the grid's free cells less those found blocked
        self._cells = np.argwhere(self._free)
        self._ahead: tuple[int, int] | None = None  # the cell the last forward move was heading into
        self._targets: list[tuple[int, int]] = []  # remaining path cells
        self._spin = 0  # remaining turn-in-place steps of a look-around
        self._stuck = 0  # consecutive blocked moves
        self._last_action: int | None = None
        self._last_blocked = False
        self.route_log: list[dict] = []
        self.taken: list[tuple[int, int]] = []  # cells found blocked, in order; routes avoid them

    def _new_route(self, here: tuple[int, int]) -> None:
        kind = self.route_kinds[int(self.rng.integers(0, len(self.route_kinds)))]
        stops = 1 if kind == "out_and_back" else 2
        # Waypoints at least MIN_EXCURSION away, where the scene has such cells, so every
        # route really leaves the place it will come back to.
        reachable = self._reachable_cells(here)
        distance = np.hypot(*(reachable - np.array(here)).T) * self.grid.resolution
        far = reachable[distance >= MIN_EXCURSION]
        pool = far if len(far) >= stops else reachable
        picks = pool[self.rng.choice(len(pool), size=stops, replace=len(pool) < stops)]
        waypoints = [here] + [tuple(int(v) for v in c) for c in picks] + [here]
        path = [here]
        for a, b in zip(waypoints[:-1], waypoints[1:]):
            path += plan_path(self.grid, a, b, self._free)[1:]
        self._targets = path[1:]
        self.route_log.append({"kind": kind, "waypoints": [self.grid.centre(*w).tolist() for w in waypoints]})

    def _reachable_cells(self, here: tuple[int, int]) -> np.ndarray:
        """The free cells (K, 2) joined to `here` through edge-adjacent free cells (a path
        between them never has to cut a corner), `here` included."""
        labels, _ = ndimage.label(self._free)  # 4-connected
        return np.argwhere(labels == labels[here])

    def _nearest_free_cell(self, x: float, z: float) -> tuple[int, int]:
        centres = self.grid.centre(self._cells[:, 0], self._cells[:, 1])
        k = int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - z)))
        return tuple(int(v) for v in self._cells[k])

    def act(self, pose: torch.Tensor) -> int:
        """The next discrete action for the body at `pose` (4, 4)."""
        if self._last_action == DiscreteAction.FORWARD and not self._last_blocked:
            self._stuck = 0  # the last move went through: only consecutive blocks count
        self._last_blocked = False
        self._last_action = self._next_action(pose)
        return self._last_action

    def _next_action(self, pose: torch.Tensor) -> int:
        yaw, pitch, (x, _, z) = yaw_pitch_position(pose)
        if abs(pitch) > 1e-3:  # keep the horizon level; look actions are for agents
            return int(DiscreteAction.LOOK_DOWN if pitch > 0 else DiscreteAction.LOOK_UP)
        if self._spin > 0:
            self._spin -= 1
            return int(DiscreteAction.TURN_LEFT)
        while self._targets:
            tx, tz = self.grid.centre(*self._targets[0])
            if math.hypot(tx - x, tz - z) > self.motion.move_step * 0.75:
                break
            self._targets.pop(0)
        if not self._targets:
            if self.rng.random() < self.look_around_prob:  # a full turn in place between routes
                self._spin = int(round(2 * math.pi / self.motion.turn_step_rad)) - 1
                return int(DiscreteAction.TURN_LEFT)
            self._new_route(self._nearest_free_cell(x, z))
            if not self._targets:
                return int(DiscreteAction.TURN_LEFT)
        tx, tz = self.grid.centre(*self._targets[0])
        heading = math.atan2(-(tx - x), -(tz - z))  # yaw that faces the target (forward is -z)
        error = math.atan2(math.sin(heading - yaw), math.cos(heading - yaw))
        if abs(error) > self.motion.turn_step_rad / 2:
            return int(DiscreteAction.TURN_LEFT if error > 0 else DiscreteAction.TURN_RIGHT)
        step = self.motion.move_step
        self._ahead = self.grid.cell_of(x - step * math.sin(yaw), z - step * math.cos(yaw))
        return int(DiscreteAction.FORWARD)

    def blocked(self) -> None:
        """Tell the policy its last move was blocked: after three in a row, the cell ahead is
        taken and it replans from here, around that cell."""
        self._last_blocked = True
        self._stuck += 1
        if self._stuck >= 3:
            self._stuck = 0
            self._targets = []
            self._mark_taken(self._ahead)

    def _mark_taken(self, cell: tuple[int, int] | None) -> None:
        """Plan around `cell` from now on (unless it is off the grid, taken already, or the
        last free cell)."""
        rows, cols = self._free.shape
        on_grid = cell is not None and 0 <= cell[0] < rows and 0 <= cell[1] < cols
        if not on_grid or not self._free[cell] or len(self._cells) <= 1:
            return
        self._free[cell] = False
        self._cells = np.argwhere(self._free)
        self.taken.append(cell)
