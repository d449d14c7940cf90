"""kernels: fused ops, each a pure-torch reference plus a fast path (Triton or FlexAttention)."""

from kernels.attention import (
    ABSENT,
    CONTEXT,
    GENERATED,
    ContextMask,
    attend,
    context_attention,
    context_attention_flex,
    context_attention_ref,
    context_mask,
    context_mask_for,
)
from kernels.splat import SplatResult, splat, splat_ref, splat_triton

__all__: list[str] = [
    "ABSENT", "CONTEXT", "GENERATED", "ContextMask", "attend", "context_attention", "context_attention_flex", "context_attention_ref",
    "context_mask", "context_mask_for", "SplatResult", "splat", "splat_ref", "splat_triton",
]
