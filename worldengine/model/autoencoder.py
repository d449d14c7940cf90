"""RGB-D face autoencoder: one cubemap face of RGB + depth <-> a latent grid.

Every 3x3 convolution pads each face with its neighbours' pixels (cube-aware padding,
worldengine.geometry.padding.pad_faces in copy mode) instead of zeros, so a convolution at a face
border sees across the cube edge and seams are not baked into the latent.

Depth travels as a bounded disparity channel (DeepVerse/Aether use a square root of
normalised inverse depth; we do the same with a fixed scale): D = sqrt(near / depth)
clamped to [0, 1], so D = 1 at `near` metres or closer, D -> 0 far away, and D = 0 for
sky (depth 0, "no hit"). It is invertible: depth = near / D^2 (D below `sky_below`
decodes as sky). The network sees 2D - 1 in [-1, 1], like RGB.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from worldengine.geometry.cube import NUM_FACES
from worldengine.geometry.padding import pad_faces
from worldengine.model.fields import config_from_dict

CONFIG_VERSION = 1


@dataclass(frozen=True)
class AutoencoderConfig:
    """face_size S, latent stride (S / s), latent channels C, widths per resolution,
    decoder_blocks: residual blocks after each of the decoder's upsamplings (more of them
    add decoder capacity without touching the encoder or its latents)."""

    version: int = CONFIG_VERSION
    face_size: int = 64
    stride: int = 4
    latent_channels: int = 8
    widths: tuple[int, ...] = (32, 64, 96)
    near: float = 0.25  # metres: disparity 1 at this depth or closer
    sky_below: float = 0.02  # decoded disparity under this is sky (depth 0)
    decoder_blocks: int = 1

    def __post_init__(self):
        if self.version != CONFIG_VERSION:
            raise ValueError(f"autoencoder config version {self.version} is not {CONFIG_VERSION}")
        levels = len(self.widths) - 1
        if self.stride != 2 ** levels:
            raise ValueError(f"stride {self.stride} needs {self.stride.bit_length() - 1} downsamplings, "
                             f"but widths {self.widths} give {levels}")
        if self.face_size % self.stride:
            raise ValueError(f"face_size {self.face_size} is not a multiple of the stride {self.stride}")
        if self.decoder_blocks < 1:
            raise ValueError(f"decoder_blocks {self.decoder_blocks} must be at least 1")

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, data: dict) -> "AutoencoderConfig":
        """From a config.json's "config": every field checked (model.fields)."""
        return config_from_dict(cls, data, "autoencoder")


AUTOENCODER_SIZES = {
    "tiny": AutoencoderConfig(widths=(8, 16, 16), latent_channels=4),
    "default": AutoencoderConfig(),
    "deep-decoder": AutoencoderConfig(decoder_blocks=2),  # grows from "default" (train/autoencoder_task.py)
    "deeper-decoder": AutoencoderConfig(decoder_blocks=3),  # grows from either above
}


# ---------------------------------------------------------------- depth <-> disparity


def depth_to_disparity(depth: torch.Tensor, near: float) -> torch.Tensor:
    """Metric z-depth (0 = sky) -> D in [0, 1]."""
    safe = depth.clamp_min(1e-6)
    return torch.where(depth > 0, (near / safe).clamp(max=1.0).sqrt(), torch.zeros_like(depth))


def disparity_to_depth(disparity: torch.Tensor, near: float, sky_below: float) -> torch.Tensor:
    """D in [0, 1] -> metric z-depth; D under sky_below -> 0 (sky)."""
    d = disparity.clamp(0, 1)
    return torch.where(d >= sky_below, near / d.clamp_min(sky_below) ** 2, torch.zeros_like(d))


def pack_rgbd(rgb: torch.Tensor, depth: torch.Tensor, near: float) -> torch.Tensor:
    """rgb (B, F, S, S, 3) uint8 + depth (B, F, S, S) -> network input (B, F, 4, S, S) in [-1, 1]."""
    colour = rgb.permute(0, 1, 4, 2, 3).float() / 127.5 - 1  # (B, F, 3, S, S)
    disparity = depth_to_disparity(depth.float(), near)[:, :, None] * 2 - 1  # (B, F, 1, S, S)
    return torch.cat([colour, disparity], dim=2)


def unpack_rgbd(x: torch.Tensor, near: float, sky_below: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Network output (B, F, 4, S, S) -> rgb (B, F, S, S, 3) float in [0, 1], depth (B, F, S, S)."""
    rgb = ((x[:, :, :3] + 1) / 2).clamp(0, 1).permute(0, 1, 3, 4, 2)
    depth = disparity_to_depth((x[:, :, 3] + 1) / 2, near, sky_below)
    return rgb, depth


# ---------------------------------------------------------------- layers


class CubeConv(nn.Module):
    """3x3 convolution over all faces with cube-aware padding. x: (B, F, C, H, W)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        padded = pad_faces(x, 1, "copy").flatten(0, 1)  # (B*F, C, H+2, W+2)
        return self.conv(padded).unflatten(0, (b, NUM_FACES))


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8 if channels % 8 == 0 else 1, channels), CubeConv(channels, channels)
        self.norm2, self.conv2 = nn.GroupNorm(8 if channels % 8 == 0 else 1, channels), CubeConv(channels, channels)

    def _norm(self, norm: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
        return norm(x.flatten(0, 1)).unflatten(0, x.shape[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self._norm(self.norm1, x)))
        return x + self.conv2(F.silu(self._norm(self.norm2, h)))


class Upsample(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = CubeConv(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x.flatten(0, 1), scale_factor=2, mode="nearest").unflatten(0, x.shape[:2])
        return self.conv(up)


class PointwiseConv(nn.Module):
    """1x1 convolution on (B, F, C, H, W)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.flatten(0, 1)).unflatten(0, x.shape[:2])


class Encoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        w = config.widths
        layers: list[nn.Module] = [CubeConv(4, w[0])]
        for c_in, c_out in zip(w[:-1], w[1:]):
            layers += [CubeConv(c_in, c_out, stride=2), ResBlock(c_out)]
        layers += [ResBlock(w[-1]), PointwiseConv(w[-1], config.latent_channels)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Decoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        w = config.widths[::-1]
        layers: list[nn.Module] = [CubeConv(config.latent_channels, w[0]), ResBlock(w[0]), ResBlock(w[0])]
        for c_in, c_out in zip(w[:-1], w[1:]):
            layers += [Upsample(c_in, c_out)] + [ResBlock(c_out) for _ in range(config.decoder_blocks)]
        layers += [CubeConv(w[-1], 4)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class CubeAutoencoder(nn.Module):
    """encode: (B, F, 4, S, S) in [-1, 1] -> latents (B, F, C, s, s), normalised to about
    unit variance by the stored `latent_shift` and `latent_scale`; decode is the inverse."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder, self.decoder = Encoder(config), Decoder(config)
        self.register_buffer("latent_shift", torch.zeros(config.latent_channels))
        self.register_buffer("latent_scale", torch.ones(config.latent_channels))

    def _check(self, x: torch.Tensor) -> None:
        s = self.config.face_size
        if x.ndim != 5 or x.shape[1] != NUM_FACES or x.shape[2] != 4 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"input must have shape (B, 6, 4, S, S), got {tuple(x.shape)}")
        if x.shape[-1] % self.config.stride:
            raise ValueError(f"face side {x.shape[-1]} is not a multiple of the stride {self.config.stride} (trained at {s})")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        z = self.encoder(x)
        return (z - self.latent_shift.view(1, 1, -1, 1, 1)) / self.latent_scale.view(1, 1, -1, 1, 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 5 or z.shape[1] != NUM_FACES or z.shape[2] != self.config.latent_channels:
            raise ValueError(f"latents must have shape (B, 6, {self.config.latent_channels}, s, s), got {tuple(z.shape)}")
        raw = z * self.latent_scale.view(1, 1, -1, 1, 1) + self.latent_shift.view(1, 1, -1, 1, 1)
        return self.decoder(raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def set_latent_statistics(self, raw_latents: torch.Tensor) -> None:
        """Per-channel mean and std of un-normalised latents (B, F, C, s, s)."""
        flat = raw_latents.transpose(0, 2).reshape(self.config.latent_channels, -1)
        self.latent_shift.copy_(flat.mean(dim=1))
        self.latent_scale.copy_(flat.std(dim=1).clamp_min(1e-6))
