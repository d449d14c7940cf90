import json
import subprocess
import sys

import imageio.v2 as imageio
import pytest

from worldengine.cli import main
from worldengine.data import TrajectoryReader


def test_explore_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["explore", "--steps", "12", "--face-size", "8", "--video-height", "32", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 12 and summary["steps_per_s"] > 0 and summary["scene_seed"] == 0
    for name in summary["files"]:
        assert (out / name).exists(), name
    frames = imageio.mimread(out / "frames.mp4")
    assert len(frames) == 13 and frames[0].shape == (32, 64, 3)
    reader = TrajectoryReader(out / "trajectory.zarr")
    assert reader.episode_length(0) == 13
    assert not (tmp_path / "run.partial").exists()
    assert "run written to" in capsys.readouterr().out


def test_explore_refuses_an_existing_folder(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["explore", "--steps", "2", "--face-size", "8", "--out", str(tmp_path / "run")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_explore_reports_an_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["explore", "--steps", "2", "--face-size", "8", "--out", str(blocker / "run")]) == 2
    assert "cannot create run folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [blocker]


def test_bad_arguments_leave_nothing(tmp_path, capsys):
    assert main(["explore", "--steps", "0", "--out", str(tmp_path / "run")]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_record_command(tmp_path):
    store = tmp_path / "t.zarr"
    assert main(["record", "--out", str(store), "--episodes", "2", "--steps", "5", "--face-size", "8", "--first-seed", "3"]) == 0
    reader = TrajectoryReader(store)
    assert len(reader) == 2 and [reader.episode_attrs(k)["scene_seed"] for k in range(2)] == [3, 4]


@pytest.mark.parametrize("command", [[], ["explore"], ["record"]])
def test_help(command):
    result = subprocess.run([sys.executable, "-m", "worldengine", *command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: worldengine" in result.stdout


def test_explore_needs_a_readable_autoencoder(tmp_path, capsys):
    assert main(["explore", "--steps", "2", "--face-size", "8", "--autoencoder", str(tmp_path / "none"),
                 "--out", str(tmp_path / "run")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_explore_writes_the_latent_memory(tmp_path):
    from memory import LatentMemory

    out = tmp_path / "run"
    assert main(["explore", "--steps", "6", "--face-size", "16", "--video-height", "32", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    memory = LatentMemory.open(str(out / "memory.zarr"), read_only=True)
    assert len(memory) == summary["memory_tokens"] > 0 and len(memory.frames()["frame_id"]) == 7
    assert memory.channels == 8  # the shipped autoencoder's latents
