"""worldengine.world.state: a damaged save is refused whole, naming the user's folder and file,
and the running world keeps stepping."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.conftest import make_tiny_generator
from worldengine.agent.actions import DiscreteAction, MotionConfig
from worldengine.agent.start import start_pose
from worldengine.scenes import ProceduralScene
from worldengine.world import WorldModel
from worldengine.world.start import scene_start

FORWARD = int(DiscreteAction.FORWARD)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    generator = make_tiny_generator()
    scene = ProceduralScene(3)
    start = scene_start(scene, start_pose(scene, np.random.default_rng(0), MotionConfig()), 32, "torch")
    model = WorldModel(generator)
    model.reset(0, start, seed=0)
    model.step({0: FORWARD})
    folder = tmp_path_factory.mktemp("saved") / "world"
    model.save(0, folder)
    model.close()
    return generator, start, folder


def _tensors(folder, **changes):
    tensors = load_file(str(folder / "world.safetensors"))
    for name, value in changes.items():
        if value is None:
            tensors.pop(name)
        else:
            tensors[name] = value
    save_file(tensors, str(folder / "world.safetensors"))


def _segment_chunk(folder):
    return next(p for p in (folder / "memory.zarr" / "segments").rglob("c/*") if p.is_file())


DAMAGE = {
    "truncated safetensors": lambda f: (f / "world.safetensors").write_bytes((f / "world.safetensors").read_bytes()[:50]),
    "garbage safetensors": lambda f: (f / "world.safetensors").write_bytes(b"\x00garbage" * 10),
    "garbage world.json": lambda f: (f / "world.json").write_text("{not json"),
    "world.json not an object": lambda f: (f / "world.json").write_text("[1, 2]"),
    "foreign state version": lambda f: (f / "world.json").write_text(json.dumps({"version": 99, "frames": 2})),
    "zeroed zarr chunk": lambda f: _segment_chunk(f).write_bytes(b"\x00" * 16),
    "garbage COMMIT": lambda f: (f / "memory.zarr" / "COMMIT.json").write_text("{"),
    "COMMIT names a missing segment": lambda f: (f / "memory.zarr" / "COMMIT.json").write_text(
        json.dumps({"segments": ["00000999"], "tokens": 1, "frames": 2})),
    "COMMIT deleted": lambda f: (f / "memory.zarr" / "COMMIT.json").unlink(),
    "COMMIT rolled back": lambda f: (f / "memory.zarr" / "COMMIT.json").write_text(
        json.dumps({"segments": [], "tokens": 0, "frames": 0})),
    "bad noise state": lambda f: _tensors(f, noise_state=torch.zeros(3, dtype=torch.uint8)),
    "missing rgb": lambda f: _tensors(f, rgb=None),
    "NaN pose": lambda f: _tensors(f, pose=torch.full((4, 4), float("nan"))),
    "float rgb": lambda f: _tensors(f, rgb=torch.zeros(6, 32, 32, 3)),
    "channels edited to 3": lambda f: _edit_attribute(f, "channels", 3),
    "foreign memory format version": lambda f: _edit_attribute(f, "version", 7),
    "truncated zarr chunk": lambda f: _segment_chunk(f).write_bytes(_segment_chunk(f).read_bytes()[:5]),
}


def _edit_attribute(folder, name, value):
    meta = folder / "memory.zarr" / "zarr.json"
    record = json.loads(meta.read_text())
    record["attributes"][name] = value
    meta.write_text(json.dumps(record))


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_save_is_refused_and_the_running_world_keeps_stepping(saved, tmp_path, damage):
    generator, start, folder = saved
    copy = tmp_path / "user-save"
    shutil.copytree(folder, copy)
    DAMAGE[damage](copy)
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    model = WorldModel(generator)
    model.reset(0, start, seed=1)
    running = model.world(0)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        model.resume(0, copy)
    assert str(copy) in str(error.value)  # the user's folder, not a temporary copy
    assert model.world(0) is running and model.step({0: FORWARD})[0].rgb.shape == (6, 32, 32, 3)
    after = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert after == before  # the user's files are as they were
    assert not [p for p in model.workdir.iterdir() if "resume" in p.name]  # nothing half-copied left behind
    model.close()


def test_an_intact_save_resumes(saved):
    generator, start, folder = saved
    model = WorldModel(generator)
    model.reset(0, start, seed=1)
    assert isinstance(model.resume(0, folder), dict)
    assert model.step({0: FORWARD})[0].rgb.shape == (6, 32, 32, 3)
    model.close()
