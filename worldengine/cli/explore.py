"""`worldengine explore`: the main job. Walk a seeded world out and back and write a run folder.

Until the learned world model lands, the world is the ground-truth renderer. The run
folder is written under a temporary name and renamed when complete, so an interrupted
run never leaves a half-written folder behind.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import datetime
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from memory import LatentMemory
from worldengine.coverage import VoxelCoverage
from worldengine.data import TrajectoryWriter
from worldengine.memory_writer import DEFAULT_AUTOENCODER, MemoryWriter
from worldengine.record import walk
from worldengine.scenes import ProceduralScene
from worldengine.train import load_autoencoder
from worldengine.visualize import cube_cross, equirect_image, topdown_map

HELP = ("walk a seeded world out and back; write an MP4, the trajectory store, a map, the latent memory "
        "(Zarr, PLY, preview PNG) and a JSON summary")
REVISIT_RADIUS = 0.5  # metres: a frame revisits a place if an older frame stood this close
REVISIT_MIN_GAP = 40  # steps: ... and that frame is at least this much older


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scene-seed", type=int, default=0, help="procedural scene seed (default 0)")
    parser.add_argument("--steps", type=int, default=300, help="actions to take (default 300)")
    parser.add_argument("--face-size", type=int, default=64, help="cubemap face side in pixels (default 64)")
    parser.add_argument("--video-height", type=int, default=256, help="equirectangular video height (default 256)")
    parser.add_argument("--out", default=None, help="run folder to create (default runs/explore-<time>)")
    parser.add_argument("--backend", default="auto", choices=["auto", "open3d", "torch"], help="ray caster")
    parser.add_argument("--autoencoder", default=str(DEFAULT_AUTOENCODER),
                        help="autoencoder checkpoint whose latents fill the run's memory (default: the shipped one)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _prepare_out(out: str | None) -> tuple[Path, Path]:
    final = Path(out) if out else Path("runs") / f"explore-{datetime.now():%Y%m%d-%H%M%S}"
    if final.exists():
        raise FileExistsError(f"run folder already exists: {final}")
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        partial.mkdir(parents=True)
    except OSError as error:
        raise PermissionError(f"cannot create run folder {partial}: {error}") from error
    return final, partial


def revisit_fraction(positions: np.ndarray) -> float:
    """Fraction of frames standing within REVISIT_RADIUS of a frame REVISIT_MIN_GAP+ steps older."""
    hits = 0
    for t in range(REVISIT_MIN_GAP, len(positions)):
        older = positions[: t - REVISIT_MIN_GAP + 1, [0, 2]]
        hits += bool((np.hypot(*(older - positions[t, [0, 2]]).T) < REVISIT_RADIUS).any())
    return hits / max(len(positions), 1)


def run(args: argparse.Namespace) -> int:
    if args.steps <= 0 or args.face_size <= 0 or args.video_height <= 0:
        raise ValueError("--steps, --face-size and --video-height must be positive")
    scene = ProceduralScene(args.scene_seed)
    autoencoder = load_autoencoder(args.autoencoder)  # fails before any folder is made
    final, partial = _prepare_out(args.out)
    try:
        summary = _explore(scene, args, partial, autoencoder)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    print(json.dumps(summary, indent=2))
    print(f"run written to {final}")
    return 0


def _explore(scene: ProceduralScene, args: argparse.Namespace, folder: Path, autoencoder) -> dict:
    writer = TrajectoryWriter(folder / "trajectory.zarr", args.face_size)
    episode = writer.begin_episode({"scene_seed": scene.seed, "scene_kind": scene.layout.kind,
                                    "action_kind": "discrete", "policy": "LoopExplorer"})
    coverage = VoxelCoverage()
    store = LatentMemory.create(str(folder / "memory.zarr"), channels=autoencoder.config.latent_channels)
    memory = MemoryWriter(autoencoder, store)
    video = imageio.get_writer(folder / "frames.mp4", fps=10, codec="libx264", quality=7, macro_block_size=16)
    first_frame = {}

    def on_frame(frame: dict) -> None:
        episode.add(frame["rgb"], frame["depth"], frame["pose"], frame["action"])
        coverage.update(frame["depth"], frame["pose"])
        memory.add(frame["rgb"], frame["depth"], frame["pose"], float(memory.frames))
        video.append_data(equirect_image(frame["rgb"], args.video_height))
        first_frame.setdefault("rgb", frame["rgb"])

    start = time.perf_counter()
    with video:
        rollout = walk(scene, args.steps, args.face_size, args.scene_seed, on_frame, args.backend,
                       progress=not args.no_progress)
    seconds = time.perf_counter() - start
    episode.close(routes=rollout.routes, blocked_steps=rollout.blocked)
    positions = np.array([pose[:3, 3] for pose in rollout.poses])
    imageio.imwrite(folder / "map.png", topdown_map(scene.grid, positions))
    imageio.imwrite(folder / "first_frame_cross.png", cube_cross(first_frame["rgb"]))
    stored = memory.finish(folder, rollout.poses[-1])
    summary = {
        "world": "ground_truth",
        "scene_seed": scene.seed, "scene_kind": scene.layout.kind, "face_size": args.face_size,
        "steps": args.steps, "seconds": round(seconds, 2), "steps_per_s": round(args.steps / seconds, 2),
        "path_length_m": round(float(np.linalg.norm(np.diff(positions, axis=0), axis=1).sum()), 2),
        "routes": [route["kind"] for route in rollout.routes], "blocked_steps": rollout.blocked,
        "revisit_fraction": round(revisit_fraction(positions), 3), "seen_voxels": len(coverage),
        "memory_tokens": stored["memory_tokens"], "memory_bytes_on_disk": stored["memory_bytes_on_disk"],
        "files": ["frames.mp4", "trajectory.zarr", "map.png", "first_frame_cross.png", "memory.zarr",
                  *stored["memory_files"], "summary.json"],
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
