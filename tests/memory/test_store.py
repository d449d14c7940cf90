import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from memory.backproject import LatentPoints
from memory.persist import COMMIT
from memory.store import LatentMemory
from tests.memory.conftest import random_points


def _same_tokens(a, b):
    ta, tb = a.tokens(), b.tokens()
    oa, ob = torch.argsort(ta["key"]), torch.argsort(tb["key"])
    return all(torch.equal(ta[c][oa], tb[c][ob]) for c in ta)


def test_reopen_gives_back_everything(tmp_path):
    with LatentMemory.create(str(tmp_path / "m"), channels=4, flush_every=3) as memory:
        for k in range(10):
            memory.write(random_points(500, seed=k, frame=k), k, torch.eye(4), float(k))
    again = LatentMemory.open(str(tmp_path / "m"), read_only=True)
    assert len(again) == len(memory) > 0 and _same_tokens(memory, again)
    frames = again.frames()
    assert frames["frame_id"].tolist() == list(range(10)) and frames["frame_pose"].shape == (10, 4, 4)
    commit = json.loads((tmp_path / "m" / COMMIT).read_text())
    assert commit["tokens"] == len(memory) and commit["frames"] == 10


def test_store_layout_and_attributes(tmp_path):
    import zarr

    with LatentMemory.create(str(tmp_path / "m"), channels=6, voxel_size=0.2) as memory:
        memory.write(random_points(100, channels=6), 0, torch.eye(4), 0.0)
    group = zarr.open_group(str(tmp_path / "m"), mode="r")
    attrs = dict(group.attrs)
    assert attrs["format"] == "worldengine.latent_memory" and attrs["version"] == 1
    assert attrs["channels"] == 6 and attrs["voxel_size"] == 0.2 and attrs["units"] == "metres"
    segment = group["segments"][next(iter(group["segments"].group_keys()))]
    assert segment["feature"].dtype == "float16" and segment["position"].dtype == "float32"
    assert segment["position"].metadata.dimension_names == ("token", "xyz")
    assert segment["feature"].metadata.codecs[-1].to_dict()["name"] == "zstd"


def test_fsspec_url(tmp_path):
    url = "memory://worldengine-test-store"
    with LatentMemory.create(url, channels=4, overwrite=True) as memory:
        memory.write(random_points(200), 0, torch.eye(4), 0.0)
    assert _same_tokens(memory, LatentMemory.open(url, read_only=True))


def test_fusion_rule(tmp_path):
    memory = LatentMemory.create(str(tmp_path / "m"), channels=1, voxel_size=1.0, max_weight=3, background=False)
    point = random_points(1, channels=1)
    point.positions[:] = 0.5
    for k, value in enumerate([0.0, 3.0, 6.0, 9.0, 9.0]):
        point.features[:] = value
        memory.write(point, k, torch.eye(4), float(k))
    tokens = memory.tokens()
    # Running mean with the count capped at 3: 0 -> 1.5 -> 3 -> (3*3 + 9)/4 = 4.5 -> (4.5*3 + 9)/4 = 5.625
    assert len(memory) == 1 and float(tokens["feature"][0, 0]) == pytest.approx(5.625, abs=1e-2)
    assert float(tokens["weight"][0]) == 3 and int(tokens["frame"][0]) == 4


def test_revisits_update_instead_of_growing(tmp_path, room):
    memory = LatentMemory.create(str(tmp_path / "m"), channels=4)
    poses = [room.pose(k) for k in range(6)]
    sizes = []
    for loop in range(3):  # walk the same loop of places three times
        for k, pose in enumerate(poses):
            points, _ = room.points(pose, loop * 10 + k)
            memory.write(points, loop * 10 + k, pose, float(loop * 10 + k))
        sizes.append(len(memory))
    assert sizes[0] == sizes[1] == sizes[2]
    tokens = memory.tokens()
    assert tokens["frame"].min() >= 20  # every voxel was updated by the last loop
    assert tokens["weight"].min() >= 3


def test_bad_inputs_write_nothing(tmp_path):
    memory = LatentMemory.create(str(tmp_path / "m"), channels=4, background=False)
    memory.write(random_points(50), 0, torch.eye(4), 0.0)
    before = {c: v.clone() for c, v in memory.tokens().items()}
    bad_pose = torch.eye(4)
    bad_pose[0, 0] = 2
    nan_points = random_points(50, seed=1)
    nan_points.positions[3, 0] = float("nan")
    cases = [
        (lambda: memory.write(random_points(50, channels=3), 1, torch.eye(4), 1.0), "features \\(N, C=4\\)"),
        (lambda: memory.write(random_points(50), 1, bad_pose, 1.0), "rigid"),
        (lambda: memory.write(nan_points, 1, torch.eye(4), 1.0), "NaN"),
        (lambda: memory.write(random_points(50), 0, torch.eye(4), 1.0), "already in the memory"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    after = memory.tokens()
    assert all(torch.equal(before[c], after[c]) for c in before) and len(memory.frames()["frame_id"]) == 1


def test_store_errors(tmp_path):
    LatentMemory.create(str(tmp_path / "m"), channels=4).close()
    with pytest.raises(FileExistsError):
        LatentMemory.create(str(tmp_path / "m"), channels=4)
    with pytest.raises(FileNotFoundError):
        LatentMemory.open(str(tmp_path / "missing"))
    zarr_json = tmp_path / "m" / "zarr.json"
    meta = json.loads(zarr_json.read_text())
    meta["attributes"]["version"] = 99
    zarr_json.write_text(json.dumps(meta))
    listing = sorted(os.listdir(tmp_path / "m"))
    with pytest.raises(ValueError, match="version 99"):
        LatentMemory.open(str(tmp_path / "m"))
    assert sorted(os.listdir(tmp_path / "m")) == listing
    with pytest.raises(ValueError, match="channels"):
        LatentMemory.create(str(tmp_path / "n"), channels=0)


def test_compaction_keeps_contents(tmp_path, monkeypatch):
    monkeypatch.setattr("memory.store.MAX_SEGMENTS", 3)
    with LatentMemory.create(str(tmp_path / "m"), channels=4, flush_every=1) as memory:
        for k in range(8):
            memory.write(random_points(300, seed=k, frame=k), k, torch.eye(4), float(k))
    again = LatentMemory.open(str(tmp_path / "m"))
    assert _same_tokens(memory, again) and len(again.frames()["frame_id"]) == 8
    assert len(os.listdir(tmp_path / "m" / "segments")) <= 4


def test_close_compacts_superseded_rows(tmp_path):
    memory = LatentMemory.create(str(tmp_path / "m"), channels=4, flush_every=1)
    for k in range(6):  # the same points again and again: every flush rewrites every row
        memory.write(random_points(400, seed=0, frame=k), k, torch.eye(4), float(k))
    memory.flush(wait=True)
    segments = tmp_path / "m" / "segments"
    assert len([p for p in segments.iterdir() if p.is_dir()]) == 6
    memory.close()
    assert len([p for p in segments.iterdir() if p.is_dir()]) == 1
    assert _same_tokens(memory, LatentMemory.open(str(tmp_path / "m"), read_only=True))


WRITER = textwrap.dedent("""
    import sys, torch
    from memory.store import LatentMemory
    from tests.memory.conftest import random_points
    memory = LatentMemory.create(sys.argv[1], channels=4, flush_every=1)
    for k in range(100000):
        memory.write(random_points(2000, seed=k, frame=k, spread=50.0), k, torch.eye(4), float(k))
        memory.flush(wait=True)
        print(k, len(memory), flush=True)
""")


def test_killed_writer_leaves_a_consistent_store(tmp_path):
    path = str(tmp_path / "m")
    process = subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True,
                               cwd=os.getcwd())
    committed = []
    for line in process.stdout:
        committed.append(tuple(int(v) for v in line.split()))
        if len(committed) == 12:
            break
    os.kill(process.pid, signal.SIGKILL)  # mid-write of a later frame, most likely
    process.wait()
    memory = LatentMemory.open(path)
    strays = [p for p in (tmp_path / "m").rglob("*") if p.name.endswith((".tmp", ".partial"))]
    assert strays == []  # a killed writer's temporary files are gone after the reopen
    frames = len(memory.frames()["frame_id"])
    last_frame, last_tokens = committed[-1]
    assert frames >= last_frame + 1  # everything committed before the kill is there
    commit = json.loads((tmp_path / "m" / COMMIT).read_text())
    assert commit["frames"] == frames and commit["tokens"] == len(memory)  # and nothing torn
    assert len(memory) >= last_tokens
    memory.write(random_points(10, seed=999), 10**6, torch.eye(4), 0.0)  # still writable
    memory.close()


def test_segments_the_commit_does_not_list_are_kept_and_reported(tmp_path):
    """A rolled-back commit record ("segments": []) must not cost the store its data."""
    path = tmp_path / "m"
    memory = LatentMemory.create(str(path), channels=4, flush_every=1)
    for k in range(2):
        memory.write(random_points(50, seed=k, frame=k), k, torch.eye(4), float(k))
    memory.close()
    before = sorted(p.name for p in (path / "segments").iterdir() if p.is_dir())
    record = json.loads((path / COMMIT).read_text())
    (path / COMMIT).write_text(json.dumps({**record, "segments": [], "tokens": 0, "frames": 0}))
    with pytest.warns(UserWarning, match="does not list"):
        reopened = LatentMemory.open(str(path))
    assert len(reopened) == 0 and reopened.orphan_segments() == before
    assert sorted(p.name for p in (path / "segments").iterdir() if p.is_dir()) == before  # nothing deleted
    (path / COMMIT).write_text(json.dumps(record))  # the user puts the record back: all is there again
    reopened.close()
    again = LatentMemory.open(str(path))
    assert len(again) > 0 and again.orphan_segments() == []
    again.close()


def test_vacuum_deletes_orphans_only_when_asked(tmp_path):
    path = tmp_path / "m"
    memory = LatentMemory.create(str(path), channels=4, flush_every=1)
    memory.write(random_points(50, seed=0, frame=0), 0, torch.eye(4), 0.0)
    memory.close()
    written = next(p for p in (path / "segments").iterdir() if p.is_dir())
    shutil.copytree(written, path / "segments" / "00000099")  # a segment no commit lists
    with pytest.warns(UserWarning):
        memory = LatentMemory.open(str(path))
    assert memory.vacuum() == ["00000099"] and not (path / "segments" / "00000099").exists()
    assert len(memory) > 0
    memory.close()


def test_stray_temporaries_of_a_killed_writer_are_removed_on_open(tmp_path):
    path = tmp_path / "m"
    LatentMemory.create(str(path), channels=4).close()
    (path / ".COMMIT.json.abc123.tmp").write_text("{")
    (path / "segments" / "c.partial").write_bytes(b"half")
    LatentMemory.open(str(path)).close()
    assert not (path / ".COMMIT.json.abc123.tmp").exists() and not (path / "segments" / "c.partial").exists()


def _bad_write(rng, memory, good):
    """One write with a random bad value (and everything else good): (points, frame_id, pose, time)."""
    points, frame, pose, time = good
    kind = rng.integers(0, 10)
    positions, features, rgb, frames = (points.positions.clone(), points.features.clone(), points.rgb.clone(),
                                        points.frame.clone())
    if kind == 0:
        positions[rng.integers(0, len(positions)), rng.integers(0, 3)] = float(rng.choice([np.nan, np.inf, -np.inf]))
    elif kind == 1:
        features[rng.integers(0, len(features)), 0] = float(rng.choice([np.nan, np.inf]))
    elif kind == 2:
        rgb = rgb.float()
    elif kind == 3:
        frames = frames.float() + 0.5
    elif kind == 4:
        frame = float(frame) + 0.25
    elif kind == 5:
        time = float(rng.choice([np.nan, np.inf]))
    elif kind == 6:
        pose = pose.clone()
        pose[0, 3] = np.nan
    elif kind == 7:
        pose = pose * 2
    elif kind == 8:
        features = features[:, :-1]
    else:
        frame = 0  # already written
    return LatentPoints(positions, features, rgb, frames), frame, pose, time


def test_random_bad_writes_write_nothing(tmp_path):
    """Seeded random search over bad values: each write is refused with a ValueError, nothing
    changes, and the store reopens equal to what it held before."""
    rng = np.random.default_rng(0)
    path = str(tmp_path / "m")
    memory = LatentMemory.create(path, channels=4, flush_every=1)
    memory.write(random_points(100, seed=0, frame=0), 0, torch.eye(4), 0.0)
    memory.flush(wait=True)
    tokens, frames = memory.tokens(), memory.frames()
    for trial in range(60):
        good = (random_points(50, seed=trial + 1, frame=trial + 1), trial + 1, torch.eye(4), float(trial + 1))
        with pytest.raises(ValueError):
            memory.write(*_bad_write(rng, memory, good))
        assert len(memory) == len(tokens["key"]) and len(memory.frames()["frame_id"]) == 1
    memory.close()
    reopened = LatentMemory.open(path, read_only=True)
    assert all(torch.equal(reopened.tokens()[c], tokens[c]) for c in tokens)
    assert torch.equal(reopened.frames()["frame_id"], frames["frame_id"])


@pytest.mark.parametrize("bad", [{"max_weight": float("inf")}, {"voxel_size": float("nan")}, {"max_weight": 0.5}])
def test_create_refuses_bad_settings(tmp_path, bad):
    with pytest.raises(ValueError, match="finite"):
        LatentMemory.create(str(tmp_path / "m"), channels=4, **bad)
    assert not (tmp_path / "m").exists()
