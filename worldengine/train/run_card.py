"""A run card beside the weights: the exact command, the data seeds and the log's summary."""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def wall_minutes(records: list[dict]) -> tuple[float, int]:
    """Minutes a run trained and in how many sittings: each resumed sitting restarts the
    log's clock, so a sitting ends where `seconds` falls, and the sittings' ends add up."""
    total, sittings, last = 0.0, 1, 0.0
    for record in records:
        if record["seconds"] < last:
            total, sittings = total + last, sittings + 1
        last = record["seconds"]
    return (total + last) / 60, sittings


def write_run_card(out: Path, command: str) -> Path:
    """Write `<out>/RUN.md` from config.json, summary.json and log.jsonl (figures from the log)."""
    out = Path(out)
    meta = json.loads((out / "config.json").read_text())
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    tail = records[-max(1, len(records) // 10):]  # the last tenth of the logged steps
    minutes, sittings = wall_minutes(records)
    losses = {key: statistics.mean(r[key] for r in tail) for key in tail[0] if key.startswith("loss")}
    lines = [
        f"# {meta['kind']} run card",
        "",
        f"Trained by: `{command}`",
        "",
        f"- steps: {meta['step']}, batch {meta['train_config']['batch_size']} per process, "
        f"peak lr {meta['train_config']['lr']}, seed {meta['train_config']['seed']}",
        f"- training scene seeds: [{meta['train_seeds'][0]}, {meta['train_seeds'][1]}); "
        f"held-out seeds: [{meta['heldout_seeds'][0]}, {meta['heldout_seeds'][1]}); data: {meta['data']}",
        f"- wall time: {minutes:.1f} min" + (f" in {sittings} sittings (a stopped run resumed by a rerun)"
                                              if sittings > 1 else ""),
        "- mean losses over the last tenth of the log: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()),
        "- config: `" + json.dumps(meta["config"]) + "`",
        *([f"- loss weights: `{json.dumps(meta['loss_weights'])}`"] if meta.get("loss_weights") else []),
        *([f"- started from `{meta['init']}`" + (", decoder only (encoder and latent statistics kept)"
                                                 if meta.get("decoder_only") else "")] if meta.get("init") else []),
        "",
        "Files: model.safetensors (weights" + (" and latent statistics" if meta["kind"] == "autoencoder" else "")
        + "), config.json, log.jsonl, loss.png, summary.json.",
    ]
    path = out / "RUN.md"
    path.write_text("\n".join(lines) + "\n")
    return path
