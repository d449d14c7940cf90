import pytest
import torch

from benchmarks import autoencoder as bench
from worldengine.model.autoencoder import AutoencoderConfig, CubeAutoencoder


def test_seam_difference_is_zero_for_a_constant_cube_and_positive_across_a_step():
    assert bench.seam_difference(torch.full((1, 6, 3, 8, 8), 0.5)) == 0.0
    faces = torch.zeros(1, 6, 3, 8, 8)
    faces[:, 0] = 1.0  # F differs from all four neighbours: 4 of 24 face sides see a step of 1
    assert bench.seam_difference(faces) == pytest.approx(8 / 24)


def test_evaluate_plumbing():
    model = CubeAutoencoder(AutoencoderConfig(face_size=16, widths=(8, 16, 16), latent_channels=4)).eval()
    views = bench.heldout_cubemaps(2, 16, [1_000_000, 1_000_001])
    figures = bench.evaluate(model, views)
    for key in ("rgb_psnr", "rgb_ssim", "depth_absrel", "seam_ratio", "ms_per_cubemap"):
        assert key in figures and figures[key] == figures[key]  # present and not NaN
    with pytest.raises(ValueError, match="training seeds"):
        bench.heldout_cubemaps(1, 16, [5])
