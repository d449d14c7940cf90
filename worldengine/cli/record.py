"""`worldengine record`: ground-truth exploration episodes into a Zarr trajectory store."""

from __future__ import annotations

import argparse
import json

from worldengine.data.record import record as record_episodes

HELP = "record loop-closing exploration episodes of procedural scenes into a Zarr store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="trajectory store to create or append to (a folder)")
    parser.add_argument("--episodes", type=int, default=4, help="number of episodes (default 4)")
    parser.add_argument("--steps", type=int, default=300, help="actions per episode (default 300)")
    parser.add_argument("--face-size", type=int, default=64, help="cubemap face side in pixels (default 64)")
    parser.add_argument("--first-seed", type=int, default=0, help="scene seed of the first episode (default 0)")
    parser.add_argument("--backend", default="auto", choices=["auto", "open3d", "torch"], help="ray caster")


def run(args: argparse.Namespace) -> int:
    summaries = record_episodes(args.out, args.episodes, args.steps, args.face_size, args.first_seed, args.backend)
    print(json.dumps(summaries, indent=2))
    return 0
