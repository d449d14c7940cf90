"""Writing checkpoints: safetensors weights, a JSON config beside them, and the training
state (reading a model back is worldengine.model.checkpoint's: the runtime never imports train).

    <dir>/model.safetensors   model parameters and buffers (never pickled)
    <dir>/config.json         {"kind", "config", "train_seeds", "heldout_seeds", ...}
    <dir>/state.safetensors   optimizer tensors; <dir>/state.json its other fields and the step

Each file is written whole or not at all (memory.files.atomic_write);
config.json and state.json both record the step, so a stop between the files of one
checkpoint is caught on resume instead of mixing two steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from memory.files import atomic_write
from worldengine.model.checkpoint import load_tensors


def save_model(directory: Path, model: torch.nn.Module, meta: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / "model.safetensors", lambda p: save_file(tensors, str(p)))
    atomic_write(directory / "config.json", lambda p: p.write_text(json.dumps(meta, indent=2)))


def save_state(directory: Path, optimizer: torch.optim.Optimizer, extra: dict) -> None:
    state = optimizer.state_dict()
    tensors, plain = {}, {"param_groups": state["param_groups"], "params": {}}
    for index, values in state["state"].items():
        plain["params"][str(index)] = {}
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                plain["params"][str(index)][name] = value
    atomic_write(directory / "state.safetensors", lambda p: save_file(tensors, str(p)))
    atomic_write(directory / "state.json", lambda p: p.write_text(json.dumps({"optimizer": plain, **extra})))


def load_state(directory: Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restore the optimizer; returns the extra fields saved with it (step, RNG, ...)."""
    tensors = load_tensors(directory / "state.safetensors")
    saved = json.loads((directory / "state.json").read_text())
    plain = saved.pop("optimizer")
    state = {}
    for index, values in plain["params"].items():
        state[int(index)] = dict(values)
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": plain["param_groups"]})
    return saved
