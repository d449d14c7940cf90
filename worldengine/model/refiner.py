"""The learned refiner: remembered latents, warped to a new view, made into that view's latents.

A latent cell encodes a 4 x 4 pixel patch as its writer saw it; warped elsewhere, whole
cells move but the content cannot shift by part of a cell, and the cell's disparity is
the writer's. The refiner is deterministic (no noise, no sampler): a small cube-padded
residual network over the warp (features, coverage mask, the disparity the cell has now,
how much nearer or farther it is than when written, and where its token's centre lands
within the cell, the sub-cell shift the content should make), trained through the decoder
against the ground truth at the new view (worldengine.train.refiner_task). Only covered
cells seen from elsewhere than where they were written are refined (`cells_to_refine`);
the memory itself is never changed by it (DESIGN.md: shown refined, never overwritten).
Its last layer starts at zero: an untrained refiner is the identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from memory import Warped
from worldengine.model.autoencoder import CubeConv, ResBlock
from worldengine.model.fields import config_from_dict

DISPARITY_NEAR = 0.25  # metres, as the generator's memory disparity
WRITTEN_HERE = 0.05  # metres: a cell seen from within this of where it was written is that view's own latent
EXTRA_CHANNELS = 5  # mask, disparity now, log(distance now / distance when written), sub-cell x and y
SUBCELL_CHANNELS = 2  # the last two: left out by refiners built without them (config.subcell False)


@dataclass(frozen=True)
class RefinerConfig:
    latent_channels: int = 8
    width: int = 64
    depth: int = 4
    subcell: bool = True  # reads the warp's sub-cell offsets
    version: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RefinerConfig":
        if isinstance(data, dict):
            data = {"subcell": False, **data}  # configs written before the field read no sub-cell offsets
        return config_from_dict(cls, data, "refiner config")

    @property
    def input_channels(self) -> int:
        return self.latent_channels + EXTRA_CHANNELS - (0 if self.subcell else SUBCELL_CHANNELS)


# "deep" doubles the residual blocks (a receptive field 37 cells across instead of 21);
# it can start from a trained "default" (worldengine.train.refiner_task.grown_state).
REFINER_SIZES = {"default": RefinerConfig(), "deep": RefinerConfig(depth=8), "tiny": RefinerConfig(width=8, depth=1)}


def refiner_input(warped: Warped) -> torch.Tensor:
    """A warp -> the refiner's input (F, C + 5, s, s): features (zero where empty), mask,
    disparity near / z now, log of the cell's distance now over its writer's, and the
    token centre's offset from the cell centre in cells (x, y) (all 0 where empty)."""
    mask = warped.mask.float()
    disparity = warped.near_over_depth(DISPARITY_NEAR)
    change = torch.where(warped.mask, warped.decoded_depth_scale().clamp_min(1e-3).log(), 0.0)
    subcell = warped.subcell if warped.subcell is not None else mask.new_zeros(mask.shape[0], 2, *mask.shape[1:])
    return torch.cat([warped.features.float() * mask[:, None], mask[:, None], disparity[:, None], change[:, None],
                      subcell.float()], 1)


def cells_to_refine(warped: Warped) -> torch.Tensor:
    """(F, s, s) bool: covered cells seen from elsewhere than where they were written. A cell
    seen from its writer's place is exactly what that view encoded: it is shown as it is
    (the refiner learnt to correct moved warps, and would only blur it)."""
    if warped.writer_offset is None:
        return warped.mask
    return warped.mask & (warped.writer_offset > WRITTEN_HERE)


class LatentRefiner(nn.Module):
    """(B, F, C + 5, s, s) refiner input -> (B, F, C, s, s) latents: the warped features plus
    a learned correction on covered cells; empty cells stay zero. A refiner built without
    sub-cell inputs leaves the last two channels out."""

    def __init__(self, config: RefinerConfig = RefinerConfig()):
        super().__init__()
        self.config = config
        c, w = config.latent_channels, config.width
        self.inp = CubeConv(config.input_channels, w)
        self.blocks = nn.Sequential(*[ResBlock(w) for _ in range(config.depth)])
        self.out = CubeConv(w, c)
        nn.init.zeros_(self.out.conv.weight)
        nn.init.zeros_(self.out.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config.latent_channels
        if x.ndim != 5 or x.shape[2] != c + EXTRA_CHANNELS:
            raise ValueError(f"refiner input must be (B, 6, {c + EXTRA_CHANNELS}, s, s), got {tuple(x.shape)}")
        features, mask = x[:, :, :c], x[:, :, c:c + 1]
        return (features + self.out(self.blocks(self.inp(x[:, :, :self.config.input_channels])))) * mask


__all__ = ["LatentRefiner", "REFINER_SIZES", "RefinerConfig", "cells_to_refine", "refiner_input"]
