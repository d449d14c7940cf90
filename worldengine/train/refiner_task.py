"""The refiner's training task: warped memory -> the new view's latents, through the decoder.

Loss on covered cells only (the refiner's output is used nowhere else): L1 to the
ground truth's latents, plus L1 of the decoded pixels (RGB and disparity, the frozen
autoencoder's decoder) against the ground-truth pixels, plus 1 - SSIM of the decoded RGB
(the structure the engine is judged by: L1 alone is content to blur what it cannot
shift). For decoding, uncovered cells hold the ground truth's latents, so the decoder
sees a whole picture.

`init` starts from a trained refiner of the same width; one trained without the sub-cell
inputs gains them with zero weights, and a shallower one gains its missing residual blocks
as identities (their last convolution zero), so training starts from what it had learnt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd
from worldengine.model.checkpoint import load_refiner
from worldengine.model.refiner import LatentRefiner, RefinerConfig
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS
from worldengine.train.refiner_data import load_refiner_pairs
from worldengine.train.start_from import trained_start
from worldengine.train.structure import masked_dissimilarity

LATENT_WEIGHT = 0.25
STRUCTURE_WEIGHT = 0.25  # of 1 - SSIM, unless told; refiners trained before it had none (their run cards say so)


class RefinerTask:
    kind = "refiner"

    def __init__(self, config: RefinerConfig, batch_size: int, data: str | Path, autoencoder: CubeAutoencoder,
                 autoencoder_digest: str, init: str | Path | None = None,
                 structure_weight: float = STRUCTURE_WEIGHT):
        if structure_weight < 0:
            raise ValueError(f"structure weight {structure_weight} must be >= 0")
        if config.latent_channels != autoencoder.config.latent_channels:
            raise ValueError(f"refiner of {config.latent_channels} latent channels for an autoencoder of "
                             f"{autoencoder.config.latent_channels}")
        self.init = trained_start(init, load_refiner, config, "refiner", fits=_grows_into,
                                  or_else=" (or a shallower one of its width)")
        self.init_path = None if init is None else str(init)
        self.config, self.batch_size, self.data = config, batch_size, Path(data)
        self.structure_weight = structure_weight
        self.autoencoder, self.autoencoder_digest = autoencoder.eval().requires_grad_(False), autoencoder_digest
        self._pairs: dict[str, torch.Tensor] | None = None

    def pairs(self) -> dict[str, torch.Tensor]:
        """The training pairs, refused if they record other latents than the autoencoder's."""
        if self._pairs is None:
            self._pairs = load_refiner_pairs(self.data, self.autoencoder_digest)
        return self._pairs

    def build_model(self) -> torch.nn.Module:
        model = LatentRefiner(self.config)
        if self.init is not None:
            model.load_state_dict(grown_state(self.init.state_dict(), model.state_dict()))
        return model

    def batches(self, seed: int, rank: int, world_size: int) -> Iterator[dict]:
        pairs = self.pairs()
        count = len(pairs["input"])
        generator = torch.Generator().manual_seed(seed * 1000 + rank)
        while True:
            rows = torch.randint(0, count, (self.batch_size,), generator=generator)
            yield {key: value[rows] for key, value in pairs.items()}

    def loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict]:
        device = next(model.parameters()).device
        batch = {k: v.to(device) for k, v in batch.items()}
        c = self.config.latent_channels
        mask = batch["input"][:, :, c:c + 1]  # (B, F, 1, s, s)
        refined = model(batch["input"])
        cells = mask.sum().clamp_min(1) * c
        latent = ((refined - batch["target_latents"]).abs() * mask).sum() / cells
        decoded = self.autoencoder.decode(torch.where(mask.bool(), refined, batch["target_latents"]))
        truth = pack_rgbd(batch["target_rgb"], batch["target_depth"].float(), self.autoencoder.config.near)
        scale = decoded.shape[-1] // mask.shape[-1]
        pixels = F.interpolate(mask.flatten(0, 1), scale_factor=scale, mode="nearest").unflatten(0, mask.shape[:2])
        pixel = ((decoded - truth).abs() * pixels).sum() / (pixels.sum().clamp_min(1) * truth.shape[2])
        structure = masked_dissimilarity(decoded[:, :, :3], truth[:, :, :3], pixels)
        with torch.no_grad():
            identity = ((batch["input"][:, :, :c] - batch["target_latents"]).abs() * mask).sum() / cells
        total = pixel + LATENT_WEIGHT * latent + self.structure_weight * structure
        return total, {"loss_pixel": pixel.detach(), "loss_latent": latent.detach(),
                       "loss_structure": structure.detach(), "latent_l1_unrefined": identity}

    def meta(self) -> dict:
        return {"kind": self.kind, "config": self.config.to_dict(), "autoencoder": self.autoencoder_digest,
                "data": str(self.data), "pairs": len(self.pairs()["input"]), "init": self.init_path,
                "loss_weights": {"pixel": 1.0, "latent": LATENT_WEIGHT, "structure": self.structure_weight},
                "train_seeds": [TRAIN_SCENE_SEEDS.start, TRAIN_SCENE_SEEDS.stop],
                "heldout_seeds": [HELDOUT_SCENE_SEEDS.start, HELDOUT_SCENE_SEEDS.stop]}

    def finish(self, model: LatentRefiner, out: Path) -> dict:
        return {"parameters": sum(p.numel() for p in model.parameters())}


def _grows_into(old: RefinerConfig, new: RefinerConfig) -> bool:
    return (old.latent_channels, old.width) == (new.latent_channels, new.width) and old.depth <= new.depth


def grown_state(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`new`'s state with `old`'s weights in it: a weight with fewer input channels in `old`
    (a refiner without the sub-cell inputs) fills the leading ones, the rest stay zero; a
    residual block `old` lacks keeps `new`'s initial weights but its last convolution is
    zero, so the block passes its input through (the grown refiner computes what `old` did)."""
    grown = {}
    for name, target in new.items():
        source = old.get(name)
        if source is None and name.startswith("blocks."):
            grown[name] = torch.zeros_like(target) if ".conv2." in name else target.clone()
        elif source is None:
            raise ValueError(f"refiner weight {name} is missing from the refiner to grow from")
        elif source.shape == target.shape:
            grown[name] = source.clone()
        elif source.ndim == 4 and source.shape[0] == target.shape[0] and source.shape[1] < target.shape[1]:
            grown[name] = torch.zeros_like(target)
            grown[name][:, :source.shape[1]] = source
        else:
            raise ValueError(f"refiner weight {name} of shape {tuple(source.shape)} cannot grow to {tuple(target.shape)}")
    return grown


__all__ = ["RefinerTask", "grown_state"]
