"""`worldengine train MODEL`: train a model (plainly, or under torchrun for DDP)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from worldengine.model.autoencoder import AUTOENCODER_SIZES
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER
from worldengine.model.dit import MODEL_SIZES
from worldengine.model.refiner import REFINER_SIZES
from worldengine.train import AutoencoderTask, TrainConfig, train
from worldengine.train.run_card import write_run_card

HELP = ("train a model: `worldengine train autoencoder|generator|refiner --out DIR` "
        "(torchrun --nproc-per-node N ... for DDP)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=["autoencoder", "generator", "refiner"], help="which model to train")
    parser.add_argument("--out", required=True, help="checkpoint folder (a run there is resumed)")
    parser.add_argument("--size", default="default", help=f"named model size: autoencoder {sorted(AUTOENCODER_SIZES)}, "
                                                          f"generator {sorted(MODEL_SIZES)}, refiner {sorted(REFINER_SIZES)}")
    parser.add_argument("--data", default=None, help="autoencoder: 'render' (default) or a trajectory store; "
                                                     "generator: a latent store (default OUT/data/latents.zarr, built if missing); "
                                                     "refiner: its pairs (default OUT/data/pairs.safetensors, built if missing; "
                                                     "pairs built with other arguments are refused, never replaced)")
    parser.add_argument("--steps", type=int, default=4000, help="optimiser steps (default 4000)")
    parser.add_argument("--batch-size", type=int, default=2, help="samples per step and process (default 2)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and data stream")
    parser.add_argument("--autoencoder", default=str(DEFAULT_AUTOENCODER),
                        help="generator and refiner: the frozen autoencoder they work with")
    parser.add_argument("--scenes", type=int, default=48,
                        help="generator: training scenes walked and encoded; refiner: scenes of its pairs (seeds 0..N-1)")
    parser.add_argument("--pairs-per-scene", type=int, default=16, help="refiner: warp/ground-truth pairs per scene")
    parser.add_argument("--max-move", type=float, default=None,
                        help="refiner: metres of the farthest move in its pairs (default 1.0; moves are log-uniform)")
    parser.add_argument("--walk-steps", type=int, default=150, help="generator: explorer steps per scene walk")
    parser.add_argument("--history-noise", type=float, default=0.0,
                        help="generator: max std of Gaussian noise on history latents (default 0)")
    parser.add_argument("--init", default=None, help="a trained folder of the same size to start from (a refiner: or "
                                                     "a shallower one of the same width; an autoencoder: or one "
                                                     "with fewer decoder blocks; a generator: trained on "
                                                     "any latents, e.g. before the autoencoder was retrained)")
    parser.add_argument("--decoder-only", action="store_true",
                        help="autoencoder: train only the decoder of --init (its latents, and generators on them, stay valid)")
    parser.add_argument("--latent-noise", type=float, default=0.0,
                        help="autoencoder with --decoder-only: max std of Gaussian noise on the latents it decodes, "
                             "so it decodes generated and refined latents too (default 0)")
    parser.add_argument("--structure-weight", type=float, default=None,
                        help="autoencoder and refiner: weight of 1 - SSIM of the decoded RGB in the loss "
                             "(default: autoencoder 0, L1 only; refiner 0.25)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _sizes(model: str) -> dict:
    return {"autoencoder": AUTOENCODER_SIZES, "generator": MODEL_SIZES, "refiner": REFINER_SIZES}[model]


def _task(args: argparse.Namespace):
    if args.model == "autoencoder":
        data = args.data or "render"
        if data != "render" and not Path(data).exists():
            raise FileNotFoundError(f"trajectory store not found: {data}")
        return AutoencoderTask(AUTOENCODER_SIZES[args.size], args.batch_size, data, init=args.init,
                               decoder_only=args.decoder_only, latent_noise=args.latent_noise,
                               structure_weight=args.structure_weight or 0.0)
    from worldengine.model.checkpoint import load_autoencoder
    from worldengine.model.latent_digest import autoencoder_digest
    from worldengine.scenes.seeds import TRAIN_SCENE_SEEDS
    from worldengine.train.generator_data import WindowSampling
    from worldengine.train.generator_task import GeneratorTask
    from worldengine.train.latent_data import build_latent_store

    if args.scenes <= 0 or args.walk_steps <= 0:
        raise ValueError("--scenes and --walk-steps must be positive")
    if args.model == "refiner":
        return _refiner_task(args)
    autoencoder = load_autoencoder(args.autoencoder)
    data = Path(args.data) if args.data else Path(args.out) / "data" / "latents.zarr"
    seeds = [TRAIN_SCENE_SEEDS[i] for i in range(args.scenes)]
    config = MODEL_SIZES[args.size]
    if config.latent_channels != autoencoder.config.latent_channels or \
            config.latent_size * autoencoder.config.stride != autoencoder.config.face_size:
        raise ValueError(f"generator size {args.size!r} does not fit the autoencoder's latents "
                         f"({autoencoder.config.latent_channels} channels, side "
                         f"{autoencoder.config.face_size // autoencoder.config.stride})")
    task = GeneratorTask(config, args.batch_size, data, autoencoder_digest(autoencoder),
                         WindowSampling(history_noise=args.history_noise), init=args.init)
    # a bad --init or size fails above, before minutes of walking and encoding
    build_latent_store(data, seeds, args.walk_steps, autoencoder, progress=not args.no_progress)
    return task


def _refiner_task(args: argparse.Namespace):
    from worldengine.model.checkpoint import DEFAULT_GENERATOR, load_world_generator
    from worldengine.model.latent_digest import autoencoder_digest
    from worldengine.scenes.seeds import TRAIN_SCENE_SEEDS
    from worldengine.train.refiner_data import MAX_MOVE, build_refiner_pairs
    from worldengine.train.refiner_task import RefinerTask

    if args.pairs_per_scene <= 0:
        raise ValueError("--pairs-per-scene must be positive")
    # its world writes ground truth and warps it; the generator network never runs, so any latents will do
    generator = load_world_generator(DEFAULT_GENERATOR, args.autoencoder, refiner=None, check_latents=False)
    config = REFINER_SIZES[args.size]
    weight = {} if args.structure_weight is None else {"structure_weight": args.structure_weight}
    data = Path(args.data) if args.data else Path(args.out) / "data" / "pairs.safetensors"
    seeds = [TRAIN_SCENE_SEEDS[i] for i in range(args.scenes)]
    task = RefinerTask(config, args.batch_size, data, generator.autoencoder, autoencoder_digest(generator.autoencoder),
                       init=args.init, **weight)  # a bad --init fails before the pairs are built
    build_refiner_pairs(data, generator, seeds, args.pairs_per_scene, progress=not args.no_progress,
                        max_move=args.max_move if args.max_move is not None else MAX_MOVE)
    return task


def run(args: argparse.Namespace) -> int:
    if args.steps <= 0 or args.batch_size <= 0:
        raise ValueError("--steps and --batch-size must be positive")
    if args.size not in _sizes(args.model):
        raise ValueError(f"unknown {args.model} size {args.size!r}; choose from {sorted(_sizes(args.model))}")
    if args.decoder_only and args.model != "autoencoder":
        raise ValueError(f"--decoder-only trains an autoencoder's decoder; it means nothing for the {args.model}")
    if args.latent_noise and not args.decoder_only:
        raise ValueError("--latent-noise is for training an autoencoder's decoder (--decoder-only)")
    if args.structure_weight is not None and args.model == "generator":
        raise ValueError("--structure-weight weighs the autoencoder's or the refiner's SSIM term; the generator's loss is fixed")
    if args.max_move is not None and args.model != "refiner":
        raise ValueError(f"--max-move sets how far the refiner's pairs move; it means nothing for the {args.model}")
    task = _task(args)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         checkpoint_every=args.checkpoint_every, seed=args.seed, warmup=min(100, args.steps // 10 + 1))
    summary = train(task, Path(args.out), config, progress=not args.no_progress)
    if summary["finished"] and summary["rank"] == 0:
        processes = summary["world_size"]
        launcher = f"torchrun --nproc-per-node {processes} -m worldengine" if processes > 1 else "worldengine"
        write_run_card(Path(args.out), f"{launcher} " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    print(json.dumps(summary, indent=2))
    return 0
