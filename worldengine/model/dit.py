"""CubeDiT: a diffusion transformer over the latent tokens of cube face-windows.

One sequence holds the tokens of the previous H windows (history, clean, coarser
patches) and of the current window's six faces. Each current face is GENERATED (noisy,
being denoised), CONTEXT (clean: given, or generated earlier in this window) or ABSENT
(not yet generated in sequential mode). Every token sees, concatenated on channels: its
latent, the memory warped into its cell (features + validity mask; zero for history),
and a Plücker raymap of its frame relative to the current pose. Patches are embedded
from faces padded cube-aware by one latent cell, so border tokens see across the edge
into the neighbouring face (the already generated faces in sequential mode).

Conditioning: flow time and action rates through adaLN-Zero; a role embedding and an
optional face id per token; cube-aware rotary positions (worldengine.rope) over
(time, row, column). Attention: sparse context attention (kernels.attention).

The network predicts the clean latents of the current window as the warped memory
(where valid) plus a learned residual from a zero-initialised output layer: at
initialisation a face fully covered by memory is its memory. worldengine.flow turns the
prediction into the rectified-flow velocity that is trained and sampled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from kernels.attention import ABSENT, CONTEXT, ContextMask, attend, context_mask_for
from worldengine.geometry.cube import NUM_FACES
from worldengine.geometry.padding import pad_faces
from worldengine.model.fields import config_from_dict
from worldengine.model.rope import apply_rope, cross_positions, rope_angles

CONFIG_VERSION = 1
RAY_CHANNELS = 6
ROLE_HISTORY = 2  # role-embedding index of history tokens (GENERATED = 0, CONTEXT = 1)


@dataclass(frozen=True)
class CubeDiTConfig:
    """latent_channels C and latent_size s of the autoencoder; patch p (current faces)
    and history_patch (history faces) in latent cells; width D, depth, heads; history H
    windows of window T frames; band = context attention band in tokens."""

    version: int = CONFIG_VERSION
    latent_channels: int = 8
    latent_size: int = 16
    patch: int = 2
    history_patch: int = 4
    width: int = 96
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    history: int = 2
    window: int = 1
    band: int = 64
    face_id: bool = True
    action_dim: int = 4
    memory_depth: bool = False  # the memory also hands in the warped z-depth (as disparity)

    def __post_init__(self):
        if self.version != CONFIG_VERSION:
            raise ValueError(f"CubeDiT config version {self.version} is not {CONFIG_VERSION}")
        for name in ("patch", "history_patch"):
            if self.latent_size % getattr(self, name):
                raise ValueError(f"latent_size {self.latent_size} is not a multiple of {name} {getattr(self, name)}")
        if self.history_patch % self.patch:
            raise ValueError(f"history_patch {self.history_patch} must be a multiple of patch {self.patch}")
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"width {self.width} must split into {self.heads} heads of even size")

    @property
    def tokens_per_side(self) -> int:
        return self.latent_size // self.patch

    @property
    def memory_channels(self) -> int:
        """Warped features C, then the warped disparity if memory_depth, then the mask (last)."""
        return self.latent_channels + int(self.memory_depth) + 1

    @property
    def in_channels(self) -> int:
        return self.latent_channels + self.memory_channels + RAY_CHANNELS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CubeDiTConfig":
        """From a config.json's "config": every field checked (model.fields)."""
        return config_from_dict(cls, data, "CubeDiT")


MODEL_SIZES = {
    "tiny": CubeDiTConfig(width=32, depth=1, heads=2),
    "small": CubeDiTConfig(width=64, depth=2, heads=2),
    "default": CubeDiTConfig(memory_depth=True),
}


@dataclass
class DiTInput:
    """One batch for CubeDiT (F = 6 faces, T = window frames, K = H * T history frames):

    current (B, T, F, C, s, s) latents (noisy where generated); roles (B, F) GENERATED,
    CONTEXT or ABSENT per current face; memory (B, T, F, M, s, s) warped features
    (+ disparity), mask last (M = config.memory_channels); current_rays (B, T, F, 6, s, s); history (B, K, F, C, s, s) oldest first;
    history_rays (B, K, F, 6, s, s); history_present (B, K) bool; time (B,) flow time in
    [0, 1]; action (B, 4) rates; action_present (B,) bool (False = unconditional).
    """

    current: torch.Tensor
    roles: torch.Tensor
    memory: torch.Tensor
    current_rays: torch.Tensor
    history: torch.Tensor
    history_rays: torch.Tensor
    history_present: torch.Tensor
    time: torch.Tensor
    action: torch.Tensor
    action_present: torch.Tensor

    def check(self, config: CubeDiTConfig) -> None:
        b, t = self.current.shape[:2]
        c, s, k = config.latent_channels, config.latent_size, config.history * config.window
        expected = {
            "current": (b, config.window, NUM_FACES, c, s, s), "roles": (b, NUM_FACES),
            "memory": (b, t, NUM_FACES, config.memory_channels, s, s), "current_rays": (b, t, NUM_FACES, RAY_CHANNELS, s, s),
            "history": (b, k, NUM_FACES, c, s, s), "history_rays": (b, k, NUM_FACES, RAY_CHANNELS, s, s),
            "history_present": (b, k), "time": (b,), "action": (b, config.action_dim), "action_present": (b,),
        }
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"CubeDiT input {name} must have shape {shape}, got {got}")


# ---------------------------------------------------------------- modules


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimeEmbedding(nn.Module):
    """Flow time in [0, 1] -> (B, D): sinusoids then an MLP."""

    def __init__(self, width: int, frequencies: int = 64):
        super().__init__()
        self.frequencies = frequencies
        self.mlp = nn.Sequential(nn.Linear(2 * frequencies, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        freqs = torch.exp(-math.log(10000.0) * torch.arange(self.frequencies, device=t.device) / self.frequencies)
        angles = 1000.0 * t.float()[:, None] * freqs[None]  # (B, frequencies)
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=-1))


class ActionEmbedding(nn.Module):
    """Action rates (B, 4) -> (B, D); a learned null vector where the action is dropped."""

    def __init__(self, action_dim: int, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(action_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.null = nn.Parameter(torch.zeros(width))

    def forward(self, action: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return torch.where(present[:, None], self.mlp(action.float()), self.null[None])


class FacePatchEmbedding(nn.Module):
    """Faces (B, F, Cin, s, s) -> tokens (B, F, n, n, D), each patch seeing a one-cell
    cube-aware border (taken from the neighbouring faces)."""

    def __init__(self, in_channels: int, width: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, width, kernel_size=patch + 2, stride=patch)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        b = faces.shape[0]
        padded = pad_faces(faces, 1, "copy")  # (B, F, Cin, s+2, s+2)
        tokens = self.proj(padded.flatten(0, 1))  # (B*F, D, n, n)
        return rearrange(tokens, "(b f) d h w -> b f h w d", b=b)


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, angles: torch.Tensor, mask: ContextMask) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        q, k = apply_rope(q, angles), apply_rope(k, angles)
        y = attend(q, k, v, mask)  # (B, H, N, Dh)
        return self.out(rearrange(y, "b h n d -> b n (h d)"))


class Block(nn.Module):
    """Transformer block with adaLN-Zero modulation from the conditioning vector."""

    def __init__(self, config: CubeDiTConfig):
        super().__init__()
        d = config.width
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d, config.heads)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * config.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x, c, angles, mask: ContextMask):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(c))[:, None].chunk(6, dim=-1)
        x = x + gate1 * self.attn(modulate(self.norm1(x), shift1, scale1), angles, mask)
        return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    """Tokens (B, N, D) -> patch latents (B, N, p*p*C); zero-initialised."""

    def __init__(self, config: CubeDiTConfig):
        super().__init__()
        d = config.width
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Linear(d, 2 * d)
        self.linear = nn.Linear(d, config.patch ** 2 * config.latent_channels)
        for layer in (self.modulation, self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.modulation(F.silu(c))[:, None].chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


# ---------------------------------------------------------------- the model


class CubeDiT(nn.Module):
    """forward(DiTInput) -> predicted clean latents of the current window (B, T, F, C, s, s)."""

    def __init__(self, config: CubeDiTConfig):
        super().__init__()
        self.config = config
        d = config.width
        self.embed_current = FacePatchEmbedding(config.in_channels, d, config.patch)
        self.embed_history = FacePatchEmbedding(config.in_channels, d, config.history_patch)
        self.roles = nn.Embedding(3, d)  # generated, context (current window), history
        self.faces = nn.Embedding(NUM_FACES, d) if config.face_id else None
        self.time_embed = TimeEmbedding(d)
        self.action_embed = ActionEmbedding(config.action_dim, d)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.final = FinalLayer(config)
        self._layout_cache: dict = {}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _layout(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions (N_all, 3) of history then current tokens, and their face ids (N_all,)."""
        key = str(device)
        if key not in self._layout_cache:
            cfg = self.config
            k, t = cfg.history * cfg.window, cfg.window
            parts, faces = [], []
            for frames, first, n, span in ((k, -k, cfg.latent_size // cfg.history_patch, cfg.history_patch // cfg.patch),
                                           (t, 0, cfg.tokens_per_side, 1)):
                cross = cross_positions(n, span)  # (F, n, n, 2)
                for frame in range(frames):
                    time = torch.full((*cross.shape[:-1], 1), float(first + frame))
                    parts.append(torch.cat([time, cross], dim=-1).reshape(-1, 3))
                    faces.append(torch.arange(NUM_FACES).repeat_interleave(n * n))
            self._layout_cache[key] = (torch.cat(parts).to(device), torch.cat(faces).to(device))
        return self._layout_cache[key]

    def _tokens(self, inp: DiTInput) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedded tokens (B, N_all, D) and roles (B, N_all), history first."""
        cfg = self.config
        b = inp.current.shape[0]
        absent = (inp.roles == ABSENT)[:, None, :, None, None, None]  # (B, 1, F, 1, 1, 1)
        current = torch.cat([inp.current, inp.memory, inp.current_rays], dim=3).masked_fill(absent, 0.0)
        blank = torch.zeros_like(inp.memory[:, :1]).expand(-1, inp.history.shape[1], -1, -1, -1, -1)
        history = torch.cat([inp.history, blank, inp.history_rays], dim=3)
        cur = self.embed_current(current.flatten(0, 1))  # (B*T, F, n, n, D)
        hist = self.embed_history(history.flatten(0, 1))  # (B*K, F, m, m, D)
        cur = rearrange(cur, "(b t) f h w d -> b (t f h w) d", b=b)
        hist = rearrange(hist, "(b k) f h w d -> b (k f h w) d", b=b)
        n2 = cfg.tokens_per_side ** 2
        cur_roles = inp.roles.repeat_interleave(n2, dim=1).repeat(1, cfg.window)  # (B, T*F*n*n)
        m2 = (cfg.latent_size // cfg.history_patch) ** 2
        hist_roles = torch.where(inp.history_present, CONTEXT, ABSENT).repeat_interleave(NUM_FACES * m2, dim=1)
        role_index = torch.cat([torch.full_like(hist_roles, ROLE_HISTORY), cur_roles.clamp_min(0)], dim=1)
        tokens = torch.cat([hist, cur], dim=1) + self.roles(role_index)
        return tokens, torch.cat([hist_roles, cur_roles], dim=1).to(torch.int8)

    def forward(self, inp: DiTInput) -> torch.Tensor:
        cfg = self.config
        inp.check(cfg)
        tokens, roles = self._tokens(inp)
        positions, face_ids = self._layout(tokens.device)
        if self.faces is not None:
            tokens = tokens + self.faces(face_ids)[None]
        keep = (roles != ABSENT).any(dim=0).nonzero()[:, 0]  # drop slots absent in the whole batch
        x, roles_kept = tokens[:, keep], roles[:, keep]
        angles = rope_angles(positions[keep], cfg.width // cfg.heads)[None].expand(x.shape[0], -1, -1)
        c = self.time_embed(inp.time) + self.action_embed(inp.action, inp.action_present)
        mask = context_mask_for(roles_kept, cfg.band, keep)  # one rule for every block of this pass
        for block in self.blocks:
            x = block(x, c, angles, mask)
        return self._unpatchify(self.final(x, c), keep, inp)

    def _unpatchify(self, out: torch.Tensor, keep: torch.Tensor, inp: DiTInput) -> torch.Tensor:
        cfg = self.config
        b, n, p = out.shape[0], cfg.tokens_per_side, cfg.patch
        first = cfg.history * cfg.window * NUM_FACES * (cfg.latent_size // cfg.history_patch) ** 2
        full = out.new_zeros(b, cfg.window * NUM_FACES * n * n, out.shape[-1])
        mine = keep >= first
        full[:, keep[mine] - first] = out[:, mine]
        residual = rearrange(full, "b (t f h w) (c p q) -> b t f c (h p) (w q)",
                             t=cfg.window, f=NUM_FACES, h=n, w=n, p=p, q=p)
        c = cfg.latent_channels
        return inp.memory[:, :, :, :c] * inp.memory[:, :, :, -1:] + residual
