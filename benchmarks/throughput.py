"""Throughput of the generated world: env steps per second, memory overhead, memory growth.

Run: python -m benchmarks.throughput [--quick] [--mode sequential|joint]

- steps_per_s_1 / steps_per_s_8: World-v0 env steps per second (all worlds together) for
  one env and for the vector env of 8 (make_vec, vector_entry_point: one generator batch),
  shipped checkpoint, held-out scene, the loop explorer's kind of actions (mostly forward
  and turns). Also timed in the other generation mode for comparison.
- memory_overhead_frac: (collision query + memory query and warp + write-back) / step
  wall time, mean over the 1-env steps.
- step_ms_by_tokens: time of a step that moves (placed along the walk's own poses, so every
  step is generated; the move's collision query timed beside it) and the memory part of it, with the memory holding ~10^3
  .. 10^5 tokens. The memory is filled with the held-out scene's real encoded frames (the
  walk's latents lifted by their ground-truth depth); past what one walk holds, copies of
  it are laid 100 m apart, as a world explored far and wide would be. The retrieval
  (memory.index) touches only the tokens near the camera, so the step should stay flat.
- long_episode: 2,000 steps (200 with --quick) of one world with the tiny CubeDiT
  (randomly initialised, one sampler step) on the shipped autoencoder, in a process of its
  own: resident memory (RSS) before it and along the way, the store's token count, and
  whether the store reopens with exactly those tokens and frames.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import torch

from benchmarks.common import bench_command, markdown_table, publish
from envs.world_vector_env import WorldVectorEnv
from memory import LatentMemory, LatentPoints, backproject
from worldengine.agent.actions import DiscreteAction, decode_action
from worldengine.agent.kinematics import step_pose
from worldengine.agent.start import start_pose
from worldengine.geometry.cube import face_rotations
from worldengine.model.autoencoder import CubeAutoencoder
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, load_autoencoder, load_world_generator
from worldengine.model.dit import MODEL_SIZES, CubeDiT
from worldengine.model.flow import SamplerConfig
from worldengine.model.generate import MODES, CubeGenerator
from worldengine.scenes import ProceduralScene
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, check_heldout
from worldengine.train.latent_data import encode_walk
from worldengine.world import WorldConfig, WorldModel
from worldengine.world.start import scene_start

SCENE_SEED = HELDOUT_SCENE_SEEDS[0]
MEMORY_PARTS = ("collision_ms", "memory_read_ms", "memory_write_ms")
ACTIONS = [int(DiscreteAction.FORWARD)] * 4 + [int(DiscreteAction.TURN_LEFT), int(DiscreteAction.TURN_RIGHT)]
FAR = 100.0  # metres between copies of the walk used to grow the memory


def policy_actions(rng: np.random.Generator, count: int, worlds: int) -> np.ndarray:
    return rng.choice(ACTIONS, size=(count, worlds))


def env_throughput(generator: CubeGenerator, worlds: int, steps: int, mode: str) -> dict[str, float]:
    """Steps/s of a vector env of `worlds` (1 = one env), and the memory part of its steps."""
    env = WorldVectorEnv(worlds, generator=generator, scene_seed=SCENE_SEED, mode=mode, max_steps=10_000)
    env.reset(seed=0)
    actions = policy_actions(np.random.default_rng(0), steps + 1, worlds)
    env.step(actions[0])  # warm-up
    wall, memory_ms = [], []
    for a in actions[1:]:
        start = time.perf_counter()
        env.step(a)
        wall.append((time.perf_counter() - start) * 1e3)
        memory_ms.append(sum(sum(env.world.last_frame(i).timings[k] for k in MEMORY_PARTS) for i in range(worlds)))
    env.close()
    return {"steps_per_s": worlds * 1e3 / statistics.mean(wall), "step_ms": statistics.mean(wall),
            "memory_ms": statistics.mean(memory_ms), "memory_frac": statistics.mean(m / w for m, w in zip(memory_ms, wall))}


def fill_memory(memory: LatentMemory, frames: list, target: int, first_id: int) -> int:
    """Write frames (points, pose) and far copies of them until the memory holds >= target tokens."""
    copy, frame_id = 0, first_id
    while len(memory) < target:
        offset = torch.tensor([FAR * copy, 0.0, 0.0])
        for points, pose in frames:
            if len(memory) >= target:
                break
            shifted = LatentPoints(points.positions + offset, points.features, points.rgb, points.frame)
            moved = pose.clone()
            moved[:3, 3] += offset
            memory.write(shifted, frame_id, moved, float(frame_id))
            frame_id += 1
        copy += 1
    return frame_id


def steps_by_tokens(generator: CubeGenerator, sizes: list[int], steps: int, mode: str, walk_steps: int) -> dict:
    """Mean step ms and memory ms at each memory size."""
    scene = ProceduralScene(SCENE_SEED)
    episode = encode_walk(scene, walk_steps, generator.autoencoder, SCENE_SEED)
    rotations = face_rotations()
    frames = [(backproject(episode.latents[i:i + 1].float(), episode.cell_depth[i:i + 1], episode.poses[i:i + 1],
                           rotations, torch.tensor([i])), episode.poses[i]) for i in range(len(episode))]
    world = WorldModel(generator, 1, WorldConfig(mode=mode))
    rng = np.random.default_rng(0)
    world.reset(0, scene_start(scene, start_pose(scene, rng, world.config.motion), world.face_size), seed=0)
    results, next_id = {}, 1_000_000  # prefilled frame ids stay clear of the world's own
    forward = decode_action(int(DiscreteAction.FORWARD), "discrete", world.config.motion)
    for size in sizes:
        next_id = fill_memory(world.memory(0), frames, size, next_id)
        world.step({0: int(DiscreteAction.TURN_LEFT)})  # warm-up at this size
        step_ms, parts = [], {k: [] for k in MEMORY_PARTS}
        for k in range(steps):  # moves along the walk's own poses: each is generated (a turn would only resample)
            start = time.perf_counter()
            state = world.world(0)
            step_pose(state.pose, forward, world.config.motion, state.collider.ray_distance)  # the move's collision query
            collision_ms = (time.perf_counter() - start) * 1e3
            frame = world.step_to({0: (episode.poses[(k + 1) % len(episode)].numpy(), int(DiscreteAction.FORWARD))})[0]
            frame.timings["collision_ms"] = collision_ms
            step_ms.append((time.perf_counter() - start) * 1e3)
            for k in MEMORY_PARTS:
                parts[k].append(frame.timings[k])
        means = {k: statistics.mean(v) for k, v in parts.items()}
        results[str(len(world.memory(0)))] = {"step_ms": statistics.mean(step_ms), "memory_ms": sum(means.values()),
                                              **means}
    world.close()
    return results


def tiny_generator(autoencoder: CubeAutoencoder) -> CubeGenerator:
    """The tiny CubeDiT, randomly initialised, on the shipped autoencoder: what a long
    episode costs in RAM and disk (the decoded depth fills the memory), not its quality."""
    torch.manual_seed(0)
    ae = autoencoder.config
    config = replace(MODEL_SIZES["tiny"], latent_channels=ae.latent_channels, latent_size=ae.face_size // ae.stride)
    return CubeGenerator(CubeDiT(config), autoencoder, SamplerConfig(steps=1))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def long_episode_alone(steps: int) -> dict[str, Any]:
    """`long_episode` in a fresh process on the shipped autoencoder, so that its RSS is the
    episode's own: in this one, the allocator keeps the pages the larger memories above
    freed, and RSS would show their high-water mark, flat."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_long_episode_in_child, (steps,))


def _long_episode_in_child(steps: int) -> dict[str, Any]:
    generator = tiny_generator(load_autoencoder(DEFAULT_AUTOENCODER))  # the episode runs no other network
    with tempfile.TemporaryDirectory() as tmp:
        return long_episode(generator, steps, tmp)


def long_episode(generator: CubeGenerator, steps: int, workdir: str) -> dict[str, Any]:
    """One world for `steps` steps: RSS before the first step and along the way, and the
    store reopened."""
    rss_at_start = round(rss_mb(), 1)
    world = WorldModel(generator, 1, WorldConfig(mode="joint", sampler=generator.sampler))
    scene = ProceduralScene(SCENE_SEED)
    rng = np.random.default_rng(0)
    store = f"{workdir}/long.zarr"
    world.reset(0, scene_start(scene, start_pose(scene, rng, world.config.motion), world.face_size), seed=0,
                memory_path=store)
    samples, start, stored = {}, time.perf_counter(), 1
    for step, action in enumerate(policy_actions(rng, steps, 1)[:, 0], start=1):
        stored += int(world.step({0: int(action)})[0].order[0] >= 0)  # turns and blocked moves store nothing
        if step % max(steps // 10, 1) == 0:
            samples[str(step)] = round(rss_mb(), 1)
    seconds = time.perf_counter() - start
    tokens = len(world.memory(0))
    world.close()
    reopened = LatentMemory.open(store, read_only=True)
    values = list(samples.values())
    return {"steps": steps, "seconds": seconds, "rss_mb_at_start": rss_at_start, "rss_mb_by_step": samples,
            "tokens": tokens,
            "rss_growth_mb_second_half": values[-1] - values[len(values) // 2 - 1],
            "stored_frames": stored, "reopened_tokens": len(reopened), "reopened_frames": len(reopened.frames()["frame_id"]),
            "store_reopens": len(reopened) == tokens and len(reopened.frames()["frame_id"]) == stored}


def report(figures: dict[str, Any]) -> str:
    mode, other = figures["mode"], figures["other_mode"]
    rows = [[f"steps/s, {w} world(s), {mode}", f"{figures[f'steps_per_s_{w}']:.2f}"] for w in (1, 8)]
    rows += [[f"steps/s, {w} world(s), {other}", f"{figures[f'steps_per_s_{w}_{other}']:.2f}"] for w in (1, 8)]
    rows.append(["memory overhead (collision + query + warp + write) / step", f"{figures['memory_overhead_frac']:.3f}"])
    table = markdown_table(["throughput", "value"], rows)
    by_tokens = markdown_table(["stored tokens", "step ms", "memory ms", "collision", "query + warp", "write"], [
        [k, f"{v['step_ms']:.0f}", f"{v['memory_ms']:.1f}", *(f"{v[p]:.1f}" for p in MEMORY_PARTS)]
        for k, v in figures["step_ms_by_tokens"].items()])
    long = figures["long_episode"]
    longs = markdown_table(["long episode (tiny model)", "value"], [
        ["steps", long["steps"]], ["RSS MB before the first step (own process)", long["rss_mb_at_start"]],
        ["RSS MB by step", long["rss_mb_by_step"]],
        ["RSS growth over the second half, MB", f"{long['rss_growth_mb_second_half']:.1f}"],
        ["tokens", long["tokens"]], ["store reopens with them", long["store_reopens"]]])
    return "\n\n".join([table, by_tokens, longs])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps, small memories, 200-step long episode")
    parser.add_argument("--mode", default="sequential", choices=MODES, help="generation mode (default sequential)")
    parser.add_argument("--results-dir", default=None, help="where throughput.json goes")
    args = parser.parse_args(argv)
    check_heldout([SCENE_SEED])
    generator = load_world_generator()
    steps, sizes, walk, long_steps = (3, [1_000, 10_000], 20, 200) if args.quick else (10, [1_000, 10_000, 100_000, 300_000], 120, 2000)
    other = [m for m in MODES if m != args.mode][0]
    figures: dict[str, Any] = {"mode": args.mode, "other_mode": other, "scene_seed": SCENE_SEED,
                               "sampler_steps": generator.sampler.steps, "timed_steps": steps}
    for worlds in (1, 8):
        measured = env_throughput(generator, worlds, steps, args.mode)
        figures[f"steps_per_s_{worlds}"] = measured["steps_per_s"]
        figures[f"step_ms_{worlds}"] = measured["step_ms"]
        if worlds == 1:
            figures["memory_overhead_frac"] = measured["memory_frac"]
        figures[f"steps_per_s_{worlds}_{other}"] = env_throughput(generator, worlds, steps, other)["steps_per_s"]
    figures["speedup_8_vs_1"] = figures["steps_per_s_8"] / figures["steps_per_s_1"]
    figures["step_ms_by_tokens"] = steps_by_tokens(generator, sizes, steps, args.mode, walk)
    figures["long_episode"] = long_episode_alone(long_steps)
    mode = [f"--mode {args.mode}"] if args.mode != "sequential" else []
    publish("throughput", figures, report(figures), bench_command("throughput", args.quick, *mode), args.results_dir)
    return figures


if __name__ == "__main__":
    main()
