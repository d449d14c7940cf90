"""The hot working set: one row per occupied voxel, kept sorted by voxel key.

Rows live in two sorted runs, a large main run and a small delta run that takes new
voxels; the delta is merged into the main run when it grows past a fraction of it, so
an insert costs O(delta log delta) and a merge O(N log N) only now and then. Lookups
and spatial range queries are binary searches on both runs.

Fusion rule (documented in the README): a voxel written again keeps a running mean
of position, feature and colour with the count capped at `max_weight`, so the newest
observation always weighs at least 1 / (max_weight + 1); frame and time take the
newest values.
"""

from __future__ import annotations

import numpy as np
import torch

COLUMNS = ("key", "position", "feature", "rgb", "frame", "time", "weight")
_MERGE_FRACTION = 0.125
_MIN_MERGE = 4096


def empty_columns(channels: int, device=None) -> dict[str, torch.Tensor]:
    return {
        "key": torch.zeros(0, dtype=torch.int64, device=device),
        "position": torch.zeros(0, 3, dtype=torch.float32, device=device),
        "feature": torch.zeros(0, channels, dtype=torch.float16, device=device),
        "rgb": torch.zeros(0, 3, dtype=torch.uint8, device=device),
        "frame": torch.zeros(0, dtype=torch.int64, device=device),
        "time": torch.zeros(0, dtype=torch.float32, device=device),
        "weight": torch.zeros(0, dtype=torch.float32, device=device),
    }


def _sorted_by_key(columns: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    order = torch.argsort(columns["key"])
    return {name: value[order] for name, value in columns.items()}


def _concat(a: dict, b: dict) -> dict:
    return {name: torch.cat([a[name], b[name]]) for name in a}


def _find(keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Row of each query key in sorted `keys`, -1 where absent."""
    if len(keys) == 0:
        return torch.full_like(query, -1)
    at = torch.searchsorted(keys, query).clamp_max(len(keys) - 1)
    return torch.where(keys[at] == query, at, torch.full_like(at, -1))


def reduce_duplicates(columns: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One row per key: means of position/feature/colour, newest frame and time, summed weight."""
    keys, inverse, counts = torch.unique(columns["key"], return_inverse=True, return_counts=True)
    if len(keys) == len(columns["key"]):
        return _sorted_by_key(columns)
    n = len(keys)

    def mean(x):
        total = torch.zeros((n, *x.shape[1:]), dtype=torch.float32, device=x.device).index_add_(0, inverse, x.float())
        return total / counts.view(-1, *([1] * (x.ndim - 1)))

    def newest(x):
        return torch.full((n,), torch.iinfo(torch.int64).min if x.dtype == torch.int64 else -float("inf"),
                          dtype=x.dtype, device=x.device).scatter_reduce(0, inverse, x, "amax")

    return {
        "key": keys, "position": mean(columns["position"]),
        "feature": mean(columns["feature"]).to(columns["feature"].dtype),
        "rgb": mean(columns["rgb"]).round().to(torch.uint8),
        "frame": newest(columns["frame"]), "time": newest(columns["time"]),
        "weight": torch.zeros(n, device=keys.device).index_add_(0, inverse, columns["weight"]),
    }


class TokenTable:
    """Voxel rows with fusion; `dirty` marks rows changed since the last persist."""

    def __init__(self, channels: int, max_weight: float = 8.0, device=None):
        self.channels, self.max_weight = channels, max_weight
        self.main = empty_columns(channels, device)
        self.delta = empty_columns(channels, device)
        self.main_dirty = torch.zeros(0, dtype=torch.bool, device=device)
        self.delta_dirty = torch.zeros(0, dtype=torch.bool, device=device)

    def __len__(self) -> int:
        return len(self.main["key"]) + len(self.delta["key"])

    def columns(self) -> dict[str, torch.Tensor]:
        """All rows, main run then delta run (the row order queries return)."""
        return _concat(self.main, self.delta)

    def load(self, columns: dict[str, torch.Tensor]) -> None:
        """Replace the contents with rows read from disk (one row per key), not dirty."""
        self.main = _sorted_by_key(columns)
        self.delta = empty_columns(self.channels, self.main["key"].device)
        self.main_dirty = torch.zeros(len(self.main["key"]), dtype=torch.bool, device=self.main["key"].device)
        self.delta_dirty = self.delta_dirty[:0]

    def upsert(self, incoming: dict[str, torch.Tensor]) -> int:
        """Fuse rows (keys may repeat) into the table; returns how many voxels were new."""
        incoming = reduce_duplicates(incoming)
        fresh = torch.ones(len(incoming["key"]), dtype=torch.bool, device=incoming["key"].device)
        for run, dirty in ((self.main, self.main_dirty), (self.delta, self.delta_dirty)):
            rows = _find(run["key"], incoming["key"])
            hit = rows >= 0
            if hit.any():
                self._fuse(run, rows[hit], {k: v[hit] for k, v in incoming.items()})
                dirty[rows[hit]] = True
            fresh &= ~hit
        new = {k: v[fresh] for k, v in incoming.items()}
        new["weight"] = new["weight"].clamp_max(self.max_weight)
        delta = _concat(self.delta, new)
        dirty = torch.cat([self.delta_dirty, torch.ones(len(new["key"]), dtype=torch.bool, device=new["key"].device)])
        order = torch.argsort(delta["key"])
        self.delta = {name: value[order] for name, value in delta.items()}
        self.delta_dirty = dirty[order]
        if len(self.delta["key"]) > max(_MIN_MERGE, _MERGE_FRACTION * len(self.main["key"])):
            self._merge()
        return int(fresh.sum())

    def _fuse(self, run: dict, rows: torch.Tensor, new: dict) -> None:
        w_old = run["weight"][rows]
        w_new = new["weight"]
        total = w_old + w_new
        for name in ("position", "feature", "rgb"):
            old, add = run[name][rows].float(), new[name].float()
            mixed = (old * w_old[:, None] + add * w_new[:, None]) / total[:, None]
            run[name][rows] = mixed.round().to(run[name].dtype) if name == "rgb" else mixed.to(run[name].dtype)
        run["frame"][rows] = torch.maximum(run["frame"][rows], new["frame"])
        run["time"][rows] = torch.maximum(run["time"][rows], new["time"])
        run["weight"][rows] = total.clamp_max(self.max_weight)

    def _merge(self) -> None:
        merged = _concat(self.main, self.delta)
        dirty = torch.cat([self.main_dirty, self.delta_dirty])
        order = torch.argsort(merged["key"])
        self.main = {name: value[order] for name, value in merged.items()}
        self.main_dirty = dirty[order]
        self.delta = empty_columns(self.channels, order.device)
        self.delta_dirty = self.delta_dirty[:0]

    def columns_at(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        """Column `name` at rows of the `columns()` order, without concatenating the runs."""
        split = len(self.main["key"])
        in_main = rows < split
        out = torch.empty((len(rows), *self.main[name].shape[1:]), dtype=self.main[name].dtype, device=rows.device)
        out[in_main] = self.main[name][rows[in_main]]
        out[~in_main] = self.delta[name][rows[~in_main] - split]
        return out

    def take_dirty(self) -> dict[str, torch.Tensor]:
        """Copies of the rows changed since the last call; clears the marks."""
        rows = _concat({k: v[self.main_dirty] for k, v in self.main.items()},
                       {k: v[self.delta_dirty] for k, v in self.delta.items()})
        self.main_dirty.zero_()
        self.delta_dirty.zero_()
        return rows

    def rows_in_key_ranges(self, starts: torch.Tensor, stops: torch.Tensor) -> torch.Tensor:
        """Row indices (into `columns()` order) whose keys fall in any [start, stop)."""
        found = []
        offset = 0
        for run in (self.main, self.delta):
            keys = run["key"]
            lo, hi = torch.searchsorted(keys, starts), torch.searchsorted(keys, stops)
            rows = _expand_ranges(lo.cpu().numpy(), hi.cpu().numpy())
            if len(rows):
                found.append(torch.from_numpy(rows).to(keys.device) + offset)
            offset += len(keys)
        return torch.cat(found) if found else torch.zeros(0, dtype=torch.int64, device=starts.device)


def _expand_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every integer in the ranges [lo, hi) (R,) each, in order, (sum of lengths,) int64.
    On the host in numpy: a query has a few dozen ranges, and torch's repeat_interleave runs
    one parallel task per range, whose thread wake-ups cost ~ms on a busy 2-core machine."""
    lengths = hi - lo
    total = int(lengths.sum())
    return np.repeat(lo - (np.cumsum(lengths) - lengths), lengths) + np.arange(total, dtype=np.int64)
