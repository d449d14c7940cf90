"""Rectified flow: the training objective and the samplers.

Convention: x_t = t * x1 + (1 - t) * x0 with x0 ~ N(0, I) noise at t = 0 and x1 data at
t = 1; the velocity is v = x1 - x0, constant along each straight path. The network
predicts the clean sample x1_hat; its velocity is (x1_hat - x_t) / (1 - t), with 1 - t
floored at MIN_REMAINING so the loss stays finite near the data (the x-prediction,
v-loss pairing). Sampling integrates dx/dt = v(x, t) from t = 0 to 1 with Euler or Heun
steps; the last Euler step lands exactly on x1_hat.

Classifier-free guidance composes two conditions, memory then action:
    v = v(-, -) + w_m (v(m, -) - v(-, -)) + w_a (v(m, a) - v(m, -))
With both weights 1 it is the plain conditional velocity (one network call per step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

MIN_REMAINING = 0.05  # floor of 1 - t in the velocity of an x1 prediction

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x, t (B,)) -> v


@dataclass(frozen=True)
class SamplerConfig:
    """steps: network evaluations per sample (Heun uses about two per step); method
    "euler" or "heun"; shift > 1 spends more steps near the noise end (t small);
    guidance weights on memory and action (1 = no guidance)."""

    steps: int = 4
    method: str = "euler"
    shift: float = 1.0
    memory_guidance: float = 1.0
    action_guidance: float = 1.0

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"sampler steps must be >= 1, got {self.steps}")
        if self.method not in ("euler", "heun"):
            raise ValueError(f'sampler method must be "euler" or "heun", got {self.method!r}')
        if self.shift <= 0:
            raise ValueError(f"time shift must be > 0, got {self.shift}")


def sample_time(batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Training times (B,) from a logit-normal(0, 1) (SD3): most weight mid-path."""
    return torch.sigmoid(torch.randn(batch, generator=generator, device=device))


def interpolate(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for t (B,) broadcast over the remaining axes."""
    tt = t.view(-1, *([1] * (data.ndim - 1)))
    return tt * data + (1 - tt) * noise


def velocity_from_clean(clean: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Velocity of a clean-sample prediction at (x_t, t)."""
    remaining = (1 - t).clamp_min(MIN_REMAINING).view(-1, *([1] * (x_t.ndim - 1)))
    return (clean - x_t) / remaining


def flow_loss(clean_hat: torch.Tensor, noise: torch.Tensor, data: torch.Tensor, x_t: torch.Tensor,
              t: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared velocity error; `weight` (broadcastable, 0/1) selects what is trained."""
    error = (velocity_from_clean(clean_hat, x_t, t) - (data - noise)) ** 2
    if weight is None:
        return error.mean()
    weight = weight.expand_as(error)
    return (error * weight).sum() / weight.sum().clamp_min(1)


def time_grid(steps: int, shift: float = 1.0, device=None) -> torch.Tensor:
    """steps + 1 times from 0 to 1; shift > 1 packs them towards 0 (the noisy end)."""
    u = torch.linspace(0, 1, steps + 1, device=device, dtype=torch.float64)
    return (u / (u + shift * (1 - u))).float()


def sample(velocity: VelocityFn, noise: torch.Tensor, config: SamplerConfig) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 0 (noise) to t = 1."""
    times = time_grid(config.steps, config.shift, noise.device)
    x = noise
    batch = noise.shape[0]
    for i in range(config.steps):
        t0, t1 = times[i], times[i + 1]
        dt = t1 - t0
        v0 = velocity(x, t0.expand(batch))
        if config.method == "heun" and i < config.steps - 1:  # the last step stays Euler: v at t = 1 is undefined
            v1 = velocity(x + dt * v0, t1.expand(batch))
            x = x + dt * 0.5 * (v0 + v1)
        else:
            x = x + dt * v0
    return x


def guided(velocities: Callable[[bool, bool], torch.Tensor], config: SamplerConfig) -> torch.Tensor:
    """Compose classifier-free guidance from `velocities(memory_on, action_on)`."""
    if config.memory_guidance == 1.0 and config.action_guidance == 1.0:
        return velocities(True, True)
    full = velocities(True, True)
    memory_only = velocities(True, False)
    v = memory_only + config.action_guidance * (full - memory_only)
    if config.memory_guidance != 1.0:
        bare = velocities(False, False)
        v = v + (config.memory_guidance - 1.0) * (memory_only - bare)
    return v
