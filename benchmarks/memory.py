"""Latent spatial memory against an explicit RGB point-cloud memory, and query+warp scaling.

Run: python -m benchmarks.memory [--quick]

1. A ground-truth walk (the loop explorer in a procedural scene, S=64 faces) is lifted
   into two memories: ours (one token per 16x16 latent cell per face, voxel-fused, C=8
   float16 features) and the baseline the latent memory replaces (every pixel's xyz +
   rgb appended, as explicit point-cloud caches keep them). Features are the shipped
   autoencoder's latents of each frame (checkpoints/autoencoder).
   Reported: bytes in RAM and on disk (Zarr, same compression) and the read per step
   that yields conditioning latents for the new view: ours queries the tokens around
   the camera and warps them into the six faces' latent grids; the baseline queries its
   points, splats RGB-D at pixel resolution (64) and encodes the result with the same
   autoencoder. The baseline's read is timed with the same block-sorted spatial index
   as ours (`read_speedup_vs_rgb`) and scanning the whole cloud as explicit caches
   render it (`read_speedup_vs_rgb_unindexed`); `rgb_encode_ms` is its encode share.
2. Query+warp time at 1e4, 1e5 and 1e6 stored tokens: the memory of the walk's first
   frames (about 1e4 tokens) is copied 1, 10 and 100 times, 100 m apart, so the
   neighbourhood of the camera is the same while the memory grows; the time should
   stay flat.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import zarr
from zarr.codecs import ZstdCodec

from benchmarks.common import bench_command, markdown_table, publish
from kernels.splat import splat
from memory.backproject import LatentPoints
from memory.points import PointCloudMemory
from memory.rig import project_to_cells
from memory.store import LatentMemory
from memory.voxels import block_key_ranges, voxel_keys
from memory.warp import warp_memory
from worldengine.data.record import walk
from worldengine.geometry.cube import face_rotations
from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, load_autoencoder
from worldengine.scenes import ProceduralScene
from worldengine.world.writer import MemoryWriter

FACE, LATENT, CHANNELS, RADIUS = 64, 16, 8, 12.0
SCALES = {"1e4": 10_000, "1e5": 100_000, "1e6": 1_000_000}


@functools.lru_cache(maxsize=1)
def autoencoder() -> CubeAutoencoder:
    return load_autoencoder(DEFAULT_AUTOENCODER)


@torch.no_grad()
def encode(rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """(F, S, S, 3) uint8 + (F, S, S) -> latents (1, F, C, s, s) of the shipped autoencoder."""
    model = autoencoder()
    return model.encode(pack_rgbd(rgb[None], depth[None], model.config.near))


def record_walk(steps: int, seed: int) -> list[dict]:
    frames: list[dict] = []
    walk(ProceduralScene(seed), steps, FACE, seed, lambda f: frames.append({k: f[k] for k in ("rgb", "depth", "pose")}))
    return frames


def write_frames(memory: LatentMemory, frames: list[dict], stop_at_tokens: int | None = None) -> int:
    """Encode, lift and write frames in order (until the memory holds `stop_at_tokens`);
    returns how many frames were written."""
    writer = MemoryWriter(autoencoder(), memory)
    for k, frame in enumerate(frames):
        writer.add(frame["rgb"], frame["depth"], frame["pose"], float(k))
        if stop_at_tokens is not None and len(memory) >= stop_at_tokens:
            return k + 1
    return len(frames)


def build_latent(frames: list[dict], url: str) -> LatentMemory:
    memory = LatentMemory.create(url, channels=CHANNELS)
    write_frames(memory, frames)
    memory.flush(wait=True, compact=True)  # as close() leaves it: superseded rows dropped
    return memory


class IndexedPointCloud:
    """The baseline (memory.points: every pixel with depth appended as xyz float32 + rgb
    uint8), read within RADIUS with or without the latent memory's spatial index."""

    def __init__(self):
        self.cloud = PointCloudMemory()
        self.order: torch.Tensor | None = None  # points in block-major voxel key order, once indexed

    def write(self, frame: dict) -> None:
        self.cloud.add(torch.from_numpy(frame["rgb"]), torch.from_numpy(frame["depth"]),
                       torch.from_numpy(frame["pose"]), face_rotations())

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cloud.arrays()

    def nbytes_in_ram(self) -> int:
        return self.cloud.nbytes

    def nbytes_on_disk(self, url: str) -> int:
        """Bytes of the cloud as a Zarr store (Zstd), in index order once indexed."""
        xyz, rgb = self.arrays()
        if self.order is not None:
            xyz, rgb = xyz[self.order], rgb[self.order]
        group = zarr.open_group(url, mode="w", zarr_format=3)
        for name, value in (("xyz", xyz.numpy()), ("rgb", rgb.numpy())):
            array = group.create_array(name, shape=value.shape, chunks=(65536, 3), dtype=value.dtype,
                                       compressors=(ZstdCodec(level=3),))
            array[...] = value
        return sum(p.stat().st_size for p in Path(url).rglob("*") if p.is_file())

    def build_index(self, voxel_size: float) -> None:
        """Sort the points by the latent memory's block-major voxel keys (the same index)."""
        xyz, _ = self.arrays()
        self.keys, self.order = torch.sort(voxel_keys(xyz, voxel_size))
        self.voxel_size = voxel_size

    def read(self, pose: torch.Tensor, rotations: torch.Tensor, indexed: bool = False) -> torch.Tensor:
        """Points within RADIUS splatted at pixel resolution and encoded: latents (1, F, C, s, s).
        Without the index every point is tested, as explicit caches render their whole cloud."""
        rgb, depth = self.render(pose, rotations, indexed)
        return encode(rgb, depth)

    def render(self, pose: torch.Tensor, rotations: torch.Tensor, indexed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The cloud splatted into the faces: rgb (F, S, S, 3) uint8 and z-depth (F, S, S)."""
        xyz, rgb = self.arrays()
        if indexed:
            starts, stops = block_key_ranges(pose[:3, 3], RADIUS, self.voxel_size)
            lo, hi = torch.searchsorted(self.keys, starts), torch.searchsorted(self.keys, stops)
            rows = torch.cat([torch.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist()) if b > a])
            xyz, rgb = xyz[self.order[rows]], rgb[self.order[rows]]
        near = ((xyz - pose[:3, 3]) ** 2).sum(-1) <= RADIUS * RADIUS
        body = (xyz[near] - pose[:3, 3]) @ pose[:3, :3]
        cell, depth = project_to_cells(body, rotations, FACE)
        cell = torch.where(depth > 0.05, cell, torch.full_like(cell, -1))
        result = splat(cell, depth.clamp_min(0.05), rgb[near].float(), 6 * FACE * FACE)
        return result.features.reshape(6, FACE, FACE, 3).to(torch.uint8), result.depth.reshape(6, FACE, FACE)


def _median_ms(fn, calls: list) -> float:
    times = []
    for args in calls:
        start = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def unit_memory(frames: list[dict], tokens: int, url: str) -> tuple[LatentMemory, int]:
    """The memory of the walk's first frames, stopped once it holds `tokens` tokens:
    a coherent piece of the world (not a spatial slice of a bigger one). Returns it and
    how many frames it took."""
    memory = LatentMemory.create(url, channels=CHANNELS, background=False)
    return memory, write_frames(memory, frames, stop_at_tokens=tokens)


def tiled_memory(unit: LatentMemory, copies: int, url: str) -> LatentMemory:
    """`copies` copies of unit's tokens laid 100 m apart along x (copy 0 in place)."""
    source = unit.tokens()
    memory = LatentMemory.create(url, channels=CHANNELS, background=False)
    offsets = torch.arange(copies, dtype=torch.float32)[:, None, None] * torch.tensor([100.0, 0.0, 0.0])
    positions = (source["position"][None] + offsets).reshape(-1, 3)  # (copies * N, 3)
    points = LatentPoints(positions, source["feature"].repeat(copies, 1), source["rgb"].repeat(copies, 1),
                          source["frame"].repeat(copies))
    memory.write(points, 0, torch.eye(4), 0.0)
    return memory


def run(steps: int, seed: int, reads: int, workdir: Path, scales: dict[str, int] = SCALES) -> dict[str, Any]:
    rotations = face_rotations()
    frames = record_walk(steps, seed)
    latent = build_latent(frames, str(workdir / "latent.zarr"))
    baseline = IndexedPointCloud()
    for frame in frames:
        baseline.write(frame)
    poses = [torch.from_numpy(f["pose"]) for f in frames[:: max(1, len(frames) // reads)]][:reads]
    latent_ms = _median_ms(lambda p: warp_memory(latent, p, rotations, LATENT, RADIUS), [(p,) for p in poses])
    baseline_ms = _median_ms(lambda p: baseline.read(p, rotations), [(p,) for p in poses])
    baseline.build_index(latent.voxel_size)
    indexed_ms = _median_ms(lambda p: baseline.read(p, rotations, indexed=True), [(p,) for p in poses])
    rendered = [baseline.render(p, rotations, indexed=True) for p in poses]
    encode_ms = _median_ms(encode, rendered)
    figures: dict[str, Any] = {
        "steps": steps, "scene_seed": seed, "face_size": FACE, "latent_size": LATENT, "channels": CHANNELS,
        "latent_tokens": len(latent), "rgb_points": int(baseline.arrays()[0].shape[0]),
        "latent_bytes_ram": latent.nbytes_in_ram(), "rgb_bytes_ram": baseline.nbytes_in_ram(),
        "latent_bytes_disk": latent.nbytes_on_disk(), "rgb_bytes_disk": baseline.nbytes_on_disk(str(workdir / "rgb.zarr")),
        "latent_read_ms": latent_ms, "rgb_read_ms": indexed_ms, "rgb_unindexed_read_ms": baseline_ms,
        "rgb_encode_ms": encode_ms,
    }
    figures["footprint_ratio_vs_rgb"] = figures["rgb_bytes_ram"] / figures["latent_bytes_ram"]
    figures["disk_ratio_vs_rgb"] = figures["rgb_bytes_disk"] / figures["latent_bytes_disk"]
    figures["read_speedup_vs_rgb"] = indexed_ms / latent_ms  # the same spatial index on both sides
    figures["read_speedup_vs_rgb_unindexed"] = baseline_ms / latent_ms
    labels = list(scales)
    unit, unit_frames = unit_memory(frames, scales[labels[0]], str(workdir / "unit.zarr"))
    camera = torch.from_numpy(frames[unit_frames // 2]["pose"])
    figures["query_warp_ms"], figures["query_warp_tokens"] = {}, {}
    for label, count in scales.items():
        memory = tiled_memory(unit, round(count / len(unit)), str(workdir / f"tiled-{label}.zarr"))
        figures["query_warp_tokens"][label] = len(memory)
        figures["query_warp_ms"][label] = _median_ms(
            lambda p: warp_memory(memory, p, rotations, LATENT, RADIUS), [(camera,)] * reads)
        memory.close()
    unit.close()
    figures["query_warp_ratio_largest_vs_smallest"] = figures["query_warp_ms"][labels[-1]] / figures["query_warp_ms"][labels[0]]
    latent.close()
    return figures


def report(figures: dict[str, Any]) -> str:
    rows = [
        ["points / tokens", figures["rgb_points"], figures["latent_tokens"], f"{figures['rgb_points'] / figures['latent_tokens']:.1f}x"],
        ["bytes in RAM", figures["rgb_bytes_ram"], figures["latent_bytes_ram"], f"{figures['footprint_ratio_vs_rgb']:.1f}x"],
        ["bytes on disk", figures["rgb_bytes_disk"], figures["latent_bytes_disk"], f"{figures['disk_ratio_vs_rgb']:.1f}x"],
        ["read ms / step (ours: query + warp; RGB: query + splat + encode), same index", f"{figures['rgb_read_ms']:.2f}",
         f"{figures['latent_read_ms']:.2f}", f"{figures['read_speedup_vs_rgb']:.1f}x"],
        ["read ms / step, RGB scanning its whole cloud", f"{figures['rgb_unindexed_read_ms']:.2f}",
         f"{figures['latent_read_ms']:.2f}", f"{figures['read_speedup_vs_rgb_unindexed']:.1f}x"],
    ]
    table = markdown_table([f"after a {figures['steps']}-step walk", "RGB point cloud", "latent memory", "RGB / latent"], rows)
    scale = markdown_table(["stored tokens", "query + warp ms"],
                           [[figures["query_warp_tokens"][label], f"{ms:.2f}"] for label, ms in figures["query_warp_ms"].items()])
    return f"{table}\n\n{scale}"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter walk and fewer reads")
    parser.add_argument("--results-dir", type=Path, default=None, help="where memory.json goes")
    args = parser.parse_args(argv)
    steps, reads = (60, 5) if args.quick else (400, 20)
    with tempfile.TemporaryDirectory() as workdir:
        figures = run(steps, seed=0, reads=reads, workdir=Path(workdir))
    publish("memory", figures, report(figures), bench_command("memory", args.quick), args.results_dir)
    return figures


if __name__ == "__main__":
    main()
