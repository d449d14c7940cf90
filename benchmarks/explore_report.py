"""The exploration benchmark's report: its markdown tables and plots, from explore.json's figures.

benchmarks.explore runs the benchmark and writes them; benchmarks.readme reads the
tables back from a stored explore.json.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import markdown_table


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "met" if value else "MISSED"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def report(figures: dict) -> str:
    headers = ["ablation", "revisit PSNR (+ over no memory)", "revisit SSIM (+ over no memory)", "revisit LPIPS",
               "depth AbsRel", "Seam-SSIM", "Seam-Sobel", "ms/step (x ours)", "memory read ms (x ours)",
               "memory MB (x ours)"]
    rows = []
    for name, a in figures["ablations"].items():
        rows.append([name, f"{_fmt(a['revisit_psnr'])} ({_fmt(a.get('revisit_psnr_gain'))})",
                     f"{_fmt(a['revisit_ssim'], 3)} ({_fmt(a.get('revisit_ssim_gain'), 3)})", _fmt(a["revisit_lpips"], 3),
                     _fmt(a["depth_absrel"], 3), _fmt(a["seam_ssim"], 3), _fmt(a["seam_sobel"], 2),
                     f"{a['ms_per_step']:.0f} ({_fmt(a['ms_per_step_ratio'])})",
                     f"{a['memory_read_ms']:.1f} ({_fmt(a['memory_read_ratio'])})",
                     f"{a['memory_bytes'] / 2**20:.2f} ({_fmt(a['memory_bytes_ratio'])})"])
    gt = figures["ground_truth"]
    rows.append(["ground truth", "", "", "", "", _fmt(gt["seam_ssim"], 3), _fmt(gt["seam_sobel"], 2), "", "", ""])
    table = markdown_table(headers, rows)
    def revisit(trajectory: str, ablation: str) -> str:
        summary = figures["per_trajectory"][trajectory].get(ablation, {})
        return f"{_fmt(summary.get('revisit_psnr'))} / {_fmt(summary.get('revisit_ssim'), 3)}"

    trajectories = markdown_table(["trajectory", "scene", "steps", "path m", "revisit steps",
                                   "latent revisit PSNR / SSIM", "no_memory revisit PSNR / SSIM"], [
        [name, f"{t['scene_seed']} ({t['scene_kind']})", t["steps"], f"{t['path_length_m']:.1f}", t["revisit_steps"],
         revisit(name, "latent"), revisit(name, "no_memory")]
        for name, t in figures["trajectories"].items()])
    goals = markdown_table(["target", "value", "wanted", ""], [
        [k, _fmt(v["value"]), v["target"], _fmt(v["met"])] for k, v in figures["targets"].items()])
    bins = sorted({b for d in figures["drift"].values() for b in d}, key=lambda b: int(b.split("-")[0]))
    drift_table = markdown_table(["revisit PSNR / SSIM by steps since first visit", *bins], [
        [name, *(f"{_fmt(d.get(b, {}).get('psnr'))} / {_fmt(d.get(b, {}).get('ssim'), 3)}" for b in bins)]
        for name, d in figures["drift"].items()])
    speed = figures["speed"]
    worlds = markdown_table(["parallel worlds", *speed["steps_per_s_by_worlds"]],
                            [["steps/s (all worlds)", *(f"{v:.2f}" for v in speed["steps_per_s_by_worlds"].values())]])
    tokens = markdown_table(["stored tokens", *speed["step_ms_by_tokens"]], [
        ["step ms", *(f"{v['step_ms']:.0f}" for v in speed["step_ms_by_tokens"].values())],
        ["memory ms", *(f"{v['memory_ms']:.1f}" for v in speed["step_ms_by_tokens"].values())]])
    parts = [table, trajectories, goals, drift_table, worlds, tokens]
    if "bytes_per_frame" in speed:
        parts.append(markdown_table(["stored frame (latent, long walk)", "value"], [
            ["bytes in RAM per frame", f"{speed['bytes_per_frame']:.0f}"],
            ["write ms per frame", f"{speed['write_ms_per_frame']:.1f}"]]))
    return "\n\n".join(parts)


def plots(figures: dict, folder: Path) -> list[Path]:
    """Metric vs steps since first visit, steps/s vs worlds, step time vs stored tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for axis, metric in zip(axes, ("psnr", "ssim", "depth_absrel")):
        for name, bins in figures["drift"].items():
            if bins:
                x = [int(b.split("-")[0]) for b in bins]
                axis.plot(x, [v[metric] for v in bins.values()], marker="o", label=name)
        axis.set_xlabel("steps since first visit (bin start)")
        axis.set_ylabel(f"revisit {metric}")
    axes[0].legend(fontsize=8)
    fig.suptitle("Drift: revisit quality against time since first visit")
    paths.append(_save(fig, folder / "explore_drift.png"))
    speed = figures["speed"]
    fig, axis = plt.subplots(figsize=(5, 4))
    worlds = [int(w) for w in speed["steps_per_s_by_worlds"]]
    axis.plot(worlds, list(speed["steps_per_s_by_worlds"].values()), marker="o")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("parallel worlds")
    axis.set_ylabel("steps/s (all worlds)")
    paths.append(_save(fig, folder / "explore_worlds.png"))
    fig, axis = plt.subplots(figsize=(5, 4))
    tokens = [int(k) for k in speed["step_ms_by_tokens"]]
    for key, label in (("step_ms", "whole step"), ("memory_ms", "memory part")):
        axis.plot(tokens, [v[key] for v in speed["step_ms_by_tokens"].values()], marker="o", label=label)
    axis.set_xscale("log")
    axis.set_xlabel("stored tokens")
    axis.set_ylabel("ms per step")
    axis.legend()
    paths.append(_save(fig, folder / "explore_tokens.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


__all__ = ["plots", "report"]
