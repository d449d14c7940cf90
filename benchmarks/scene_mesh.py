"""Scene-v0 steps per second on a user's 100 k-triangle mesh against the procedural scenes.

    python -m benchmarks.scene_mesh [--quick]

The mesh is the sample plaza (`worldengine.scenes.sample_mesh`) written as a textured z-up
OBJ+MTL with its ground subdivided to about 100 k triangles, loaded through
`gym.make("worldengine/Scene-v0", mesh_path=..., mesh_up="z")`. The procedural scenes are
Scene-v0 on held-out seeds. Every env walks the same seeded random actions at the same face
side; a step is rendering, texture or material lookup, collision and settling on the
floor, and coverage. Envs take turns in rounds of a few steps so that a change of load
during the run hits all alike. Writes benchmarks/results/scene_mesh.json; the target is
mesh steps/s within 1.5x of the procedural scenes' (ratio procedural / mesh <= 1.5).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the environments)
from benchmarks.common import bench_command, markdown_table, publish
from worldengine.scenes.sample_mesh import write_sample_scene

NAME = "scene_mesh"
MESH_GROUND_CELLS = 224  # 2 x 224^2 ground triangles + the plaza's solids: about 100 k
PROCEDURAL_SEEDS = (1_000_003, 1_000_006)
TARGET_RATIO = 1.5


def _timed_rounds(envs_by_name: dict, rounds: int, steps_per_round: int) -> dict[str, float]:
    """Seconds each env spent stepping, the envs taking turns round by round."""
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 9, size=rounds * steps_per_round)
    seconds = dict.fromkeys(envs_by_name, 0.0)
    for r in range(rounds):
        for name, env in envs_by_name.items():
            start = time.perf_counter()
            for action in actions[r * steps_per_round:(r + 1) * steps_per_round]:
                env.step(int(action))
            seconds[name] += time.perf_counter() - start
    return seconds


def measure(face_size: int, rounds: int, steps_per_round: int, ground_cells: int = MESH_GROUND_CELLS) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = write_sample_scene(folder, up="z", ground_cells=ground_cells)
        start = time.perf_counter()
        mesh_env = gym.make("worldengine/Scene-v0", mesh_path=str(path), mesh_up="z", face_size=face_size)
        load_seconds = time.perf_counter() - start
        triangles = len(mesh_env.unwrapped.scene.surface.triangles)
        envs_by_name = {"mesh": mesh_env}
        envs_by_name.update({f"procedural_{seed}": gym.make("worldengine/Scene-v0", scene_seed=seed, face_size=face_size)
                             for seed in PROCEDURAL_SEEDS})
        start = time.perf_counter()
        for seed, env in enumerate(envs_by_name.values()):
            env.reset(seed=seed)
            for _ in range(3):  # warm-up: first renders, caches
                env.step(1)
        first_reset_seconds = time.perf_counter() - start
        seconds = _timed_rounds(envs_by_name, rounds, steps_per_round)
        steps = rounds * steps_per_round
        rates = {name: steps / s for name, s in seconds.items()}
        for env in envs_by_name.values():
            env.close()
    procedural = float(np.mean([rates[f"procedural_{seed}"] for seed in PROCEDURAL_SEEDS]))
    return {
        "face_size": face_size, "steps_per_env": steps, "mesh_triangles": triangles,
        "mesh_load_seconds": round(load_seconds, 2), "resets_and_warmup_seconds": round(first_reset_seconds, 2),
        "steps_per_s": {name: round(rate, 2) for name, rate in rates.items()},
        "procedural_steps_per_s": round(procedural, 2), "mesh_steps_per_s": round(rates["mesh"], 2),
        "ratio_procedural_over_mesh": round(procedural / rates["mesh"], 3), "target_ratio": TARGET_RATIO,
        "procedural_seeds": list(PROCEDURAL_SEEDS),
    }


def report(figures: dict) -> str:
    rows = [[name, rate] for name, rate in figures["steps_per_s"].items()]
    table = markdown_table(["env (Scene-v0)", f"steps/s at S={figures['face_size']}"], rows)
    verdict = "met" if figures["ratio_procedural_over_mesh"] <= TARGET_RATIO else "MISSED"
    return (f"{table}\n\nmesh: {figures['mesh_triangles']} triangles, loaded in {figures['mesh_load_seconds']} s; "
            f"procedural / mesh = {figures['ratio_procedural_over_mesh']} (target <= {TARGET_RATIO}: {verdict})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--face-size", type=int, default=64)
    args = parser.parse_args(argv)
    rounds = 4 if args.quick else 20
    figures = measure(args.face_size, rounds, 10)
    flags = [] if args.face_size == 64 else [f"--face-size {args.face_size}"]
    publish(NAME, figures, report(figures), bench_command(NAME, args.quick, *flags))


if __name__ == "__main__":
    main()
