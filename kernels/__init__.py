"""kernels: fused ops, each a pure-torch reference plus a Triton fast path (to come)."""

__all__: list[str] = []
