"""The refiner's training task: warped memory -> the new view's latents, through the decoder.

Loss on covered cells only (the refiner's output is used nowhere else): L1 to the
ground truth's latents, plus L1 of the decoded pixels (RGB and disparity, the frozen
autoencoder's decoder) against the ground-truth pixels. For decoding, uncovered cells
hold the ground truth's latents, so the decoder sees a whole picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd
from worldengine.model.refiner import LatentRefiner, RefinerConfig
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS
from worldengine.train.refiner_data import load_refiner_pairs

LATENT_WEIGHT = 0.25


class RefinerTask:
    kind = "refiner"

    def __init__(self, config: RefinerConfig, batch_size: int, data: str | Path, autoencoder: CubeAutoencoder,
                 autoencoder_digest: str):
        if config.latent_channels != autoencoder.config.latent_channels:
            raise ValueError(f"refiner of {config.latent_channels} latent channels for an autoencoder of "
                             f"{autoencoder.config.latent_channels}")
        self.config, self.batch_size, self.data = config, batch_size, Path(data)
        self.autoencoder, self.autoencoder_digest = autoencoder.eval().requires_grad_(False), autoencoder_digest
        self._pairs: dict[str, torch.Tensor] | None = None

    def pairs(self) -> dict[str, torch.Tensor]:
        if self._pairs is None:
            self._pairs = load_refiner_pairs(self.data)
        return self._pairs

    def build_model(self) -> torch.nn.Module:
        return LatentRefiner(self.config)

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
        with torch.no_grad():
            identity = ((batch["input"][:, :, :c] - batch["target_latents"]).abs() * mask).sum() / cells
        return pixel + LATENT_WEIGHT * latent, {"loss_pixel": pixel.detach(), "loss_latent": latent.detach(),
                                                "latent_l1_unrefined": identity}

    def meta(self) -> dict:
        return {"kind": self.kind, "config": self.config.to_dict(), "autoencoder": self.autoencoder_digest,
                "data": str(self.data), "pairs": len(self.pairs()["input"]),
                "train_seeds": [TRAIN_SCENE_SEEDS.start, TRAIN_SCENE_SEEDS.stop],
                "heldout_seeds": [HELDOUT_SCENE_SEEDS.start, HELDOUT_SCENE_SEEDS.stop]}

    def finish(self, model: LatentRefiner, out: Path) -> dict:
        return {"parameters": sum(p.numel() for p in model.parameters())}


__all__ = ["RefinerTask"]
