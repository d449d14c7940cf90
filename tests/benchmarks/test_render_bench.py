import json
import os
import re

import pytest

from benchmarks.common import git_commit, machine_info, markdown_table
from benchmarks.render import RenderBenchConfig, report, run

TINY = RenderBenchConfig(seeds=(3,), sizes=(16,), frames_per_scene=(2,), batch=2, batch_face_size=16, batch_calls_per_scene=1)


def test_render_benchmark_writes_positive_figures_with_provenance(tmp_path):
    figures, path = run(TINY, "python -m benchmarks.render --tiny", tmp_path)
    assert path == tmp_path / "render.json"
    record = json.loads(path.read_text())
    assert {"figures", "command", "commit", "machine", "date"} <= set(record)
    assert record["command"] == "python -m benchmarks.render --tiny"
    assert record["commit"] is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", record["commit"])
    assert record["machine"]["logical_cores"] == os.cpu_count()
    assert record["machine"]["torch_threads"] >= 1
    saved = record["figures"]
    for name in ["fps_s16", "fps_torch_s16", "fps_batch2_s16", "fps_torch_batch2_s16", "scene_build_s", "scene_build_torch_s"]:
        assert saved[name] > 0, name
    assert saved["frames_s16"] == 2 and saved["frames_batch2_s16"] == 2
    assert saved["open3d_over_torch_s16"] == pytest.approx(saved["fps_s16"] / saved["fps_torch_s16"])
    assert saved["ms_p90_torch_s16"] >= saved["ms_p50_torch_s16"] > 0
    assert saved["settings"]["sizes"] == [16]
    assert saved["torch_threads"] >= 1 and saved["wall_s"] > 0
    share = saved["other_processes_cpu_share"]
    assert share is None or 0 <= share <= 1
    assert saved == json.loads(json.dumps(figures))
    table = report(figures, TINY)
    assert table.count("\n| 16 |") == 2  # one single-pose row and one batched row


def test_config_needs_one_frame_count_per_size():
    with pytest.raises(ValueError, match="one count per size"):
        RenderBenchConfig(sizes=(16, 32), frames_per_scene=(2,))


def test_markdown_table():
    table = markdown_table(["S", "fps"], [[64, "1.50"], [256, 0.25]])
    assert table == "| S | fps |\n|---|---|\n| 64 | 1.50 |\n| 256 | 0.25 |"
    with pytest.raises(ValueError, match="row 1 has 1 cells, expected 2"):
        markdown_table(["S", "fps"], [[64, 1.5], [256]])


def test_git_commit_outside_a_repository_is_none(tmp_path):
    assert git_commit(tmp_path) is None
    commit = git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)


def test_machine_info_names_the_cpu_and_no_gpu_without_cuda():
    info = machine_info()
    assert info["cpu"] and info["python"].count(".") == 2
    import torch

    assert (info["gpu"] is None) == (not torch.cuda.is_available())
