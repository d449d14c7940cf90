"""Generating one window of six faces with CubeDiT, sequentially or jointly.

Sequential (CubeComposer): faces in descending memory coverage; each is denoised with
the faces already done as clean context (their latents also padded into its borders by
the patch embedding) and the faces still to come absent. Joint (JoPano): all six faces
denoised together, one network call per sampler step. Either way the latents are
decoded by the autoencoder and the seams blended (worldengine.model.seams).

Anchored (the memory is authoritative where it covers, DESIGN.md): a face the memory
covers entirely is its warped memory, given as clean context, and runs no sampler; on the
other faces only the unseen cells are the sampler's, the covered ones the memory's. A
window the memory covers entirely makes no network call at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Sequence

import torch

from kernels.attention import ABSENT, CONTEXT, GENERATED
from memory import Warped
from worldengine.geometry.cube import NUM_FACES
from worldengine.model.autoencoder import CubeAutoencoder, unpack_rgbd
from worldengine.model.dit import CubeDiT, CubeDiTConfig, DiTInput
from worldengine.model.flow import SamplerConfig, guided, sample, velocity_from_clean
from worldengine.model.plucker import plucker_rays
from worldengine.model.refiner import LatentRefiner
from worldengine.model.seams import blend_seams

Mode = Literal["sequential", "joint"]
MODES = ("sequential", "joint")
Generators = torch.Generator | Sequence[torch.Generator] | None
DISPARITY_NEAR = 0.25  # metres: warped disparity near / z is 1 at this depth or closer


def memory_input(warped: Warped, config: CubeDiTConfig) -> torch.Tensor:
    """A warp -> the model's memory channels (F, M, s, s): features (zero where empty), the
    warped disparity near / z (0 where empty) if the model takes it, the mask last."""
    mask = warped.mask[:, None].float()
    parts = [warped.features.float() * mask]
    if config.memory_depth:
        parts.append(warped.near_over_depth(DISPARITY_NEAR)[:, None])
    return torch.cat(parts + [mask], dim=1)


@dataclass
class WindowContext:
    """What conditions a window (T = 1), batched over B worlds (K = H history frames):
    pose (B, 4, 4) where the window is; memory (B, F, M, s, s) warped features (zero
    where empty), warped disparity if the model takes it, mask last (`memory_input`);
    history (B, K, F, C, s, s) latents, oldest first, with
    history_poses (B, K, 4, 4) and history_present (B, K) bool; action (B, 4) rates."""

    pose: torch.Tensor
    memory: torch.Tensor
    history: torch.Tensor
    history_poses: torch.Tensor
    history_present: torch.Tensor
    action: torch.Tensor

    @property
    def coverage(self) -> torch.Tensor:
        """Fraction of each face's cells the memory covers, (B, F)."""
        return self.memory[:, :, -1].float().mean(dim=(-1, -2))


@dataclass
class GeneratedWindow:
    """latents (B, F, C, s, s) ready for the memory; rgb (B, F, S, S, 3) in [0, 1]; depth
    (B, F, S, S) metric z-depth (0 = sky); order (B, F) faces in generation order."""

    latents: torch.Tensor
    rgb: torch.Tensor
    depth: torch.Tensor
    order: torch.Tensor


def initial_noise(shape: tuple[int, ...], generator: Generators) -> torch.Tensor:
    """Standard normal noise of `shape` (B, ...), from one generator or one per batch row."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator)
    if len(generator) != shape[0]:
        raise ValueError(f"got {len(generator)} noise generators for a batch of {shape[0]}")
    return torch.stack([torch.randn(shape[1:], generator=g) for g in generator])


class CubeGenerator:
    """CubeDiT + sampler + autoencoder decoder: WindowContext -> GeneratedWindow."""

    def __init__(self, model: CubeDiT, autoencoder: CubeAutoencoder, sampler: SamplerConfig = SamplerConfig(),
                 blend_width: int = 4, refiner: LatentRefiner | None = None):
        if model.config.latent_channels != autoencoder.config.latent_channels:
            raise ValueError(f"generator makes {model.config.latent_channels} latent channels, the autoencoder "
                             f"decodes {autoencoder.config.latent_channels}")
        if refiner is not None and refiner.config.latent_channels != autoencoder.config.latent_channels:
            raise ValueError(f"the refiner makes {refiner.config.latent_channels} latent channels, the autoencoder "
                             f"decodes {autoencoder.config.latent_channels}")
        self.model, self.autoencoder = model.eval(), autoencoder.eval()
        self.refiner = None if refiner is None else refiner.eval()
        self.sampler, self.blend_width = sampler, blend_width

    def _check(self, context: WindowContext) -> None:
        cfg = self.model.config
        b, c, s, k = context.pose.shape[0], cfg.latent_channels, cfg.latent_size, cfg.history
        expected = {"pose": (b, 4, 4), "memory": (b, NUM_FACES, cfg.memory_channels, s, s),
                    "history": (b, k, NUM_FACES, c, s, s), "history_poses": (b, k, 4, 4), "history_present": (b, k), "action": (b, cfg.action_dim)}
        for name, shape in expected.items():
            got = tuple(getattr(context, name).shape)
            if got != shape:
                raise ValueError(f"window context {name} must have shape {shape}, got {got}")

    def _fixed_inputs(self, context: WindowContext) -> dict[str, torch.Tensor]:
        """The parts of the model input that stay the same for every sampler step."""
        s = self.model.config.latent_size
        return {"current_rays": plucker_rays(context.pose, context.pose, s)[:, None],
                "history_rays": plucker_rays(context.history_poses, context.pose[:, None], s),
                "history": context.history, "history_present": context.history_present, "action": context.action}

    def _velocity(self, context: WindowContext, fixed: dict, current: torch.Tensor, roles: torch.Tensor,
                  t: torch.Tensor) -> torch.Tensor:
        b = current.shape[0]

        def velocities(memory_on: bool, action_on: bool) -> torch.Tensor:
            memory = context.memory if memory_on else torch.zeros_like(context.memory)
            inp = DiTInput(current=current[:, None], roles=roles, memory=memory[:, None], time=t,
                           action_present=torch.full((b,), action_on, device=current.device), **fixed)
            return velocity_from_clean(self.model(inp)[:, 0], current, t)
        return guided(velocities, self.sampler)

    @torch.no_grad()
    def latents(self, context: WindowContext, mode: Mode = "sequential", generator: Generators = None,
                anchored: bool = False, remembered: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample the window's latents (B, F, C, s, s) and the generation order (B, F).

        `generator`: one torch.Generator for the batch's noise, or one per world (then a
        world's sample does not depend on which other worlds share its batch).
        `anchored`: keep what the memory covers (module docstring); `remembered` (B, F, C,
        s, s): what covered cells are (the refined memory), by default the warped memory."""
        if not anchored:
            return self._sample(context, mode, generator)
        c = self.model.config.latent_channels
        mask = context.memory[:, :, -1:].bool()  # (B, F, 1, s, s)
        remembered = context.memory[:, :, :c] if remembered is None else remembered
        full = mask.flatten(2).all(dim=2)  # (B, F) faces the memory covers entirely
        if full.all():  # nothing unseen: no network call, the order is the coverage order
            return remembered.clone(), torch.argsort(-context.coverage, dim=1, stable=True)
        latents, order = self._sample(context, mode, generator, given=full, given_latents=remembered)
        return torch.where(mask, remembered, latents), order

    def _sample(self, context: WindowContext, mode: Mode, generator: Generators, given: torch.Tensor | None = None,
                given_latents: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The sampler over the window; faces `given` (B, F) are clean context holding
        `given_latents` (B, F, C, s, s) and are not sampled (where a whole batch column is given)."""
        if mode not in MODES:
            raise ValueError(f"generation mode must be one of {MODES}, got {mode!r}")
        self._check(context)
        cfg = self.model.config
        b, device = context.pose.shape[0], context.pose.device
        shape = (b, NUM_FACES, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
        noise = initial_noise(shape, generator).to(device)
        fixed = self._fixed_inputs(context)
        given = torch.zeros(b, NUM_FACES, dtype=torch.bool, device=device) if given is None else given
        done = torch.zeros(shape, device=device)
        if given.any():
            done = torch.where(given[..., None, None, None], given_latents, done)
        if mode == "joint":
            roles = torch.where(given, CONTEXT, GENERATED).to(torch.int8)

            def joint_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                return self._velocity(context, fixed, torch.where(given[..., None, None, None], done, x), roles, t)

            out = sample(joint_velocity, noise, self.sampler)
            return torch.where(given[..., None, None, None], done, out), torch.arange(NUM_FACES, device=device).expand(b, -1)
        order = torch.argsort(-context.coverage, dim=1, stable=True)  # most covered first
        rows = torch.arange(b, device=device)
        for step in range(NUM_FACES):
            face = order[:, step]
            if given[rows, face].all():  # the memory's face in every world: no sampler call
                continue
            roles = torch.full((b, NUM_FACES), ABSENT, dtype=torch.int8, device=device)
            roles.scatter_(1, order[:, :step], CONTEXT)
            roles[rows, face] = GENERATED

            def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                current = done.clone()
                current[rows, face] = x
                return self._velocity(context, fixed, current, roles, t)[rows, face]

            sampled = sample(velocity, noise[rows, face], self.sampler)
            done[rows, face] = torch.where(given[rows, face][:, None, None, None], done[rows, face], sampled)
        return done, order

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents (B, F, C, s, s) -> rgb (B, F, S, S, 3) in [0, 1], depth (B, F, S, S), seams blended."""
        x = blend_seams(self.autoencoder.decode(latents), self.blend_width)
        return unpack_rgbd(x, self.autoencoder.config.near, self.autoencoder.config.sky_below)

    def generate(self, context: WindowContext, mode: Mode = "sequential",
                 generator: Generators = None) -> GeneratedWindow:
        latents, order = self.latents(context, mode, generator)
        rgb, depth = self.decode(latents)
        return GeneratedWindow(latents, rgb, depth, order)

    def with_sampler(self, **changes) -> "CubeGenerator":
        """The same generator with other sampler settings (steps, method, guidance)."""
        return CubeGenerator(self.model, self.autoencoder, replace(self.sampler, **changes), self.blend_width,
                             self.refiner)
