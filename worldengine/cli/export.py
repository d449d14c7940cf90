"""`worldengine export RUN`: re-export the latent memory a run saved (PLY, camera path, pictures)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from memory import LatentMemory
from worldengine.world.writer import export_memory

HELP = "re-export a run's saved memory: memory.ply (+ cameras, trajectory), pointcloud.png, memory_preview.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run folder holding memory.zarr (or the memory.zarr store itself)")
    parser.add_argument("--out", default=None, help="folder for the exported files (default: the run folder)")
    parser.add_argument("--preview-size", type=int, default=128, help="face side of memory_preview.png (default 128)")


def _store(run: Path) -> Path:
    store = run if run.name.endswith(".zarr") else run / "memory.zarr"
    if not store.is_dir():
        raise FileNotFoundError(f"no memory store at {store}")
    return store


def run(args: argparse.Namespace) -> int:
    if args.preview_size <= 0:
        raise ValueError(f"--preview-size must be positive, got {args.preview_size}")
    store = _store(Path(args.run))
    out = Path(args.out) if args.out else store.parent
    try:
        memory = LatentMemory.open(str(store), read_only=True)
    except Exception as error:  # zarr and json raise many kinds on a damaged store
        raise ValueError(f"cannot open the memory store {store}: {error}") from error
    frames = len(memory.frames()["frame_id"])
    if frames == 0:
        raise ValueError(f"the memory store {store} holds no frames")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PermissionError(f"cannot create output folder {out}: {error}") from error
    files = export_memory(memory, out, args.preview_size)
    print(json.dumps({"store": str(store), "tokens": len(memory), "frames": frames, "out": str(out),
                      "files": files}, indent=2))
    return 0
