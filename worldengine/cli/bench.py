"""`worldengine bench`: the long-horizon exploration benchmark (benchmarks/explore.py).

The benchmark scripts live in the source checkout beside the package (they import
everything and nothing imports them), so this runs them from there.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELP = ("run the long-horizon exploration benchmark (revisit consistency against ground truth, ablations, "
        "speed and scale); writes benchmarks/results/explore.json, a markdown table and plots")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="short trajectories and few timings (under 10 minutes)")
    parser.add_argument("--results-dir", default=None, help="where explore.json and the plots go "
                                                            "(default benchmarks/results)")
    parser.add_argument("--progress", action="store_true", help="show progress bars")


def run(args: argparse.Namespace) -> int:
    if not (ROOT / "benchmarks" / "explore.py").exists():
        raise FileNotFoundError(f"worldengine bench runs benchmarks/explore.py from the source checkout; "
                                f"none beside the package at {ROOT}")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    explore = importlib.import_module("benchmarks.explore")
    argv = [*(["--quick"] if args.quick else []), *(["--results-dir", args.results_dir] if args.results_dir else []),
            *(["--progress"] if args.progress else [])]
    explore.main(argv)
    return 0
