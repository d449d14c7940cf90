"""The latent refiner: identity when untrained, covered cells only, its input, its checkpoint,
and how the world loop uses it (refined cells are shown, never written to the memory)."""

import math

import numpy as np
import pytest
import torch

from memory import Warped
from tests.conftest import make_tiny_generator
from worldengine.agent.actions import DiscreteAction, MotionConfig
from worldengine.agent.start import start_pose
from worldengine.model.checkpoint import load_refiner, load_world_generator
from worldengine.model.generate import CubeGenerator
from worldengine.model.refiner import (
    DISPARITY_NEAR,
    WRITTEN_HERE,
    LatentRefiner,
    RefinerConfig,
    cells_to_refine,
    refiner_input,
)
from worldengine.scenes import ProceduralScene
from worldengine.world import WorldConfig, WorldModel
from worldengine.world.start import scene_start

FORWARD = int(DiscreteAction.FORWARD)


def _warp(c=4, s=8):
    torch.manual_seed(0)
    mask = torch.rand(6, s, s) > 0.3
    features = torch.randn(6, c, s, s) * mask[:, None]
    depth = torch.where(mask, torch.rand(6, s, s) * 4 + 0.1, 0.0)
    scale = torch.where(mask, torch.full((6, s, s), 2.0), 1.0)
    subcell = (torch.rand(6, 2, s, s) - 0.5) * mask[:, None]
    return Warped(features, mask, depth, mask.float().mean((1, 2)), torch.zeros(6, s, s, dtype=torch.long), scale,
                  subcell=subcell)


def test_refiner_input_known_values():
    warped = _warp()
    x = refiner_input(warped)
    assert x.shape == (6, 4 + 5, 8, 8)
    torch.testing.assert_close(x[:, 7:], warped.subcell)
    torch.testing.assert_close(x[:, 4], warped.mask.float())
    near = warped.mask & (warped.depth > DISPARITY_NEAR)
    torch.testing.assert_close(x[:, 5][near], DISPARITY_NEAR / warped.depth[near])
    assert torch.allclose(x[:, 6][warped.mask], torch.tensor(math.log(2.0))) and (x[:, 5:][~warped.mask[:, None].expand(-1, 4, -1, -1)] == 0).all()


def test_an_untrained_refiner_is_the_identity_on_covered_cells():
    refiner = LatentRefiner(RefinerConfig(latent_channels=4, width=8, depth=1))
    warped = _warp()
    x = refiner_input(warped)[None]
    torch.testing.assert_close(refiner(x)[0], warped.features)
    with torch.no_grad():
        refiner.out.conv.bias.fill_(1.0)
    out = refiner(x)[0]
    assert (out[~warped.mask[:, None].expand_as(out)] == 0).all()  # empty cells stay empty
    assert not torch.allclose(out, warped.features)
    with pytest.raises(ValueError, match="refiner input must be"):
        refiner(x[:, :, :5])


def test_a_refiner_without_subcell_inputs_ignores_them():
    """Refiners saved before the sub-cell inputs existed load as such (no `subcell` in their
    config) and read the first three extra channels only."""
    old = RefinerConfig.from_dict({"latent_channels": 4, "width": 8, "depth": 1, "version": 1})
    assert not old.subcell and RefinerConfig.from_dict(RefinerConfig(4, 8, 1).to_dict()).subcell
    refiner = LatentRefiner(old)
    assert refiner.inp.conv.weight.shape[1] == 4 + 3
    torch.nn.init.normal_(refiner.out.conv.weight, std=0.1)
    warped = _warp()
    x = refiner_input(warped)[None]
    moved = x.clone()
    moved[:, :, 7:] += 0.25
    torch.testing.assert_close(refiner(x), refiner(moved))
    new = LatentRefiner(RefinerConfig(latent_channels=4, width=8, depth=1))
    torch.nn.init.normal_(new.out.conv.weight, std=0.1)
    assert not torch.allclose(new(x), new(moved))


def _generator_with_refiner(bias: float):
    generator = make_tiny_generator()
    refiner = LatentRefiner(RefinerConfig(latent_channels=4, width=8, depth=1))
    with torch.no_grad():
        refiner.out.conv.bias.fill_(bias)
    return CubeGenerator(generator.model, generator.autoencoder, generator.sampler, refiner=refiner)


def test_the_world_shows_refined_cells_and_never_writes_them():
    scene = ProceduralScene(3)
    start = scene_start(scene, start_pose(scene, np.random.default_rng(0), MotionConfig()), 32, "torch")
    frames, tokens = {}, {}
    for name, config in (("refined", WorldConfig()), ("raw", WorldConfig(refine=False))):
        world = WorldModel(_generator_with_refiner(0.5), 1, config)
        world.reset(0, start, seed=0)
        frames[name] = world.step({0: FORWARD})[0]
        tokens[name] = len(world.memory(0))
        world.close()
    assert not np.array_equal(frames["refined"].rgb, frames["raw"].rgb)  # covered cells shown refined
    assert tokens["refined"] == tokens["raw"]  # and the memory holds the same tokens either way


def test_refiner_checkpoints(tmp_path):
    from worldengine.train.checkpoint import save_model

    refiner = LatentRefiner(RefinerConfig(latent_channels=4, width=8, depth=1))
    save_model(tmp_path / "refiner", refiner, {"kind": "refiner", "config": refiner.config.to_dict()})
    loaded = load_refiner(tmp_path / "refiner")
    assert loaded.config == refiner.config
    with pytest.raises(FileNotFoundError):
        load_world_generator(refiner=tmp_path / "missing")
    assert load_world_generator(refiner=None).refiner is None
    with pytest.raises(ValueError, match="refiner config"):
        RefinerConfig.from_dict({"latent_channels": 0, "width": 8, "depth": 1, "version": 1})


def test_cells_seen_from_their_writers_place_are_not_refined():
    warped = _warp()
    assert torch.equal(cells_to_refine(warped), warped.mask)  # writers unknown: every covered cell
    warped.writer_offset = torch.where(warped.mask, torch.rand(warped.mask.shape) * 0.1, 0.0)
    cells = cells_to_refine(warped)
    assert torch.equal(cells, warped.mask & (warped.writer_offset > WRITTEN_HERE)) and 0 < cells.sum() < warped.mask.sum()


def test_a_refiner_joins_only_autoencoders_of_its_latents(tmp_path):
    """Joined by latents, not by folder: the shipped refiner stays out of another encoder's
    latents and joins a copy (or a retrained decoder) of its own; another refiner trained on
    other latents is an error, one that records none is taken as it is."""
    import shutil

    from tests.conftest import save_tiny_checkpoints
    from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, DEFAULT_REFINER, load_autoencoder, refiner_for
    from worldengine.model.latent_digest import autoencoder_digest
    from worldengine.train.checkpoint import save_model

    generator, autoencoder = save_tiny_checkpoints(tmp_path)
    assert load_world_generator(generator, autoencoder).refiner is None  # 4-channel latents: not its own
    tiny = load_autoencoder(autoencoder)
    refiner = LatentRefiner(RefinerConfig(latent_channels=4, width=8, depth=1))
    meta = {"kind": "refiner", "config": refiner.config.to_dict()}
    save_model(tmp_path / "theirs", refiner, {**meta, "autoencoder": "0123456789abcdef"})
    save_model(tmp_path / "ours", refiner, {**meta, "autoencoder": autoencoder_digest(tiny)})
    save_model(tmp_path / "unrecorded", refiner, meta)
    with pytest.raises(ValueError, match="0123456789abcdef"):
        refiner_for(tiny, tmp_path / "theirs")
    assert refiner_for(tiny, tmp_path / "ours") is not None and refiner_for(tiny, tmp_path / "unrecorded") is not None
    if DEFAULT_REFINER.exists():
        assert load_world_generator().refiner is not None
        shutil.copytree(DEFAULT_AUTOENCODER, tmp_path / "copy")
        assert load_world_generator(autoencoder=tmp_path / "copy").refiner is not None
