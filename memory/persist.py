"""The memory on disk: a Zarr v3 group of immutable segments and an atomic commit record.

    <store>/zarr.json              attrs: format, version, units, voxel_size, channels, ...
    <store>/segments/<n>/          one flush: key, position, feature, rgb, frame, time,
                                   weight (token rows), frame_id, frame_pose, frame_time
    <store>/COMMIT.json            {"segments": [...], "tokens": N, "frames": M}

A flush writes a new segment, then replaces COMMIT.json in one atomic step (rename on
a local disk; a single PUT on an object store). Readers replay the committed segments
in order, later rows replacing earlier rows of the same voxel. A process killed at any
moment leaves the last commit intact; a segment it was writing is not listed, and is
kept and reported (an orphan) until a caller asks for it to go (LatentMemory.vacuum): the
store cannot tell a crashed write from a commit record that was edited or rolled back, so
it deletes nothing it cannot prove superseded. The temporary files of a killed writer
(the commit record's, Zarr's *.partial) are its own and are removed at the next open.
"""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import numpy as np
import torch
import zarr
from fsspec.implementations.local import LocalFileSystem
from zarr.codecs import ZstdCodec

from memory.files import atomic_write_bytes, check_format, temp_name

FORMAT = "worldengine.latent_memory"
VERSION = 1
COMMIT = "COMMIT.json"
_COMPRESSORS = (ZstdCodec(level=3),)
_TOKEN_CHUNK = 65536
_DIMENSIONS = {
    "key": ("token",), "position": ("token", "xyz"), "feature": ("token", "channel"), "rgb": ("token", "rgb"),
    "frame": ("token",), "time": ("token",), "weight": ("token",),
    "frame_id": ("frame",), "frame_pose": ("frame", "row4", "col4"), "frame_time": ("frame",),
}


class SegmentLog:
    """Reads and appends segments of one store (a local path or an fsspec URL)."""

    def __init__(self, url: str, group: zarr.Group):
        self.url, self.group = url, group
        self.fs, self.root_path = fsspec.core.url_to_fs(url)

    @classmethod
    def create(cls, url: str, attrs: dict, overwrite: bool = False) -> "SegmentLog":
        fs, path = fsspec.core.url_to_fs(url)
        if fs.exists(path) and fs.ls(path) and not overwrite:
            raise FileExistsError(f"a store already exists at {url}; open it, or pass overwrite=True")
        group = zarr.open_group(url, mode="w", zarr_format=3)
        group.attrs.update({"format": FORMAT, "version": VERSION, **attrs})
        group.create_group("segments")
        log = cls(url, group)
        log.commit([], tokens=0, frames=0)
        return log

    @classmethod
    def open(cls, url: str, writable: bool) -> "SegmentLog":
        fs, path = fsspec.core.url_to_fs(url)
        if not fs.exists(f"{path}/zarr.json"):
            raise FileNotFoundError(f"no memory store at {url}")
        group = zarr.open_group(url, mode="r+" if writable else "r", zarr_format=3)
        check_format(dict(group.attrs), FORMAT, VERSION, url, "latent memory store")
        log = cls(url, group)
        if writable:
            log.remove_stray_temporaries()
        return log

    @property
    def attrs(self) -> dict:
        return dict(self.group.attrs)

    # ---------------------------------------------------------------- commit record

    def read_commit(self) -> dict:
        with self.fs.open(f"{self.root_path}/{COMMIT}", "r") as handle:
            return json.load(handle)

    def commit(self, segments: list[str], tokens: int, frames: int) -> None:
        """Atomically make `segments` the store's contents."""
        record = json.dumps({"segments": segments, "tokens": tokens, "frames": frames}).encode()
        target = f"{self.root_path}/{COMMIT}"
        if isinstance(self.fs, LocalFileSystem):
            atomic_write_bytes(target, record)
        else:
            self.fs.pipe_file(target, record)  # one PUT: object stores replace it atomically

    # ---------------------------------------------------------------- segments

    def next_segment_name(self) -> str:
        existing = list(self.group["segments"].group_keys())
        return f"{(max(int(n) for n in existing) + 1) if existing else 0:08d}"

    def write_segment(self, tokens: dict[str, torch.Tensor], frames: dict[str, torch.Tensor]) -> str:
        name = self.next_segment_name()
        segment = self.group["segments"].create_group(name)
        for column, value in {**tokens, **frames}.items():
            array = value.detach().cpu().numpy()
            chunks = (min(max(len(array), 1), _TOKEN_CHUNK), *array.shape[1:])
            out = segment.create_array(column, shape=array.shape, chunks=chunks, dtype=array.dtype,
                                       dimension_names=_DIMENSIONS[column], compressors=_COMPRESSORS)
            if len(array):
                out[...] = array
        return name

    def read_segment(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        segment = self.group["segments"][name]
        tokens = {c: segment[c][...] for c in ("key", "position", "feature", "rgb", "frame", "time", "weight")}
        frames = {c: segment[c][...] for c in ("frame_id", "frame_pose", "frame_time")}
        return tokens, frames

    def remove_segments(self, names: list[str]) -> None:
        for name in names:
            self.fs.rm(f"{self.root_path}/segments/{name}", recursive=True)

    def orphan_segments(self) -> list[str]:
        """Segments on disk that the commit record does not list: a writer killed between a
        segment and its commit, or a commit record edited or rolled back. Never removed
        automatically (one cannot tell which); `remove_segments` takes them on request."""
        committed = set(self.read_commit()["segments"])
        return sorted(n for n in self.group["segments"].group_keys() if n not in committed)

    def remove_stray_temporaries(self) -> list[str]:
        """Delete the temporary files a killed writer of this store left: the commit record's
        own (memory.files.atomic_write) and Zarr's half-written chunks (*.partial). Returns them."""
        if not isinstance(self.fs, LocalFileSystem):
            return []
        root = Path(self.root_path)
        strays = [p for p in root.glob(f"{temp_name(root / COMMIT)}*.tmp") if p.is_file()]
        strays += [p for p in root.glob(".commit-*") if p.is_file()]  # the commit temporaries of format 1 writers
        strays += [p for p in root.rglob("*.partial") if p.is_file() and not p.is_symlink()]
        for path in strays:
            path.unlink()
        return [str(p.relative_to(root)) for p in strays]

    def nbytes_on_disk(self) -> int:
        return int(sum(info["size"] for info in self.fs.find(self.root_path, detail=True).values()))
