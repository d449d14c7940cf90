"""Collisions against the memory's own tokens: known distances, and the kinematics on top."""

import math

import torch

from memory import LatentMemory, LatentPoints
from worldengine.agent.actions import Motion, MotionConfig
from worldengine.agent.kinematics import step_pose
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.world.collision import MemoryCollider


def wall_memory(tmp_path, z: float = -2.0, spacing: float = 0.1) -> LatentMemory:
    """A memory holding a wall of tokens in the plane z = `z` (x, y in [-3, 3])."""
    grid = torch.arange(-3, 3 + 1e-6, spacing)
    x, y = torch.meshgrid(grid, grid, indexing="ij")
    positions = torch.stack([x.flatten(), y.flatten(), torch.full_like(x.flatten(), z)], dim=1)
    n = len(positions)
    memory = LatentMemory.create(str(tmp_path / "wall.zarr"), channels=2)
    memory.write(LatentPoints(positions, torch.zeros(n, 2), torch.zeros(n, 3, dtype=torch.uint8),
                              torch.zeros(n, dtype=torch.int64)), 0, torch.eye(4), 0.0)
    return memory


def test_ray_distance_known_answers(tmp_path):
    collider = MemoryCollider(wall_memory(tmp_path, z=-1.0), reach=1.5, floor_band=0.0)
    origins = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.5, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    directions = torch.tensor([[0, 0, -1.0], [0, 0, 1.0], [0, 0, -1.0], [1.0, 0, 0]], dtype=torch.float64)
    distance = collider.ray_distance(origins, directions)
    assert abs(float(distance[0]) - 1.0) < 0.02 and abs(float(distance[2]) - 1.0) < 0.02  # straight into the wall
    assert math.isinf(distance[1]) and math.isinf(distance[3])  # away from it, and along it


def test_rays_beyond_reach_and_empty_memory_hit_nothing(tmp_path):
    far = MemoryCollider(wall_memory(tmp_path, z=-4.0), reach=1.5)
    ray = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), torch.tensor([[0, 0, -1.0]], dtype=torch.float64)
    assert math.isinf(far.ray_distance(*ray)[0])
    empty = MemoryCollider(LatentMemory.create(str(tmp_path / "empty.zarr"), channels=2))
    assert math.isinf(empty.ray_distance(*ray)[0])


def test_the_agent_cannot_walk_through_a_remembered_wall(tmp_path):
    config = MotionConfig()
    collider = MemoryCollider(wall_memory(tmp_path, z=-2.0))
    pose = pose_from_yaw_pitch(torch.tensor([0.0, config.eye_height, 0.0]), 0.0, 0.0)  # facing -z, the wall
    blocked = []
    for _ in range(20):
        pose, hit = step_pose(pose, Motion(forward_m=config.move_step), config, collider.ray_distance)
        blocked.append(hit)
    assert any(blocked)
    assert -2.0 + config.agent_radius - 1e-6 <= float(pose[2, 3]) < -2.0 + config.agent_radius + config.move_step


def test_tokens_below_the_lowest_ray_are_walked_over(tmp_path):
    """Floor tokens a generated depth lifted (here 0.45 m: under the 0.2 m clearance + 0.3 m band) never block."""
    config = MotionConfig()
    grid = torch.arange(-3, 3 + 1e-6, 0.1)
    x, z = torch.meshgrid(grid, grid, indexing="ij")
    floor = torch.stack([x.flatten(), torch.full_like(x.flatten(), 0.45), z.flatten()], dim=1)
    n = len(floor)
    memory = LatentMemory.create(str(tmp_path / "floor.zarr"), channels=2)
    memory.write(LatentPoints(floor, torch.zeros(n, 2), torch.zeros(n, 3, dtype=torch.uint8),
                              torch.zeros(n, dtype=torch.int64)), 0, torch.eye(4), 0.0)
    pose = pose_from_yaw_pitch(torch.tensor([0.0, config.eye_height, 0.0]), 0.0, 0.0)
    pose, blocked = step_pose(pose, Motion(forward_m=config.move_step), config, MemoryCollider(memory).ray_distance)
    assert not blocked and abs(float(pose[2, 3]) + config.move_step) < 1e-6


def test_a_repeated_fan_is_answered_again_until_the_memory_is_written(tmp_path, monkeypatch):
    memory = wall_memory(tmp_path, z=-1.0)
    collider = MemoryCollider(memory, reach=1.5, floor_band=0.0)
    origins = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    directions = torch.tensor([[0, 0, -1.0], [1.0, 0, 0]], dtype=torch.float64)
    first = collider.ray_distance(origins, directions)
    casts = []
    monkeypatch.setattr(collider, "_cast", lambda o, d: casts.append(1) or MemoryCollider._cast(collider, o, d))
    again = collider.ray_distance(origins.clone(), directions.clone())
    assert torch.equal(again, first) and casts == []  # the same rays, the same memory: not cast again
    again[0] = 0.0
    assert torch.equal(collider.ray_distance(origins, directions), first)  # the caller's copy, not the kept one
    n = 61
    side_wall = torch.stack([torch.full((n,), 0.5), torch.full((n,), 1.0), torch.linspace(-3, 3, n)], dim=1)
    memory.write(LatentPoints(side_wall, torch.zeros(n, 2), torch.zeros(n, 3, dtype=torch.uint8),
                              torch.zeros(n, dtype=torch.int64)), 1, torch.eye(4), 1.0)
    written = collider.ray_distance(origins, directions)
    assert casts == [1] and abs(float(written[1]) - 0.5) < 0.02  # written since: cast, and the new wall is hit
    collider.ray_distance(origins, directions * -1)
    assert casts == [1, 1]  # other rays are cast
