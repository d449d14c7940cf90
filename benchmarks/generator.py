"""Quality and speed of the shipped CubeDiT generator on held-out scenes.

Run: python -m benchmarks.generator [--quick] [--checkpoint DIR] [--autoencoder DIR] [--steps N]

Held-out scene seeds (checked against the training range) are walked by the loop
explorer; every ground-truth frame is encoded by the shipped autoencoder and written,
in order, into a real LatentMemory store (as the engine does). For target frames whose
memory coverage (mean warped-mask over the six faces) is >= 90%, one window is generated
from the memory warped to the target pose, the previous two frames' latents (history)
and the action, and compared with the ground truth:

- ae_psnr: the autoencoder's own reconstruction of the target (the ceiling);
- psnr_memory / psnr_memory_joint: generated, sequential / joint mode;
- psnr_no_memory / psnr_no_memory_joint: the same views with the memory switched off;
- psnr_memory_no_history / psnr_no_memory_no_history: sequential, history switched off
  too (as after a jump, or a revisit the recent frames do not see): the memory alone;
- psnr_warped_memory: the warped memory decoded as it is (zeros where empty);
- ssim_*, ae_ssim: SSIM (eval.metrics) beside each of those PSNRs but the history-off ones;
- depth_absrel: generated depth (sequential) on pixels the ground truth sees as surface;
- seam_ratio_*: seam difference (worldengine.model.seams) of the generated cube over that of
  the ground truth (1.0 = seams no more visible than in the real cube).

Speed: one window (T = 1, six faces, batch 1) from context to decoded RGB-D, median ms.
The full run also copies its JSON beside the weights (CHECKPOINT/evaluation.json), unless it
decoded through an autoencoder other than the shipped one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from benchmarks.common import bench_command, changed_flags, markdown_table, publish
from memory import LatentMemory, backproject, warp_memory
from worldengine.eval.metrics import ssim as structural_similarity
from worldengine.geometry.cube import face_rotations
from worldengine.model.autoencoder import unpack_rgbd
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, DEFAULT_GENERATOR, load_autoencoder, load_generator
from worldengine.model.dit import CubeDiTConfig
from worldengine.model.flow import SamplerConfig
from worldengine.model.generate import CubeGenerator, WindowContext, memory_input
from worldengine.model.seams import seam_difference
from worldengine.scenes import ProceduralScene
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, check_heldout
from worldengine.train.latent_data import LatentEpisode, encode_walk

ROOT = Path(__file__).resolve().parents[1]
MIN_COVERAGE = 0.9


def psnr(rgb: torch.Tensor, truth: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((rgb - truth) ** 2).mean()))


def _as_uint8(rgb: torch.Tensor):
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def ssim(rgb: torch.Tensor, truth: torch.Tensor) -> float:
    """SSIM of float (F, S, S, 3) pictures in [0, 1], as eval.metrics scores 8-bit ones."""
    return structural_similarity(_as_uint8(rgb), _as_uint8(truth))


def absrel(depth: torch.Tensor, truth: torch.Tensor) -> float:
    surface = truth > 0
    return float(((depth - truth).abs() / truth.clamp_min(1e-6))[surface].mean())


def covered_windows(episode: LatentEpisode, config: CubeDiTConfig, store: Path) -> list[tuple[int, WindowContext]]:
    """Contexts of the episode's frames whose memory (all earlier frames, written into a
    real store in order) covers >= MIN_COVERAGE of the view, with their frame indices."""
    rotations = face_rotations()
    memory = LatentMemory.create(str(store), channels=episode.latents.shape[2])
    history = config.history
    contexts = []
    size = episode.latents.shape[-1]
    for i in range(len(episode)):
        if i >= history:
            warped, _ = warp_memory(memory, episode.poses[i], rotations, size)
            if warped.coverage.mean() >= MIN_COVERAGE:
                previous = list(range(i - history, i))
                contexts.append((i, WindowContext(
                    pose=episode.poses[i][None], memory=memory_input(warped, config)[None],
                    history=episode.latents[previous].float()[None], history_poses=episode.poses[previous][None],
                    history_present=torch.ones(1, history, dtype=torch.bool), action=episode.rates[i][None])))
        points = backproject(episode.latents[i:i + 1].float(), episode.cell_depth[i:i + 1], episode.poses[i:i + 1],
                             rotations, torch.tensor([i]))
        memory.write(points, i, episode.poses[i], float(i))
    memory.close()
    return contexts


def evaluate(generator: CubeGenerator, episodes: list[LatentEpisode],
             max_views: int) -> tuple[dict[str, float], WindowContext]:
    """Quality figures over up to `max_views` covered views, and one of the views (for timing)."""
    ae = generator.autoencoder
    rows: dict[str, list[float]] = {}
    seams = {"gt": [], "sequential": [], "joint": [], "sequential_unblended": []}
    views, first = 0, None
    with tempfile.TemporaryDirectory() as tmp:
        per_episode = max(1, max_views // len(episodes))
        for e, episode in enumerate(episodes):
            contexts = covered_windows(episode, generator.model.config, Path(tmp) / f"m{e}.zarr")
            stride = max(1, len(contexts) // per_episode)
            for i, context in contexts[::stride][:per_episode]:
                truth = episode.rgb[i].float() / 255
                gen = torch.Generator().manual_seed(i)
                out = {}
                for mode in ("sequential", "joint"):
                    window = generator.generate(context, mode, gen)
                    bare = without(context, memory=True)
                    out[mode] = window
                    no_memory = generator.generate(bare, mode, gen).rgb[0]
                    rows.setdefault(f"psnr_memory_{mode}", []).append(psnr(window.rgb[0], truth))
                    rows.setdefault(f"psnr_no_memory_{mode}", []).append(psnr(no_memory, truth))
                    rows.setdefault(f"ssim_memory_{mode}", []).append(ssim(window.rgb[0], truth))
                    rows.setdefault(f"ssim_no_memory_{mode}", []).append(ssim(no_memory, truth))
                    rows.setdefault(f"depth_absrel_{mode}", []).append(absrel(window.depth[0], episode.depth[i]))
                    seams[mode].append(seam_difference(window.rgb.permute(0, 1, 4, 2, 3)))
                for name, blind in (("psnr_memory_no_history", without(context, history=True)),
                                    ("psnr_no_memory_no_history", without(context, memory=True, history=True))):
                    rows.setdefault(name, []).append(psnr(generator.generate(blind, "sequential", gen).rgb[0], truth))
                with torch.no_grad():
                    raw_rgb, _ = unpack_rgbd(ae.decode(out["sequential"].latents), ae.config.near, ae.config.sky_below)
                seams["sequential_unblended"].append(seam_difference(raw_rgb.permute(0, 1, 4, 2, 3)))
                seams["gt"].append(seam_difference(truth[None].permute(0, 1, 4, 2, 3)))
                rgb_ae, depth_ae = generator.decode(episode.latents[i].float()[None])
                rows.setdefault("ae_psnr", []).append(psnr(rgb_ae[0], truth))
                rows.setdefault("ae_ssim", []).append(ssim(rgb_ae[0], truth))
                rows.setdefault("ae_depth_absrel", []).append(absrel(depth_ae[0], episode.depth[i]))
                c = ae.config.latent_channels
                warped = context.memory[:, :, :c] * context.memory[:, :, -1:]
                warped_rgb = generator.decode(warped)[0][0]
                rows.setdefault("psnr_warped_memory", []).append(psnr(warped_rgb, truth))
                rows.setdefault("ssim_warped_memory", []).append(ssim(warped_rgb, truth))
                rows.setdefault("coverage", []).append(float(context.coverage.mean()))
                views += 1
                first = first or context
    if first is None:
        raise ValueError(f"no view of the {len(episodes)} episodes has memory coverage >= {MIN_COVERAGE}")
    figures = {key: statistics.mean(values) for key, values in rows.items()}
    gt = statistics.mean(seams["gt"])
    figures.update({
        "views": views,
        "psnr_memory": figures["psnr_memory_sequential"], "psnr_no_memory": figures["psnr_no_memory_sequential"],
        "depth_absrel": figures["depth_absrel_sequential"],
        "seam_ratio_sequential": statistics.mean(seams["sequential"]) / gt,
        "seam_ratio_joint": statistics.mean(seams["joint"]) / gt,
        "seam_ratio_sequential_unblended": statistics.mean(seams["sequential_unblended"]) / gt,
    })
    figures["memory_gain_db"] = figures["psnr_memory"] - figures["psnr_no_memory"]
    figures["gap_to_ae_db"] = figures["ae_psnr"] - figures["psnr_memory"]
    return figures, first


def without(context: WindowContext, memory: bool = False, history: bool = False) -> WindowContext:
    """The same window with the memory and/or the history switched off."""
    return WindowContext(context.pose, torch.zeros_like(context.memory) if memory else context.memory,
                         context.history, context.history_poses,
                         torch.zeros_like(context.history_present) if history else context.history_present,
                         context.action)


def time_window(generator: CubeGenerator, context: WindowContext, mode: str, repeats: int) -> float:
    generator.generate(context, mode)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        generator.generate(context, mode)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generator", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 scenes x 40 steps, 8 views (plumbing check)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_GENERATOR, help="generator checkpoint folder")
    parser.add_argument("--autoencoder", type=Path, default=DEFAULT_AUTOENCODER, help="autoencoder checkpoint folder")
    parser.add_argument("--steps", type=int, default=4, help="sampler steps (default 4)")
    parser.add_argument("--results-dir", type=Path, default=None, help="where generator.json goes")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    autoencoder = load_autoencoder(args.autoencoder)
    generator = CubeGenerator(load_generator(args.checkpoint), autoencoder, SamplerConfig(steps=args.steps))
    scenes, walk_steps, max_views = (2, 40, 8) if args.quick else (8, 120, 48)
    seeds = list(HELDOUT_SCENE_SEEDS)[:scenes]
    check_heldout(seeds)
    episodes = [encode_walk(ProceduralScene(seed), walk_steps, autoencoder, seed, keep_pixels=True) for seed in seeds]
    figures, context = evaluate(generator, episodes, max_views)
    repeats = 3 if args.quick else 10
    figures.update({
        "ms_joint": time_window(generator, context, "joint", repeats),
        "ms_sequential": time_window(generator, context, "sequential", repeats),
        "sampler_steps": args.steps, "sampler": generator.sampler.method, "heldout_seeds": seeds,
        "walk_steps": walk_steps, "parameters": generator.model.num_parameters(),
        "checkpoint": str(args.checkpoint.resolve().relative_to(ROOT)) if args.checkpoint.resolve().is_relative_to(ROOT)
        else str(args.checkpoint),
    })
    flags = changed_flags(("checkpoint", args.checkpoint, DEFAULT_GENERATOR),
                          ("autoencoder", args.autoencoder, DEFAULT_AUTOENCODER),
                          ("steps", args.steps, parser.get_default("steps")))
    path = publish("generator", figures, report(figures), bench_command("generator", args.quick, *flags),
                   args.results_dir)
    # the summary travels with the weights it measured, when it measured them as shipped
    if not args.quick and args.autoencoder == DEFAULT_AUTOENCODER:
        (args.checkpoint / "evaluation.json").write_text(path.read_text())
    return figures


def report(f: dict) -> str:
    rows = [
        ["autoencoder reconstruction PSNR (ceiling)", f"{f['ae_psnr']:.2f} dB", ""],
        ["SSIM: autoencoder / generated memory on / off / warped memory (sequential)",
         f"{f['ae_ssim']:.3f} / {f['ssim_memory_sequential']:.3f} / {f['ssim_no_memory_sequential']:.3f} / "
         f"{f['ssim_warped_memory']:.3f}", ""],
        ["generated PSNR, memory on (sequential / joint)", f"{f['psnr_memory']:.2f} / {f['psnr_memory_joint']:.2f} dB",
         f"within 2 dB of the ceiling: {'met' if f['gap_to_ae_db'] <= 2 else 'missed'} (gap {f['gap_to_ae_db']:.2f})"],
        ["generated PSNR, memory off (sequential / joint)",
         f"{f['psnr_no_memory']:.2f} / {f['psnr_no_memory_joint']:.2f} dB",
         f"memory adds >= 5 dB: {'met' if f['memory_gain_db'] >= 5 else 'missed'} ({f['memory_gain_db']:.2f})"],
        ["history off too: memory on / off (sequential)",
         f"{f['psnr_memory_no_history']:.2f} / {f['psnr_no_memory_no_history']:.2f} dB",
         f"memory adds {f['psnr_memory_no_history'] - f['psnr_no_memory_no_history']:.2f} dB"],
        ["warped memory decoded as is", f"{f['psnr_warped_memory']:.2f} dB", ""],
        ["depth AbsRel, generated (autoencoder)", f"{f['depth_absrel']:.3f} ({f['ae_depth_absrel']:.3f})", ""],
        ["seam ratio sequential / joint (before blending)",
         f"{f['seam_ratio_sequential']:.2f} / {f['seam_ratio_joint']:.2f} ({f['seam_ratio_sequential_unblended']:.2f})",
         f"<= 1.2: {'met' if max(f['seam_ratio_sequential'], f['seam_ratio_joint']) <= 1.2 else 'missed'}"],
        [f"ms per window, joint ({f['sampler_steps']} {f['sampler']} steps)", f"{f['ms_joint']:.0f}",
         f"<= 250: {'met' if f['ms_joint'] <= 250 else 'missed'}"],
        [f"ms per window, sequential ({f['sampler_steps']} steps per face)", f"{f['ms_sequential']:.0f}",
         f"<= 1000: {'met' if f['ms_sequential'] <= 1000 else 'missed'}"],
    ]
    return markdown_table([f"{f['views']} held-out views, coverage >= 90%", "value", "target"], rows)


if __name__ == "__main__":
    main()
