"""Sparse context attention (CubeComposer): who may attend to whom in one CubeDiT sequence.

Every token has a role: GENERATED (being denoised), CONTEXT (clean: history windows and
faces of the current window already done) or ABSENT (a padding slot of a batch whose
samples hold fewer tokens). The rule, for query q and key k:

- a generated token attends to every present token;
- a context token attends to every generated token, and to context tokens within a
  diagonal band |order[q] - order[k]| <= band (so context self-attention costs
  O(N * band), not O(N^2)); `order` (N,) is each token's place in the full layout,
  so dropping tokens from a sequence does not move the band (default: 0..N-1);
- an absent token attends only to itself (a defined, ignored output) and nobody
  attends to it.

Two implementations with the same result:
- ``context_attention_ref``: the dense boolean mask, then PyTorch's scaled dot product
  attention (what runs on the CPU; cheap at the sequence lengths used here).
- ``context_attention_flex``: the same rule as a FlexAttention ``mask_mod``, whose
  block mask skips the fully masked tiles of the band structure (the GPU path).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

GENERATED, CONTEXT, ABSENT = 0, 1, -1
BACKENDS = ("auto", "ref", "flex")


def _order(roles: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
    if order is None:
        return torch.arange(roles.shape[1], device=roles.device)
    if order.shape != roles.shape[1:]:
        raise ValueError(f"order must be (N={roles.shape[1]},), got {tuple(order.shape)}")
    return order.to(roles.device)


def _check(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, roles: torch.Tensor, band: int) -> None:
    if q.ndim != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"q, k, v must be (B, H, N, Dh) of one shape; got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if roles.shape != (q.shape[0], q.shape[2]):
        raise ValueError(f"roles must be (B={q.shape[0]}, N={q.shape[2]}), got {tuple(roles.shape)}")
    if band < 0:
        raise ValueError(f"band must be >= 0, got {band}")


def allowed(roles_q: torch.Tensor, roles_k: torch.Tensor, order_q: torch.Tensor, order_k: torch.Tensor,
            band: int) -> torch.Tensor:
    """The attention rule on broadcastable role and order tensors (True = may attend)."""
    present = (roles_q != ABSENT) & (roles_k != ABSENT)
    sees = (roles_q == GENERATED) | (roles_k == GENERATED) | ((order_q - order_k).abs() <= band)
    return (present & sees) | (order_q == order_k)


def context_mask(roles: torch.Tensor, band: int, order: torch.Tensor | None = None) -> torch.Tensor:
    """Dense mask (B, 1, N, N) of `allowed` for roles (B, N) and order (N,)."""
    idx = _order(roles, order)
    return allowed(roles[:, :, None], roles[:, None, :], idx[:, None], idx[None, :], band)[:, None]


def context_attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, roles: torch.Tensor,
                          band: int, order: torch.Tensor | None = None) -> torch.Tensor:
    """Reference: q, k, v (B, H, N, Dh), roles (B, N), order (N,) -> (B, H, N, Dh)."""
    _check(q, k, v, roles, band)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=context_mask(roles, band, order))


@functools.cache
def _compiled_flex_attention():
    """FlexAttention compiled once per process (compiling per call costs more than attending)."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


@dataclass(frozen=True)
class ContextMask:
    """One sequence's attention rule, built once and shared by every transformer block
    that attends over it: a dense mask (B, 1, N, N) for the reference, or a FlexAttention
    block mask (compiled or eager). Make it with `context_mask_for`."""

    backend: str  # "ref" or "flex"
    mask: Any
    compiled: bool = False
    shape: tuple[int, int] = (0, 0)  # (B, N) it was built for


def context_mask_for(roles: torch.Tensor, band: int, order: torch.Tensor | None = None,
                     backend: str = "auto") -> ContextMask:
    """The mask of roles (B, N), band and order (N,) for `backend`: "auto" (compiled
    FlexAttention on CUDA, the dense reference elsewhere), "ref" or "flex" (eager)."""
    if backend not in BACKENDS:
        raise ValueError(f'backend must be "auto", "ref" or "flex", got {backend!r}')
    if band < 0:
        raise ValueError(f"band must be >= 0, got {band}")
    if backend == "ref" or (backend == "auto" and roles.device.type != "cuda"):
        return ContextMask("ref", context_mask(roles, band, order), shape=(roles.shape[0], roles.shape[1]))
    return _flex_mask(roles, band, order, compiled=backend == "auto")


def _flex_mask(roles: torch.Tensor, band: int, order: torch.Tensor | None, compiled: bool) -> ContextMask:
    """The FlexAttention block mask of the rule (fully masked tiles of the band are skipped)."""
    from torch.nn.attention.flex_attention import create_block_mask

    roles = roles.to(torch.int32)
    idx = _order(roles, order)

    def mask_mod(b, h, q_idx, kv_idx):
        return allowed(roles[b, q_idx], roles[b, kv_idx], idx[q_idx], idx[kv_idx], band)

    b, n = roles.shape
    block_mask = create_block_mask(mask_mod, b, None, n, n, device=roles.device)
    return ContextMask("flex", block_mask, compiled=compiled, shape=(b, n))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: ContextMask) -> torch.Tensor:
    """Sparse context attention of q, k, v (B, H, N, Dh) under a prebuilt `mask`."""
    if q.ndim != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"q, k, v must be (B, H, N, Dh) of one shape; got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if mask.shape != (q.shape[0], q.shape[2]):
        raise ValueError(f"the mask was built for (B, N) = {mask.shape}, q is {tuple(q.shape)}")
    if mask.backend == "ref":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask.mask)
    if mask.compiled:
        return _compiled_flex_attention()(q, k, v, block_mask=mask.mask)
    from torch.nn.attention.flex_attention import flex_attention

    with warnings.catch_warnings():  # eager FlexAttention is the slow, exact path: fine for checks
        warnings.simplefilter("ignore", UserWarning)
        return flex_attention(q, k, v, block_mask=mask.mask)


def context_attention_flex(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, roles: torch.Tensor,
                           band: int, order: torch.Tensor | None = None, compiled: bool = False) -> torch.Tensor:
    """FlexAttention path: same inputs and result as `context_attention_ref`."""
    _check(q, k, v, roles, band)
    return attend(q, k, v, _flex_mask(roles, band, order, compiled))


def context_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, roles: torch.Tensor,
                      band: int, order: torch.Tensor | None = None, backend: str = "auto") -> torch.Tensor:
    """Sparse context attention in one call (mask built, then used once). backend: "auto"
    (FlexAttention, compiled, on CUDA; the dense reference elsewhere), "ref" or "flex".
    A model attending over one sequence in many blocks builds the mask once with
    `context_mask_for` and calls `attend`."""
    if backend not in BACKENDS:
        raise ValueError(f'backend must be "auto", "ref" or "flex", got {backend!r}')
    _check(q, k, v, roles, band)
    return attend(q, k, v, context_mask_for(roles, band, order, backend))
