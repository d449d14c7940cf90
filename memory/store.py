"""LatentMemory: the Zarr-backed 3D store of latent tokens with a hot working set in RAM.

Writes fuse into the in-RAM table at once (a step never waits on disk); every
`flush_every` frames the changed rows go to a new Zarr segment, written by a
background thread, and are committed atomically (see persist.py).
"""

from __future__ import annotations

import math
import numbers
import warnings
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from memory.backproject import LatentPoints
from memory.persist import SegmentLog
from memory.rig import check_pose
from memory.table import COLUMNS, TokenTable
from memory.voxels import voxel_keys

MAX_SEGMENTS = 32  # past this many committed segments, a flush writes one compacted snapshot


class LatentMemory:
    """Voxel-fused latent tokens (position, C-channel feature, preview colour, frame, time)
    and the poses of every frame written. Use `create` or `open`, and `close` (or `with`)."""

    def __init__(self, log: SegmentLog, device=None, flush_every: int = 16, background: bool = True,
                 read_only: bool = False):
        attrs = log.attrs
        self.log, self.read_only = log, read_only
        self.channels, self.voxel_size = int(attrs["channels"]), float(attrs["voxel_size"])
        self.max_weight = float(attrs["max_weight"])
        self.device = torch.device(device or "cpu")
        self.flush_every = flush_every
        self.table = TokenTable(self.channels, self.max_weight, self.device)
        self._frames = {"frame_id": [], "frame_pose": [], "frame_time": []}
        self._frame_ids: set[int] = set()  # for the duplicate check on every write
        self._new_frames = 0  # frames not yet handed to a flush
        self._segments: list[str] = []
        self._stored_rows = 0  # token rows in the committed segments, superseded ones included
        self._executor = ThreadPoolExecutor(max_workers=1) if background else None
        self._pending: Future | None = None
        self._load()

    # ---------------------------------------------------------------- life cycle

    @classmethod
    def create(cls, url: str, channels: int, voxel_size: float = 0.1, max_weight: float = 8.0,
               overwrite: bool = False, **options) -> "LatentMemory":
        """A new empty store at `url` (a folder path or an fsspec URL)."""
        if not isinstance(channels, int) or channels <= 0:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        finite = all(isinstance(v, numbers.Real) and math.isfinite(v) for v in (voxel_size, max_weight))
        if not finite or not voxel_size > 0 or not max_weight >= 1:
            raise ValueError(f"voxel_size must be finite and > 0, and max_weight finite and >= 1; got {voxel_size!r} "
                             f"and {max_weight!r}")
        attrs = {"channels": channels, "voxel_size": voxel_size, "max_weight": max_weight, "units": "metres",
                 "fusion": "running mean per voxel, count capped at max_weight; newest frame and time",
                 "feature_dtype": "float16"}
        return cls(SegmentLog.create(str(url), attrs, overwrite), **options)

    @classmethod
    def open(cls, url: str, read_only: bool = False, **options) -> "LatentMemory":
        """Reopen a store with everything its last commit holds. Segments the commit does
        not list are kept and reported (a warning; `orphan_segments`), never deleted: `vacuum`
        deletes them when the caller says so."""
        log = SegmentLog.open(str(url), writable=not read_only)
        orphans = log.orphan_segments()
        if orphans:
            warnings.warn(f"memory store {url} holds {len(orphans)} segment(s) its commit record does not list "
                          f"({', '.join(orphans[:5])}); kept. LatentMemory.vacuum() deletes them.", stacklevel=2)
        return cls(log, read_only=read_only, **options)

    def orphan_segments(self) -> list[str]:
        """Segments on disk that the store's commit record does not list."""
        return self.log.orphan_segments()

    def vacuum(self) -> list[str]:
        """Delete the segments the commit record does not list (after a writer was killed
        between a segment and its commit, or the record was rolled back). Returns their names."""
        if self.read_only:
            raise PermissionError("this memory was opened read-only")
        self.flush(wait=True)
        orphans = self.log.orphan_segments()
        self.log.remove_segments(orphans)
        return orphans

    def __enter__(self) -> "LatentMemory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Flush, and compact the store if superseded rows make up a third of it or more."""
        if not self.read_only:
            self.flush(wait=True)
            if len(self._segments) > 1 and self._stored_rows > 1.5 * len(self.table):
                self.flush(wait=True, compact=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _load(self) -> None:
        commit = self.log.read_commit()
        self._segments = list(commit["segments"])
        parts, frames = [], []
        for name in self._segments:
            tokens, frame_part = self.log.read_segment(name)
            if tokens["feature"].ndim != 2 or tokens["feature"].shape[1] != self.channels:
                raise ValueError(f"{self.log.url}: segment {name} holds features {tokens['feature'].shape}, "
                                 f"but the store says {self.channels} channels")
            self._stored_rows += len(tokens["key"])
            parts.append(tokens)
            frames.append(frame_part)
        if parts:
            merged = {c: torch.from_numpy(np.concatenate([p[c] for p in parts])).to(self.device) for c in COLUMNS}
            # Later segments replace earlier rows of the same voxel: keep the last occurrence.
            order = torch.arange(len(merged["key"]), device=self.device)
            keys, inverse = torch.unique(merged["key"], return_inverse=True)
            last = torch.zeros(len(keys), dtype=torch.int64, device=self.device).scatter_reduce(
                0, inverse, order, "amax", include_self=False)
            self.table.load({c: v[last] for c, v in merged.items()})
        for part in frames:
            self._frames["frame_id"] += part["frame_id"].tolist()
            self._frame_ids.update(part["frame_id"].tolist())
            self._frames["frame_pose"] += list(torch.from_numpy(part["frame_pose"]))
            self._frames["frame_time"] += part["frame_time"].tolist()

    # ---------------------------------------------------------------- writing

    def write(self, points: LatentPoints, frame_id: int, pose: torch.Tensor, time: float) -> int:
        """Fuse one frame's points and record its pose; returns how many voxels are new.

        Everything is checked before anything changes: a bad call writes nothing.
        """
        if self.read_only:
            raise PermissionError("this memory was opened read-only")
        self._check_points(points)
        check_pose(pose, "pose")
        if pose.shape != (4, 4):
            raise ValueError(f"pose must have shape (4, 4), got {tuple(pose.shape)}")
        if isinstance(frame_id, bool) or not isinstance(frame_id, numbers.Integral):
            raise ValueError(f"frame_id must be an integer, got {frame_id!r}")
        if not isinstance(time, numbers.Real) or not math.isfinite(time):
            raise ValueError(f"time must be a finite number, got {time!r}")
        if int(frame_id) in self._frame_ids:
            raise ValueError(f"frame {frame_id} is already in the memory")
        n = len(points)
        rows = {
            "key": voxel_keys(points.positions.to(self.device, torch.float32), self.voxel_size),
            "position": points.positions.to(self.device, torch.float32),
            "feature": points.features.to(self.device, torch.float16),
            "rgb": points.rgb.to(self.device, torch.uint8),
            "frame": torch.full((n,), int(frame_id), dtype=torch.int64, device=self.device),
            "time": torch.full((n,), float(time), dtype=torch.float32, device=self.device),
            "weight": torch.ones(n, dtype=torch.float32, device=self.device),
        }
        new = self.table.upsert(rows) if n else 0
        self._frames["frame_id"].append(int(frame_id))
        self._frame_ids.add(int(frame_id))
        self._frames["frame_pose"].append(pose.detach().to("cpu", torch.float32))
        self._frames["frame_time"].append(float(time))
        self._new_frames += 1
        if self._new_frames >= self.flush_every:
            self.flush(wait=False)
        return new

    def _check_points(self, points: LatentPoints) -> None:
        n = points.positions.shape[0] if points.positions.ndim == 2 else -1
        shapes_ok = (points.positions.shape == (n, 3) and points.features.shape == (n, self.channels)
                     and points.rgb.shape == (n, 3))
        if not shapes_ok:
            raise ValueError(f"points must be positions (N, 3), features (N, C={self.channels}), rgb (N, 3); got "
                             f"{tuple(points.positions.shape)}, {tuple(points.features.shape)}, {tuple(points.rgb.shape)}")
        if not torch.isfinite(points.positions).all() or not torch.isfinite(points.features.float()).all():
            raise ValueError("points have NaN or infinite positions or features")
        if points.rgb.dtype != torch.uint8:
            raise ValueError(f"points' rgb must be uint8 (0..255), got {points.rgb.dtype}")
        if points.frame.dtype.is_floating_point or points.frame.dtype == torch.bool:
            raise ValueError(f"points' frame ids must be integers, got {points.frame.dtype}")

    def flush(self, wait: bool = True, compact: bool = False) -> None:
        """Hand the rows changed since the last flush to the writer; `wait` for the commit.

        compact=True (or past MAX_SEGMENTS segments) writes one snapshot of everything
        instead, replacing every segment, so rows superseded by later flushes leave the disk.
        """
        if self.read_only:
            return
        tokens = self.table.take_dirty()
        count = self._new_frames
        frames = self._frames_from(len(self._frames["frame_id"]) - count)
        self._new_frames = 0
        if len(tokens["key"]) or count or compact:
            compact = compact or len(self._segments) >= MAX_SEGMENTS
            if compact:  # one snapshot of everything replaces all segments
                tokens = {c: v.clone() for c, v in self.table.columns().items()}
                frames = self._all_frames()
            job = (tokens, frames, compact, len(self.table), len(self._frames["frame_id"]))
            if self._executor is None:
                self._commit(*job)
            else:
                self._wait()
                self._pending = self._executor.submit(self._commit, *job)
        if wait:
            self._wait()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a failed background write here
            self._pending = None

    def _commit(self, tokens, frames, compact: bool, token_count: int, frame_count: int) -> None:
        name = self.log.write_segment(tokens, frames)
        old = self._segments
        self._segments = [name] if compact else old + [name]
        self._stored_rows = len(tokens["key"]) + (0 if compact else self._stored_rows)
        self.log.commit(self._segments, tokens=token_count, frames=frame_count)
        if compact:
            self.log.remove_segments(old)

    def _frames_from(self, start: int) -> dict[str, torch.Tensor]:
        """Ids (M,), poses (M, 4, 4) and times (M,) of the frames from index `start` on."""
        poses = self._frames["frame_pose"][start:]
        return {
            "frame_id": torch.tensor(self._frames["frame_id"][start:], dtype=torch.int64),
            "frame_pose": torch.stack(poses) if poses else torch.zeros(0, 4, 4),
            "frame_time": torch.tensor(self._frames["frame_time"][start:], dtype=torch.float32),
        }

    def _all_frames(self) -> dict[str, torch.Tensor]:
        return self._frames_from(0)

    # ---------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self.table)

    @property
    def frame_count(self) -> int:
        """How many frames the memory holds. Tokens change only by a write, and every write
        adds a frame: a reader may keep what it computed from the tokens while this holds."""
        return len(self._frames["frame_id"])

    def tokens(self) -> dict[str, torch.Tensor]:
        """Every token's columns (key, position, feature, rgb, frame, time, weight)."""
        return self.table.columns()

    def frames(self) -> dict[str, torch.Tensor]:
        """Ids (M,), poses (M, 4, 4) and times (M,) of every frame written, in order."""
        return self._all_frames()

    def nbytes_in_ram(self) -> int:
        columns = self.table.columns()
        return int(sum(v.numel() * v.element_size() for v in columns.values()))

    def nbytes_on_disk(self) -> int:
        self._wait()
        return self.log.nbytes_on_disk()


__all__ = ["LatentMemory"]
