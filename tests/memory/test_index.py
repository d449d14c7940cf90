import math

import pytest
import torch

from memory.index import frames_by_overlap, nearest_frames, tokens_near
from memory.store import LatentMemory
from tests.memory.conftest import random_points
from worldengine.geometry.pose import pose_from_yaw_pitch


@pytest.fixture
def memory(tmp_path):
    memory = LatentMemory.create(str(tmp_path / "m"), channels=4, voxel_size=0.1, background=False)
    for k in range(6):  # 6 frames of 3000 points over a 40 m wide area, with delta and main runs
        points = random_points(3000, seed=k, frame=k, spread=40.0)
        points.positions -= 20.0
        memory.write(points, k, pose_from_yaw_pitch(torch.tensor([float(k), 0.0, 0.0]), 0.3 * k, 0.0), float(k))
    return memory


@pytest.mark.parametrize("radius", [0.3, 2.0, 7.5])
def test_tokens_near_equals_brute_force(memory, radius):
    centre = torch.tensor([1.0, -2.0, 3.0])
    rows = tokens_near(memory, centre, radius)
    positions = memory.tokens()["position"]
    expected = torch.nonzero(((positions - centre) ** 2).sum(-1) <= radius * radius).flatten()
    assert torch.equal(torch.sort(rows).values, expected)


def test_nearest_frames_by_translation_then_rotation(memory):
    pose = pose_from_yaw_pitch(torch.tensor([2.2, 0.0, 0.0]), 0.3 * 3, 0.0)
    ids = nearest_frames(memory, pose, k=3)
    assert sorted(ids.tolist()) == [1, 2, 3]  # nearest by translation: x = 2, 3, 1
    assert ids[0] == 3  # the smallest rotation angle among them (same yaw as frame 3)
    assert ids.tolist() == [3, 2, 1]


def test_frames_by_overlap_counts_contributions(memory):
    tokens = memory.tokens()
    rows = torch.nonzero(tokens["frame"] == 4).flatten()[:50]
    rows = torch.cat([rows, torch.nonzero(tokens["frame"] == 1).flatten()[:20]])
    assert frames_by_overlap(memory, rows, k=2).tolist() == [4, 1]
    # With WorldMem's age penalty (now = newest frame time 5): frame 4 scores 50/70 - 0.2,
    # frame 1 scores 20/70 - 0.8; a penalty large enough to matter reorders equal overlaps.
    assert frames_by_overlap(memory, rows, k=2, age_penalty=0.2).tolist() == [4, 1]
    equal = torch.cat([rows[:20], rows[50:]])
    assert frames_by_overlap(memory, equal, k=2, age_penalty=0.2).tolist() == [4, 1]
    assert frames_by_overlap(memory, equal, k=2, age_penalty=-0.2).tolist() == [1, 4]
    assert frames_by_overlap(memory, rows[50:].flip(0).repeat(3), k=1).tolist() == [1]


def test_query_cost_follows_the_neighbourhood_not_the_memory(memory):
    # Rows touched by the block ranges stay a small multiple of the answer.
    centre, radius = torch.tensor([0.0, 0.0, 0.0]), 2.0
    from memory.voxels import block_key_ranges

    starts, stops = block_key_ranges(centre, radius, memory.voxel_size)
    touched = memory.table.rows_in_key_ranges(starts, stops)
    answer = tokens_near(memory, centre, radius)
    assert len(answer) > 0 and len(touched) < 4 * len(answer) and len(touched) < len(memory) / 20
    assert math.isclose(len(memory), len(memory.tokens()["key"]))


def test_bad_queries(memory):
    with pytest.raises(ValueError, match="radius"):
        tokens_near(memory, torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="centre"):
        tokens_near(memory, torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="rigid"):
        nearest_frames(memory, torch.eye(4) * 2)


def test_block_ranges_merge_along_z_and_cover_the_same_blocks():
    """One range per run of blocks along z: at most one per column, and every block meeting the
    ball (brute force over the box) falls in exactly one range."""
    from memory.voxels import BLOCK, block_key_ranges, column_count, voxel_keys

    centre, radius, voxel = torch.tensor([0.3, -0.2, 1.1]), 1.5, 0.03
    starts, stops = block_key_ranges(centre, radius, voxel)
    assert len(starts) <= column_count(centre, radius, voxel) and (stops > starts).all()
    size = voxel * BLOCK
    grid = torch.stack(torch.meshgrid(*[torch.arange(-8, 9)] * 3, indexing="ij"), -1).reshape(-1, 3)
    corners = grid.float() * size + size / 2  # block centres around the origin
    nearest = torch.maximum(corners - size / 2, torch.minimum(centre, corners + size / 2))
    meets = ((nearest - centre) ** 2).sum(-1) <= radius * radius
    keys = voxel_keys(corners, voxel)
    inside = ((keys[:, None] >= starts[None]) & (keys[:, None] < stops[None])).sum(1)
    assert torch.equal(inside, meets.long())
