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
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from memory import LatentMemory
from memory.files import atomic_write, atomic_write_bytes
from memory.persist import FORMAT as MEMORY_FORMAT
from memory.rig import check_pose
from worldengine.geometry.cube import NUM_FACES
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
    stored so far, the newest observation and the cube it was resampled from. `owned`:
    the store lives in the model's workdir and goes with the world."""

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


def is_saved_world(folder: str | Path) -> bool:
    """Whether `folder` holds a world this engine saved: a world.json with a state version
    and a real memory.zarr directory (not a link) that is a latent memory store."""
    folder = Path(folder)
    store = folder / "memory.zarr"
    try:
        state = json.loads((folder / "world.json").read_text())
        attrs = json.loads((store / "zarr.json").read_text()).get("attributes", {})
    except (OSError, ValueError):
        return False
    return (isinstance(state, dict) and "version" in state and not store.is_symlink() and store.is_dir()
            and attrs.get("format") == MEMORY_FORMAT)


def _place_store(source: Path, target: Path, replace: bool) -> None:
    """Copy the store at `source` to `target` whole: into a temporary folder beside it,
    then renamed. An existing `target` is replaced only if `replace` and it is a saved
    world's store (checked by the caller); the old one is removed after the swap."""
    if target.is_symlink():
        raise FileExistsError(f"{target} is a symbolic link; a world is never saved through one (it would "
                              "replace what the link points at)")
    if target.exists() and not replace:
        raise FileExistsError(f"{target.parent} already holds a memory.zarr; pass replace=True to replace a "
                              "saved world there, or save to another folder")
    temporary = Path(tempfile.mkdtemp(prefix=".memory.zarr.", suffix=".tmp", dir=target.parent))
    try:
        shutil.copytree(source, temporary, dirs_exist_ok=True)
        old = target.with_name(f"{temporary.name}.old")
        if target.exists():
            target.rename(old)
        temporary.rename(target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def save_world(world: WorldState, folder: str | Path, extra: dict | None = None, replace: bool = False) -> Path:
    """Write `world` to `folder`: memory.zarr (the store), world.json (frame count,
    `extra`) and world.safetensors (pose, history, noise state, newest observation, cube).
    A folder that already holds a memory.zarr is refused unless `replace` is given and the
    folder is a world this engine saved (never a link, never a folder of the user's)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    world.memory.flush(wait=True)
    source, target = Path(world.memory.log.url), folder / "memory.zarr"
    in_place = not target.is_symlink() and target.exists() and source.resolve() == target.resolve()
    if not in_place:
        if target.exists() and not target.is_symlink() and replace and not is_saved_world(folder):
            raise FileExistsError(f"{folder} holds a memory.zarr that is not a world this engine saved; "
                                  "refusing to replace it")
        _place_store(source, target, replace)
    tensors = {"history": world.history.contiguous(), "history_poses": world.history_poses.contiguous(),
               "history_present": world.history_present.to(torch.uint8), "pose": world.pose.contiguous(),
               "noise_state": world.noise.get_state(), "rgb": torch.from_numpy(np.ascontiguousarray(world.last.rgb)),
               "depth": torch.from_numpy(np.ascontiguousarray(world.last.depth)),
               "heading": world.heading.contiguous(), "cube_rgb": world.view.rgb.contiguous(),
               "cube_depth": world.view.depth.contiguous(), "cube_position": world.view.position.contiguous()}
    atomic_write(folder / "world.safetensors", lambda temp: save_file(tensors, str(temp)))
    state = {"version": STATE_VERSION, "frames": world.frames, "extra": extra or {}}
    atomic_write_bytes(folder / "world.json", json.dumps(state, indent=2).encode())
    return folder


def _tensor_specs(config: CubeDiTConfig, size: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    h, f, c, s = config.history, NUM_FACES, config.latent_channels, config.latent_size
    return {"history": ((h, f, c, s, s), torch.float32), "history_poses": ((h, 4, 4), torch.float32),
            "history_present": ((h,), torch.uint8), "pose": ((4, 4), torch.float32),
            "rgb": ((f, size, size, 3), torch.uint8), "depth": ((f, size, size), torch.float32),
            "heading": ((3, 3), torch.float32), "cube_rgb": ((f, size, size, 3), torch.uint8),
            "cube_depth": ((f, size, size), torch.float32), "cube_position": ((3,), torch.float32)}


def _check_tensors(tensors: dict[str, torch.Tensor], config: CubeDiTConfig, where: str) -> None:
    """Names, shapes, dtypes, finiteness and rigid poses of a saved world's tensors."""
    size = tensors["rgb"].shape[1] if "rgb" in tensors and tensors["rgb"].ndim == 4 else -1
    specs = _tensor_specs(config, size)
    missing = sorted((set(specs) | {"noise_state"}) - set(tensors))
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    for name, (shape, dtype) in specs.items():
        value = tensors[name]
        if tuple(value.shape) != shape or value.dtype != dtype:
            raise ValueError(f"{where}: {name} must be {dtype} {shape} (for this model), got {value.dtype} "
                             f"{tuple(value.shape)}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"{where}: {name} holds NaN or infinite values")
    for name in ("depth", "cube_depth"):
        if (tensors[name] < 0).any():
            raise ValueError(f"{where}: {name} holds negative depths")
    try:
        check_pose(tensors["pose"], "pose")
        check_pose(tensors["history_poses"], "history_poses")
        heading = torch.eye(4)
        heading[:3, :3] = tensors["heading"]
        check_pose(heading, "heading")
        torch.Generator().set_state(tensors["noise_state"])
    except (ValueError, RuntimeError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None


def read_saved(folder: str | Path, config: CubeDiTConfig) -> SavedWorld:
    """The contents of a `save_world` folder, every file checked (present, JSON shape, tensor
    names, shapes, dtypes, finiteness, rigid poses, noise state) against the model `config`
    that is to continue it. Errors name the folder and the file."""
    folder = Path(folder)
    missing = [n for n in SAVED_FILES if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a saved world: missing {', '.join(missing)}")
    try:
        state = json.loads((folder / "world.json").read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{folder}/world.json is not readable JSON: {error}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{folder}/world.json must hold an object, got {type(state).__name__}")
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{folder}/world.json has state version {state.get('version')!r}, expected {STATE_VERSION}")
    frames, extra = state.get("frames"), state.get("extra", {})
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1 or not isinstance(extra, dict):
        raise ValueError(f"{folder}/world.json needs frames (an int >= 1) and extra (an object), got "
                         f"{frames!r} and {type(extra).__name__}")
    try:
        tensors = load_file(str(folder / "world.safetensors"))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{folder}/world.safetensors is not a readable safetensors file: {error}") from None
    _check_tensors(tensors, config, f"{folder}/world.safetensors")
    return SavedWorld(frames, extra, tensors)


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


__all__ = ["STATE_VERSION", "SavedWorld", "WorldState", "is_saved_world", "read_saved", "restore_world", "save_world"]
