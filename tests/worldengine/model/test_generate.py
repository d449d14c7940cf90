"""Window generation: both modes, face order by coverage, seam blending, shapes and errors."""

import pytest
import torch

from kernels.attention import ABSENT, CONTEXT, GENERATED
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.model.autoencoder import AUTOENCODER_SIZES, CubeAutoencoder
from worldengine.model.dit import CubeDiT, CubeDiTConfig
from worldengine.model.flow import SamplerConfig
from worldengine.model.generate import CubeGenerator, WindowContext
from worldengine.model.seams import blend_seams, seam_difference

CONFIG = CubeDiTConfig(latent_channels=4, width=32, depth=1, heads=2)  # fits the tiny autoencoder


def context(batch: int = 1) -> WindowContext:
    gen = torch.Generator().manual_seed(0)
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.0, 0.0)
    past = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.25]), 0.0, 0.0)
    cover = torch.tensor([0.2, 1.0, 0.0, 0.6, 0.9, 0.4])  # fraction of rows covered per face
    mask = (torch.arange(16)[None, :, None] < (cover * 16)[:, None, None]).float().expand(6, 16, 16)
    memory = torch.cat([torch.randn(6, 4, 16, 16, generator=gen) * mask[:, None], mask[:, None]], dim=1)
    return WindowContext(pose=pose[None].expand(batch, -1, -1), memory=memory[None].expand(batch, -1, -1, -1, -1),
                         history=torch.randn(batch, 2, 6, 4, 16, 16, generator=gen),
                         history_poses=torch.stack([past, past])[None].expand(batch, -1, -1, -1),
                         history_present=torch.tensor([[False, True]]).expand(batch, -1),
                         action=torch.tensor([[1.0, 0, 0, 0]]).expand(batch, -1))


@pytest.fixture(scope="module")
def generator() -> CubeGenerator:
    torch.manual_seed(0)
    model = CubeDiT(CONFIG)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    return CubeGenerator(model, CubeAutoencoder(AUTOENCODER_SIZES["tiny"]), SamplerConfig(steps=2))


@pytest.mark.parametrize("mode", ["sequential", "joint"])
def test_window_shapes_and_order(generator, mode):
    out = generator.generate(context(batch=2), mode, torch.Generator().manual_seed(1))
    assert out.latents.shape == (2, 6, 4, 16, 16)
    assert out.rgb.shape == (2, 6, 64, 64, 3) and out.depth.shape == (2, 6, 64, 64)
    assert 0 <= out.rgb.min() and out.rgb.max() <= 1 and (out.depth >= 0).all()
    expected = [1, 4, 3, 5, 0, 2] if mode == "sequential" else list(range(6))
    assert out.order.tolist() == [expected, expected]


def test_sequential_roles_follow_the_order(generator, monkeypatch):
    seen = []
    original = generator.model.forward
    monkeypatch.setattr(generator.model, "forward", lambda inp: (seen.append(inp.roles[0].tolist()), original(inp))[1])
    generator.latents(context(), "sequential")
    faces = [roles.index(GENERATED) for roles in seen[::2]]  # 2 sampler steps per face
    assert faces == [1, 4, 3, 5, 0, 2]
    third = seen[4]  # first call for the third face: two done, three to come
    assert sorted(third) == sorted([CONTEXT, CONTEXT, GENERATED, ABSENT, ABSENT, ABSENT])


def test_same_seed_same_window(generator):
    a = generator.latents(context(), "joint", torch.Generator().manual_seed(3))[0]
    b = generator.latents(context(), "joint", torch.Generator().manual_seed(3))[0]
    assert torch.equal(a, b)


def test_bad_context_is_named(generator):
    bad = context()
    bad.history = bad.history[:, :1]
    with pytest.raises(ValueError, match="history must have shape"):
        generator.generate(bad)
    with pytest.raises(ValueError, match="mode"):
        generator.generate(context(), "parallel")


def _smooth_cube(size: int = 32) -> torch.Tensor:
    """A cube sampled from one smooth function of direction: no seams, (1, F, 3, S, S)."""
    from worldengine.geometry.cube import face_rays
    rays = torch.nn.functional.normalize(face_rays(size), dim=-1)  # (F, S, S, 3)
    return (0.5 + 0.5 * rays.permute(0, 3, 1, 2))[None]


def test_blend_removes_a_seam_and_keeps_the_natural_gradient():
    smooth = _smooth_cube()
    offsets = torch.tensor([0.2, -0.1, 0.15, -0.2, 0.1, -0.15]).view(1, 6, 1, 1, 1)
    seamy = smooth + offsets  # each face shifted: a step at every edge
    assert seam_difference(seamy) > 3 * seam_difference(smooth)
    blended = blend_seams(seamy, width=4)
    assert seam_difference(blended) < 0.15 * seam_difference(seamy)  # most of the step is gone
    assert torch.equal(blended[..., 4:-4, 4:-4], seamy[..., 4:-4, 4:-4])  # the interior is untouched


def test_blend_keeps_a_seamless_cube():
    smooth = _smooth_cube()
    assert (blend_seams(smooth, width=4) - smooth).abs().max() < 0.01


def test_blend_width_is_checked():
    with pytest.raises(ValueError, match="blend width"):
        blend_seams(torch.zeros(1, 6, 3, 8, 8), width=5)


@pytest.mark.parametrize("mode", ["sequential", "joint"])
def test_anchored_windows_keep_what_the_memory_covers(generator, monkeypatch, mode):
    """Covered cells come from the memory; the fully covered face (R) is never sampled."""
    ctx = context()
    seen = []
    original = generator.model.forward
    monkeypatch.setattr(generator.model, "forward", lambda inp: (seen.append(inp.roles[0].tolist()), original(inp))[1])
    latents, _ = generator.latents(ctx, mode, torch.Generator().manual_seed(1), anchored=True)
    mask = ctx.memory[:, :, -1:].bool().expand_as(latents)
    assert torch.equal(latents[mask], ctx.memory[:, :, :4][mask])
    assert seen and all(roles[1] == CONTEXT for roles in seen)  # R is given, never generated
    calls = 2 * (5 if mode == "sequential" else 1)  # 2 sampler steps per sampled face (or per joint window)
    assert len(seen) == calls


def test_a_window_the_memory_covers_makes_no_network_call(generator, monkeypatch):
    ctx = context()
    ctx.memory[:, :, -1] = 1.0
    monkeypatch.setattr(generator.model, "forward", lambda inp: pytest.fail("sampled a covered window"))
    latents, order = generator.latents(ctx, "sequential", anchored=True)
    assert torch.equal(latents, ctx.memory[:, :, :4]) and sorted(order[0].tolist()) == list(range(6))


def test_a_generator_joins_only_the_latents_it_was_trained_on(tmp_path):
    """The digest a generator's config.json records must be the autoencoder's: another
    encoder's latents are an error that names both; none recorded is taken on trust; the
    shipped generator records the shipped autoencoder's latents."""
    from tests.conftest import make_tiny_generator
    from worldengine.model.checkpoint import (DEFAULT_AUTOENCODER, DEFAULT_GENERATOR, check_generator_latents,
                                              load_autoencoder, load_world_generator)
    from worldengine.model.latent_digest import autoencoder_digest
    from worldengine.train.checkpoint import save_model

    tiny = make_tiny_generator()
    save_model(tmp_path / "autoencoder", tiny.autoencoder,
               {"kind": "autoencoder", "config": tiny.autoencoder.config.to_dict()})
    meta = {"kind": "generator", "config": tiny.model.config.to_dict()}
    save_model(tmp_path / "theirs", tiny.model, {**meta, "autoencoder": "0123456789abcdef"})
    save_model(tmp_path / "ours", tiny.model, {**meta, "autoencoder": autoencoder_digest(tiny.autoencoder)})
    save_model(tmp_path / "unrecorded", tiny.model, meta)
    with pytest.raises(ValueError, match=f"0123456789abcdef.*{autoencoder_digest(tiny.autoencoder)}"):
        load_world_generator(tmp_path / "theirs", tmp_path / "autoencoder", refiner=None)
    for folder in ("ours", "unrecorded"):
        assert load_world_generator(tmp_path / folder, tmp_path / "autoencoder", refiner=None).model is not None
    unchecked = load_world_generator(tmp_path / "theirs", tmp_path / "autoencoder", refiner=None, check_latents=False)
    assert unchecked.model is not None  # a world that only writes and warps (the refiner's pairs)
    if DEFAULT_GENERATOR.exists():
        check_generator_latents(DEFAULT_GENERATOR, load_autoencoder(DEFAULT_AUTOENCODER))
