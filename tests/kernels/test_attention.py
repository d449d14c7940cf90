"""Sparse context attention: FlexAttention equals the dense masked reference; the rule's known answers."""

import pytest
import torch

from kernels.attention import (
    ABSENT,
    CONTEXT,
    GENERATED,
    attend,
    context_attention,
    context_attention_flex,
    context_attention_ref,
    context_mask,
    context_mask_for,
)

# (B, H, N, Dh, band): irregular lengths (not multiples of FlexAttention's 128-token tiles)
SIZES = [(2, 2, 77, 16, 5), (1, 3, 200, 8, 64), (3, 1, 130, 32, 0), (2, 4, 257, 16, 33)]


@pytest.mark.parametrize("b, h, n, d, band", SIZES)
def test_flex_equals_dense_reference(b, h, n, d, band):
    """Tolerance 1e-5: both are exact softmax attention in float32; only summation order differs."""
    gen = torch.Generator().manual_seed(n)
    q, k, v = (torch.randn(b, h, n, d, generator=gen) for _ in range(3))
    roles = torch.randint(-1, 2, (b, n), generator=gen)
    order = torch.randperm(4 * n, generator=gen)[:n].sort().values  # gaps, as after dropping tokens
    ref = context_attention_ref(q, k, v, roles, band, order)
    flex = context_attention_flex(q, k, v, roles, band, order)
    assert torch.allclose(ref, flex, atol=1e-5, rtol=1e-5)


def test_rule_known_answers():
    roles = torch.tensor([[CONTEXT, CONTEXT, CONTEXT, CONTEXT, GENERATED, ABSENT]])
    mask = context_mask(roles, band=1)[0, 0]
    assert mask[4, :5].all() and not mask[4, 5]  # generated sees every present token
    assert mask[0, 4] and mask[3, 4]  # context sees the generated token ...
    assert mask[0, 1] and not mask[0, 2] and not mask[0, 3]  # ... and only its band of context
    assert not mask[:5, 5].any() and mask[5].tolist() == [False] * 5 + [True]  # absent: only itself


def test_absent_tokens_do_not_change_the_others():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 10, 8, generator=gen) for _ in range(3))
    roles = torch.tensor([[1, 1, 0, 0, -1, -1, 1, 0, -1, 1]])
    keep = (roles[0] != ABSENT).nonzero()[:, 0]
    full = context_attention(q, k, v, roles, band=2)
    kept = context_attention(q[:, :, keep], k[:, :, keep], v[:, :, keep], roles[:, keep], band=2, order=keep)
    assert torch.allclose(full[:, :, keep], kept, atol=1e-6)


def test_bad_shapes_are_named():
    q = torch.zeros(1, 2, 5, 8)
    with pytest.raises(ValueError, match="roles must be"):
        context_attention_ref(q, q, q, torch.zeros(1, 4, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="backend"):
        context_attention(q, q, q, torch.zeros(1, 5, dtype=torch.long), 1, backend="cuda")


def test_prebuilt_mask_matches_the_one_call_path():
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 2, 40, 8, generator=gen) for _ in range(3))
    roles = torch.randint(-1, 2, (2, 40), generator=gen)
    for backend in ("ref", "flex"):
        mask = context_mask_for(roles, 4, backend=backend)
        assert torch.allclose(attend(q, k, v, mask), context_attention_ref(q, k, v, roles, 4), atol=1e-5)
    with pytest.raises(ValueError, match="mask was built for"):
        attend(q[:1], k[:1], v[:1], context_mask_for(roles, 4, backend="ref"))


def test_flex_attention_is_compiled_once():
    from kernels import attention

    assert attention._compiled_flex_attention() is attention._compiled_flex_attention()
