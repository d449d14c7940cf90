"""kernels: fused ops, each a pure-torch reference plus a Triton fast path."""

from kernels.splat import SplatResult, splat, splat_ref, splat_triton

__all__: list[str] = ["SplatResult", "splat", "splat_ref", "splat_triton"]
