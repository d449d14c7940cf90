"""worldengine.eval.metrics: known answers, and seam metrics that tell a real cube from a broken one."""

import numpy as np
import pytest
import torch

from worldengine.agent.actions import MotionConfig
from worldengine.agent.start import start_pose
from worldengine.eval import metrics
from worldengine.geometry.padding import pad_faces
from worldengine.scenes import ProceduralScene, render_cubemaps


@pytest.fixture(scope="module")
def truth():
    scene = ProceduralScene(1_000_003)
    view = render_cubemaps(scene, torch.as_tensor(start_pose(scene, np.random.default_rng(0), MotionConfig())), 32,
                           "torch")
    return view.rgb.numpy(), view.depth.numpy()


def test_psnr_ssim_and_absrel_known_answers(truth):
    rgb, depth = truth
    assert metrics.ssim(rgb, rgb) == pytest.approx(1.0)
    assert metrics.psnr(rgb, rgb) == pytest.approx(100.0)  # error floored at 1e-10
    shifted = np.clip(rgb.astype(int) + 16, 0, 255).astype(np.uint8)
    error = np.mean((shifted.astype(float) - rgb) ** 2) / 255 ** 2
    assert metrics.psnr(shifted, rgb) == pytest.approx(10 * np.log10(1 / error))
    assert metrics.depth_absrel(depth * 1.1, depth) == pytest.approx(0.1, rel=1e-5)
    assert np.isnan(metrics.depth_absrel(depth, np.zeros_like(depth)))


def test_seam_strips_meet_at_the_edge():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    own, across = metrics._seam_strips(rgb, 2)
    grey = torch.einsum("fhwc,c->fhw", torch.from_numpy(rgb).float() / 255, metrics._GREY)
    padded = pad_faces(grey[:, None], 2, "copy")[:, 0]
    # Face 0's top side is the first of the 24 strips: own row 0 and the pad row just above it.
    assert torch.allclose(own[0, 0, 0], grey[0, 0]) and torch.allclose(across[0, 0, 0], padded[0, 1, 2:-2])
    assert torch.allclose(own[0, 0, 1], grey[0, 1]) and torch.allclose(across[0, 0, 1], padded[0, 0, 2:-2])


def test_seam_metrics_tell_a_real_cube_from_shuffled_faces(truth):
    rgb, _ = truth
    shuffled = rgb[[1, 2, 3, 0, 5, 4]]
    turned = np.rot90(rgb, 1, (1, 2)).copy()  # every face a quarter turn: no edge meets its neighbour
    assert metrics.seam_ssim(rgb) > max(metrics.seam_ssim(shuffled), metrics.seam_ssim(turned))
    assert metrics.seam_sobel(rgb) * 1.2 < metrics.seam_sobel(shuffled)
    assert metrics.seam_sobel(rgb) * 2 < metrics.seam_sobel(turned)
    flat = np.full_like(rgb, 90)
    assert metrics.seam_sobel(flat) == 0.0 and metrics.seam_ssim(flat) == pytest.approx(1.0)


def test_lpips_is_real_or_says_why_not(truth):
    rgb, _ = truth
    lpips = metrics.Lpips()
    if lpips.available:
        assert lpips(rgb, rgb) == pytest.approx(0.0, abs=1e-4) and lpips(rgb, rgb[::-1].copy()) > 0.05
    else:
        assert lpips.reason and lpips(rgb, rgb) is None
