"""The autoencoder's training task: batches of cubemaps, reconstruction loss, latent statistics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import torch

from worldengine.geometry.cube import NUM_FACES
from worldengine.model.autoencoder import AUTOENCODER_SIZES, AutoencoderConfig, CubeAutoencoder, ResBlock, pack_rgbd
from worldengine.model.checkpoint import load_autoencoder
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS, check_disjoint
from worldengine.train.data import batches, recorded_cubemaps, rendered_cubemaps
from worldengine.train.start_from import trained_start
from worldengine.train.structure import dissimilarity

DEPTH_WEIGHT = 4.0  # the disparity channel is smooth and must be precise (AbsRel target 0.03)
STAT_BATCHES = 8


class AutoencoderTask:
    """Train an autoencoder from scratch, or (`init`) go on from a trained one.

    decoder_only: train the decoder of `init` and keep its encoder and latent statistics,
    so its latents (and every generator and memory built on them) stay valid while the
    decoded pictures, the engine's ceiling, improve.
    latent_noise (decoder only): each sample's latents get Gaussian noise of a std drawn
    uniformly from [0, latent_noise] before decoding, target the clean cubemap, so the
    decoder also decodes the imperfect latents the generator and refiner produce.
    structure_weight: the loss also counts 1 - SSIM of the decoded RGB, this much (the
    ceiling is judged by SSIM beside PSNR; L1 alone is content to blur fine texture).
    `init` may have fewer decoder blocks than `config` (otherwise the same): the decoder
    grows, its new residual blocks starting as identities, so training starts from what
    `init` decodes and its latents stay valid.
    """

    kind = "autoencoder"

    def __init__(self, config: AutoencoderConfig, batch_size: int, data: str = "render",
                 train_seeds: range = TRAIN_SCENE_SEEDS, heldout_seeds: range = HELDOUT_SCENE_SEEDS,
                 init: str | Path | None = None, decoder_only: bool = False, latent_noise: float = 0.0,
                 structure_weight: float = 0.0):
        check_disjoint(train_seeds, heldout_seeds)
        if decoder_only and init is None:
            raise ValueError("training the decoder only needs a trained autoencoder to start from (init)")
        if latent_noise < 0 or (latent_noise > 0 and not decoder_only):
            raise ValueError(f"latent noise {latent_noise} must be >= 0, and is for training the decoder only "
                             "(the encoder's latents would learn to outgrow it)")
        if structure_weight < 0:
            raise ValueError(f"structure weight {structure_weight} must be >= 0")
        self.init = trained_start(init, load_autoencoder, config, "autoencoder", fits=_grows_into,
                                  or_else=" (or one with fewer decoder blocks)")
        self.config, self.batch_size, self.data = config, batch_size, data
        self.train_seeds, self.heldout_seeds = train_seeds, heldout_seeds
        self.init_path, self.decoder_only = None if init is None else str(init), decoder_only
        self.latent_noise, self.structure_weight = latent_noise, structure_weight

    def build_model(self) -> torch.nn.Module:
        model = CubeAutoencoder(self.config)
        if self.init is not None:
            model.load_state_dict(grown_decoder_state(self.init, model))
        if self.decoder_only:
            model.encoder.requires_grad_(False)
        return model

    def batches(self, seed: int, rank: int, world_size: int) -> Iterator[dict]:
        if self.decoder_only and world_size > 1:
            raise ValueError("training the decoder only runs in one process, not under torchrun")
        if self.data == "render":
            stream = rendered_cubemaps(self.train_seeds, self.config.face_size, seed, rank)
        else:
            stream = recorded_cubemaps(self.data, seed, rank, world_size)
        generator = torch.Generator().manual_seed(seed * 1000 + rank)
        for batch in batches(stream, self.batch_size):
            x = pack_rgbd(batch["rgb"], batch["depth"], self.config.near)
            yield {"x": x} if self.latent_noise == 0 else {"x": x, "latent_noise": self._noise(len(x), generator)}

    def _noise(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Noise for `count` samples' latents (B, F, C, h, w), each sample its own std."""
        side = self.config.face_size // self.config.stride
        std = torch.rand(count, 1, 1, 1, 1, generator=generator) * self.latent_noise
        return std * torch.randn(count, NUM_FACES, self.config.latent_channels, side, side, generator=generator)

    def loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict]:
        x = batch["x"].to(next(model.parameters()).device)
        if self.decoder_only:  # one process (batches() refuses DDP): decode is not DDP's forward
            with torch.no_grad():
                z = model.encode(x)
            if "latent_noise" in batch:
                z = z + batch["latent_noise"].to(z.device)
            decoded = model.decode(z)
        else:
            decoded = model(x)
        error = (decoded - x).abs()
        rgb, depth = error[:, :, :3].mean(), error[:, :, 3].mean()
        total, logged = rgb + DEPTH_WEIGHT * depth, {"loss_rgb": rgb.detach(), "loss_depth": depth.detach()}
        if self.structure_weight:
            structure = dissimilarity(decoded[:, :, :3], x[:, :, :3])
            total, logged["loss_structure"] = total + self.structure_weight * structure, structure.detach()
        return total, logged

    def meta(self) -> dict:
        return {"kind": self.kind, "config": self.config.to_dict(),
                "train_seeds": [self.train_seeds.start, self.train_seeds.stop],
                "heldout_seeds": [self.heldout_seeds.start, self.heldout_seeds.stop], "data": self.data,
                "init": self.init_path, "decoder_only": self.decoder_only, "latent_noise": self.latent_noise,
                "loss_weights": {"rgb": 1.0, "depth": DEPTH_WEIGHT, "structure": self.structure_weight}}

    @torch.no_grad()
    def finish(self, model: CubeAutoencoder, out: Path) -> dict:
        """Store latent shift and scale from training batches so latents are ~unit variance
        (decoder only: keep the ones the encoder's latents were normalised with)."""
        if self.decoder_only:
            return {"latent_shift": model.latent_shift.tolist(), "latent_scale": model.latent_scale.tolist()}
        stream = self.batches(seed=12345, rank=0, world_size=1)
        device = next(model.parameters()).device
        raw = torch.cat([model.encoder(next(stream)["x"].to(device)) for _ in range(STAT_BATCHES)])
        model.set_latent_statistics(raw)
        return {"latent_shift": model.latent_shift.tolist(), "latent_scale": model.latent_scale.tolist()}


def _grows_into(old: AutoencoderConfig, new: AutoencoderConfig) -> bool:
    return replace(old, decoder_blocks=new.decoder_blocks) == new and old.decoder_blocks <= new.decoder_blocks


def grown_decoder_state(old: CubeAutoencoder, new: CubeAutoencoder) -> dict[str, torch.Tensor]:
    """`new`'s state with `old`'s weights in it, `new` having as many or more residual
    blocks per decoder level: the two decoders' layers are walked in step, and a block
    `old` lacks keeps `new`'s initial weights with its last convolution zero, so it passes
    its input through (the grown autoencoder decodes exactly what `old` did)."""
    grown = {name: tensor.clone() for name, tensor in old.state_dict().items() if not name.startswith("decoder.")}
    old_layers, position = list(old.decoder.layers), 0
    for index, layer in enumerate(new.decoder.layers):
        prefix = f"decoder.layers.{index}."
        if position < len(old_layers) and type(old_layers[position]) is type(layer):
            source = old_layers[position].state_dict()
            position += 1
        elif isinstance(layer, ResBlock):
            source = {name: torch.zeros_like(t) if name.startswith("conv2.") else t
                      for name, t in layer.state_dict().items()}
        else:
            raise ValueError(f"decoder layer {index} ({type(layer).__name__}) has no counterpart to grow from")
        grown.update({prefix + name: tensor.clone() for name, tensor in source.items()})
    if position != len(old_layers):
        raise ValueError(f"the decoder to grow from has {len(old_layers) - position} layers the grown one lacks")
    return grown


__all__ = ["AutoencoderTask", "AUTOENCODER_SIZES", "grown_decoder_state"]
