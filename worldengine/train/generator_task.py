"""The generator's training task: rectified flow on windows of encoded ground-truth walks."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import torch

from kernels.attention import ABSENT, GENERATED
from worldengine.model.checkpoint import load_generator
from worldengine.model.dit import CubeDiT, CubeDiTConfig, DiTInput
from worldengine.model.flow import flow_loss, interpolate, sample_time
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS
from worldengine.train.generator_data import WindowSampling, window_stream
from worldengine.train.latent_data import LatentEpisode, load_latent_store
from worldengine.train.start_from import trained_start


def noisy_input(batch: dict[str, torch.Tensor], noise: torch.Tensor, t: torch.Tensor) -> DiTInput:
    """The model input of a training batch: generated faces at x_t, clean faces as they
    are, absent faces zero."""
    roles = batch["roles"][:, None, :, None, None, None]  # (B, 1, F, 1, 1, 1)
    x_t = interpolate(noise, batch["target"], t)
    current = torch.where(roles == GENERATED, x_t, batch["target"]).masked_fill(roles == ABSENT, 0.0)
    return DiTInput(current=current, roles=batch["roles"], memory=batch["memory"],
                    current_rays=batch["current_rays"], history=batch["history"],
                    history_rays=batch["history_rays"], history_present=batch["history_present"],
                    time=t, action=batch["action"], action_present=batch["action_present"])


class GeneratorTask:
    """Train a generator from scratch, or (`init`) go on from a trained one of the same
    config: after the autoencoder is retrained, a generator fine-tuned on the new latents
    keeps what it learnt of the task (actions, memory, rays) and trains for fewer steps."""

    kind = "generator"

    def __init__(self, config: CubeDiTConfig, batch_size: int, data: str | Path, autoencoder_digest: str,
                 sampling: WindowSampling = WindowSampling(), init: str | Path | None = None):
        self.config, self.batch_size, self.data = config, batch_size, Path(data)
        self.autoencoder_digest, self.sampling = autoencoder_digest, sampling
        self.init = trained_start(init, load_generator, config, "generator")
        self.init_path = None if init is None else str(init)
        self._episodes: list[LatentEpisode] | None = None

    def episodes(self) -> list[LatentEpisode]:
        if self._episodes is None:
            self._episodes = load_latent_store(self.data)
        return self._episodes

    def build_model(self) -> torch.nn.Module:
        model = CubeDiT(self.config)
        if self.init is not None:
            model.load_state_dict(self.init.state_dict())
        return model

    def batches(self, seed: int, rank: int, world_size: int) -> Iterator[dict]:
        episodes = self.episodes()[rank::world_size]
        generator = torch.Generator().manual_seed(seed * 1000 + rank)
        for batch in window_stream(episodes, self.config, self.sampling, self.batch_size, seed, rank):
            b = batch["target"].shape[0]
            batch["noise"] = torch.randn(batch["target"].shape, generator=generator)
            batch["t"] = sample_time(b, generator)
            yield batch

    def loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict]:
        device = next(model.parameters()).device
        batch = {k: v.to(device) for k, v in batch.items()}
        inp = noisy_input(batch, batch["noise"], batch["t"])
        clean = model(inp)
        weight = (batch["roles"] == GENERATED)[:, None, :, None, None, None].float()
        loss = flow_loss(clean, batch["noise"], batch["target"], inp.current, batch["t"], weight)
        with torch.no_grad():
            latent_error = (((clean - batch["target"]) ** 2) * weight).sum() / weight.expand_as(clean).sum().clamp_min(1)
        return loss, {"latent_mse": latent_error}

    def meta(self) -> dict:
        return {"kind": self.kind, "config": self.config.to_dict(), "autoencoder": self.autoencoder_digest,
                "data": str(self.data), "init": self.init_path, "sampling": asdict(self.sampling), "scene_seeds": [e.scene_seed for e in self.episodes()],
                "train_seeds": [TRAIN_SCENE_SEEDS.start, TRAIN_SCENE_SEEDS.stop],
                "heldout_seeds": [HELDOUT_SCENE_SEEDS.start, HELDOUT_SCENE_SEEDS.stop]}

    def finish(self, model: CubeDiT, out: Path) -> dict:
        return {"parameters": model.num_parameters()}


__all__ = ["GeneratorTask"]
