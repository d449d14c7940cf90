"""Cubemap RGB-D frames per second of the ground-truth renderer, open3d (Embree) vs analytic torch.

    python -m benchmarks.render [--quick] [--threads N]

One frame is one cubemap: six faces of RGB and depth, from `render_cubemaps` on the CPU.
Procedural scenes 0..3, free poses with random yaw. Each (scene, backend) is warmed up
once (the first call builds the open3d mesh and its BVH, or the torch layout tensors);
that first call is reported apart as the build time. Then single-pose renders at face
sides S = 64 and 256, and batched renders of 8 poses at S = 64, are timed with
time.perf_counter, the two backends alternating pose by pose so that a change of load
during the run hits both alike. Writes benchmarks/results/render.json.

On a 2-core machine torch's intra-op thread pool stalls when another process is busy,
so the load average at start and end, a tiny torch-op probe and the share of CPU time
other processes took during the run are recorded with the figures: trust a run whose
share is near 0, and compare runs only when those are alike.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import markdown_table, write_results
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import ProceduralScene, render_cubemaps

NAME = "render"
BACKENDS = ("open3d", "torch")
PREFIX = {"open3d": "", "torch": "torch_"}  # figure names: fps_s64 is open3d, fps_torch_s64 torch
BUSY_LOAD = 1.0  # 1-minute load average above which the start is not quiet
BUSY_SHARE = 0.05  # share of CPU time other processes may take during a run


@dataclass
class RenderBenchConfig:
    """What to time: scenes, face sides, how many single-pose frames per scene and size,
    and the batched renders (batch poses per call, face side, calls per scene)."""

    seeds: tuple[int, ...] = (0, 1, 2, 3)
    sizes: tuple[int, ...] = (64, 256)
    frames_per_scene: tuple[int, ...] = (24, 6)  # one count per size
    batch: int = 8
    batch_face_size: int = 64
    batch_calls_per_scene: int = 4

    def __post_init__(self):
        if len(self.frames_per_scene) != len(self.sizes):
            raise ValueError(f"frames_per_scene needs one count per size {self.sizes}, got {self.frames_per_scene}")
        if not self.seeds or min(self.frames_per_scene) < 1 or self.batch < 1 or self.batch_calls_per_scene < 1:
            raise ValueError(f"need at least one scene, frame and batched call, got {self}")


FULL = RenderBenchConfig()
QUICK = RenderBenchConfig(frames_per_scene=(3, 1), batch_calls_per_scene=1)


def scene_poses(scene: ProceduralScene, count: int) -> torch.Tensor:
    """Poses (count, 4, 4) float32: pose k stands at scene.sample_free_position(default_rng(k))
    with a yaw drawn uniformly from the same generator, pitch 0."""
    poses = []
    for k in range(count):
        rng = np.random.default_rng(k)
        position = torch.as_tensor(scene.sample_free_position(rng), dtype=torch.float32)
        yaw = float(rng.uniform(-np.pi, np.pi))
        poses.append(pose_from_yaw_pitch(position, yaw, 0.0, dtype=torch.float32))
    return torch.stack(poses)  # (count, 4, 4)


def _seconds(fn: Callable[..., object], *args: Any) -> float:
    """Wall seconds of one call fn(*args)."""
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def torch_op_probe_us(repeats: int = 50) -> float:
    """Median microseconds of torch.floor on 6k floats: a few us on an idle machine, whole
    milliseconds when torch's thread pool is stalled by another busy process."""
    x = torch.rand(6144)
    torch.floor(x)
    return float(np.median([_seconds(torch.floor, x) for _ in range(repeats)]) * 1e6)


def load_1min() -> float | None:
    """The 1-minute load average, or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def measure(config: RenderBenchConfig) -> dict[str, Any]:
    """Time the renders `config` describes; returns the figures (fps, ms percentiles, ratios,
    build times) keyed as in render.json."""
    times: dict[tuple[str, str], list[float]] = {}
    builds: dict[str, list[float]] = {b: [] for b in BACKENDS}
    batch_label = f"batch{config.batch}_s{config.batch_face_size}"
    count = max(*config.frames_per_scene, config.batch * config.batch_calls_per_scene)
    importlib.import_module("open3d")  # seconds on the first import: not part of any scene's build
    for seed in config.seeds:
        scene = ProceduralScene(seed)
        poses = scene_poses(scene, count)  # (count, 4, 4); builds the free grid, untimed
        for backend in BACKENDS:
            builds[backend].append(_seconds(render_cubemaps, scene, poses[0], config.sizes[0], backend))
        for size, frames in zip(config.sizes, config.frames_per_scene):
            for k in range(frames):
                for backend in BACKENDS:
                    seconds = _seconds(render_cubemaps, scene, poses[k], size, backend)
                    times.setdefault((backend, f"s{size}"), []).append(seconds)
        for call in range(config.batch_calls_per_scene):
            batch = poses[call * config.batch : (call + 1) * config.batch]  # (batch, 4, 4)
            for backend in BACKENDS:
                seconds = _seconds(render_cubemaps, scene, batch, config.batch_face_size, backend)
                times.setdefault((backend, batch_label), []).append(seconds)

    figures: dict[str, Any] = {}
    labels = [f"s{size}" for size in config.sizes] + [batch_label]
    for label in labels:
        per_call = config.batch if label == batch_label else 1
        for backend in BACKENDS:
            t = np.asarray(times[(backend, label)])
            name = PREFIX[backend] + label
            figures[f"fps_{name}"] = per_call * len(t) / float(t.sum())
            figures[f"ms_p50_{name}"] = float(np.percentile(t, 50) * 1e3)
            figures[f"ms_p90_{name}"] = float(np.percentile(t, 90) * 1e3)
        figures[f"open3d_over_torch_{label}"] = figures[f"fps_{label}"] / figures[f"fps_torch_{label}"]
        figures[f"frames_{label}"] = per_call * len(times[("open3d", label)])
    for backend in BACKENDS:
        figures[f"scene_build_{PREFIX[backend]}s"] = float(np.mean(builds[backend]))
    return figures


def run(config: RenderBenchConfig, command: str, results_dir: Path | str | None = None) -> tuple[dict[str, Any], Path]:
    """Measure, add the run's conditions (torch threads, load, torch-op probe, other processes'
    CPU share, wall time, settings) to the figures and write them with write_results.
    Returns (figures, path written)."""
    start, busy_start, own_start = time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds()
    conditions: dict[str, Any] = {
        "torch_threads": torch.get_num_threads(),
        "load_1min_start": load_1min(),
        "torch_op_probe_us_start": torch_op_probe_us(),
    }
    figures = measure(config)
    conditions["load_1min_end"] = load_1min()  # counts this run's own threads too
    conditions["torch_op_probe_us_end"] = torch_op_probe_us()
    wall, busy_end = time.perf_counter() - start, _busy_cpu_seconds()
    share = None
    if busy_start is not None and busy_end is not None:
        others = busy_end - busy_start - (_own_cpu_seconds() - own_start)
        share = max(others, 0.0) / (wall * (os.cpu_count() or 1))  # ~0 on a quiet machine
    conditions["other_processes_cpu_share"] = share
    figures.update(conditions)
    figures["wall_s"] = wall
    figures["settings"] = asdict(config)
    return figures, write_results(NAME, figures, command, results_dir)


def report(figures: dict[str, Any], config: RenderBenchConfig) -> str:
    """The markdown table of a run's figures, with build times and conditions below it."""
    batch_label = f"batch{config.batch}_s{config.batch_face_size}"
    rows = []
    for label, size, per_call in [(f"s{s}", s, 1) for s in config.sizes] + [(batch_label, config.batch_face_size, config.batch)]:
        cells: list[Any] = [size, per_call, figures[f"frames_{label}"]]
        cells += [f"{figures[f'fps_{PREFIX[b]}{label}']:.2f}" for b in BACKENDS]
        cells.append(f"{figures[f'open3d_over_torch_{label}']:.2f}")
        for b in BACKENDS:
            name = PREFIX[b] + label
            cells.append(f"{figures[f'ms_p50_{name}']:.1f} / {figures[f'ms_p90_{name}']:.1f}")
        rows.append(cells)
    headers = ["S", "poses per call", "frames", "open3d fps", "torch fps", "open3d / torch",
               "open3d p50 / p90 ms per call", "torch p50 / p90 ms per call"]
    notes = (
        f"\nscene build (first call: mesh/BVH or layout tensors + one S={config.sizes[0]} frame), mean of "
        f"{len(config.seeds)} scenes: open3d {figures['scene_build_s']:.3f} s, torch {figures['scene_build_torch_s']:.3f} s\n"
        f"torch threads {figures['torch_threads']}; 1-min load {_fmt(figures['load_1min_start'])} -> "
        f"{_fmt(figures['load_1min_end'])} (includes this run); other processes' CPU share "
        f"{_fmt(figures['other_processes_cpu_share'])}; torch.floor(6k) probe {figures['torch_op_probe_us_start']:.1f} -> "
        f"{figures['torch_op_probe_us_end']:.1f} us; wall {figures['wall_s']:.1f} s"
    )
    return markdown_table(headers, rows) + "\n" + notes


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry: run the benchmark, print the table, write render.json."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under a minute)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)")
    parser.add_argument("--results-dir", type=Path, default=None, help="where render.json goes (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # a script's choice, recorded in the JSON; never in library code
    load = load_1min()
    if load is not None and load > BUSY_LOAD:
        print(
            f"warning: 1-minute load average {load:.2f} > {BUSY_LOAD} at start: another process is, or was a "
            "moment ago, busy; torch's thread pool stalls under load on few cores, so figures may be slow and noisy",
            file=sys.stderr,
        )
    config = QUICK if args.quick else FULL
    command = shlex.join(["python", "-m", "benchmarks.render", *argv])
    figures, path = run(config, command, args.results_dir)
    print(report(figures, config))
    share = figures["other_processes_cpu_share"]
    if share is not None and share > BUSY_SHARE:
        print(f"warning: other processes used {share:.0%} of the CPU during the run; rerun on a quiet machine", file=sys.stderr)
    print(f"\nwrote {path} ({command})")
    return figures


if __name__ == "__main__":
    main()
