"""Image metrics of a generated cubemap against its ground truth, and of its own seams.

All take numpy cubemaps as the engine returns them: rgb (F, S, S, 3) uint8, depth
(F, S, S) metres (0 = no surface).

Seam metrics look at the 12 cube edges from both sides (each face's four sides: 24
half-edges, every edge twice). Along a side, own strip A is the `SEAM_WIDTH` pixel rows
just inside the face, neighbour strip B the rows just across the edge on the adjacent
face (copy padding: worldengine.cube_padding), both ordered outward from the edge:

- Seam-SSIM: SSIM between A and B (grey, max 1). Where a cube is continuous, the
  strips either side of an edge are near mirror images, so the score is high; a
  generated cube whose faces disagree scores lower. Ground truth sets the ceiling.
- Seam-Sobel: gradient continuity. The mean absolute grey step across the edge (A's
  edge row to B's edge row) over the mean absolute step between neighbouring rows
  inside the strips. 1 is a seam as smooth as the image around it; a visible seam is
  > 1. Lower is better.
"""

from __future__ import annotations

import numpy as np
import torch
from kornia.metrics import ssim as kornia_ssim

from worldengine.geometry.padding import pad_faces

SEAM_WIDTH = 4  # pixel rows each side of an edge the seam metrics compare
SSIM_WINDOW = 7
_GREY = torch.tensor([0.299, 0.587, 0.114])


def psnr(rgb: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of uint8 images."""
    error = np.mean((rgb.astype(np.float64) - truth.astype(np.float64)) ** 2) / 255.0 ** 2
    return float(10 * np.log10(1 / max(error, 1e-10)))


def depth_absrel(depth: np.ndarray, truth: np.ndarray) -> float:
    """Mean |depth - truth| / truth over pixels where the truth has a surface (nan if none)."""
    surface = truth > 0
    return float((np.abs(depth - truth)[surface] / truth[surface]).mean()) if surface.any() else float("nan")


def _faces(rgb: np.ndarray) -> torch.Tensor:
    """(F, S, S, 3) uint8 -> (F, 3, S, S) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).float() / 255


def ssim(rgb: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM (Gaussian window 7, on all three channels) over the faces."""
    return float(kornia_ssim(_faces(rgb), _faces(truth), SSIM_WINDOW).mean())


def _seam_strips(rgb: np.ndarray, width: int = SEAM_WIDTH) -> tuple[torch.Tensor, torch.Tensor]:
    """Own strips A and neighbour strips B, each (24, 1, width, S) grey, row 0 at the edge."""
    grey = torch.einsum("fchw,c->fhw", _faces(rgb), _GREY)[:, None]  # (F, 1, S, S)
    padded = pad_faces(grey, width, "copy")[:, 0]  # (F, S + 2w, S + 2w)
    own, inner = grey[:, 0], slice(width, -width)
    a = [own[:, :width], own[:, -width:].flip(1),  # top, bottom: rows from the edge inward
         own[:, :, :width].transpose(1, 2), own[:, :, -width:].flip(2).transpose(1, 2)]  # left, right
    b = [padded[:, :width, inner].flip(1), padded[:, -width:, inner],  # rows from the edge outward
         padded[:, inner, :width].flip(2).transpose(1, 2), padded[:, inner, -width:].transpose(1, 2)]
    return torch.cat(a)[:, None], torch.cat(b)[:, None]


def seam_ssim(rgb: np.ndarray) -> float:
    """Seam-SSIM of a cubemap (module docstring): 1 = the two sides of every edge agree."""
    a, b = _seam_strips(rgb)
    return float(kornia_ssim(a, b, 3).mean())


def seam_sobel(rgb: np.ndarray) -> float:
    """Seam-Sobel of a cubemap (module docstring): the step across the edges over the
    steps beside them; 1 = as smooth as the image, larger = a visible seam."""
    a, b = _seam_strips(rgb)
    across = (a[:, :, 0] - b[:, :, 0]).abs().mean()
    beside = torch.cat([(a[:, :, 1:] - a[:, :, :-1]).abs(), (b[:, :, 1:] - b[:, :, :-1]).abs()], 2).mean()
    return float(across / beside.clamp_min(1e-6))


class Lpips:
    """Real pretrained LPIPS (AlexNet) when it can be had, else `available` is False and
    `reason` says why: the lpips package, torchvision's compiled ops and the backbone
    weights (downloaded on first use) must all be there. Never a stand-in network."""

    def __init__(self) -> None:
        self.model, self.reason = None, None
        try:
            import lpips  # noqa: PLC0415 (optional at run time: torchvision must match torch)
            self.model = lpips.LPIPS(net="alex", verbose=False).eval()
        except Exception as error:  # ImportError, a torchvision/torch mismatch, no network for the weights
            self.reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200]

    @property
    def available(self) -> bool:
        return self.model is not None

    def __call__(self, rgb: np.ndarray, truth: np.ndarray) -> float | None:
        """Mean LPIPS over the faces (lower is better), None when unavailable."""
        if self.model is None:
            return None
        with torch.no_grad():
            return float(self.model(_faces(rgb) * 2 - 1, _faces(truth) * 2 - 1).mean())


__all__ = ["Lpips", "SEAM_WIDTH", "depth_absrel", "psnr", "seam_sobel", "seam_ssim", "ssim"]
