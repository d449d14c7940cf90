"""Equirectangular panoramas (B, C, H, W), W = 2H, and conversion to and from cubemaps.

Convention: the centre of column u has longitude lon = ((u + 0.5) / W) 2 pi - pi and the
centre of row v latitude lat = pi / 2 - ((v + 0.5) / H) pi; the body-frame direction is
d = (cos(lat) sin(lon), sin(lat), -cos(lat) cos(lon)). The image centre looks forward
(-z), right of centre is +x, the top row looks up (+y), columns 0 and W - 1 look back.

Depth (kind="depth", C = 1): cubemap depth is z-depth along each face's axis, equirect
depth is range along the ray; values are converted, never copied. 0 means no hit.
Depth is resampled with a validity mask: the mask is sampled like the values, an output
pixel is valid when at least half of its interpolation weight lies on valid pixels, and
its value is then the weight-normalised mean of the valid taps only (so 0s never drag a
depth down, and silhouettes neither erode nor grow); otherwise it is 0. Bilinear still
blends depths across a discontinuity between two surfaces; mode="nearest" does not.
"""

from __future__ import annotations

import functools
import math

import torch
from einops import rearrange

from worldengine.geometry.checks import check_face_size, check_faces, check_vectors
from worldengine.geometry.cube import face_rays, range_to_zdepth, zdepth_to_range
from worldengine.geometry.padding import CubemapSampler

KINDS = ("rgb", "depth")
MODES = ("bilinear", "nearest")


def equirect_directions(height: int, width: int | None = None, dtype=torch.float32, device=None) -> torch.Tensor:
    """Unit body-frame directions of every pixel centre, (H, W, 3); W defaults to 2H."""
    width = 2 * height if width is None else width
    check_face_size(height)
    check_face_size(width)
    u = torch.arange(width, dtype=torch.float64, device=device)
    v = torch.arange(height, dtype=torch.float64, device=device)
    lon = (u + 0.5) / width * 2 * math.pi - math.pi  # (W,)
    lat = math.pi / 2 - (v + 0.5) / height * math.pi  # (H,)
    lat, lon = torch.meshgrid(lat, lon, indexing="ij")  # (H, W)
    d = torch.stack([lat.cos() * lon.sin(), lat.sin(), -lat.cos() * lon.cos()], dim=-1)
    return d.to(dtype)


def direction_to_equirect(d: torch.Tensor, height: int, width: int | None = None):
    """Body-frame directions (..., 3), any nonzero length -> continuous pixel coords (u, v), each (...,).

    Pixel centres are at integers: u in [-0.5, W - 0.5), v in [-0.5, H - 0.5].
    """
    check_vectors(d, "d")
    width = 2 * height if width is None else width
    lon = torch.atan2(d[..., 0], -d[..., 2])
    lat = torch.atan2(d[..., 1], torch.hypot(d[..., 0], d[..., 2]))
    return (lon + math.pi) / (2 * math.pi) * width - 0.5, (math.pi / 2 - lat) / math.pi * height - 0.5


def _check_kind(kind: str, mode: str, channels: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if kind == "depth" and channels != 1:
        raise ValueError(f"depth must have C = 1 channel, got C = {channels}")


def _check_equirect(image: torch.Tensor) -> None:
    ok = isinstance(image, torch.Tensor) and image.dim() == 4 and image.is_floating_point()
    if not ok or image.shape[-1] != 2 * image.shape[-2] or image.shape[-2] == 0:
        got = f"{tuple(image.shape)} {image.dtype}" if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a floating tensor (B, C, H, W) with W = 2H > 0, got {got}")


def _masked(sample, values: torch.Tensor) -> torch.Tensor:
    """Resample depth `values` (0 = invalid) with `sample`, keeping invalid pixels out (module doc)."""
    valid = (values > 0).to(values.dtype)
    num, den = sample(values * valid), sample(valid)
    return torch.where(den >= 0.5, num / den.clamp_min(0.5), torch.zeros_like(num))


@functools.lru_cache(maxsize=16)
def _equirect_sampler(height: int, size: int, mode: str, device: torch.device, dtype: torch.dtype) -> CubemapSampler:
    return CubemapSampler(equirect_directions(height, dtype=dtype, device=device), size, mode)


def cube_to_equirect(faces: torch.Tensor, height: int, kind: str = "rgb", mode: str = "bilinear") -> torch.Tensor:
    """Cubemaps (B, F, C, S, S) -> equirectangular images (B, C, H, 2H).

    kind="depth": faces hold z-depth (C = 1); the output holds range along each ray.
    """
    check_faces(faces, "faces", lead=1)
    check_face_size(height)
    _check_kind(kind, mode, faces.shape[2])
    sample = _equirect_sampler(height, faces.shape[-1], mode, faces.device, faces.dtype)  # -> (B, C, H, W)

    if kind == "rgb":
        return sample(faces)
    return _masked(sample, zdepth_to_range(faces[:, :, 0])[:, :, None])


def _pad_equirect(image: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H+2, W+2): one row over each pole, one wrapped column each side.

    The row just past a pole at longitude lon is row 0 (or H-1) at lon + pi, exactly.
    """
    half = image.shape[-1] // 2
    top, bottom = image[..., :1, :].roll(half, -1), image[..., -1:, :].roll(half, -1)
    image = torch.cat([top, image, bottom], dim=-2)
    return torch.cat([image[..., -1:], image, image[..., :1]], dim=-1)


def equirect_to_cube(image: torch.Tensor, size: int, kind: str = "rgb", mode: str = "bilinear") -> torch.Tensor:
    """Equirectangular images (B, C, H, 2H) -> cubemaps (B, F, C, S, S) with torch grid_sample.

    kind="depth": the image holds range (C = 1); the output holds z-depth.
    """
    _check_equirect(image)
    check_face_size(size)
    _check_kind(kind, mode, image.shape[1])
    b, _, h, w = image.shape
    u, v = direction_to_equirect(face_rays(size, torch.float64, image.device), h, w)  # (F, S, S)
    # align_corners=True: -1 and +1 are the centres of the first and last padded pixels.
    grid = torch.stack([(u + 1) / (w + 1), (v + 1) / (h + 1)], dim=-1) * 2 - 1  # (F, S, S, 2)
    grid = rearrange(grid, "f h w t -> (f h) w t").to(image.dtype).expand(b, -1, -1, -1)

    def sample(x):
        out = torch.nn.functional.grid_sample(_pad_equirect(x), grid, mode, "border", align_corners=True)
        return rearrange(out, "b c (f h) w -> b f c h w", f=6)  # (B, F, C, S, S)

    if kind == "rgb":
        return sample(image)
    return range_to_zdepth(_masked(sample, image)[:, :, 0])[:, :, None]
