"""Where a training run starts from: a trained model of a size that fits (`--init`)."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Callable


def trained_start(init: str | Path | None, load: Callable, config, kind: str,
                  fits: Callable = operator.eq, or_else: str = ""):
    """The model `load` reads from `init` (None without one), refused unless its config fits
    `config`; read when the task is made, so a bad folder fails before any training."""
    if init is None:
        return None
    model = load(init)
    if not fits(model.config, config):
        raise ValueError(f"the {kind} at {init} has config {model.config.to_dict()}, "
                         f"not the size asked for {config.to_dict()}{or_else}")
    return model


__all__ = ["trained_start"]
