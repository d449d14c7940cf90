import json
import shutil
import subprocess
import sys

import imageio.v2 as imageio
import pytest

from memory import LatentMemory
from tests.conftest import save_tiny_checkpoints
from worldengine.cli import main
from worldengine.data.trajectory import TrajectoryReader


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    generator, autoencoder = save_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))
    return ["--checkpoint", str(generator), "--autoencoder", str(autoencoder), "--scene-seed", "3",
            "--backend", "torch", "--no-progress"]


def test_explore_writes_a_complete_run_folder(tmp_path, capsys, tiny):
    out = tmp_path / "run"
    assert main(["explore", "--steps", "12", "--video-height", "32", "--out", str(out), *tiny]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 12 and summary["steps_per_s"] > 0 and summary["scene_seed"] == 3
    assert summary["world"] == "generated" and summary["psnr"] > 0 and summary["memory_tokens"] > 0
    assert 0 < summary["ssim"] <= 1 and 0 < summary["first_visit_ssim"] <= 1  # SSIM beside every PSNR
    steps = json.loads((out / "steps.json").read_text())
    assert [s["step"] for s in steps] == list(range(1, 13)) and steps[0]["metres_from_start"] >= 0
    assert sum(s["generated"] for s in steps) == summary["generated_steps"]
    assert sum(s["revisit"] for s in steps) == summary["revisit_steps"] and all(0 <= s["coverage"] <= 1 for s in steps)
    for name in summary["files"]:
        assert (out / name).exists(), name
    frames = imageio.mimread(out / "frames.mp4")
    assert len(frames) == 13 and frames[0].shape == (32, 128, 3)  # generated beside ground truth
    assert imageio.imread(out / "pointcloud.png").ndim == 3
    assert not (tmp_path / "run.partial").exists()
    assert "run written to" in capsys.readouterr().out
    memory = LatentMemory.open(str(out / "memory.zarr"), read_only=True)
    assert len(memory) == summary["memory_tokens"] and len(memory.frames()["frame_id"]) == 1 + summary["generated_steps"]
    assert memory.channels == 4  # the tiny autoencoder's latents


def test_export_rewrites_a_runs_memory_files(tmp_path, capsys, tiny):
    out = tmp_path / "run"
    assert main(["explore", "--steps", "3", "--video-height", "32", "--out", str(out), *tiny]) == 0
    capsys.readouterr()
    stored = 1 + json.loads((out / "summary.json").read_text())["generated_steps"]
    assert main(["export", str(out), "--out", str(tmp_path / "again")]) == 0
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == [
        "memory.ply", "memory_cameras.ply", "memory_preview.png", "memory_trajectory.json", "pointcloud.png"]
    assert json.loads(capsys.readouterr().out)["frames"] == stored


def test_export_reports_a_missing_store(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert "no memory store" in capsys.readouterr().err


def test_explore_runs_on_a_users_mesh(tmp_path, capsys, tiny):
    from worldengine.scenes.sample_mesh import write_sample_scene

    mesh = write_sample_scene(tmp_path / "plaza", up="z", ground_cells=4)
    out = tmp_path / "run"
    assert main(["explore", "--mesh", str(mesh), "--mesh-up", "z", "--steps", "6", "--video-height", "32",
                 "--out", str(out), *tiny, "--backend", "auto"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mesh"] == str(mesh) and summary["mesh_up"] == "z" and "scene_seed" not in summary
    assert summary["steps_inside_scene_geometry"] == 0
    assert all((out / name).exists() for name in summary["files"])
    bad = tmp_path / "wall.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")  # a single upright triangle: no floor
    for args, message in ((["--mesh", str(bad), "--backend", "auto"], "no walkable floor"),
                          (["--mesh", str(mesh), "--mesh-up", "z"], "cannot render with 'torch'")):
        assert main(["explore", *tiny, "--steps", "2", "--out", str(tmp_path / "no"), *args]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "no.partial").exists()


def test_explore_refuses_an_existing_folder(tmp_path, capsys, tiny):
    (tmp_path / "run").mkdir()
    assert main(["explore", "--steps", "2", "--out", str(tmp_path / "run"), *tiny]) == 2
    assert "already exists" in capsys.readouterr().err


def test_explore_reports_an_unwritable_folder(tmp_path, capsys, tiny):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["explore", "--steps", "2", "--out", str(blocker / "run"), *tiny]) == 2
    assert "cannot create run folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [blocker]


def test_bad_arguments_leave_nothing(tmp_path, capsys):
    assert main(["explore", "--steps", "0", "--out", str(tmp_path / "run")]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_explore_needs_readable_checkpoints(tmp_path, capsys, tiny):
    assert main(["explore", "--steps", "2", *tiny, "--autoencoder", str(tmp_path / "none"),
                 "--out", str(tmp_path / "run")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny[1], corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not safetensors")
    assert main(["explore", "--steps", "2", *tiny, "--checkpoint", str(corrupt), "--out", str(tmp_path / "run")]) == 2
    assert "not a readable safetensors file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt"]


def test_record_command(tmp_path):
    store = tmp_path / "t.zarr"
    assert main(["record", "--out", str(store), "--episodes", "2", "--steps", "5", "--face-size", "8", "--first-seed", "3"]) == 0
    reader = TrajectoryReader(store)
    assert len(reader) == 2 and [reader.episode_attrs(k)["scene_seed"] for k in range(2)] == [3, 4]


@pytest.mark.parametrize("command", [[], ["explore"], ["export"], ["record"]])
def test_help(command):
    result = subprocess.run([sys.executable, "-m", "worldengine", *command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: worldengine" in result.stdout


def test_explore_refuses_a_partial_folder_it_did_not_make(tmp_path, tiny):
    foreign = tmp_path / "run.partial"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    assert main(["explore", "--steps", "1", "--out", str(tmp_path / "run"), *tiny]) == 2
    assert (foreign / "mine.txt").read_text() == "keep me"
    ours = tmp_path / "again.partial"  # an interrupted run of its own: replaced
    ours.mkdir()
    (ours / ".worldengine-run").write_text("")
    assert main(["explore", "--steps", "1", "--video-height", "32", "--out", str(tmp_path / "again"), *tiny]) == 0
    assert not ours.exists() and not (tmp_path / "again" / ".worldengine-run").exists()


@pytest.mark.parametrize("config", [[1, 2], {"width": "wide"}, {"depth": 0}, {"face_id": 1}, {"mlp_ratio": None}])
def test_a_checkpoint_config_of_the_wrong_shape_is_a_one_line_error(tmp_path, capsys, tiny, config):
    broken = tmp_path / "generator"
    shutil.copytree(tiny[1], broken)
    meta = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**meta, "config": config}))
    assert main(["explore", "--steps", "1", *tiny, "--checkpoint", str(broken), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "config.json" in error[0] and not (tmp_path / "run").exists()


def test_a_generator_init_that_is_no_generator_fails_before_its_data_is_built(tmp_path, capsys):
    assert main(["train", "generator", "--init", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    assert "nowhere" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, message", [
    (["refiner", "--decoder-only"], "means nothing for the refiner"),
    (["autoencoder", "--latent-noise", "0.2"], "--decoder-only"),
    (["generator", "--max-move", "4"], "means nothing for the generator"),
    (["generator", "--structure-weight", "0.5"], "the generator's loss is fixed"),
])
def test_train_refuses_options_that_do_not_apply(tmp_path, capsys, args, message):
    """An option the model cannot use is an error before anything is made, not ignored."""
    assert main(["train", *args, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "run").exists()
