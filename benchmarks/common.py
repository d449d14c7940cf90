"""Helpers every benchmark shares: machine facts, git commit, results JSON, markdown tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
# World configurations compared in one run: the engine as it is, the engine without its learned
# refiner (covered cells are the warped memory as it is), and the engine before position-keyed
# worlds (generated in the body frame, point-splatted memory, memory not authoritative).
ENGINES: dict[str, dict[str, Any]] = {
    "engine": {},
    "unrefined": {"refine": False},
    "body_frame": {"world_aligned": False, "footprint": False, "anchored": False, "voxel_size": 0.1},
}
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else what `platform` knows ("unknown" if nothing)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU model, logical cores, torch version and intra-op threads, GPU name (None without
    CUDA), platform and Python version of the machine running the benchmark."""
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _git(args: list[str], cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def git_commit(cwd: Path | str | None = None) -> str | None:
    """HEAD's hash in the repository at `cwd` (default: this one), with "-dirty" appended when
    tracked files have uncommitted changes (untracked files do not count); None outside a
    repository or without git."""
    cwd = Path(cwd) if cwd is not None else REPO_ROOT
    try:
        commit = _git(["rev-parse", "HEAD"], cwd).strip()
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], cwd).strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def write_results(
    name: str, figures: dict[str, Any], command: str, results_dir: Path | str | None = None
) -> Path:
    """Write `<results_dir>/<name>.json` (default benchmarks/results/, created if missing) with
    the figures, the command that produced them, the git commit, the machine and the date
    (UTC, ISO 8601). Returns the path written."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"results name must be a plain file stem, got {name!r}")
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "figures": figures,
        "command": command,
        "commit": git_commit(),
        "machine": machine_info(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def bench_command(name: str, quick: bool, *flags: str) -> str:
    """The command line that reruns benchmark `name` as it was run."""
    return " ".join([f"python -m benchmarks.{name}", *(["--quick"] if quick else []), *flags])


def changed_flags(*options: tuple[str, Any, Any]) -> list[str]:
    """`--name value` for each (name, value, default) whose value is not the default: the
    flags as typed, for bench_command."""
    return [f"--{name} {value}" for name, value, default in options if value != default]


def publish(name: str, figures: dict[str, Any], report: str, command: str,
            results_dir: Path | str | None = None, also: str = "") -> Path:
    """Every benchmark's ending: print its table, write `<name>.json` (write_results) and
    say where it went and how it was made (`also`: other files written beside it)."""
    print(report)
    path = write_results(name, figures, command, results_dir)
    print(f"\nwrote {path}{also} ({command})")
    return path


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table (no trailing newline); cells are written with str()."""
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells, expected {len(headers)} (one per header)")

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])
