"""CubeDiT: shapes, zero-initialised output, absent-token invariance, errors, and a tiny model overfitting one window."""

import pytest
import torch
import torch.nn.functional as F

from kernels.attention import ABSENT, CONTEXT, GENERATED
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.model.dit import MODEL_SIZES, CubeDiT, CubeDiTConfig, DiTInput
from worldengine.model.flow import SamplerConfig, flow_loss, interpolate, sample, sample_time, velocity_from_clean
from worldengine.model.plucker import plucker_rays

TINY = MODEL_SIZES["tiny"]


def window(config: CubeDiTConfig, batch: int = 1, seed: int = 0) -> DiTInput:
    gen = torch.Generator().manual_seed(seed)
    c, s, k = config.latent_channels, config.latent_size, config.history
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.3, 0.0)
    past = torch.stack([pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.25 * (j + 1)]), 0.3, 0.0) for j in range(k)])
    mask = (torch.rand(batch, 1, 6, 1, s, s, generator=gen) < 0.7).float()
    return DiTInput(
        current=torch.randn(batch, 1, 6, c, s, s, generator=gen),
        roles=torch.full((batch, 6), GENERATED, dtype=torch.int8),
        memory=torch.cat([torch.randn(batch, 1, 6, c, s, s, generator=gen) * mask, mask], dim=3),
        current_rays=plucker_rays(pose, pose, s)[None, None].expand(batch, 1, -1, -1, -1, -1),
        history=torch.randn(batch, k, 6, c, s, s, generator=gen),
        history_rays=plucker_rays(past, pose, s)[None].expand(batch, -1, -1, -1, -1, -1),
        history_present=torch.ones(batch, k, dtype=torch.bool),
        time=torch.rand(batch, generator=gen), action=torch.randn(batch, 4, generator=gen),
        action_present=torch.ones(batch, dtype=torch.bool))


def test_untrained_model_returns_the_memory_where_it_is_valid():
    model = CubeDiT(TINY)
    inp = window(TINY, batch=2)
    out = model(inp)
    c = TINY.latent_channels
    assert out.shape == inp.current.shape
    assert torch.equal(out, inp.memory[:, :, :, :c] * inp.memory[:, :, :, c:])


def test_dropping_absent_faces_matches_masking_them():
    """Sequential mode drops absent faces' tokens; training masks them in a batch: same answer."""
    torch.manual_seed(0)
    model = CubeDiT(TINY)
    for p in model.parameters():  # leave the zero init so the test sees the network itself
        torch.nn.init.normal_(p, std=0.05)
    inp = window(TINY, batch=2)
    roles = torch.tensor([[CONTEXT, GENERATED, ABSENT, ABSENT, CONTEXT, ABSENT],
                          [GENERATED] * 6], dtype=torch.int8)
    inp.roles = roles
    both = model(inp)
    alone = model(DiTInput(**{k: v[:1] for k, v in vars(inp).items()}))
    assert torch.allclose(both[:1, :, 1], alone[:, :, 1], atol=1e-5)
    assert not torch.allclose(both[1:, :, 1], alone[:, :, 1], atol=1e-3)


def test_bad_input_shapes_are_named():
    inp = window(TINY)
    inp.memory = inp.memory[:, :, :, :-1]
    with pytest.raises(ValueError, match="memory must have shape"):
        CubeDiT(TINY)(inp)
    with pytest.raises(ValueError, match="multiple of patch"):
        CubeDiTConfig(latent_size=16, patch=4, history_patch=2)


def test_registry_sizes_fit_the_autoencoder_latents():
    for config in MODEL_SIZES.values():
        assert config.latent_channels == 8 and config.latent_size == 16


def test_tiny_model_overfits_one_window():
    """One fixed window, random noise and times: the sampled latents must end near the target."""
    torch.manual_seed(0)
    config = CubeDiTConfig(width=64, depth=2, heads=2)
    model = CubeDiT(config)
    inp = window(config, seed=1)
    inp.memory = torch.zeros_like(inp.memory)  # nothing to copy: everything must be learnt
    gen = torch.Generator().manual_seed(0)
    target = F.interpolate(torch.randn(6, 8, 4, 4, generator=gen), size=16, mode="bilinear")[None, None]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def sampled() -> torch.Tensor:
        def velocity(x, t):
            return velocity_from_clean(model(DiTInput(**{**vars(inp), "current": x, "time": t})), x, t)
        with torch.no_grad():
            return sample(velocity, torch.randn(target.shape, generator=gen), SamplerConfig(steps=4))

    before = (sampled() - target).pow(2).mean().item()
    for _ in range(300):
        noise, t = torch.randn(target.shape, generator=gen), sample_time(1, gen)
        x_t = interpolate(noise, target, t)
        loss = flow_loss(model(DiTInput(**{**vars(inp), "current": x_t, "time": t})), noise, target, x_t, t)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    after = (sampled() - target).pow(2).mean().item()
    assert after < 0.15 * before, (before, after)


def test_a_forward_pass_builds_its_attention_mask_once(monkeypatch):
    """Every block of a forward pass shares one mask (built once, not once per block)."""
    from worldengine.model import dit

    built, build = [], dit.context_mask_for
    monkeypatch.setattr(dit, "context_mask_for", lambda *a, **k: built.append(1) or build(*a, **k))
    config = CubeDiTConfig(**{**TINY.to_dict(), "depth": 3})
    CubeDiT(config)(window(config))
    assert len(built) == 1
