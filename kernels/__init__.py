"""kernels: fused ops, each a pure-torch reference plus a fast path (Triton or FlexAttention)."""

from kernels.attention import (
    ABSENT,
    CONTEXT,
    GENERATED,
    context_attention,
    context_attention_flex,
    context_attention_ref,
    context_mask,
)
from kernels.splat import SplatResult, splat, splat_ref, splat_triton

__all__: list[str] = [
    "ABSENT", "CONTEXT", "GENERATED", "context_attention", "context_attention_flex", "context_attention_ref",
    "context_mask", "SplatResult", "splat", "splat_ref", "splat_triton",
]
