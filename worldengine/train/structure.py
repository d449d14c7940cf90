"""The structure term of a training loss: 1 - SSIM of decoded RGB against the truth.

The engine is judged by SSIM beside PSNR, and an L1 loss alone is content to blur what it
cannot place exactly; this term asks for the local structure (contrast and correlation
within the benchmarks' SSIM window) too.
"""

from __future__ import annotations

import torch
from kornia.metrics import ssim as kornia_ssim

from worldengine.eval.metrics import SSIM_WINDOW


def masked_dissimilarity(rgb: torch.Tensor, truth: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean 1 - SSIM (the benchmarks' window) of (B, F, 3, S, S) images in [-1, 1] over the
    pixels where `weight` (B, F, 1, S, S) is 1."""
    similarity = kornia_ssim((rgb.flatten(0, 1) + 1) / 2, (truth.flatten(0, 1) + 1) / 2, SSIM_WINDOW)
    weight = weight.flatten(0, 1)
    return ((1 - similarity) * weight).sum() / (weight.sum().clamp_min(1) * rgb.shape[2])


def dissimilarity(rgb: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean 1 - SSIM of (B, F, 3, S, S) images in [-1, 1] over every pixel."""
    return masked_dissimilarity(rgb, truth, rgb.new_ones(*rgb.shape[:2], 1, *rgb.shape[3:]))


__all__ = ["dissimilarity", "masked_dissimilarity"]
