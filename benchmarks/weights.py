"""Which weights a world benchmark measures: the shipped ones, or folders named by flags."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import changed_flags
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, DEFAULT_GENERATOR, DEFAULT_REFINER, load_world_generator
from worldengine.model.generate import CubeGenerator


def add_weight_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR,
                        help="generator checkpoint folder (default: the shipped one)")
    parser.add_argument("--autoencoder", type=Path, default=DEFAULT_AUTOENCODER,
                        help="autoencoder checkpoint folder (default: the shipped one)")
    parser.add_argument("--refiner", type=Path, default=DEFAULT_REFINER,
                        help="refiner checkpoint folder; it joins only an autoencoder of the latents it was trained on "
                             "(default: the shipped one)")


def load_weights(args: argparse.Namespace) -> CubeGenerator:
    """The generator, autoencoder and refiner the flags name (errors before any run)."""
    return load_world_generator(args.generator, args.autoencoder, refiner=args.refiner)


def weight_flags(args: argparse.Namespace) -> list[str]:
    """The flags as typed, to rebuild the command that made a result (defaults left out)."""
    return changed_flags(("generator", args.generator, DEFAULT_GENERATOR),
                         ("autoencoder", args.autoencoder, DEFAULT_AUTOENCODER),
                         ("refiner", args.refiner, DEFAULT_REFINER))


__all__ = ["add_weight_arguments", "load_weights", "weight_flags"]
