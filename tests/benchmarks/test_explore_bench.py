"""benchmarks.explore: the whole benchmark on a tiny configuration (plumbing, no thresholds),
and the ground-truth bookkeeping it rests on (known answers)."""

import json

import numpy as np
import pytest

from benchmarks import explore
from benchmarks.readme import explore_section
from tests.conftest import make_tiny_generator
from worldengine.cli import main as cli_main
from worldengine.data.record import walk
from worldengine.scenes import ProceduralScene

TINY = explore.BenchConfig(
    (explore.Trajectory("out_and_back", 1_000_003, 10, ("out_and_back",), 1),
     explore.Trajectory("long_walk", 1_000_006, 8, ("out_and_back", "loop"), None)),
    revisit_gap=3, timed_steps=1, worlds=(1, 2), world_steps=1, token_sizes=(300,), token_steps=1, token_walk=3)


def test_tiny_benchmark_writes_every_figure_table_and_plot(tmp_path, capsys):
    figures = explore.main(["--results-dir", str(tmp_path)], make_tiny_generator(), TINY)
    record = json.loads((tmp_path / "explore.json").read_text())
    assert record["command"] == "python -m benchmarks.explore" and record["machine"]["logical_cores"] > 0
    ablations = record["figures"]["ablations"]
    assert set(ablations) == set(explore.ABLATIONS)
    for name, figures_of in ablations.items():
        for key in ("revisit_psnr", "revisit_ssim", "revisit_lpips", "depth_absrel", "seam_ssim", "ms_per_step",
                    "memory_bytes", "memory_read_ms", "ms_per_step_ratio", "memory_bytes_ratio"):
            assert key in figures_of, (name, key)
        assert figures_of["ms_per_step"] > 0
    assert ablations["latent"]["ms_per_step_ratio"] == pytest.approx(1.0)
    assert ablations["no_memory"]["memory_bytes"] == 0 and ablations["rgb_points"]["memory_bytes"] > 0
    lpips_said = record["figures"]["lpips"]
    assert lpips_said == "alexnet" or (lpips_said.startswith("unavailable") and ablations["latent"]["revisit_lpips"] is None)
    assert record["figures"]["trajectories"]["out_and_back"]["steps"] <= 10
    assert set(record["figures"]["speed"]["steps_per_s_by_worlds"]) == {"1", "2"}
    steps = json.loads((tmp_path / "explore_steps.json").read_text())
    assert len(steps["long_walk"]) == 9 and "latent" in steps["long_walk"][1] and "latent" not in steps["long_walk"][0]
    for plot in ("explore_drift.png", "explore_worlds.png", "explore_tokens.png"):
        assert (tmp_path / plot).stat().st_size > 0
    assert "| latent |" in capsys.readouterr().out
    assert "| latent |" in explore_section(record) and figures["wall_s"] > 0


def test_training_seeds_are_refused():
    config = explore.BenchConfig((explore.Trajectory("loop", 5, 4, ("loop",), 1),))
    with pytest.raises(ValueError, match="training seeds"):
        explore.run(make_tiny_generator(), config)


def test_an_out_and_back_walk_ends_where_it_began():
    scene = ProceduralScene(1_000_003)
    poses = []
    rollout = walk(scene, 400, 16, 1_000_003, lambda f: poses.append(f["pose"]), route_kinds=("out_and_back",), routes=1)
    assert [r["kind"] for r in rollout.routes] == ["out_and_back"] and len(poses) < 401
    start, far = poses[0][:3, 3], max(np.linalg.norm(p[:3, 3] - poses[0][:3, 3]) for p in poses)
    assert far > 2.0 and np.linalg.norm(poses[-1][:3, 3] - start) < 0.5


def test_worldengine_bench_runs_the_benchmark(monkeypatch):
    seen = {}
    monkeypatch.setattr(explore, "main", lambda argv: seen.setdefault("argv", argv))
    assert cli_main(["bench", "--quick", "--results-dir", "somewhere"]) == 0
    assert seen["argv"] == ["--quick", "--results-dir", "somewhere"]
