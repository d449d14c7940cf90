"""Generator training data: the encoded-walk store, memory warps, training windows, and the CLI run."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from kernels.attention import ABSENT, CONTEXT, GENERATED
from worldengine.model.autoencoder import AUTOENCODER_SIZES, CubeAutoencoder
from worldengine.model.dit import MODEL_SIZES, CubeDiT, CubeDiTConfig
from worldengine.model.generate import memory_input
from worldengine.train.checkpoint import save_model
from worldengine.train.generator_data import WindowSampling, face_roles, fused_memory_warp, window_sample, window_stream
from worldengine.train.generator_task import GeneratorTask
from worldengine.train.latent_data import build_latent_store, load_latent_store

SEEDS = [5, 6]


@pytest.fixture(scope="module")
def autoencoder() -> CubeAutoencoder:
    torch.manual_seed(0)
    return CubeAutoencoder(AUTOENCODER_SIZES["tiny"]).eval()


@pytest.fixture(scope="module")
def store(tmp_path_factory, autoencoder):
    path = tmp_path_factory.mktemp("latents") / "latents.zarr"
    build_latent_store(path, SEEDS, 6, autoencoder, progress=False)
    return path


def test_store_round_trip(store, autoencoder):
    episodes = load_latent_store(store, autoencoder)
    assert [e.scene_seed for e in episodes] == SEEDS
    e = episodes[0]
    assert e.latents.shape == (7, 6, 4, 16, 16) and e.latents.dtype == torch.float16
    assert e.cell_depth.shape == (7, 6, 16, 16) and e.poses.shape == (7, 4, 4) and e.rates.shape == (7, 4)
    assert torch.equal(e.rates[0], torch.zeros(4)) and (e.rates[1:].abs().sum(1) > 0).any()
    assert e.rgb is None


def test_store_refuses_another_autoencoder_and_other_settings(store):
    other = CubeAutoencoder(AUTOENCODER_SIZES["tiny"])
    with pytest.raises(ValueError, match="another autoencoder"):
        load_latent_store(store, other)
    with pytest.raises(ValueError, match="built with"):
        build_latent_store(store, SEEDS, 9, other, progress=False)
    with pytest.raises(FileNotFoundError):
        load_latent_store(store.parent / "nothing.zarr")


def test_build_resumes_without_redoing_episodes(store, autoencoder, monkeypatch):
    import worldengine.train.latent_data as latent_data
    monkeypatch.setattr(latent_data, "encode_walk", lambda *a, **k: pytest.fail("re-encoded a finished episode"))
    build_latent_store(store, SEEDS, 6, autoencoder, progress=False)


def test_memory_warp_into_its_own_pose_returns_its_latents(store):
    e = load_latent_store(store)[0]
    warped = fused_memory_warp(e.latents[:1], e.cell_depth[:1], e.poses[:1], e.poses[0], voxel_size=1e-3)
    mask = warped.mask
    assert torch.equal(mask, e.cell_depth[0] > 0)  # every cell with depth, and only those
    assert torch.allclose(warped.features.permute(0, 2, 3, 1)[mask], e.latents[0].float().permute(0, 2, 3, 1)[mask],
                          atol=1e-3)
    assert torch.allclose(warped.depth[mask], e.cell_depth[0][mask], rtol=1e-4)
    channels = memory_input(warped, CubeDiTConfig(latent_channels=4, memory_depth=True))  # (F, C + 2, s, s)
    assert channels.shape == (6, 6, 16, 16) and torch.equal(channels[:, -1], mask.float())
    assert torch.allclose(channels[:, 4][mask], (0.25 / e.cell_depth[0][mask].clamp_min(0.25)), rtol=1e-4)
    assert memory_input(warped, CubeDiTConfig(latent_channels=4)).shape == (6, 5, 16, 16)


def test_face_roles_cover_both_modes():
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(200):
        roles = face_roles(rng, joint=0.4).tolist()
        assert roles.count(GENERATED) >= 1
        kinds.add("joint" if roles.count(GENERATED) == 6 else
                  "sequential" if roles.count(GENERATED) == 1 and ABSENT in roles else "partial")
        assert CONTEXT in roles or roles.count(GENERATED) + roles.count(ABSENT) == 6
    assert kinds == {"joint", "sequential", "partial"}


def test_window_stream_is_reproducible(store):
    episodes = load_latent_store(store)
    config = CubeDiTConfig(latent_channels=4, width=32, depth=1, heads=2)
    a = next(window_stream(episodes, config, WindowSampling(), 3, seed=7))
    b = next(window_stream(episodes, config, WindowSampling(), 3, seed=7))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["memory"].shape == (3, 1, 6, 5, 16, 16) and a["history"].shape == (3, 2, 6, 4, 16, 16)


def test_history_noise_perturbs_only_the_history(store):
    episode = load_latent_store(store)[0]
    config = CubeDiTConfig(latent_channels=4, width=32, depth=1, heads=2)
    clean = window_sample(episode, 5, config, WindowSampling(), np.random.default_rng(1))
    noisy = window_sample(episode, 5, config, WindowSampling(history_noise=0.5), np.random.default_rng(1))
    assert torch.equal(clean["target"], noisy["target"]) and torch.equal(clean["memory"], noisy["memory"])
    difference = float((noisy["history"] - clean["history"]).std())
    assert 0 < difference < 0.55


def test_train_generator_cli(tmp_path):
    """`worldengine train generator` builds its data, trains, and leaves a loadable checkpoint with a run card."""
    out = tmp_path / "gen"
    done = subprocess.run([sys.executable, "-m", "worldengine", "train", "generator", "--out", str(out), "--size", "tiny",
                           "--scenes", "1", "--walk-steps", "4", "--steps", "4", "--batch-size", "2", "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from worldengine.model.checkpoint import load_generator
    model = load_generator(out)
    assert model.config.width == 32
    assert json.loads((out / "config.json").read_text())["scene_seeds"] == [0]
    assert "worldengine train generator" in (out / "RUN.md").read_text()


def test_a_generator_goes_on_from_a_trained_one_of_its_config_only(tmp_path, store):
    """`init` starts from the trained weights (a retrained autoencoder's latents fine-tune
    it); a generator of another config is refused before anything trains."""
    torch.manual_seed(1)
    trained = CubeDiT(MODEL_SIZES["tiny"])
    save_model(tmp_path / "gen", trained, {"kind": "generator", "config": trained.config.to_dict()})
    task = GeneratorTask(MODEL_SIZES["tiny"], 2, store, "digest", init=tmp_path / "gen")
    started = task.build_model().state_dict()
    assert all(torch.equal(started[k], v) for k, v in trained.state_dict().items())
    assert task.meta()["init"] == str(tmp_path / "gen")
    fresh = GeneratorTask(MODEL_SIZES["tiny"], 2, store, "digest").build_model().state_dict()
    assert not all(torch.equal(fresh[k], v) for k, v in started.items())
    with pytest.raises(ValueError, match="has config"):
        GeneratorTask(MODEL_SIZES["small"], 2, store, "digest", init=tmp_path / "gen")
