"""The loss curve of a run as a PNG, from its JSONL log."""

from __future__ import annotations

import json
from pathlib import Path


def plot_loss_curve(log_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    if not records:
        return
    steps = [r["step"] for r in records]
    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    for key in [k for k in records[0] if k == "loss" or k.startswith("loss_")]:
        axis.plot(steps, [r[key] for r in records], label=key)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(png_path)
    plt.close(figure)
