"""Long-horizon exploration: does the generated world stay the same when the agent comes back?

Run: python -m benchmarks.explore [--quick]      (what `worldengine bench` runs)
     [--generator DIR] [--autoencoder DIR] [--refiner DIR]   (other weights than the shipped ones)

Lockstep. On held-out scene seeds (checked against the training range), the ground-truth
explorer walks each trajectory family: an out-and-back (A -> B -> A), a loop
(A -> B -> C -> A) and a long walk of LONG_WALK steps with many returns. Every learned
world starts from the same ground-truth first frame and is stepped along the poses the
ground truth reached with the same actions (`WorldModel.step_to`: the action conditions
the generator, the pose is the ground truth's, so both worlds are scored from one
viewpoint and a learned collision cannot send them apart).

Per step, from the ground truth alone: overlap, overlap_old and time since first visit,
and whether the step is a revisit (worldengine.eval.revisit, the definition `worldengine
explore` shares).

Per step and per ablation, against the ground truth at that pose: PSNR, SSIM, LPIPS
(real AlexNet LPIPS, or null when its package/weights are unavailable: never a
stand-in), depth AbsRel, and the cube's own seam quality, Seam-SSIM and Seam-Sobel
(defined in worldengine/eval/metrics.py; the ground truth's values are the ceiling). Revisit
figures average over revisit steps; drift bins them by time since first visit.

Ablations, all in the same run on the same trajectories (ABLATIONS): latent (ours:
sequential faces, tokens within 12 m), no_memory (history frames only), rgb_points (an
explicit RGB point cloud at pixel resolution, rendered and encoded every step), joint (all
faces at once), the retrieval policies nearest_frames and recent, unrefined (the engine
without its learned refiner) and body_frame (the engine before position-keyed worlds:
benchmarks.common.ENGINES). Each ablation's revisit
PSNR and SSIM are also given as gains over no_memory. The sequential
ablations share one generator batch (one world each); timing is taken separately, each
ablation alone (batch 1) for `timed_steps` steps at the end of the long walk, where its
memory is largest: ms_per_step (memory read + generate + decode + write),
memory_read_ms, and memory_bytes (what its memory holds in RAM), each also as a ratio
against latent.

Speed and scale: steps/s of 1..64 parallel worlds (World-v0 vector env), step time as the
memory holds 10^3..10^5+ tokens (benchmarks.throughput), and the time and bytes per
stored frame of the long walk's latent memory.

Writes benchmarks/results/explore.json (every figure, command, commit, machine),
explore_steps.json (per-step records) and three plots: explore_drift.png,
explore_worlds.png, explore_tokens.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.common import ENGINES, RESULTS_DIR, bench_command, publish
from benchmarks.explore_report import plots, report
from benchmarks.weights import add_weight_arguments, load_weights, weight_flags
from worldengine.data.record import walk
from worldengine.eval import metrics
from worldengine.eval.revisit import REVISIT_GAP, REVISIT_OVERLAP, SeenBefore, is_revisit
from worldengine.model.generate import CubeGenerator
from worldengine.scenes import ProceduralScene
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, check_heldout
from worldengine.world import WorldConfig, WorldModel
from worldengine.world.start import StartFrame

METRICS = ("psnr", "ssim", "lpips", "depth_absrel", "seam_ssim", "seam_sobel")
# name: (generation mode, memory kind, retrieval)
ABLATIONS = {  # name: (generation mode, memory kind, retrieval, world configuration in benchmarks.common.ENGINES)
    "latent": ("sequential", "latent", "radius", "engine"),
    "no_memory": ("sequential", "none", "radius", "engine"),
    "rgb_points": ("sequential", "rgb_points", "radius", "engine"),
    "joint": ("joint", "latent", "radius", "engine"),
    "nearest_frames": ("sequential", "latent", "nearest_frames", "engine"),
    "recent": ("sequential", "latent", "recent", "engine"),
    "unrefined": ("sequential", "latent", "radius", "unrefined"),
    "body_frame": ("sequential", "latent", "radius", "body_frame"),
}
DRIFT_BINS = (0, 25, 50, 100, 200, 400, 10_000)  # steps since first visit
TARGETS = {"revisit_psnr_gain_db": 5.0, "revisit_ssim_gain": 0.15, "psnr_gap_to_rgb_points_db": 1.0, "memory_ratio": 10.0, "read_speedup": 5.0}


@dataclass(frozen=True)
class Trajectory:
    """One trajectory family: the explorer's route kinds, how many routes, at most `steps`."""

    name: str
    scene_seed: int
    steps: int
    route_kinds: tuple[str, ...]
    routes: int | None


@dataclass(frozen=True)
class BenchConfig:
    trajectories: tuple[Trajectory, ...]
    revisit_gap: int = REVISIT_GAP  # steps: overlap_old counts frames at least this much older
    timed_steps: int = 8
    worlds: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    world_steps: int = 2
    token_sizes: tuple[int, ...] = (1_000, 10_000, 100_000, 300_000)
    token_steps: int = 3
    token_walk: int = 120
    ablations: tuple[str, ...] = tuple(ABLATIONS)


FULL = BenchConfig((Trajectory("out_and_back", 1_000_003, 400, ("out_and_back",), 1),
                    Trajectory("loop", 1_000_003, 400, ("loop",), 1),
                    Trajectory("long_walk", 1_000_006, 500, ("out_and_back", "loop"), None)))
QUICK = BenchConfig((Trajectory("out_and_back", 1_000_003, 24, ("out_and_back",), 1),
                     Trajectory("loop", 1_000_003, 24, ("loop",), 1),
                     Trajectory("long_walk", 1_000_006, 24, ("out_and_back", "loop"), None)),
                    revisit_gap=10, timed_steps=2, worlds=(1, 4), world_steps=1, token_sizes=(1_000, 10_000),
                    token_steps=1, token_walk=20)


def score(frame_rgb: np.ndarray, frame_depth: np.ndarray, truth_rgb: np.ndarray, truth_depth: np.ndarray,
          lpips: metrics.Lpips) -> dict[str, float | None]:
    return {"psnr": metrics.psnr(frame_rgb, truth_rgb), "ssim": metrics.ssim(frame_rgb, truth_rgb),
            "lpips": lpips(frame_rgb, truth_rgb), "depth_absrel": metrics.depth_absrel(frame_depth, truth_depth),
            "seam_ssim": metrics.seam_ssim(frame_rgb), "seam_sobel": metrics.seam_sobel(frame_rgb)}


@dataclass
class Lockstep:
    """The learned worlds of every ablation, stepped together beside the ground truth."""

    generator: CubeGenerator
    ablations: tuple[str, ...]
    models: dict[tuple[str, str], WorldModel] = field(default_factory=dict)
    slots: dict[str, tuple[tuple[str, str], int]] = field(default_factory=dict)  # ablation -> (model, world index)

    def __post_init__(self) -> None:
        for key in dict.fromkeys((ABLATIONS[a][0], ABLATIONS[a][3]) for a in self.ablations):  # (mode, engine)
            names = [a for a in self.ablations if (ABLATIONS[a][0], ABLATIONS[a][3]) == key]
            config = WorldConfig(mode=key[0], sampler=self.generator.sampler, **ENGINES[key[1]])
            self.models[key] = WorldModel(self.generator, len(names), config)
            self.slots.update({name: (key, i) for i, name in enumerate(names)})

    def reset(self, start: StartFrame, seed: int) -> None:
        for name, (key, i) in self.slots.items():
            self.models[key].reset(i, start, seed=seed, memory_kind=ABLATIONS[name][1], retrieval=ABLATIONS[name][2])

    def step(self, pose: np.ndarray, action: int) -> dict[str, Any]:
        """Every ablation's frame at `pose` (one generator batch per mode and engine)."""
        frames = {key: model.step_to({i: (pose, action) for i in range(model.num_worlds)})
                  for key, model in self.models.items()}
        return {name: frames[key][i] for name, (key, i) in self.slots.items()}

    def timed(self, name: str, moves: list[tuple[np.ndarray, int]]) -> dict[str, float]:
        """Ablation `name` stepped alone (batch 1) along `moves`: mean ms per stage."""
        model, i = self.models[self.slots[name][0]], self.slots[name][1]
        timings, walls = [], []
        for pose, action in moves:
            start = time.perf_counter()
            timings.append(model.step_to({i: (pose, action)})[i].timings)
            walls.append((time.perf_counter() - start) * 1e3)
        means = {stage: statistics.mean(t[stage] for t in timings) for stage in timings[0]}
        return {"ms_per_step": statistics.mean(walls), **means, "memory_bytes": model.memory_bytes(i)}

    def close(self) -> None:
        for model in self.models.values():
            model.close()


def run_trajectory(generator: CubeGenerator, trajectory: Trajectory, config: BenchConfig, lpips: metrics.Lpips,
                   progress: bool, timed: bool) -> tuple[list[dict], dict[str, dict], dict]:
    """Walk one trajectory in lockstep: per-step records, per-ablation timing (if `timed`;
    else empty), and facts."""
    scene = ProceduralScene(trajectory.scene_seed)
    size = generator.autoencoder.config.face_size
    seen, lockstep = SeenBefore(generator.model.config.latent_size), Lockstep(generator, config.ablations)
    records, moves = [], []

    def on_frame(truth: dict) -> None:
        t = len(records)
        record = {"step": t, "pose": truth["pose"].tolist(), **seen.observe(truth["depth"], truth["pose"], t, config.revisit_gap),
                  "truth": {"seam_ssim": metrics.seam_ssim(truth["rgb"]), "seam_sobel": metrics.seam_sobel(truth["rgb"])}}
        if t == 0:
            lockstep.reset(StartFrame(truth["rgb"], truth["depth"], truth["pose"]), seed=trajectory.scene_seed)
        else:
            moves.append((truth["pose"], truth["action"]))
            for name, frame in lockstep.step(truth["pose"], truth["action"]).items():
                record[name] = {**score(frame.rgb, frame.depth, truth["rgb"], truth["depth"], lpips),
                                "memory_read_ms": frame.timings["memory_read_ms"]}
        records.append(record)

    try:
        rollout = walk(scene, trajectory.steps, size, trajectory.scene_seed, on_frame, progress=progress,
                       route_kinds=trajectory.route_kinds, routes=trajectory.routes)
        back = moves[::-1][:config.timed_steps]  # retrace the last moves
        timing = {name: lockstep.timed(name, back) for name in config.ablations} if timed else {}
    finally:
        lockstep.close()
    positions = np.array([p[:3, 3] for p in rollout.poses])
    facts = {"scene_seed": trajectory.scene_seed, "scene_kind": scene.layout.kind, "steps": len(records) - 1,
             "routes": [r["kind"] for r in rollout.routes],
             "path_length_m": float(np.linalg.norm(np.diff(positions, axis=0), axis=1).sum()),
             "revisit_steps": sum(is_revisit(r) for r in records[1:])}
    return records, timing, facts


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def summarise(records: list[dict], name: str) -> dict[str, float | None]:
    """Ablation `name`'s revisit means, first-visit PSNR, and seam means over all steps."""
    steps = [r for r in records if r["step"] > 0]  # step 0 is every world's ground-truth start
    revisit = [r[name] for r in steps if is_revisit(r)]
    first = [r[name] for r in steps if not is_revisit(r)]
    summary = {f"revisit_{m}": _mean([s[m] for s in revisit]) for m in METRICS}
    summary.update({"psnr": _mean([r[name]["psnr"] for r in steps]), "first_visit_psnr": _mean([s["psnr"] for s in first]),
                    "depth_absrel": _mean([r[name]["depth_absrel"] for r in steps]),
                    "seam_ssim": _mean([r[name]["seam_ssim"] for r in steps]),
                    "seam_sobel": _mean([r[name]["seam_sobel"] for r in steps]),
                    "revisit_steps": len(revisit)})
    return summary


def drift(records: list[dict], name: str) -> dict[str, dict]:
    """Revisit metrics binned by steps since first visit (DRIFT_BINS)."""
    out = {}
    for lo, hi in zip(DRIFT_BINS[:-1], DRIFT_BINS[1:]):
        chosen = [r[name] for r in records if r["step"] > 0 and is_revisit(r) and lo <= r["since_first_visit"] < hi]
        if chosen:
            out[f"{lo}-{hi}"] = {"steps": len(chosen), **{m: _mean([c[m] for c in chosen]) for m in METRICS}}
    return out


def ratios(ablation: dict, ours: dict) -> dict[str, float | None]:
    """Time and memory against latent: > 1 means the ablation costs more than ours."""
    def ratio(key: str) -> float | None:
        return ablation[key] / ours[key] if ours[key] else None
    return {"ms_per_step_ratio": ratio("ms_per_step"), "memory_read_ratio": ratio("memory_read_ms"),
            "memory_bytes_ratio": ratio("memory_bytes")}


def memory_gains(ablation: dict, off: dict | None) -> dict[str, float | None]:
    """Revisit PSNR and SSIM above no memory at all (what remembering is worth)."""
    def gain(key: str) -> float | None:
        if off is None or ablation[key] is None or off[key] is None:
            return None
        return ablation[key] - off[key]
    return {"revisit_psnr_gain": gain("revisit_psnr"), "revisit_ssim_gain": gain("revisit_ssim")}


def targets(figures: dict) -> dict[str, dict]:
    a = figures["ablations"]
    ours, off, points = a.get("latent"), a.get("no_memory"), a.get("rgb_points")
    out = {}
    if ours and off and ours["revisit_psnr"] is not None and off["revisit_psnr"] is not None:
        gain = ours["revisit_psnr"] - off["revisit_psnr"]
        out["revisit_psnr_gain_db"] = {"value": gain, "target": f">= {TARGETS['revisit_psnr_gain_db']}",
                                       "met": gain >= TARGETS["revisit_psnr_gain_db"]}
    if ours and off and ours["revisit_ssim"] is not None and off["revisit_ssim"] is not None:
        gain = ours["revisit_ssim"] - off["revisit_ssim"]
        out["revisit_ssim_gain"] = {"value": gain, "target": f">= {TARGETS['revisit_ssim_gain']}",
                                    "met": gain >= TARGETS["revisit_ssim_gain"]}
    if ours and points:
        if ours["revisit_psnr"] is not None and points["revisit_psnr"] is not None:
            gap = points["revisit_psnr"] - ours["revisit_psnr"]
            out["psnr_gap_to_rgb_points_db"] = {"value": gap, "target": f"<= {TARGETS['psnr_gap_to_rgb_points_db']}",
                                                "met": gap <= TARGETS["psnr_gap_to_rgb_points_db"]}
        out["memory_ratio"] = {"value": points["memory_bytes_ratio"], "target": f">= {TARGETS['memory_ratio']}",
                               "met": (points["memory_bytes_ratio"] or 0) >= TARGETS["memory_ratio"]}
        out["read_speedup"] = {"value": points["memory_read_ratio"], "target": f">= {TARGETS['read_speedup']}",
                               "met": (points["memory_read_ratio"] or 0) >= TARGETS["read_speedup"]}
    return out


def speed_and_scale(generator: CubeGenerator, config: BenchConfig) -> dict[str, Any]:
    from benchmarks.throughput import env_throughput, steps_by_tokens

    by_worlds = {str(w): env_throughput(generator, w, config.world_steps, "sequential") for w in config.worlds}
    tokens = steps_by_tokens(generator, list(config.token_sizes), config.token_steps, "sequential", config.token_walk)
    return {"steps_per_s_by_worlds": {w: v["steps_per_s"] for w, v in by_worlds.items()},
            "step_ms_by_worlds": {w: v["step_ms"] for w, v in by_worlds.items()},
            "step_ms_by_tokens": tokens}


def run(generator: CubeGenerator, config: BenchConfig, progress: bool = False) -> tuple[dict, dict]:
    """The whole benchmark: (figures, per-step records by trajectory)."""
    check_heldout([t.scene_seed for t in config.trajectories])
    lpips, start = metrics.Lpips(), time.perf_counter()
    steps, timings, facts = {}, {}, {}
    longest = config.trajectories[-1].name  # timing and footprint where the memory is largest
    for trajectory in config.trajectories:
        steps[trajectory.name], timings[trajectory.name], facts[trajectory.name] = run_trajectory(
            generator, trajectory, config, lpips, progress, timed=trajectory.name == longest)
    every = [r for t in config.trajectories for r in steps[t.name]]
    ablations = {}
    for name in config.ablations:
        ablations[name] = {"mode": ABLATIONS[name][0], "memory": ABLATIONS[name][1], "retrieval": ABLATIONS[name][2],
                           "engine": ABLATIONS[name][3],
                           **summarise(every, name), **timings[longest][name]}
    for name in config.ablations:
        ablations[name].update(ratios(ablations[name], ablations["latent"]))
        ablations[name].update(memory_gains(ablations[name], ablations.get("no_memory")))
    truth = [r["truth"] for r in every]
    latent_long = timings[longest].get("latent")
    figures = {
        "scene_seeds": sorted({t.scene_seed for t in config.trajectories}),
        "heldout_range": [HELDOUT_SCENE_SEEDS.start, HELDOUT_SCENE_SEEDS.stop],
        "sampler_steps": generator.sampler.steps, "face_size": generator.autoencoder.config.face_size,
        "revisit_gap": config.revisit_gap, "revisit_overlap": REVISIT_OVERLAP, "timed_steps": config.timed_steps,
        "lpips": "alexnet" if lpips.available else f"unavailable ({lpips.reason})",
        "trajectories": facts,
        "mean_overlap": _mean([r["overlap"] for r in every if r["step"] > 0]),
        "ground_truth": {"seam_ssim": _mean([t["seam_ssim"] for t in truth]),
                         "seam_sobel": _mean([t["seam_sobel"] for t in truth])},
        "ablations": ablations,
        "per_trajectory": {t.name: {name: summarise(steps[t.name], name) for name in config.ablations}
                           for t in config.trajectories},
        "drift": {name: drift(every, name) for name in config.ablations},
    }
    figures["targets"] = targets(figures)
    figures["speed"] = speed_and_scale(generator, config)
    if latent_long:
        frames = facts[longest]["steps"] + 1
        figures["speed"]["bytes_per_frame"] = latent_long["memory_bytes"] / frames
        figures["speed"]["write_ms_per_frame"] = latent_long["memory_write_ms"]
    figures["wall_s"] = time.perf_counter() - start
    return figures, steps


def main(argv: Sequence[str] | None = None, generator: CubeGenerator | None = None,
         config: BenchConfig | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explore", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short trajectories and few timings (< 10 min)")
    parser.add_argument("--results-dir", default=None, help="where explore.json and the plots go")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    add_weight_arguments(parser)
    args = parser.parse_args(argv)
    generator = generator or load_weights(args)
    config = config or (QUICK if args.quick else FULL)
    figures, steps = run(generator, config, args.progress)
    folder = Path(args.results_dir) if args.results_dir else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "explore_steps.json").write_text(json.dumps(steps) + "\n")
    plots(figures, folder)
    publish("explore", figures, report(figures), bench_command("explore", args.quick, *weight_flags(args)), folder,
            also=f", explore_steps.json and explore_*.png in {figures['wall_s']:.0f} s")
    return figures


if __name__ == "__main__":
    main()
