"""Generator benchmark plumbing with tiny untrained models (no thresholds: figures are the checkpoint's)."""

import math

import torch

from benchmarks import generator as bench
from worldengine.model.autoencoder import AUTOENCODER_SIZES, CubeAutoencoder
from worldengine.model.dit import CubeDiT, CubeDiTConfig
from worldengine.model.flow import SamplerConfig
from worldengine.model.generate import CubeGenerator
from worldengine.scenes import ProceduralScene
from worldengine.train.latent_data import encode_walk


def test_evaluate_plumbing(monkeypatch, tmp_path):
    torch.manual_seed(0)
    ae = CubeAutoencoder(AUTOENCODER_SIZES["tiny"]).eval()
    generator = CubeGenerator(CubeDiT(CubeDiTConfig(latent_channels=4, width=32, depth=1, heads=2)), ae,
                              SamplerConfig(steps=1))
    episode = encode_walk(ProceduralScene(1_000_000), 6, ae, 1_000_000, keep_pixels=True)
    monkeypatch.setattr(bench, "MIN_COVERAGE", 0.0)  # random latents: take any view
    figures, context = bench.evaluate(generator, [episode], max_views=2)
    assert context.memory.shape == (1, 6, 5, 16, 16)
    assert figures["views"] == 2
    for key in ("ae_psnr", "psnr_memory", "psnr_no_memory", "psnr_memory_joint", "depth_absrel", "psnr_memory_no_history",
                "seam_ratio_joint", "seam_ratio_sequential", "psnr_warped_memory"):
        assert math.isfinite(figures[key]), key
    for key in ("ae_ssim", "ssim_memory_sequential", "ssim_no_memory_sequential", "ssim_warped_memory"):
        assert 0 < figures[key] <= 1, key
    # an untrained CubeDiT returns the warped memory itself
    assert abs(figures["psnr_memory"] - figures["psnr_warped_memory"]) < 0.5
    assert abs(figures["ssim_memory_sequential"] - figures["ssim_warped_memory"]) < 0.05
    assert "held-out views" in bench.report({**figures, "ms_joint": 1.0, "ms_sequential": 2.0, "sampler_steps": 1,
                                             "sampler": "euler"})
