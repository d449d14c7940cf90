"""Trajectories on disk: episodes of RGB-D cubemaps, poses and actions in a Zarr v3 store.

Layout (all arrays chunked in time and zstd-compressed, with named dimensions):

    <store>/                     attrs: format, version, face_size, units, conventions
      episodes/ep_000000/        attrs: scene_seed, scene_kind, action_kind, routes
        rgb     (time, face, row, col, channel) uint8
        depth   (time, face, row, col)          float32, metres of z-depth, 0 = sky
        pose    (time, row4, col4)              float32, body-to-world
        action  (time,)                         int64 for discrete actions, or
                (time, rate)                    float32 for continuous ones

`action[t]` is the action that produced frame t from frame t - 1; action[0] (the
reset frame) is -1, or NaN for continuous actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from memory.files import check_format

FORMAT = "worldengine.trajectories"
VERSION = 1
TIME_CHUNK = 8
_COMPRESSORS = (ZstdCodec(level=3),)


def _episode_name(index: int) -> str:
    return f"ep_{index:06d}"


class TrajectoryWriter:
    """Appends episodes to a store (created if missing), frame by frame, in chunks."""

    def __init__(self, path: str | Path, face_size: int):
        self.path = str(path)
        self.face_size = face_size
        self.root = zarr.open_group(self.path, mode="a", zarr_format=3)
        attrs = dict(self.root.attrs)
        if attrs:
            check_format(attrs, FORMAT, VERSION, self.path, "worldengine trajectory store")
            if attrs["face_size"] != face_size:
                raise ValueError(f"{self.path} holds face size {attrs['face_size']}, not {face_size}")
        else:
            self.root.attrs.update({
                "format": FORMAT, "version": VERSION, "face_size": face_size,
                "units": {"depth": "metres (z-depth along the face camera axis; 0 = no hit)", "pose": "metres"},
                "conventions": "body +y up, forward -z; faces F R B L U D with OpenCV cameras",
            })
        self.episodes = self.root.require_group("episodes")

    def begin_episode(self, attrs: dict, continuous_actions: bool = False) -> "EpisodeWriter":
        index = len(list(self.episodes.group_keys()))
        group = self.episodes.create_group(_episode_name(index))
        group.attrs.update(attrs)
        return EpisodeWriter(group, self.face_size, continuous_actions)


class EpisodeWriter:
    """Buffers frames and writes them TIME_CHUNK at a time (a whole chunk per write)."""

    def __init__(self, group: zarr.Group, size: int, continuous_actions: bool):
        s = size
        self.group = group
        action_shape, action_dims = ((0, 4), ("time", "rate")) if continuous_actions else ((0,), ("time",))
        specs = {
            "rgb": ((0, 6, s, s, 3), "uint8", ("time", "face", "row", "col", "channel")),
            "depth": ((0, 6, s, s), "float32", ("time", "face", "row", "col")),
            "pose": ((0, 4, 4), "float32", ("time", "row4", "col4")),
            "action": (action_shape, "float32" if continuous_actions else "int64", action_dims),
        }
        for name, (shape, dtype, dims) in specs.items():
            group.create_array(name, shape=shape, chunks=(TIME_CHUNK, *shape[1:]), dtype=dtype,
                               dimension_names=dims, compressors=_COMPRESSORS)
        self._buffer: dict[str, list] = {name: [] for name in specs}
        self._frame_shapes = {name: shape[1:] for name, (shape, _, _) in specs.items()}

    def add(self, rgb: np.ndarray, depth: np.ndarray, pose: np.ndarray, action) -> None:
        """One frame: rgb (F, S, S, 3) uint8, depth (F, S, S), pose (4, 4), action () or (4,)."""
        values = {name: np.asarray(value) for name, value in
                  (("rgb", rgb), ("depth", depth), ("pose", pose), ("action", action))}
        for name, value in values.items():
            if value.shape != self._frame_shapes[name]:
                raise ValueError(f"{name} of one frame must have shape {self._frame_shapes[name]}, got {value.shape}")
        for name, value in values.items():
            self._buffer[name].append(value)
        if len(self._buffer["rgb"]) >= TIME_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._buffer["rgb"]:
            return
        for name, frames in self._buffer.items():
            self.group[name].append(np.stack(frames), axis=0)
            frames.clear()

    def close(self, **final_attrs) -> None:
        self.flush()
        self.group.attrs.update({"steps": int(self.group["rgb"].shape[0]), **final_attrs})


@dataclass
class Window:
    """T consecutive frames of one episode: rgb (T, F, S, S, 3) uint8, depth (T, F, S, S),
    pose (T, 4, 4), action (T,) or (T, 4); `episode` and `start` say where it came from."""

    rgb: np.ndarray
    depth: np.ndarray
    pose: np.ndarray
    action: np.ndarray
    episode: int
    start: int


class TrajectoryReader:
    """Reads a trajectory store; streams windows of frames for training."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if not Path(self.path).exists():
            raise FileNotFoundError(f"trajectory store not found: {self.path}")
        self.root = zarr.open_group(self.path, mode="r")
        check_format(dict(self.root.attrs), FORMAT, VERSION, self.path, "worldengine trajectory store")
        self.face_size = int(self.root.attrs["face_size"])
        self.episodes = [self.root["episodes"][name] for name in sorted(self.root["episodes"].group_keys())]

    def __len__(self) -> int:
        return len(self.episodes)

    def episode_length(self, index: int) -> int:
        return int(self.episodes[index]["rgb"].shape[0])

    def episode_attrs(self, index: int) -> dict:
        return dict(self.episodes[index].attrs)

    def window(self, episode: int, start: int, length: int) -> Window:
        if not 0 <= episode < len(self):
            raise ValueError(f"episode {episode} is outside [0, {len(self)})")
        if length <= 0:
            raise ValueError(f"window length must be > 0, got {length}")
        group = self.episodes[episode]
        if not 0 <= start <= self.episode_length(episode) - length:
            raise ValueError(f"window [{start}, {start + length}) is outside episode {episode} "
                             f"of length {self.episode_length(episode)}")
        span = slice(start, start + length)
        return Window(group["rgb"][span], group["depth"][span], group["pose"][span], group["action"][span], episode, start)

    def window_starts(self, length: int, stride: int = 1) -> list[tuple[int, int]]:
        """Every (episode, start) with a full window of `length` frames, `stride` apart."""
        return [(e, s) for e in range(len(self)) for s in range(0, self.episode_length(e) - length + 1, stride)]

    def windows(self, length: int, stride: int = 1, shuffle: bool = False, seed: int = 0,
                rank: int = 0, world_size: int = 1) -> Iterator[Window]:
        """Stream windows; with `world_size` > 1 each rank gets a disjoint share (for DDP)."""
        if length <= 0 or stride <= 0:
            raise ValueError(f"window length and stride must be > 0, got {length} and {stride}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        starts = self.window_starts(length, stride)
        if shuffle:
            np.random.default_rng(seed).shuffle(starts)
        for episode, start in starts[rank::world_size]:
            yield self.window(episode, start, length)
