"""The learned refiner on held-out scenes: a remembered frame warped to a nearby view, decoded
as it is and refined, against the ground truth there.

    python -m benchmarks.refiner [--quick] [--refiner DIR] [--autoencoder DIR] [--max-move M]

Pairs as the refiner trains on (worldengine.train.refiner_data: the engine's warp of a
ground-truth frame's tokens 0.15 to 1 m away, log-uniform; to M metres with --max-move, the
far reads of an explorer), but in held-out scenes. For each pair the
covered cells are decoded three ways, the uncovered ones holding the ground truth's own
latents in all three: the warp as it is (unrefined), the refiner's output (refined), and
the ground truth's latents (the autoencoder's round trip, the ceiling); a refiner that reads
the warp's sub-cell offsets is also run with them zeroed ("refined, no sub-cell"), what it
makes of the warp without knowing where in its cell each token landed. PSNR and SSIM of
the RGB against the ground truth (eval.metrics), and disparity L1 on covered pixels (as
decoded: the engine's unrefined path rescales remembered depth to the viewer afterwards).
Writes benchmarks/results/refiner.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import bench_command, changed_flags, markdown_table, publish
from worldengine.eval.metrics import psnr, ssim
from worldengine.model.autoencoder import pack_rgbd, unpack_rgbd
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, DEFAULT_REFINER, load_refiner, load_world_generator
from worldengine.model.refiner import SUBCELL_CHANNELS
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, check_heldout
from worldengine.train.refiner_data import MAX_MOVE, build_refiner_pairs, load_refiner_pairs

NAME = "refiner"
BLIND = "refined, no sub-cell"
WAYS = ("unrefined", "refined", BLIND, "autoencoder")


def _decoded(generator, latents: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    with torch.no_grad():
        x = generator.autoencoder.decode(latents[None])
    rgb, _ = unpack_rgbd(x, generator.autoencoder.config.near, generator.autoencoder.config.sky_below)
    return (rgb[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy(), x[0, :, 3]


def measure(seeds: list[int], per_scene: int, refiner_dir: Path | str,
            autoencoder: Path | str = DEFAULT_AUTOENCODER, max_move: float = MAX_MOVE) -> dict:
    check_heldout(seeds)
    generator = load_world_generator(autoencoder=autoencoder, refiner=None, check_latents=False)  # only warps
    refiner = load_refiner(refiner_dir)
    with tempfile.TemporaryDirectory() as folder:
        pairs = load_refiner_pairs(build_refiner_pairs(Path(folder) / "pairs.safetensors", generator, seeds, per_scene,
                                                       progress=False, max_move=max_move))
    c = refiner.config.latent_channels
    ways = tuple(way for way in WAYS if way != BLIND or refiner.config.subcell)
    scores = {way: {"psnr": [], "ssim": [], "disparity_l1": []} for way in ways}
    for k in range(len(pairs["input"])):
        inp, target = pairs["input"][k], pairs["target_latents"][k]
        mask = inp[:, c:c + 1].bool()
        inputs = [inp]
        if BLIND in ways:  # the same warp with the sub-cell offsets (the last channels) zeroed
            inputs.append(torch.cat([inp[:, :-SUBCELL_CHANNELS], torch.zeros_like(inp[:, -SUBCELL_CHANNELS:])], 1))
        with torch.no_grad():
            refined = refiner(torch.stack(inputs))
        truth = pack_rgbd(pairs["target_rgb"][k][None], pairs["target_depth"][k][None].float(),
                          generator.autoencoder.config.near)[0, :, 3]
        pixels = F.interpolate(mask.float(), size=truth.shape[-2:], mode="nearest")[:, 0].bool()
        decoded = {"unrefined": inp[:, :c], "refined": refined[0], BLIND: refined[-1], "autoencoder": target}
        for way in ways:
            latents = decoded[way]
            rgb, disparity = _decoded(generator, torch.where(mask, latents, target))
            scores[way]["psnr"].append(psnr(rgb, pairs["target_rgb"][k].numpy()))
            scores[way]["ssim"].append(ssim(rgb, pairs["target_rgb"][k].numpy()))
            scores[way]["disparity_l1"].append(float((disparity - truth).abs()[pixels].mean()))
    figures = {way: {metric: statistics.mean(values) for metric, values in by.items()} for way, by in scores.items()}
    figures.update({
        "pairs": len(pairs["input"]), "coverage": float(pairs["input"][:, :, c].mean()), "seeds": seeds,
        "refiner": str(refiner_dir), "autoencoder_checkpoint": str(autoencoder), "max_move": max_move,
        "ssim_gain": figures["refined"]["ssim"] - figures["unrefined"]["ssim"],
        "psnr_gain_db": figures["refined"]["psnr"] - figures["unrefined"]["psnr"],
        "refined_ssim_over_autoencoder": figures["refined"]["ssim"] / figures["autoencoder"]["ssim"],
        "unrefined_ssim_over_autoencoder": figures["unrefined"]["ssim"] / figures["autoencoder"]["ssim"],
    })
    if BLIND in figures:
        figures["subcell_ssim_gain"] = figures["refined"]["ssim"] - figures[BLIND]["ssim"]
    return figures


def report(f: dict) -> str:
    rows = [[way, f"{f[way]['psnr']:.2f}", f"{f[way]['ssim']:.3f}", f"{f[way]['disparity_l1']:.4f}"]
            for way in WAYS if way in f]
    table = markdown_table(["covered cells decoded from", "PSNR", "SSIM", "disparity L1 (covered)"], rows)
    return (f"{table}\n\n{f['pairs']} held-out pairs (moves up to {f['max_move']} m), {f['coverage']:.2f} of cells "
            f"covered; refined over unrefined: "
            f"{f['psnr_gain_db']:+.2f} dB, SSIM {f['ssim_gain']:+.3f}; SSIM over the autoencoder's: "
            f"{f['unrefined_ssim_over_autoencoder']:.2f} -> {f['refined_ssim_over_autoencoder']:.2f}"
            + (f"; the sub-cell inputs are worth SSIM {f['subcell_ssim_gain']:+.3f}" if "subcell_ssim_gain" in f else ""))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 held-out scenes instead of 16")
    parser.add_argument("--refiner", type=Path, default=DEFAULT_REFINER, help="refiner checkpoint folder")
    parser.add_argument("--autoencoder", type=Path, default=DEFAULT_AUTOENCODER,
                        help="autoencoder checkpoint folder: it encodes the pairs and decodes them "
                             "(the refiner must be trained on its latents)")
    parser.add_argument("--max-move", type=float, default=MAX_MOVE, help="metres of the farthest move in the pairs")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    seeds = list(HELDOUT_SCENE_SEEDS[: 4 if args.quick else 16])
    figures = measure(seeds, 4, args.refiner, args.autoencoder, args.max_move)
    flags = changed_flags(("refiner", args.refiner, DEFAULT_REFINER),
                          ("autoencoder", args.autoencoder, DEFAULT_AUTOENCODER), ("max-move", args.max_move, MAX_MOVE))
    publish(NAME, figures, report(figures), bench_command(NAME, args.quick, *flags), args.results_dir)
    return figures


if __name__ == "__main__":
    main()
