"""A world's state between steps, and its save and resume.

A saved world is a folder:

    memory.zarr          the world's LatentMemory store (a copy)
    world.json           {"version", "frames", "extra"}
    world.safetensors    pose, history, history_poses, history_present, noise_state, rgb, depth,
                         heading, cube_rgb, cube_depth, cube_position
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from memory import LatentMemory
from worldengine.model.dit import CubeDiTConfig
from worldengine.world.collision import MemoryCollider
from worldengine.world.frame import Frame
from worldengine.world.recall import Recall
from worldengine.world.view import CubeView

STATE_VERSION = 2  # 2: the world-aligned cube (heading, view) is saved
SAVED_FILES = ("memory.zarr", "world.json", "world.safetensors")


@dataclass
class WorldState:
    """One generated world: its memory store (and the collider and recall over it), its
    pose, its last H frames (the generator's history), its own noise stream, the frames
    stored so far, the newest observation and the cube it was resampled from. `owned`: the store lives in the model's
    workdir and goes with the world."""

    memory: LatentMemory
    collider: MemoryCollider
    recall: Recall
    pose: torch.Tensor  # (4, 4)
    history: torch.Tensor  # (H, F, C, s, s) latents, oldest first
    history_poses: torch.Tensor  # (H, 4, 4)
    history_present: torch.Tensor  # (H,) bool
    noise: torch.Generator
    owned: bool = True
    frames: int = 0
    last: Frame | None = None
    heading: torch.Tensor | None = None  # (3, 3) the rotation of the world's cubes (worldengine.world.view)
    view: CubeView | None = None  # the newest cube, where the agent stands


@dataclass
class SavedWorld:
    """A saved world's checked contents: world.json's frame count and extra, and the tensors."""

    frames: int
    extra: dict
    tensors: dict[str, torch.Tensor]


def save_world(world: WorldState, folder: str | Path, extra: dict | None = None) -> Path:
    """Write `world` to `folder`: memory.zarr (the store), world.json (frame count,
    `extra`) and world.safetensors (pose, history, noise state, newest observation)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    world.memory.flush(wait=True)
    source, target = Path(world.memory.log.url).resolve(), (folder / "memory.zarr").resolve()
    if source != target:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    save_file({"history": world.history.contiguous(), "history_poses": world.history_poses.contiguous(),
               "history_present": world.history_present.to(torch.uint8), "pose": world.pose.contiguous(),
               "noise_state": world.noise.get_state(), "rgb": torch.from_numpy(np.ascontiguousarray(world.last.rgb)),
               "depth": torch.from_numpy(np.ascontiguousarray(world.last.depth)),
               "heading": world.heading.contiguous(), "cube_rgb": world.view.rgb.contiguous(),
               "cube_depth": world.view.depth.contiguous(), "cube_position": world.view.position.contiguous()},
              str(folder / "world.safetensors"))
    state = {"version": STATE_VERSION, "frames": world.frames, "extra": extra or {}}
    (folder / "world.json").write_text(json.dumps(state, indent=2))
    return folder


def read_saved(folder: str | Path, config: CubeDiTConfig) -> SavedWorld:
    """The contents of a `save_world` folder, checked against the model `config` that is to continue it."""
    folder = Path(folder)
    missing = [n for n in SAVED_FILES if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a saved world: missing {', '.join(missing)}")
    state = json.loads((folder / "world.json").read_text())
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{folder}/world.json has state version {state.get('version')}, expected {STATE_VERSION}")
    tensors = load_file(str(folder / "world.safetensors"))
    if tensors["history"].shape[0] != config.history or tensors["history"].shape[2:] != (
            config.latent_channels, *(config.latent_size,) * 2):
        raise ValueError(f"{folder} was saved by a different model: history {tuple(tensors['history'].shape)}")
    return SavedWorld(int(state["frames"]), state["extra"], tensors)


def restore_world(world: WorldState, saved: SavedWorld) -> None:
    """Give a blank `world` (made at the saved pose) the saved history, noise state and observation."""
    tensors = saved.tensors
    world.history, world.history_poses = tensors["history"], tensors["history_poses"]
    world.history_present = tensors["history_present"].bool()
    world.noise.set_state(tensors["noise_state"])
    world.frames = saved.frames
    world.last = Frame(tensors["rgb"].numpy(), tensors["depth"].numpy(), world.pose.numpy().copy(), 0)
    world.heading = tensors["heading"]
    world.view = CubeView(tensors["cube_rgb"], tensors["cube_depth"], tensors["cube_position"], tensors["heading"])


__all__ = ["STATE_VERSION", "SavedWorld", "WorldState", "read_saved", "restore_world", "save_world"]
