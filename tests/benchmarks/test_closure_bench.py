"""benchmarks.closure on the tiny random generator: plumbing, paths that really return, and
the one figure that needs no trained model (a full turn gives back the start frame)."""

import json
import math

import numpy as np
import pytest

from benchmarks import closure
from tests.conftest import make_tiny_generator
from worldengine.agent.actions import MotionConfig
from worldengine.geometry.pose import pose_from_yaw_pitch

TINY = closure.ClosureConfig(kinds=("room",), per_kind=1, retraces=(4,), turn_steps=24, candidates=50)


def test_paths_come_back_to_the_start():
    motion = MotionConfig()
    start = pose_from_yaw_pitch(np.array([1.0, 1.5, 2.0]), math.pi / 4, 0.0).numpy()
    path = closure.retrace_path(start, 3, motion)
    assert len(path) == 2 * 3 + 2 * 12 and np.array_equal(path[-1][0], start)
    far = path[2][0]
    assert np.allclose(far[:3, 3], start[:3, 3] - 3 * motion.move_step * start[:3, 2])  # 3 moves straight ahead
    assert np.allclose(path[2 + 12][0][:3, 2], -start[:3, 2], atol=1e-6)  # half a turn: facing back
    turns = closure.turn_path(start, 24, motion)
    assert np.array_equal(turns[-1][0], start) and np.allclose(turns[5][0][:3, 2], start[:3, 0], atol=1e-6)  # 90 degrees left: facing the old left


def test_reach_is_measured_only_as_far_as_the_longest_retrace_goes():
    motion = MotionConfig()  # 0.25 m moves
    assert closure.reach_moves(closure.FULL, motion) == {"1": 4, "2": 8, "4": 16}  # 40 moves: 10 m
    assert closure.reach_moves(closure.QUICK, motion) == {"1": 4, "2": 8}  # 12 moves: 3 m
    assert closure.reach_moves(TINY, motion) == {"1": 4}


def test_closure_runs_and_a_full_turn_is_exact(tmp_path, capsys):
    figures = closure.main(["--results-dir", str(tmp_path)], generator=make_tiny_generator(), config=TINY)
    saved = json.loads((tmp_path / "closure.json").read_text())["figures"]
    assert saved["scenes"][0]["kind"] == "room" and (tmp_path / "closure.png").stat().st_size > 0
    engine, before = saved["configs"]["engine"], saved["configs"]["body_frame"]
    assert engine["turn_return_ssim"] == pytest.approx(1.0) and engine["turn_return_psnr"] >= 99
    assert before["turn_return_ssim"] < 1.0  # the body-frame engine regenerates every turn
    assert set(engine["retrace_return_ssim"]) == {"4"} and 0 < saved["ae_ssim"] <= 1
    assert set(engine["reach_ssim_vs_gt"]) == {"1"} and 0 < engine["reach_ssim_vs_gt"]["1"] <= 1  # 4 moves: 1 m
    assert 0 < saved["reach_reproject_ae_ssim"]["1"] <= 1 and 0 < saved["reach_ae_ssim"]["1"] <= 1
    assert engine["ms_turn_step"] < before["ms_turn_step"]  # a turn resamples; it runs no generator
    assert figures["turn_return_ssim"] == engine["turn_return_ssim"]
    assert 0 < saved["reproject_ae_ssim"] <= 1 and len(saved["per_scene_reprojection"]) == 1
    assert "| turn_return_ssim |" in capsys.readouterr().out


def test_a_frame_reprojected_to_its_own_pose_is_itself_and_moved_is_not():
    """Known answers for the reprojection ceiling: at the pose it was seen from, every pixel
    lands on itself; a step forward changes the picture but keeps most of its structure."""
    from worldengine.eval.metrics import ssim

    (scene, start), = closure.closure_scenes(TINY, MotionConfig())
    rgb, depth = closure._truth(scene, start, 32)
    assert (depth > 0).all()  # a room: every pixel has a surface
    np.testing.assert_array_equal(closure.reprojected(rgb, depth, start, start), rgb)
    ahead = closure._moved(start, 0.25)
    moved, truth = closure.reprojected(rgb, depth, start, ahead), closure._truth(scene, ahead, 32)[0]
    assert (moved != rgb).any() and ssim(moved, truth) > ssim(rgb, truth)


def test_closure_on_a_users_mesh(tmp_path, capsys):
    from worldengine.scenes.sample_mesh import write_sample_scene

    mesh = write_sample_scene(tmp_path / "plaza", up="z", ground_cells=4)
    closure.main(["--results-dir", str(tmp_path), "--mesh", str(mesh), "--mesh-up", "z"],
                 generator=make_tiny_generator(), config=TINY)
    record = json.loads((tmp_path / "closure_mesh.json").read_text())
    saved = record["figures"]
    assert saved["scenes"][0]["mesh"] == str(mesh) and (tmp_path / "closure_mesh.png").stat().st_size > 0
    assert saved["configs"]["engine"]["turn_return_ssim"] == pytest.approx(1.0)
    assert "--mesh-up z" in record["command"] and not (tmp_path / "closure.json").exists()
