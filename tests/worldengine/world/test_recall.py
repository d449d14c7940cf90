"""Retrieval policies (memory.index.retrieve, through memory.warp_memory) read the tokens they
promise; a world without memory (worldengine.world.recall) sees nothing."""

import pytest
import torch

from memory import LatentMemory, LatentPoints, retrieve, warp_memory
from memory.index import NEAREST_FRAMES, RECENT_FRAMES
from worldengine.geometry.cube import face_rotations
from worldengine.world.recall import empty_recall


def _frame_points(frame: int, x: float) -> LatentPoints:
    """Four tokens of frame `frame` on a wall 2 m ahead of a camera standing at (x, 0, 0)."""
    positions = torch.tensor([[x + dx, dy, -2.0] for dx in (-0.3, 0.3) for dy in (-0.3, 0.3)])
    return LatentPoints(positions, torch.full((4, 2), float(frame)), torch.zeros(4, 3, dtype=torch.uint8),
                        torch.full((4,), frame))


def _pose(x: float) -> torch.Tensor:
    pose = torch.eye(4)
    pose[0, 3] = x
    return pose


@pytest.fixture()
def memory(tmp_path):
    store = LatentMemory.create(str(tmp_path / "m.zarr"), channels=2, voxel_size=0.1)
    for frame in range(20):  # a walk along +x, a metre a frame
        store.write(_frame_points(frame, float(frame)), frame, _pose(float(frame)), float(frame))
    yield store
    store.close()


def test_radius_reads_every_token_near_the_camera(memory):
    rows = retrieve(memory, _pose(0.0), 5.5, "radius")
    frames = set(memory.table.columns_at(rows, "frame").tolist())
    assert frames == set(range(6))


def test_nearest_frames_reads_only_the_frames_nearest_the_camera(memory):
    rows = retrieve(memory, _pose(10.0), 50.0, "nearest_frames")
    frames = sorted(set(memory.table.columns_at(rows, "frame").tolist()))
    assert len(frames) == NEAREST_FRAMES and frames == list(range(8, 13))


def test_recent_reads_only_the_newest_frames(memory):
    rows = retrieve(memory, _pose(0.0), 50.0, "recent")
    frames = sorted(set(memory.table.columns_at(rows, "frame").tolist()))
    assert frames == list(range(20 - RECENT_FRAMES, 20))


def test_recall_warps_what_it_retrieved_and_empty_sees_nothing(memory):
    rotations = face_rotations()
    near, _ = warp_memory(memory, _pose(0.0), rotations, 8, 2.1)  # frame 0's wall alone
    assert near.mask.sum() > 0 and set(near.features[near.mask.unsqueeze(1).expand_as(near.features)].tolist()) == {0.0}
    nothing = empty_recall(6, 2, 8)
    assert not nothing.mask.any() and nothing.coverage.sum() == 0
    with pytest.raises(ValueError, match="retrieval"):
        retrieve(memory, _pose(0.0), 5.0, "everything")
