"""WorldModel: the step loop over batched generated worlds (tiny random models: plumbing,
determinism, batching, memory write-back, collisions, save and resume, bad input)."""

import numpy as np
import pytest
import torch

from tests.conftest import make_tiny_generator
from worldengine.agent.actions import DiscreteAction, MotionConfig
from worldengine.agent.start import start_pose
from worldengine.scenes import ProceduralScene
from worldengine.world import WorldConfig, WorldModel
from worldengine.world.start import StartFrame, equirect_start, scene_start

FORWARD, TURN = int(DiscreteAction.FORWARD), int(DiscreteAction.TURN_LEFT)


@pytest.fixture(scope="module")
def generator():
    return make_tiny_generator()


@pytest.fixture(scope="module")
def start():
    scene = ProceduralScene(3)
    return scene_start(scene, start_pose(scene, np.random.default_rng(0), MotionConfig()), 32, "torch")


def rollout(model: WorldModel, index: int, actions) -> list:
    return [model.step({index: a})[index] for a in actions]


def test_reset_writes_the_start_frame_and_steps_generate(generator, start):
    model = WorldModel(generator)
    first = model.reset(0, start, seed=0)
    assert np.array_equal(first.rgb, start.rgb) and first.new_voxels == len(model.memory(0)) > 0
    frames = rollout(model, 0, [FORWARD, TURN, FORWARD])
    moved = [not np.allclose(f.pose[:3, 3], p.pose[:3, 3]) for p, f in zip([first, *frames], frames)]
    for frame, generated in zip(frames, moved):
        assert frame.rgb.shape == (6, 32, 32, 3) and frame.rgb.dtype == np.uint8
        assert frame.depth.shape == (6, 32, 32) and (frame.depth >= 0).all()
        assert sorted(frame.order.tolist()) == (list(range(6)) if generated else [-1] * 6) and frame.coverage.shape == (6,)
        assert {"collision_ms", "memory_read_ms", "generate_ms", "decode_ms", "memory_write_ms"} <= set(frame.timings)
    assert not moved[1] and frames[1].new_voxels == 0  # a turn runs no generator and writes nothing
    assert len(model.memory(0).frames()["frame_id"]) == 1 + sum(moved)
    assert not np.allclose(frames[1].pose, frames[0].pose)  # the turn turned
    model.close()


def test_same_seed_same_rollout_and_batch_independence(generator, start):
    actions = [FORWARD, TURN, FORWARD, FORWARD]
    single = WorldModel(generator)
    single.reset(0, start, seed=7)
    alone = rollout(single, 0, actions)
    pair = WorldModel(generator, num_worlds=2)
    pair.reset(0, start, seed=7)
    pair.reset(1, start, seed=99)
    together = [pair.step({0: a, 1: TURN}) for a in actions]
    for a, b in zip(alone, together):
        assert np.abs(a.rgb.astype(int) - b[0].rgb.astype(int)).max() <= 2  # batched matmuls round differently
        np.testing.assert_allclose(a.pose, b[0].pose, atol=1e-5)
    assert not np.array_equal(together[-1][0].rgb, together[-1][1].rgb)  # other seed, other world
    again = WorldModel(generator)
    again.reset(0, start, seed=7)
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(alone, rollout(again, 0, actions)))
    for model in (single, pair, again):
        model.close()


def test_an_empty_world_generates_its_first_frame(generator):
    model = WorldModel(generator)
    pose = np.eye(4, dtype=np.float32)
    first = model.reset(0, None, pose=pose, seed=0)
    assert first.rgb.shape == (6, 32, 32, 3) and len(first.order) == 6
    assert len(model.memory(0).frames()["frame_id"]) == 1
    model.close()


def test_novel_write_policy_adds_less_than_writing_everything(generator, start):
    """Body-frame worlds regenerate a NOOP; without anchoring, the write policy decides what it adds."""
    added = {}
    for policy in ("novel", "all"):
        model = WorldModel(generator, config=WorldConfig(write_policy=policy, world_aligned=False, anchored=False))
        model.reset(0, start, seed=0)
        added[policy] = sum(f.new_voxels for f in rollout(model, 0, [int(DiscreteAction.NOOP)] * 3))
        model.close()
    assert added["novel"] < added["all"]


def test_save_and_resume_continue_the_same_rollout(generator, start, tmp_path):
    model = WorldModel(generator)
    model.reset(0, start, seed=3)
    rollout(model, 0, [FORWARD, TURN])
    model.save(0, tmp_path / "saved", {"step": 2})
    stored = len(model.memory(0).frames()["frame_id"])
    expected = rollout(model, 0, [FORWARD, TURN, FORWARD])
    resumed = WorldModel(generator)
    assert resumed.resume(0, tmp_path / "saved") == {"step": 2}
    assert len(resumed.memory(0).frames()["frame_id"]) == stored
    got = rollout(resumed, 0, [FORWARD, TURN, FORWARD])
    assert all(np.array_equal(a.rgb, b.rgb) and np.array_equal(a.pose, b.pose) for a, b in zip(expected, got))
    for m in (model, resumed):
        m.close()
    with pytest.raises(FileNotFoundError, match="not a saved world"):
        WorldModel(generator).resume(0, tmp_path)


def test_bad_actions_move_no_world(generator, start):
    model = WorldModel(generator, num_worlds=2)
    model.reset(0, start, seed=0)
    model.reset(1, start, seed=1)
    before = [model.pose(i) for i in range(2)]
    with pytest.raises(ValueError, match="world 1: unknown discrete action id 42"):
        model.step({0: FORWARD, 1: 42})
    with pytest.raises(ValueError, match="world 0: discrete action must be an integer"):
        model.step({0: 1.5})
    assert all(np.array_equal(b, model.pose(i)) for i, b in enumerate(before))
    assert len(model.memory(0).frames()["frame_id"]) == 1
    with pytest.raises(RuntimeError, match="has not been reset"):
        WorldModel(generator).step({0: FORWARD})
    model.close()


def test_start_frames_are_checked():
    rgb = np.zeros((6, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="start depth"):
        StartFrame(rgb, np.zeros((6, 4, 4), np.float32), np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="uint8"):
        StartFrame(rgb.astype(np.float32), np.zeros((6, 8, 8), np.float32), np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="'equirect' must be a uint8"):
        equirect_start(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8)), np.eye(4), 8)
    with pytest.raises(ValueError, match="'depth' must be"):
        equirect_start(np.zeros((8, 16, 3), np.uint8), np.zeros((8, 8)), np.eye(4), 8)


def test_equirect_start_keeps_the_panorama(start):
    """A panorama made from a cubemap comes back as nearly the same cubemap."""
    from worldengine.eval.visualize import equirect_image
    from worldengine.geometry.equirect import cube_to_equirect

    pano = equirect_image(start.rgb, 64)
    depth = torch.from_numpy(start.depth)[None, :, None]
    ranged = cube_to_equirect(depth, 64, "depth", "nearest")[0, 0].numpy()  # range along each ray
    again = equirect_start(pano, ranged, start.pose, 32)
    assert np.abs(again.rgb.astype(float) - start.rgb).mean() < 12
    surface = (start.depth > 0) & (again.depth > 0)
    assert np.median(np.abs(again.depth - start.depth)[surface] / start.depth[surface]) < 0.05


def test_step_to_places_the_world_where_it_is_told(generator, start):
    model = WorldModel(generator)
    model.reset(0, start, seed=0)
    target = start.pose.copy()
    target[:3, 3] += [5.0, 0.0, -3.0]  # through any wall: the caller's simulator decided
    frame = model.step_to({0: (target, FORWARD)})[0]
    assert np.allclose(frame.pose, target) and np.allclose(model.pose(0), target)
    with pytest.raises(ValueError, match="world 0"):
        model.step_to({0: (np.eye(4) * 2, FORWARD)})
    with pytest.raises(ValueError, match="world 0"):
        model.step_to({0: (target, 99)})
    model.close()


def _moved(pose: np.ndarray, metres: float) -> np.ndarray:
    """`pose` moved `metres` along its forward axis (-z)."""
    moved = pose.copy()
    moved[:3, 3] -= metres * pose[:3, 2]
    return moved


def test_memory_kinds_side_by_side_in_one_batch(generator, start, tmp_path):
    model = WorldModel(generator, 3)
    for i, kind in enumerate(("latent", "rgb_points", "none")):
        model.reset(i, start, seed=0, memory_kind=kind)
    first_bytes = [model.memory_bytes(i) for i in range(3)]
    assert first_bytes[0] > 0 and first_bytes[1] > 0 and first_bytes[2] == 0
    assert len(model.memory(1)) == len(model.memory(2)) == 0  # only the latent world keeps tokens
    frames = model.step_to({i: (_moved(start.pose, 0.25), FORWARD) for i in range(3)})
    assert frames[2].new_voxels == 0 and frames[2].coverage.sum() == 0  # remembers nothing, sees nothing
    assert frames[1].coverage.mean() > 0.5  # the point cloud of the start frame, rendered and encoded
    assert model.memory_bytes(2) == 0 and model.memory_bytes(1) >= first_bytes[1]
    with pytest.raises(ValueError, match="latent"):
        model.save(1, tmp_path / "saved")
    with pytest.raises(ValueError, match="memory_kind"):
        model.reset(0, start, memory_kind="voxels")
    with pytest.raises(ValueError, match="retrieval"):
        WorldConfig(retrieval="everything")
    model.close()


def test_a_full_turn_gives_back_the_start_frame(generator, start):
    """Turning runs no generator: the view is the world-aligned cube resampled, and after
    24 turns of 15 degrees the start frame comes back exactly."""
    model = WorldModel(generator)
    model.reset(0, start, seed=0)
    frames = rollout(model, 0, [TURN] * 24)
    assert all(f.new_voxels == 0 and f.timings["generate_ms"] == 0 for f in frames)
    assert len(model.memory(0).frames()["frame_id"]) == 1
    assert np.array_equal(frames[-1].rgb, start.rgb) and np.allclose(frames[-1].depth, start.depth, rtol=1e-5)
    quarter = frames[5]  # 90 degrees to the left: the old left face is ahead
    assert np.abs(quarter.rgb[0].astype(int) - start.rgb[3].astype(int)).max() <= 1
    model.close()


def test_body_frame_worlds_regenerate_every_step(generator, start):
    """world_aligned=False is the engine before position-keyed worlds: a turn is generated."""
    model = WorldModel(generator, config=WorldConfig(world_aligned=False))
    model.reset(0, start, seed=0)
    frame = model.step({0: TURN})[0]
    assert sorted(frame.order.tolist()) == list(range(6)) and len(model.memory(0).frames()["frame_id"]) == 2
    model.close()


def test_save_never_removes_what_it_did_not_write(generator, start, tmp_path):
    """A user's folder behind memory.zarr (a symlink or a real folder) survives a save; a
    world saved there before is replaced only when asked."""
    model = WorldModel(generator)
    model.reset(0, start, seed=0)
    data = tmp_path / "data"
    data.mkdir()
    (data / "precious.txt").write_text("mine")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "memory.zarr").symlink_to(data, target_is_directory=True)
    for replace in (False, True):
        with pytest.raises(FileExistsError, match="symbolic link"):
            model.save(0, linked, replace=replace)
    foreign = tmp_path / "foreign"
    (foreign / "memory.zarr").mkdir(parents=True)
    (foreign / "memory.zarr" / "notes.txt").write_text("mine too")
    with pytest.raises(FileExistsError, match="not a world this engine saved"):
        model.save(0, foreign, replace=True)
    assert (data / "precious.txt").read_text() == "mine"
    assert (foreign / "memory.zarr" / "notes.txt").read_text() == "mine too"
    model.save(0, tmp_path / "saved")
    with pytest.raises(FileExistsError, match="replace=True"):
        model.save(0, tmp_path / "saved")
    model.step({0: FORWARD})
    model.save(0, tmp_path / "saved", replace=True)  # our own saved world: replaced whole
    assert [p.name for p in (tmp_path / "saved").iterdir() if p.name.startswith(".")] == []
    resumed = WorldModel(generator)
    resumed.resume(0, tmp_path / "saved")
    assert len(resumed.memory(0)) == len(model.memory(0))
    for m in (model, resumed):
        m.close()


def test_an_equirect_start_beyond_any_surface_is_refused():
    image = np.zeros((16, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="reset option 'depth' must be at most"):
        equirect_start(image, np.full((16, 32), 1e30), np.eye(4, dtype=np.float32), 32)
