"""Reconstruction quality and speed of the shipped RGB-D autoencoder on held-out scenes.

Run: python -m benchmarks.autoencoder [--quick] [--checkpoint DIR]

Cubemaps are rendered from random free poses of held-out scene seeds (never trained
on; checked against the training range). Reported: RGB PSNR and SSIM, depth AbsRel
(on pixels the ground truth sees as surface; a surface decoded as sky counts as error
1), the seam ratio (mean absolute pixel difference across the 12 cube edges,
reconstruction over ground truth: 1.0 means seams are no more visible than in the
real cube), and encode + decode milliseconds per cubemap.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import kornia
import numpy as np
import torch

from benchmarks.common import bench_command, markdown_table, publish
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd, unpack_rgbd
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, load_autoencoder
from worldengine.model.seams import seam_difference
from worldengine.scenes import ProceduralScene, render_cubemaps
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, check_heldout


def heldout_cubemaps(count: int, face_size: int, seeds: Sequence[int]) -> list[dict]:
    check_heldout(seeds)
    rng = np.random.default_rng(0)
    views = []
    for k in range(count):
        scene = ProceduralScene(int(seeds[k % len(seeds)]))
        position = torch.as_tensor(scene.sample_free_position(rng), dtype=torch.float32)
        pose = pose_from_yaw_pitch(position, float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(-0.3, 0.3)))
        frame = render_cubemaps(scene, pose, face_size)
        views.append({"rgb": frame.rgb[None], "depth": frame.depth[None]})
    return views


def evaluate(model: CubeAutoencoder, views: list[dict]) -> dict[str, float]:
    config = model.config
    psnr, ssim, absrel, seam_rec, seam_gt, times = [], [], [], [], [], []
    with torch.no_grad():
        for view in views:
            x = pack_rgbd(view["rgb"], view["depth"], config.near)
            start = time.perf_counter()
            y = model.decode(model.encode(x))
            times.append((time.perf_counter() - start) * 1e3)
            rgb_hat, depth_hat = unpack_rgbd(y, config.near, config.sky_below)
            rgb = view["rgb"].float() / 255
            mse = ((rgb_hat - rgb) ** 2).mean()
            psnr.append(float(10 * torch.log10(1 / mse)))
            a, b = rgb_hat[0].permute(0, 3, 1, 2), rgb[0].permute(0, 3, 1, 2)  # (F, 3, S, S)
            ssim.append(float(kornia.metrics.ssim(a, b, window_size=7).mean()))
            surface = view["depth"] > 0
            absrel.append(float(((depth_hat - view["depth"]).abs() / view["depth"].clamp_min(1e-6))[surface].mean()))
            seam_rec.append(seam_difference(rgb_hat.permute(0, 1, 4, 2, 3)))
            seam_gt.append(seam_difference(rgb.permute(0, 1, 4, 2, 3)))
    return {
        "rgb_psnr": statistics.mean(psnr), "rgb_ssim": statistics.mean(ssim), "depth_absrel": statistics.mean(absrel),
        "seam_difference_reconstruction": statistics.mean(seam_rec), "seam_difference_ground_truth": statistics.mean(seam_gt),
        "seam_ratio": statistics.mean(seam_rec) / statistics.mean(seam_gt), "ms_per_cubemap": statistics.median(times),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autoencoder", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 cubemaps instead of 48")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_AUTOENCODER, help="autoencoder checkpoint folder")
    parser.add_argument("--results-dir", type=Path, default=None, help="where autoencoder.json goes")
    args = parser.parse_args(argv)
    model = load_autoencoder(args.checkpoint)
    seeds = list(HELDOUT_SCENE_SEEDS)[:16]
    views = heldout_cubemaps(8 if args.quick else 48, model.config.face_size, seeds)
    figures = {**evaluate(model, views), "cubemaps": len(views), "heldout_seeds": seeds,
               "checkpoint": str(args.checkpoint.resolve().relative_to(Path.cwd().resolve()))
               if args.checkpoint.resolve().is_relative_to(Path.cwd().resolve()) else str(args.checkpoint)}
    rows = [[k, f"{figures[k]:.4f}"] for k in ("rgb_psnr", "rgb_ssim", "depth_absrel", "seam_ratio", "ms_per_cubemap")]
    publish("autoencoder", figures, markdown_table(["metric", "value"], rows),
            bench_command("autoencoder", args.quick), args.results_dir)
    return figures


if __name__ == "__main__":
    main()
