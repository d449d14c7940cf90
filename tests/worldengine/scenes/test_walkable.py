"""Walkable space of meshes: floors under the feet, terraces and ramps, floors above floors,
open surroundings, and one clearance rule for moves, free-space tests and resets."""

import numpy as np
import pytest
import torch
import trimesh

from worldengine.agent.actions import DiscreteAction, MotionConfig, decode_action
from worldengine.agent.ground import scene_settle
from worldengine.agent.kinematics import step_pose
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import MeshScene
from worldengine.scenes.sample_mesh import PILLAR, PLAZA_HALF, TERRACE, write_sample_scene
from worldengine.scenes.scene import DEFAULT_STEP_HEIGHT

MOTION = MotionConfig()
FORWARD = decode_action(int(DiscreteAction.FORWARD), "discrete", MOTION)


@pytest.fixture(scope="module")
def plaza(tmp_path_factory):
    return MeshScene(write_sample_scene(tmp_path_factory.mktemp("plaza"), up="z", ground_cells=4), up="z")


def _walk(scene, position, yaw, steps):
    pose = pose_from_yaw_pitch(torch.tensor(position, dtype=torch.float32), yaw, 0.0)
    poses, blocked = [], []
    for _ in range(steps):
        pose, hit = step_pose(pose, FORWARD, MOTION, scene.ray_distance, scene_settle(scene, MOTION))
        poses.append(pose[:3, 3].numpy().astype(np.float64))
        blocked.append(hit)
    return np.array(poses), blocked


def test_step_height_is_the_bodys_floor_clearance():
    assert DEFAULT_STEP_HEIGHT == MotionConfig().floor_clearance


def test_walks_up_the_ramp_onto_the_terrace_and_stops_at_its_edge(plaza):
    (_, _), height, (_, tz1) = TERRACE
    path, blocked = _walk(plaza, [3.0, 1.5, -3.0], np.pi, 40)  # facing +z, up the ramp
    assert path[0, 1] == pytest.approx(1.5) and path[-1, 1] == pytest.approx(1.5 + height, abs=1e-5)
    assert np.all(np.diff(path[:, 1]) >= -1e-6)  # only ever up
    assert path[-1, 2] < tz1 and blocked[-1]  # the 0.6 m drop beyond the terrace is no floor
    assert plaza.is_free(path).all()


def test_the_terrace_edge_is_no_way_down(plaza):
    path, blocked = _walk(plaza, [3.0, 2.1, 3.0], -np.pi / 2, 12)  # facing +x, towards the 0.6 m drop
    assert path[:, 0].max() < TERRACE[0][1] and blocked[-1]
    assert np.allclose(path[:, 1], 2.1, atol=1e-5)


def test_a_curved_wall_keeps_the_radius_and_the_pose_stays_free(plaza):
    (px, pz), radius, _ = PILLAR
    path, blocked = _walk(plaza, [px, 1.5, pz - 2.0], np.pi, 12)  # straight at the pillar
    gap = np.hypot(path[:, 0] - px, path[:, 2] - pz) - radius
    assert blocked[-1] and gap.min() >= MOTION.agent_radius
    assert plaza.is_free(path).all()
    for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):  # grazing it from every side
        start = np.array([px + 1.2 * np.cos(angle), pz + 1.2 * np.sin(angle)])
        aim = np.array([px, pz]) + 0.45 * np.array([-np.sin(angle), np.cos(angle)])  # passes 0.45 m off its axis
        dx, dz = aim - start
        path, _ = _walk(plaza, [start[0], 1.5, start[1]], float(np.arctan2(-dx, -dz)), 8)
        gap = np.hypot(path[:, 0] - px, path[:, 2] - pz) - radius
        assert gap.min() >= MOTION.agent_radius and plaza.is_free(path).all()


def test_open_surroundings_with_no_floor_are_not_walkable(plaza):
    off_plaza = np.array([[9.0, 1.5, 0.0], [8.0, 1.5, 0.0], [0.0, 1.5, -8.0], [PLAZA_HALF + 0.5, 1.5, 0.0]])
    assert not plaza.is_free(off_plaza).any()
    grid = plaza.grid
    i, j = np.nonzero(grid.free)
    centres = grid.centre(i, j)
    assert np.abs(centres).max() < PLAZA_HALF  # the largest region is the floored plaza
    floors = grid.floor[i, j]
    assert np.isclose(floors, 0.0, atol=1e-5).any() and np.isclose(floors, TERRACE[1], atol=1e-5).any()


def test_start_positions_stand_on_a_floor(plaza):
    for seed in range(20):
        position = plaza.sample_free_position(np.random.default_rng(seed))
        floor = plaza.walkable.floor_under(position[None] - [0, 1.5, 0], DEFAULT_STEP_HEIGHT)[0]
        assert position[1] == pytest.approx(floor + 1.5, abs=1e-5)
        assert plaza.is_free(position[None])[0]


def test_a_floor_above_a_floor(tmp_path):
    """A ground with a mezzanine 3 m up: both levels are floors with room; the grid keeps the lower."""
    ground = trimesh.creation.box(extents=(10.0, 0.2, 10.0))
    ground.apply_translation((0, -0.1, 0))
    deck = trimesh.creation.box(extents=(4.0, 0.2, 4.0))
    deck.apply_translation((2.0, 2.9, 2.0))
    path = tmp_path / "mezzanine.glb"
    trimesh.util.concatenate([ground, deck]).export(path)
    scene = MeshScene(path)
    heights = scene.walkable.floors_peeled(np.array([[2.0, 2.0], [-3.0, -3.0]]), 10.0)
    np.testing.assert_allclose(np.sort(heights[0][np.isfinite(heights[0])]), [0.0, 3.0], atol=1e-4)
    np.testing.assert_allclose(heights[1][np.isfinite(heights[1])], [0.0], atol=1e-4)
    assert scene.is_free(np.array([[2.0, 1.5, 2.0], [2.0, 4.5, 2.0], [2.0, 2.5, 2.0]])).tolist() == [True, True, False]
    i, j = scene.grid.cell_of(2.0, 2.0)
    assert scene.grid.free[i, j] and scene.grid.floor[i, j] == pytest.approx(0.0, abs=1e-4)


def test_no_room_under_a_low_ceiling(tmp_path):
    ground = trimesh.creation.box(extents=(6.0, 0.2, 6.0))
    ground.apply_translation((0, -0.1, 0))
    shelf = trimesh.creation.box(extents=(2.0, 0.1, 2.0))  # 1.2 m up: the body does not fit under it
    shelf.apply_translation((0, 1.2, 0))
    path = tmp_path / "shelf.ply"
    trimesh.util.concatenate([ground, shelf]).export(path)
    scene = MeshScene(path)
    assert scene.is_free(np.array([[0.0, 1.5, 0.0], [2.5, 1.5, 2.5]])).tolist() == [False, True]


def test_a_reached_pose_is_an_accepted_pose(plaza):
    """200 seeded random steps: every pose the moves reach passes is_free."""
    rng = np.random.default_rng(0)
    pose = pose_from_yaw_pitch(torch.tensor(plaza.sample_free_position(rng), dtype=torch.float32), 0.0, 0.0)
    for action in rng.choice([1, 1, 1, 2, 3, 4, 5, 6], size=200):
        motion = decode_action(int(action), "discrete", MOTION)
        pose, _ = step_pose(pose, motion, MOTION, plaza.ray_distance, scene_settle(plaza, MOTION))
        assert plaza.is_free(pose[None, :3, 3].numpy())[0], pose[:3, 3]
