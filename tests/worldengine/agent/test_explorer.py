import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.sparse import lil_matrix
from scipy.sparse.csgraph import dijkstra

from worldengine.agent.actions import DiscreteAction, MotionConfig, decode_action
from worldengine.agent.explorer import ROUTES, LoopExplorer, plan_path
from worldengine.agent.kinematics import step_pose
from worldengine.data.record import walk
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import ProceduralScene
from worldengine.scenes.freespace import FreeGrid

# ---------------------------------------------------------------------------
# plan_path on hand-made grids
# ---------------------------------------------------------------------------


def _wall_grid() -> FreeGrid:
    """9 x 9 free cells, a wall down column 4 with a one-cell gap at row 6."""
    free = np.ones((9, 9), dtype=bool)
    free[:, 4] = False
    free[6, 4] = True
    return FreeGrid(free, (0.0, 0.0), 0.25)


def _assert_valid_path(grid: FreeGrid, path, start, goal):
    assert path[0] == start and path[-1] == goal
    for a, b in zip(path[:-1], path[1:]):
        di, dj = b[0] - a[0], b[1] - a[1]
        assert max(abs(di), abs(dj)) == 1, f"{a} -> {b} is not an 8-neighbour step"
        assert grid.free[b]
        if di and dj:  # a diagonal step must not cut a blocked corner
            assert grid.free[a[0] + di, a[1]] and grid.free[a[0], a[1] + dj], f"{a} -> {b} cuts a corner"
    assert len(set(path)) == len(path)


def _dijkstra_cost(grid: FreeGrid, start, goal) -> float:
    """Independent optimum of plan_path's documented cost: step length x (1 + 8 / clearance^2)."""
    free = grid.free
    clearance = ndimage.distance_transform_edt(free)
    rows, cols = free.shape
    graph = lil_matrix((rows * cols, rows * cols))
    for i in range(rows):
        for j in range(cols):
            if not free[i, j]:
                continue
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    a, b = i + di, j + dj
                    if (di, dj) == (0, 0) or not (0 <= a < rows and 0 <= b < cols) or not free[a, b]:
                        continue
                    if di and dj and not (free[i + di, j] and free[i, j + dj]):
                        continue
                    graph[i * cols + j, a * cols + b] = math.hypot(di, dj) * (1 + 8 / clearance[a, b] ** 2)
    return float(dijkstra(graph.tocsr(), indices=start[0] * cols + start[1])[goal[0] * cols + goal[1]])


def _path_cost(grid: FreeGrid, path) -> float:
    clearance = ndimage.distance_transform_edt(grid.free)
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) * (1 + 8 / clearance[b] ** 2) for a, b in zip(path[:-1], path[1:]))


def test_path_goes_through_the_gap():
    grid = _wall_grid()
    start, goal = (1, 1), (1, 7)
    path = plan_path(grid, start, goal)
    _assert_valid_path(grid, path, start, goal)
    assert (6, 4) in path  # the only way across the wall
    assert all(c[1] != 4 or c == (6, 4) for c in path)
    assert _path_cost(grid, path) == pytest.approx(_dijkstra_cost(grid, start, goal), rel=1e-9)


def test_path_is_optimal_on_an_irregular_grid():
    rng = np.random.default_rng(0)
    free = rng.random((14, 17)) > 0.3
    labels, _ = ndimage.label(free)  # 4-connected, like FreeGrid's own regions
    big = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    grid = FreeGrid(big, (-1.0, 2.0), 0.25)
    cells = [tuple(int(v) for v in c) for c in np.argwhere(big)]
    for k in range(5):
        start, goal = cells[rng.integers(len(cells))], cells[rng.integers(len(cells))]
        path = plan_path(grid, start, goal)
        _assert_valid_path(grid, path, start, goal)
        assert _path_cost(grid, path) == pytest.approx(_dijkstra_cost(grid, start, goal), rel=1e-9)


def test_start_equals_goal():
    assert plan_path(_wall_grid(), (3, 3), (3, 3)) == [(3, 3)]


def test_unreachable_goal_raises():
    grid = _wall_grid()
    grid.free[6, 4] = False  # close the gap
    with pytest.raises(ValueError, match="no path"):
        plan_path(grid, (1, 1), (1, 7))


def test_no_squeezing_through_a_diagonal_corner():
    # Two free regions that touch only at a corner: a diagonal step there would cut
    # through two blocked cells, so there is no path.
    free = np.zeros((4, 4), dtype=bool)
    free[:2, :2] = True
    free[2:, 2:] = True
    with pytest.raises(ValueError, match="no path"):
        plan_path(FreeGrid(free, (0.0, 0.0), 0.25), (0, 0), (3, 3))


# ---------------------------------------------------------------------------
# LoopExplorer on a synthetic open floor (no rendering)
# ---------------------------------------------------------------------------


def _open_grid() -> FreeGrid:
    free = np.zeros((40, 40), dtype=bool)
    free[1:-1, 1:-1] = True
    return FreeGrid(free, (0.0, 0.0), 0.25)


def _drive(explorer: LoopExplorer, pose: torch.Tensor, block, steps: int):
    """Run the policy on an empty floor; `block(k)` says whether the k-th forward move is blocked."""
    motion = MotionConfig()
    forwards = 0
    for _ in range(steps):
        action = explorer.act(pose)
        if action == DiscreteAction.FORWARD:
            forwards += 1
            if block(forwards):
                explorer.blocked()
                continue
        pose, _ = step_pose(pose, decode_action(action, "discrete", motion), motion,
                            lambda o, d: torch.full((len(o),), math.inf))
    return pose, forwards


def _explorer(seed=3):
    explorer = LoopExplorer(_open_grid(), np.random.default_rng(seed), look_around_prob=0.0)
    pose = pose_from_yaw_pitch(torch.tensor([5.125, 1.5, 5.125]), 0.0, 0.0)
    return explorer, pose


def test_three_blocked_moves_in_a_row_abandon_the_route():
    explorer, pose = _explorer()
    _, forwards = _drive(explorer, pose, lambda k: k > 2, steps=60)
    assert forwards >= 5
    assert len(explorer.route_log) >= 2  # gave up after the 3rd block in a row and started anew


def test_a_cell_blocked_three_times_is_taken_and_routes_go_around_it():
    # The world holds an obstacle the grid does not: the first three forward moves are blocked.
    explorer, pose = _explorer()
    pose, forwards = _drive(explorer, pose, lambda k: k <= 3, steps=1)
    assert forwards == 0 and explorer.route_log  # the first step turns towards the route
    while forwards < 3:
        pose, moved = _drive(explorer, pose, lambda k: True, steps=1)
        forwards += moved
    (cell,) = explorer.taken
    ahead = pose[:3, 3] - 0.25 * pose[:3, 2]  # one move along the body's forward, -z
    assert cell == explorer.grid.cell_of(float(ahead[0]), float(ahead[2]))
    _drive(explorer, pose, lambda k: False, steps=1)  # replans from here
    assert len(explorer.route_log) == 2 and cell not in explorer._targets


def test_plan_path_goes_around_cells_taken_from_the_grid():
    grid = _open_grid()
    straight = plan_path(grid, (20, 5), (20, 30))
    free = grid.free.copy()
    free[15:26, 17] = False  # a wall the grid does not know of, across the straight line
    around = plan_path(grid, (20, 5), (20, 30), free)
    def metres(path):
        return sum(math.hypot(a[0] - b[0], a[1] - b[1]) for a, b in zip(path, path[1:])) * grid.resolution

    assert (20, 17) in straight and all(free[c] for c in around) and metres(around) > metres(straight) + 1


def test_blocks_off_the_grid_or_on_the_last_cell_take_nothing():
    free = np.zeros((4, 4), dtype=bool)
    free[1, 1] = True
    explorer = LoopExplorer(FreeGrid(free, (0.0, 0.0), 0.25), np.random.default_rng(0))
    for cell in [(-1, 0), (9, 9), (1, 1)]:
        explorer._mark_taken(cell)
    assert explorer.taken == [] and explorer._free[1, 1]


def test_scattered_blocked_moves_do_not_abandon_the_route():
    # Every other forward move is blocked: never three in a row, so the route goes on.
    explorer, pose = _explorer()
    pose, _ = _drive(explorer, pose, lambda k: False, steps=1)  # plans the first route
    waypoints = np.array(explorer.route_log[0]["waypoints"])
    assert np.linalg.norm(np.diff(waypoints, axis=0), axis=1).max() > 3.0  # a long route
    _, forwards = _drive(explorer, pose, lambda k: k % 2 == 1, steps=40)
    assert forwards >= 8  # so at least 4 blocks
    assert len(explorer.route_log) == 1


def test_look_around_spins_a_full_turn_in_place():
    explorer = LoopExplorer(_open_grid(), np.random.default_rng(0), look_around_prob=1.0)  # always
    pose = pose_from_yaw_pitch(torch.tensor([5.125, 1.5, 5.125]), 0.0, 0.0)
    actions = [explorer.act(pose) for _ in range(24)]
    assert actions == [DiscreteAction.TURN_LEFT] * 24  # 360 / 15 degrees
    assert explorer.route_log == []


def test_a_pitched_body_is_levelled_first():
    explorer, _ = _explorer()
    assert explorer.act(pose_from_yaw_pitch(torch.tensor([5.125, 1.5, 5.125]), 0.0, 0.3)) == DiscreteAction.LOOK_DOWN
    assert explorer.act(pose_from_yaw_pitch(torch.tensor([5.125, 1.5, 5.125]), 0.0, -0.3)) == DiscreteAction.LOOK_UP


# ---------------------------------------------------------------------------
# LoopExplorer in a real scene, walked with the ground-truth renderer
# ---------------------------------------------------------------------------

SEED, STEPS, SIZE = 10, 250, 8


@pytest.fixture(scope="module")
def rollout():
    scene = ProceduralScene(SEED)
    return walk(scene, STEPS, SIZE, SEED, lambda frame: None)


def _visit_times(positions_xz: np.ndarray, waypoints: np.ndarray, radius: float) -> list[int]:
    """First times the walk comes within `radius` of each waypoint in turn (after the previous one)."""
    times, t = [], 0
    for w in waypoints:
        near = np.nonzero(np.hypot(*(positions_xz[t:] - w).T) < radius)[0]
        assert len(near), f"the walk never reaches waypoint {w.tolist()} after step {t}"
        t += int(near[0])
        times.append(t)
    return times


def test_first_route_closes_its_loop(rollout):
    routes = rollout.routes
    assert len(routes) >= 2, "the first route did not finish within the walk"
    first = routes[0]
    assert first["kind"] in ROUTES
    waypoints = np.array(first["waypoints"])
    assert len(waypoints) == (3 if first["kind"] == "out_and_back" else 4)
    np.testing.assert_array_equal(waypoints[0], waypoints[-1])
    positions = np.array([pose[[0, 2], 3] for pose in rollout.poses])  # (T, 2) world x, z
    start = waypoints[0]
    assert np.hypot(*(positions[0] - start)) < 0.2  # the walk starts on the route's first cell
    # It walks out to every waypoint in order, far from the start, and comes back to it.
    times = _visit_times(positions, waypoints, radius=0.75)
    assert np.hypot(*(positions[times[0]:times[-1]] - start).T).max() > 3.0
    assert times[-1] > times[-2] > times[0]
    # The next route begins where this one ended: at the start again (within a cell).
    assert np.hypot(*(np.array(routes[1]["waypoints"][0]) - start)) <= 0.25 * math.sqrt(2) + 1e-6


def test_walk_stays_in_free_space_and_level(rollout):
    poses = np.array(rollout.poses)
    assert poses.shape == (STEPS + 1, 4, 4)
    assert rollout.scene.is_free(poses[:, :3, 3]).all()
    np.testing.assert_allclose(poses[:, 1, 3], poses[0, 1, 3], atol=1e-5)  # keeps its height
    np.testing.assert_allclose(poses[:, 1, :3], np.tile([0.0, 1.0, 0.0], (STEPS + 1, 1)), atol=1e-5)  # no pitch
    actions = np.array(rollout.actions)
    assert actions[0] == -1
    assert set(actions[1:].tolist()) <= {DiscreteAction.FORWARD, DiscreteAction.TURN_LEFT, DiscreteAction.TURN_RIGHT}
    moved = np.linalg.norm(np.diff(poses[:, [0, 2], 3], axis=0), axis=1).sum()
    assert moved > 0.25 * 0.5 * STEPS * 0.5  # mostly walking, not stuck


def test_same_seed_same_actions(rollout):
    again = walk(ProceduralScene(SEED), 120, SIZE, SEED, lambda frame: None)
    assert again.actions == rollout.actions[:121]
    np.testing.assert_array_equal(np.array(again.poses), np.array(rollout.poses[:121]))
    other = walk(ProceduralScene(SEED), 120, SIZE, SEED + 1, lambda frame: None)
    assert other.actions != again.actions


@pytest.mark.parametrize("seed", [11, 21])  # 21: once jammed in a one-cell passage; 11: grazed a table
def test_walks_neither_jam_nor_graze(seed):
    scene = ProceduralScene(seed)
    walked = walk(scene, 150, 8, seed, lambda frame: None)
    positions = np.array([pose[:3, 3] for pose in walked.poses])
    assert walked.blocked <= 5
    assert np.linalg.norm(np.diff(positions, axis=0), axis=1).sum() > 10.0
    assert scene.is_free(positions).all()
