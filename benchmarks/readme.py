"""Regenerate the README's results section from benchmarks/results/*.json.

Run: python -m benchmarks.readme   (after a benchmark; never type figures by hand)

The section sits between the markers RESULTS_START and RESULTS_END in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import memory as memory_bench
from benchmarks import refiner as refiner_bench
from benchmarks import scene_mesh as scene_mesh_bench
from benchmarks.common import RESULTS_DIR, markdown_table
from benchmarks.explore_report import report

README = Path(__file__).resolve().parents[1] / "README.md"
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"


def _load(name: str) -> dict | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _provenance(record: dict) -> str:
    machine = record["machine"]
    return (f"`{record['command']}`, commit `{str(record['commit'])[:10]}`, {machine['cpu']} "
            f"({machine['logical_cores']} cores, torch {machine['torch']}, {machine['torch_threads']} threads), "
            f"GPU: {machine['gpu'] or 'none'}.")


def render_section(record: dict) -> str:
    f = record["figures"]
    rows = []
    for backend, prefix in (("open3d (CPU, mesh)", ""), ("torch analytic (CPU)", "torch_")):
        for size, batch, key in ((64, 1, "s64"), (256, 1, "s256"), (64, 8, "batch8_s64")):
            rows.append([backend, size, batch, f"{f[f'fps_{prefix}{key}']:.1f}", f"{f[f'ms_p50_{prefix}{key}']:.1f}"])
    table = markdown_table(["backend", "face side S", "poses per call", "cubemaps/s", "p50 ms per call"], rows)
    return (f"### Ground-truth rendering\n\n{table}\n\nThe analytic torch path exists for the GPU machine, "
            "where open3d cannot be installed; on this CPU it is slower than open3d's Embree BVH.\n\n"
            f"{_provenance(record)}")


def scene_mesh_section(record: dict) -> str:
    return (f"### Scene-v0 on a user's mesh\n\n{scene_mesh_bench.report(record['figures'])}\n\n"
            "The mesh is the sample plaza as a textured z-up OBJ+MTL, its ground subdivided to about "
            "100 k triangles; a step renders, samples textures per pixel, collides, settles the body on "
            "the floor and counts coverage.\n\n"
            f"{_provenance(record)}")


def memory_section(record: dict) -> str:
    table, scale = memory_bench.report(record["figures"]).split("\n\n")
    return (f"### Latent memory against an explicit RGB point cloud\n\n{table}\n\n"
            "Mirage reports 55x less memory and 10.57x faster than explicit 3D baselines. Here the "
            "baseline keeps every pixel (no fusion); its read renders RGB-D at pixel resolution and "
            "encodes it with the shipped autoencoder (the encode alone takes "
            f"{record['figures']['rgb_encode_ms']:.0f} ms), timed with the same spatial index as ours "
            "and scanning the whole cloud. Latent features are the shipped autoencoder's latents.\n\n"
            f"Query + warp as the memory grows (same neighbourhood, copies 100 m apart):\n\n{scale}\n\n"
            f"{_provenance(record)}")


def autoencoder_section(record: dict) -> str:
    f = record["figures"]
    targets = {"rgb_psnr": (">= 30 dB", f["rgb_psnr"] >= 30), "depth_absrel": ("<= 0.03", f["depth_absrel"] <= 0.03),
               "seam_ratio": ("<= 1.2", f["seam_ratio"] <= 1.2)}
    rows = []
    for key, label in (("rgb_psnr", "RGB PSNR (dB)"), ("rgb_ssim", "RGB SSIM"), ("depth_absrel", "depth AbsRel"),
                       ("seam_ratio", "seam difference, reconstruction / ground truth"),
                       ("ms_per_cubemap", "encode + decode, ms per cubemap")):
        target, met = targets.get(key, ("", None))
        rows.append([label, f"{f[key]:.3f}", target, "" if met is None else ("met" if met else "missed")])
    table = markdown_table(["on %d held-out cubemaps" % f["cubemaps"], "value", "target", ""], rows)
    return f"### RGB-D autoencoder (shipped weights)\n\n{table}\n\n{_provenance(record)}"


def generator_section(record: dict) -> str:
    from benchmarks.generator import report

    return (f"### CubeDiT generator (shipped weights)\n\n{report(record['figures'])}\n\n"
            "PSNR is over the six RGB faces at 64 px against the ground-truth render; the memory holds every "
            "earlier frame of the walk, encoded and written as the engine writes it; the history is the previous "
            "two frames' encoded latents.\n\n"
            f"{_provenance(record)}")


def refiner_section(record: dict) -> str:
    return (f"### Latent refiner (shipped weights)\n\n{refiner_bench.report(record['figures'])}\n\n"
            "Held-out scenes: a ground-truth frame's tokens warped 0.15 to 1 m away (log-uniform) by the engine, its "
            "covered cells decoded as they are, refined, refined with the warp's sub-cell offsets zeroed, and as the "
            "ground truth's own latents (the ceiling); uncovered cells hold the ground truth's latents in all of them. "
            "Trained by `worldengine train refiner` (checkpoints/refiner/RUN.md).\n\n"
            f"{_provenance(record)}")


def throughput_section(record: dict) -> str:
    from benchmarks.throughput import report

    f = record["figures"]
    met = "met" if f["memory_overhead_frac"] < 0.15 else "missed"
    return (f"### Generated world throughput\n\n{report(f)}\n\n"
            f"World-v0 on the shipped weights ({f['sampler_steps']} sampler steps), held-out scene "
            f"{f['scene_seed']}; steps/s counts every world's step. Memory overhead target < 0.15 of the "
            f"step: {met}. The memory is grown with the scene's real encoded frames, copies 100 m apart.\n\n"
            f"{_provenance(record)}")


def explore_section(record: dict) -> str:
    f = record["figures"]
    said = {True: [], False: []}
    for name, v in f["targets"].items():
        said[v["met"]].append(f"{name} {_figure(v['value'])} (wanted {v['target']})")
    verdict = " ".join(part for part in (
        ("Met: " + "; ".join(said[True]) + ".") if said[True] else "",
        ("**Missed: " + "; ".join(said[False]) + ".**") if said[False] else "Every target is met.") if part)
    lpips = ("LPIPS is real AlexNet LPIPS." if f["lpips"] == "alexnet" else
             f"LPIPS is null in the JSON, never a stand-in: {f['lpips']}.")
    return (f"### Long-horizon exploration (`worldengine bench`)\n\n{report(f)}\n\n"
            f"{verdict}\n\n"
            f"Held-out scenes {f['scene_seeds']} (checked outside the training range); a step is a revisit when at "
            f"least {f['revisit_overlap']:.0%} of its ground-truth view was seen {f['revisit_gap']}+ steps earlier. "
            f"Revisit columns average those steps over all trajectories; depth AbsRel and the seam columns average "
            f"every step. Timing and memory are each ablation alone, at the end of the long walk; ratios are "
            f"against latent. {lpips} Whole run: {f['wall_s'] / 60:.0f} minutes.\n\n"
            "![drift](benchmarks/results/explore_drift.png) ![worlds](benchmarks/results/explore_worlds.png) "
            "![tokens](benchmarks/results/explore_tokens.png)\n\n"
            f"{_provenance(record)}")


CLOSURE_TARGETS = (  # figure, wanted (as said in issue 14), test on the figures
    ("turn_return_psnr", ">= 35 dB", lambda f: f["turn_return_psnr"] >= 35),
    ("turn_return_ssim", ">= 0.95", lambda f: f["turn_return_ssim"] >= 0.95),
    ("retrace_return_ssim[12]", ">= ae_ssim - 0.05", lambda f: f["retrace_return_ssim"]["12"] >= f["ae_ssim"] - 0.05),
    ("retrace_return_ssim[40]", ">= ae_ssim - 0.10", lambda f: f["retrace_return_ssim"]["40"] >= f["ae_ssim"] - 0.10),
    ("step_ssim_vs_gt / ae_ssim", ">= 0.85", lambda f: f["step_ssim_vs_gt"] / f["ae_ssim"] >= 0.85),
)


def closure_section(record: dict) -> str:
    from benchmarks.closure import report

    f = record["figures"]
    rows = []
    for name, wanted, met in CLOSURE_TARGETS:
        try:
            rows.append([name, wanted, "met" if met(f) else "**missed**"])
        except KeyError:  # a quick run has no retrace of that length
            rows.append([name, wanted, "not measured"])
    return (f"### Loop closure: turning, stepping and coming back (`python -m benchmarks.closure`)\n\n{report(f)}\n\n"
            f"{markdown_table(['target (engine)', 'wanted', ''], rows)}\n\n"
            "Each world starts from its scene's ground-truth frame; ae_psnr / ae_ssim is the autoencoder's round trip "
            "of the same ground-truth frames, the ceiling of anything decoded. `engine` is the default WorldConfig; "
            "`unrefined` is the engine without its learned refiner (covered cells are the warped memory as it is) and "
            "`body_frame` the engine before position-keyed worlds, in the same run. The reproject rows keep geometry "
            "exact and use no latent: the start frame (ground truth, or its autoencoder round trip) reprojected per "
            "pixel by its true depth to the step's pose, against the ground truth there; the renderer samples one ray "
            "per pixel, so fine texture aliases differently at each pose and no reprojection reproduces it. The reach "
            "rows are the longest retrace's outbound leg 1, 2 and 4 m from the start, where nothing but the start "
            "frame was ever seen, beside the same bound there. "
            "Rows of closure.png, per scene: "
            "start, after the full turn, the return of the longest retrace, ground truth one step ahead, the "
            "generated step.\n\n![closure](benchmarks/results/closure.png)\n\n"
            f"{_provenance(record)}")


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


SECTIONS = (("render", render_section), ("scene_mesh", scene_mesh_section), ("memory", memory_section),
            ("autoencoder", autoencoder_section), ("generator", generator_section), ("refiner", refiner_section),
            ("throughput", throughput_section), ("closure", closure_section), ("explore", explore_section))


def results_markdown() -> str:
    parts = [builder(record) for name, builder in SECTIONS if (record := _load(name)) is not None]
    return "\n\n".join(parts)


def main() -> None:
    text = README.read_text()
    if RESULTS_START not in text or RESULTS_END not in text:
        raise ValueError(f"README.md lacks the markers {RESULTS_START} and {RESULTS_END}")
    head, rest = text.split(RESULTS_START, 1)
    _, tail = rest.split(RESULTS_END, 1)
    README.write_text(f"{head}{RESULTS_START}\n{results_markdown()}\n{RESULTS_END}{tail}")
    print(f"updated {README}")


if __name__ == "__main__":
    main()
