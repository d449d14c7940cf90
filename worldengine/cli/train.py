"""`worldengine train MODEL`: train a model (plainly, or under torchrun for DDP)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from worldengine.autoencoder import AUTOENCODER_SIZES
from worldengine.train import AutoencoderTask, TrainConfig, train
from worldengine.train.run_card import write_run_card

HELP = "train a model: `worldengine train autoencoder --out DIR` (torchrun --nproc-per-node N ... for DDP)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=["autoencoder"], help="which model to train")
    parser.add_argument("--out", required=True, help="checkpoint folder (a run there is resumed)")
    parser.add_argument("--size", default="default", choices=sorted(AUTOENCODER_SIZES), help="named model size")
    parser.add_argument("--data", default="render", help="'render' (seeded scenes on the fly) or a trajectory store")
    parser.add_argument("--steps", type=int, default=4000, help="optimiser steps (default 4000)")
    parser.add_argument("--batch-size", type=int, default=2, help="cubemaps per step and process (default 2)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data stream")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    if args.steps <= 0 or args.batch_size <= 0:
        raise ValueError("--steps and --batch-size must be positive")
    if args.data != "render" and not Path(args.data).exists():
        raise FileNotFoundError(f"trajectory store not found: {args.data}")
    task = AutoencoderTask(AUTOENCODER_SIZES[args.size], args.batch_size, args.data)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         checkpoint_every=args.checkpoint_every, seed=args.seed, warmup=min(100, args.steps // 10 + 1))
    summary = train(task, Path(args.out), config, progress=not args.no_progress)
    if summary["finished"] and summary["rank"] == 0:
        processes = summary["world_size"]
        launcher = f"torchrun --nproc-per-node {processes} -m worldengine" if processes > 1 else "worldengine"
        write_run_card(Path(args.out), f"{launcher} " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    print(json.dumps(summary, indent=2))
    return 0
