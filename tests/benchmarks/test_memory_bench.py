import json

from benchmarks import memory as bench
from benchmarks.common import write_results


def test_memory_benchmark_plumbing(tmp_path):
    figures = bench.run(steps=6, seed=0, reads=2, workdir=tmp_path, scales={"small": 1500, "large": 6000})
    for key in ("footprint_ratio_vs_rgb", "read_speedup_vs_rgb", "disk_ratio_vs_rgb"):
        assert figures[key] > 0
    assert figures["rgb_points"] > figures["latent_tokens"] > 0
    assert set(figures["query_warp_ms"]) == {"small", "large"}
    assert figures["query_warp_tokens"]["large"] >= 2 * figures["query_warp_tokens"]["small"]  # whole copies of the unit
    path = write_results("memory", figures, "test", tmp_path)
    record = json.loads(path.read_text())
    assert record["figures"]["latent_tokens"] == figures["latent_tokens"] and "machine" in record
    assert "RGB point cloud" in bench.report(figures)
