"""Cube-aware padding checked against the renderer: a padded face must equal the same
face rendered with a wider field of view, within interpolation error."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from worldengine.geometry.cube import face_to_direction
from worldengine.geometry.padding import pad_faces
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import ProceduralScene
from worldengine.scenes.render import render_rays

SUPERSAMPLE = 4  # anti-aliasing: each pixel is the mean of 4 x 4 sub-pixel rays


def _render(scene, pose, xs, ys, size):
    """Anti-aliased faces (F, 3, len(ys), len(xs)) at pixel centres xs, ys (normalised)."""
    offsets = ((torch.arange(SUPERSAMPLE, dtype=torch.float64) + 0.5) / SUPERSAMPLE - 0.5) * 2 / size
    xs = (xs[:, None] + offsets).reshape(-1)
    ys = (ys[:, None] + offsets).reshape(-1)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    rays = torch.stack([face_to_direction(torch.full_like(x, f, dtype=torch.long), x, y) for f in range(6)])
    world = rays.float() @ pose[:3, :3].T  # (F, H, W, 3)
    colour, _, _ = render_rays(scene, pose[:3, 3].expand_as(world), world)
    return F.avg_pool2d(colour.permute(0, 3, 1, 2), SUPERSAMPLE)


def _psnr(error):
    return float(10 * torch.log10(1 / (error ** 2).mean()))


@pytest.mark.parametrize("size", [32, pytest.param(64, marks=pytest.mark.slow)])
def test_exact_padding_matches_a_wider_field_of_view(size):
    scene = ProceduralScene(1, "room")
    rng = np.random.default_rng(0)
    pose = pose_from_yaw_pitch(torch.tensor(scene.sample_free_position(rng), dtype=torch.float32), 0.4, 0.1)
    p = 4
    centres = (2 * torch.arange(size, dtype=torch.float64) + 1) / size - 1
    wide_centres = (2 * torch.arange(-p, size + p, dtype=torch.float64) + 1) / size - 1
    faces = _render(scene, pose, centres, centres, size)
    wide = _render(scene, pose, wide_centres, wide_centres, size)
    ring = torch.ones(size + 2 * p, size + 2 * p, dtype=torch.bool)
    ring[p:-p, p:-p] = False

    # Interpolation error of these very faces: bilinear at the midpoints between pixel
    # centres (the worst place) against the renderer there.
    midpoints = centres[:-1] + 1 / size
    interpolation_psnr = _psnr(F.avg_pool2d(faces, 2, stride=1) - _render(scene, pose, midpoints, midpoints, size))

    exact = pad_faces(faces[None], p, "exact")[0]
    copy = pad_faces(faces[None], p, "copy")[0]
    assert torch.equal(exact[:, :, p:-p, p:-p], faces)
    exact_psnr = _psnr((exact - wide)[:, :, ring])
    copy_psnr = _psnr((copy - wide)[:, :, ring])
    assert exact_psnr > interpolation_psnr - 1.0, (exact_psnr, interpolation_psnr)
    assert exact_psnr > copy_psnr + 3.0  # copied strips ignore the projection change
