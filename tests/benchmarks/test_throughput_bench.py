"""benchmarks.throughput plumbing on the tiny random generator (no thresholds)."""

from benchmarks import throughput
from tests.conftest import make_tiny_generator


def test_env_throughput_measures_steps_and_the_memory_share():
    figures = throughput.env_throughput(make_tiny_generator(), worlds=2, steps=2, mode="joint")
    assert figures["steps_per_s"] > 0 and 0 < figures["memory_frac"] < 1 and figures["memory_ms"] > 0


def test_step_time_is_keyed_by_the_memory_size_reached():
    sizes = throughput.steps_by_tokens(make_tiny_generator(), [500, 3000], steps=1, mode="joint", walk_steps=4)
    counts = [int(k) for k in sizes]
    assert len(counts) == 2 and counts[0] >= 500 and counts[1] >= 3000
    assert all(v["step_ms"] > v["memory_ms"] > 0 for v in sizes.values())


def test_long_episode_reopens_its_store(tmp_path):
    result = throughput.long_episode(make_tiny_generator(), 20, str(tmp_path))
    assert result["store_reopens"] and result["reopened_frames"] == result["stored_frames"] > 1
    assert len(result["rss_mb_by_step"]) == 10 and result["tokens"] > 0
    assert 0 < result["rss_mb_at_start"] <= min(result["rss_mb_by_step"].values())
