"""Checkpoints: safetensors weights, a JSON config beside them, and the training state.

    <dir>/model.safetensors   model parameters and buffers (never pickled)
    <dir>/config.json         {"kind", "config", "train_seeds", "heldout_seeds", ...}
    <dir>/state.safetensors   optimizer tensors; <dir>/state.json its other fields and the step

Each file is written to a temporary name and renamed, so no file is ever half-written;
config.json and state.json both record the step, so a stop between the files of one
checkpoint is caught on resume instead of mixing two steps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_model(directory: Path, model: torch.nn.Module, meta: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic(directory / "model.safetensors", lambda p: save_file(tensors, str(p)))
    _atomic(directory / "config.json", lambda p: p.write_text(json.dumps(meta, indent=2)))


def read_meta(directory: Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {directory} (missing config.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not Path(path).is_file():
        raise FileNotFoundError(f"missing weights file {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from error


def load_state_dict_strict(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Load with a clear error naming missing, unexpected and mismatched tensors."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [f"{k} {tuple(tensors[k].shape)} != {tuple(expected[k].shape)}"
                  for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        raise ValueError(f"checkpoint {source} does not fit the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}, mismatched {mismatched[:5]}")
    model.load_state_dict(tensors)


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
    _atomic(directory / "state.safetensors", lambda p: save_file(tensors, str(p)))
    _atomic(directory / "state.json", lambda p: p.write_text(json.dumps({"optimizer": plain, **extra})))


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


def load_model(directory: str | Path, kind: str, build, device=None) -> torch.nn.Module:
    """A trained model of `kind` from a checkpoint folder: `build(config dict)` makes the
    module, the safetensors weights fill it (strictly), and it comes back in eval mode."""
    directory = Path(directory)
    meta = read_meta(directory)
    if meta.get("kind") != kind:
        raise ValueError(f"{directory} holds a {meta.get('kind')!r} checkpoint, not a {kind}")
    model = build(meta["config"])
    load_state_dict_strict(model, load_tensors(directory / "model.safetensors"), directory)
    return model.to(device).eval()
