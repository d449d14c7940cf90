import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from worldengine.model.autoencoder import AutoencoderConfig
from worldengine.model.checkpoint import load_autoencoder
from worldengine.model.latent_digest import autoencoder_digest
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS, check_disjoint, check_heldout
from worldengine.train import AutoencoderTask, TrainConfig, train
from worldengine.train.run_card import wall_minutes, write_run_card

SMALL = AutoencoderConfig(face_size=16, widths=(8, 16, 16), latent_channels=4)


def _config(steps, **kw):
    return TrainConfig(steps=steps, batch_size=1, lr=3e-3, warmup=2, checkpoint_every=kw.pop("every", 100), log_every=1, **kw)


def test_loss_falls(tmp_path):
    summary = train(AutoencoderTask(SMALL, 1), tmp_path / "run", _config(60), progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert summary["finished"] and len(losses) == 60
    assert sum(losses[-10:]) < 0.6 * sum(losses[:10])
    for name in ("model.safetensors", "config.json", "state.safetensors", "loss.png", "summary.json"):
        assert (tmp_path / "run" / name).exists()
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["train_seeds"] == [TRAIN_SCENE_SEEDS.start, TRAIN_SCENE_SEEDS.stop]
    assert meta["heldout_seeds"] == [HELDOUT_SCENE_SEEDS.start, HELDOUT_SCENE_SEEDS.stop]
    model = load_autoencoder(tmp_path / "run")
    assert not torch.equal(model.latent_scale, torch.ones(4))  # statistics stored with the weights


def test_stopped_run_resumes_to_the_same_state(tmp_path):
    train(AutoencoderTask(SMALL, 1), tmp_path / "straight", _config(8), progress=False)
    first = train(AutoencoderTask(SMALL, 1), tmp_path / "resumed", _config(8, every=2), progress=False, stop_after=5)
    assert not first["finished"] and json.loads((tmp_path / "resumed" / "state.json").read_text())["step"] == 5
    second = train(AutoencoderTask(SMALL, 1), tmp_path / "resumed", _config(8, every=2), progress=False)
    assert second["finished"] and second["step"] == 8
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    card = write_run_card(tmp_path / "resumed", "worldengine train autoencoder --out resumed").read_text()
    assert "in 2 sittings" in card
    assert "in 2 sittings" not in write_run_card(tmp_path / "straight", "worldengine train autoencoder").read_text()


def test_wall_time_adds_the_sittings_of_a_resumed_run():
    # each sitting restarts the log's clock: 30 s, then a resume that ran 90 s, then one of 60 s
    records = [{"seconds": s} for s in (10.0, 20.0, 30.0, 5.0, 50.0, 90.0, 60.0)]
    assert wall_minutes(records) == (3.0, 3)
    assert wall_minutes(records[:3]) == (0.5, 1)


def test_two_process_ddp(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
               "-m", "worldengine", "train", "autoencoder", "--size", "tiny", "--out", str(tmp_path / "ddp"),
               "--steps", "3", "--batch-size", "1", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert "Trained by: `torchrun --nproc-per-node 2 -m worldengine train autoencoder" in (tmp_path / "ddp" / "RUN.md").read_text()
    assert summary["world_size"] == 2 and summary["finished"]
    load_autoencoder(tmp_path / "ddp")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "run"
    train(AutoencoderTask(SMALL, 1), out, _config(2), progress=False)
    return out


def test_checkpoint_errors(checkpoint, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    tensors = load_file(str(broken / "model.safetensors"))
    name = next(iter(tensors))
    save_file({k: v for k, v in tensors.items() if k != name}, str(broken / "model.safetensors"))
    with pytest.raises(ValueError, match="missing"):
        load_autoencoder(broken)
    tensors[name] = torch.zeros(3, 3)
    save_file(tensors, str(broken / "model.safetensors"))
    with pytest.raises(ValueError, match="mismatched"):
        load_autoencoder(broken)
    (broken / "model.safetensors").write_bytes(b"\x80\x04 this is a pickle, not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_autoencoder(broken)
    meta = json.loads((checkpoint / "config.json").read_text())
    meta["config"]["version"] = 7
    shutil.copy(checkpoint / "model.safetensors", broken / "model.safetensors")
    (broken / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version 7"):
        load_autoencoder(broken)
    with pytest.raises(FileNotFoundError):
        load_autoencoder(tmp_path / "nowhere")


def test_seed_ranges_are_disjoint():
    check_disjoint(TRAIN_SCENE_SEEDS, HELDOUT_SCENE_SEEDS)
    with pytest.raises(ValueError, match="overlap"):
        check_disjoint(range(0, 10), range(5, 20))
    with pytest.raises(ValueError, match="training seeds"):
        check_heldout([3], TRAIN_SCENE_SEEDS)


def test_resume_refuses_a_checkpoint_torn_between_its_files(tmp_path):
    train(AutoencoderTask(SMALL, 1), tmp_path / "run", _config(6, every=2), progress=False, stop_after=2)
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    meta["step"] = 4  # weights written for a later step than the optimizer state
    (tmp_path / "run" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="inconsistent"):
        train(AutoencoderTask(SMALL, 1), tmp_path / "run", _config(6, every=2), progress=False)


def test_decoder_only_training_keeps_the_latents(tmp_path):
    """Going on from a trained autoencoder with the decoder only: encoder weights, latent
    statistics and so the latent digest stay; the decoder changes and its loss falls."""

    train(AutoencoderTask(SMALL, 1), tmp_path / "base", _config(4), progress=False)
    base = load_autoencoder(tmp_path / "base")
    task = AutoencoderTask(SMALL, 1, init=tmp_path / "base", decoder_only=True)
    train(task, tmp_path / "decoder", _config(30), progress=False)
    tuned = load_autoencoder(tmp_path / "decoder")
    for name, tensor in base.state_dict().items():
        same = torch.equal(tensor, tuned.state_dict()[name])
        assert same == (not name.startswith("decoder.")), name
    assert autoencoder_digest(tuned) == autoencoder_digest(base)
    stream = task.batches(seed=99, rank=0, world_size=1)  # pictures the training did not draw
    held = [next(stream) for _ in range(4)]
    with torch.no_grad():
        before = sum(float(task.loss(base, batch)[0]) for batch in held)
        after = sum(float(task.loss(tuned, batch)[0]) for batch in held)
    assert after < before
    meta = json.loads((tmp_path / "decoder" / "config.json").read_text())
    assert meta["init"] == str(tmp_path / "base") and meta["decoder_only"] is True


def test_latent_noise_reaches_the_decoder_only(tmp_path):
    """With latent noise the decoder sees perturbed latents (each sample its own std, at
    most the one asked for) and must still give back the clean cubemap; the stream is
    reproducible from its seed and the run's meta records the std."""
    train(AutoencoderTask(SMALL, 1), tmp_path / "base", _config(2), progress=False)
    base = load_autoencoder(tmp_path / "base")
    task = AutoencoderTask(SMALL, 3, init=tmp_path / "base", decoder_only=True, latent_noise=0.5)
    batch, again = next(task.batches(seed=7, rank=0, world_size=1)), next(task.batches(seed=7, rank=0, world_size=1))
    assert torch.equal(batch["latent_noise"], again["latent_noise"])
    with torch.no_grad():
        z = base.encode(batch["x"])
    noise = batch["latent_noise"]
    assert noise.shape == z.shape
    per_sample = noise.flatten(1).std(dim=1)
    assert (per_sample < 0.5 * 1.2).all() and len(set(per_sample.tolist())) == 3
    with torch.no_grad():
        noisy = float(task.loss(base, batch)[0])
        clean = float(task.loss(base, {"x": batch["x"]})[0])
    assert noisy != clean
    assert AutoencoderTask(SMALL, 1, init=tmp_path / "base", decoder_only=True).meta()["latent_noise"] == 0.0
    assert task.meta()["latent_noise"] == 0.5
    with pytest.raises(ValueError, match="decoder only"):
        AutoencoderTask(SMALL, 1, init=tmp_path / "base", latent_noise=0.1)
    with pytest.raises(ValueError, match=">= 0"):
        AutoencoderTask(SMALL, 1, init=tmp_path / "base", decoder_only=True, latent_noise=-0.1)


def test_the_structure_weight_adds_ssim_to_the_autoencoders_loss(tmp_path):
    """With a structure weight the loss is L1 plus that weight times 1 - SSIM of the decoded
    RGB (logged as loss_structure); the run's meta records the weights; a
    negative weight is refused."""
    torch.manual_seed(0)
    plain, weighted = AutoencoderTask(SMALL, 2), AutoencoderTask(SMALL, 2, structure_weight=0.5)
    model = plain.build_model()
    batch = next(plain.batches(seed=3, rank=0, world_size=1))
    with torch.no_grad():
        l1, logged = plain.loss(model, batch)
        total, with_structure = weighted.loss(model, batch)
    assert "loss_structure" not in logged and 0.5 < float(with_structure["loss_structure"]) <= 2.0
    assert float(total) == pytest.approx(float(l1) + 0.5 * float(with_structure["loss_structure"]), rel=1e-5)
    train(weighted, tmp_path / "run", _config(2), progress=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["loss_weights"]["structure"] == 0.5
    assert "loss_structure" in (tmp_path / "run" / "log.jsonl").read_text()
    with pytest.raises(ValueError, match="structure weight"):
        AutoencoderTask(SMALL, 1, structure_weight=-0.1)


def test_decoder_only_training_needs_a_matching_start(tmp_path):
    with pytest.raises(ValueError, match="needs a trained autoencoder"):
        AutoencoderTask(SMALL, 1, decoder_only=True)
    train(AutoencoderTask(SMALL, 1), tmp_path / "base", _config(2), progress=False)
    other = AutoencoderConfig(face_size=16, widths=(8, 16, 32), latent_channels=4)
    with pytest.raises(ValueError, match="has config"):
        AutoencoderTask(other, 1, init=tmp_path / "base")
    with pytest.raises(FileNotFoundError):
        AutoencoderTask(SMALL, 1, init=tmp_path / "none")


def test_a_deeper_decoder_grows_from_a_trained_autoencoder(tmp_path):
    """Started from an autoencoder with fewer decoder blocks, the grown one encodes to the
    same latents (same digest) and decodes exactly what it did; training then moves the
    new blocks away from the identity. Fewer blocks than the start, or another encoder,
    are refused."""
    from dataclasses import replace

    train(AutoencoderTask(SMALL, 1), tmp_path / "base", _config(3), progress=False)
    base = load_autoencoder(tmp_path / "base").eval()
    deep = replace(SMALL, decoder_blocks=3)
    task = AutoencoderTask(deep, 1, init=tmp_path / "base", decoder_only=True)
    grown = task.build_model().eval()
    assert len(grown.decoder.layers) == len(base.decoder.layers) + 4
    assert autoencoder_digest(grown) == autoencoder_digest(base)
    x = torch.rand(2, 6, 4, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(grown(x), base(x), rtol=0, atol=1e-6)
    train(task, tmp_path / "deep", _config(3), progress=False)
    trained = load_autoencoder(tmp_path / "deep")
    assert trained.config.decoder_blocks == 3 and autoencoder_digest(trained) == autoencoder_digest(base)
    new_blocks = [trained.decoder.layers[index] for index in (5, 6, 9, 10)]  # after each level's old block
    assert all(float(block.conv2.conv.weight.detach().abs().max()) > 0 for block in new_blocks)
    regrown = AutoencoderTask(replace(SMALL, decoder_blocks=4), 1, init=tmp_path / "deep", decoder_only=True)
    with torch.no_grad():  # a grown decoder grows again, its trained blocks kept in place
        torch.testing.assert_close(regrown.build_model().eval()(x), trained.eval()(x), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="fewer decoder blocks"):
        AutoencoderTask(SMALL, 1, init=tmp_path / "deep", decoder_only=True)
    with pytest.raises(ValueError, match="has config"):
        AutoencoderTask(replace(deep, widths=(8, 16, 32)), 1, init=tmp_path / "base")


def _saved_refiner(folder, config):
    """A refiner of `config` saved to `folder`; its last layer is not zero, so it is not the identity."""
    from worldengine.model.refiner import LatentRefiner
    from worldengine.train.checkpoint import save_model

    refiner = LatentRefiner(config)
    torch.nn.init.normal_(refiner.out.conv.weight, std=0.1)
    save_model(folder, refiner, {"kind": "refiner", "config": config.to_dict()})
    return refiner


def _refiner_task(tmp_path, config, init):
    """A refiner task of `config` started from the refiner folder `init`, on a tiny autoencoder."""
    from tests.conftest import make_tiny_generator
    from worldengine.train.refiner_task import RefinerTask

    return RefinerTask(config, 1, tmp_path / "pairs", make_tiny_generator().autoencoder, "digest", init=init)


def _covered_refiner_input(batch: int) -> torch.Tensor:
    """A random refiner input for 4 latent channels whose mask channel says every cell is covered."""
    x = torch.randn(batch, 6, 4 + 5, 8, 8)
    x[:, :, 4] = 1.0
    return x


def test_a_refiner_grows_the_subcell_inputs_from_one_without(tmp_path):
    """Started from a refiner without sub-cell inputs, training starts from the same
    function: the old weights in place, the new input channels zero."""
    from worldengine.model.refiner import RefinerConfig

    old = _saved_refiner(tmp_path / "old", RefinerConfig(latent_channels=4, width=8, depth=1, subcell=False))
    grown = _refiner_task(tmp_path, RefinerConfig(latent_channels=4, width=8, depth=1), tmp_path / "old").build_model()
    assert grown.config.subcell and grown.inp.conv.weight.shape[1] == 4 + 5
    x = _covered_refiner_input(1)
    torch.testing.assert_close(grown(x), old(x))
    with pytest.raises(ValueError, match="not the size asked for"):
        _refiner_task(tmp_path, RefinerConfig(latent_channels=4, width=16, depth=1), tmp_path / "old")


def test_a_deeper_refiner_grows_from_a_shallower_one_as_the_same_function(tmp_path):
    """Started from a shallower refiner of the same width, the added residual blocks pass
    their input through: the grown refiner computes what the old one did, and its added
    blocks still learn (their last convolution is zero, not frozen)."""
    from worldengine.model.refiner import RefinerConfig
    from worldengine.train.checkpoint import save_model

    old = _saved_refiner(tmp_path / "old", RefinerConfig(latent_channels=4, width=8, depth=1))
    grown = _refiner_task(tmp_path, RefinerConfig(latent_channels=4, width=8, depth=3), tmp_path / "old").build_model()
    assert len(grown.blocks) == 3 and float(grown.blocks[2].conv1.conv.weight.detach().abs().sum()) > 0
    x = _covered_refiner_input(2)
    torch.testing.assert_close(grown(x), old(x))
    grown(x).square().sum().backward()
    assert float(grown.blocks[2].conv2.conv.weight.grad.abs().sum()) > 0
    save_model(tmp_path / "deep", grown, {"kind": "refiner", "config": grown.config.to_dict()})
    with pytest.raises(ValueError, match="not the size asked for"):  # shallower than the start: no block is dropped
        _refiner_task(tmp_path, RefinerConfig(latent_channels=4, width=8, depth=2), tmp_path / "deep")


def test_refiner_pairs_and_training(tmp_path):
    """Pairs are the engine's warp of a ground-truth frame to a nearby view with that view's
    ground truth; a rerun keeps the file; the refiner trains on them and its loss falls."""
    from tests.conftest import make_tiny_generator
    from worldengine.model.refiner import RefinerConfig
    from worldengine.train.refiner_data import build_refiner_pairs, load_refiner_pairs
    from worldengine.train.refiner_task import RefinerTask

    generator = make_tiny_generator()
    path = build_refiner_pairs(tmp_path / "pairs.safetensors", generator, [0, 1], 2, progress=False)
    pairs = load_refiner_pairs(path)
    n = len(pairs["input"])
    assert 2 <= n <= 4 and pairs["input"].shape[1:] == (6, 4 + 5, 8, 8) and pairs["target_rgb"].shape[1:] == (6, 32, 32, 3)
    covered = pairs["input"][:, :, 4]
    assert 0.2 < float(covered.mean()) < 1.0  # a nearby view: mostly seen, some of it not
    stamp = path.stat().st_mtime_ns
    build_refiner_pairs(path, generator, [0, 1], 2, progress=False)
    assert path.stat().st_mtime_ns == stamp  # the same request: kept
    for other, names in (({"seeds": [0, 1, 2]}, "seeds: the file has '0,1'"), ({"per_scene": 3}, "per_scene"),
                         ({"max_move": 4.0}, "max_move: the file has '1.0', asked for '4.0'")):
        with pytest.raises(ValueError, match=names):  # another request: refused, never rebuilt over it
            build_refiner_pairs(path, generator, **{"seeds": [0, 1], "per_scene": 2, **other}, progress=False)
    with pytest.raises(ValueError, match="autoencoder: the file has"):  # another encoder's latents
        build_refiner_pairs(path, make_tiny_generator(seed=1), [0, 1], 2, progress=False)
    assert path.stat().st_mtime_ns == stamp
    (tmp_path / "notes.safetensors").write_text("a user's file")
    with pytest.raises(ValueError, match="not a refiner pairs file"):
        build_refiner_pairs(tmp_path / "notes.safetensors", generator, [0, 1], 2, progress=False)
    assert (tmp_path / "notes.safetensors").read_text() == "a user's file"
    with pytest.raises(ValueError, match="hold the latents of autoencoder"):  # trained through another encoder
        RefinerTask(RefinerConfig(latent_channels=4, width=8, depth=1), 2, path, generator.autoencoder, "other").pairs()
    task = RefinerTask(RefinerConfig(latent_channels=4, width=8, depth=1), 2, path, generator.autoencoder,
                       autoencoder_digest(generator.autoencoder))
    train(task, tmp_path / "run", _config(40), progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(r["loss"] for r in records[-8:]) < sum(r["loss"] for r in records[:8])
    subcell = pairs["input"][:, :, 7:].permute(0, 1, 3, 4, 2)[covered.bool()]  # (M, 2)
    assert subcell.abs().max() <= 3.0 and subcell.abs().mean() > 0.05  # moved tokens land off their cells' centres
    build_refiner_pairs(tmp_path / "far.safetensors", generator, [0, 1], 2, progress=False, max_move=4.0)
    with safe_open(str(tmp_path / "far.safetensors"), "pt") as handle:
        assert handle.metadata()["max_move"] == "4.0"
    with pytest.raises(ValueError, match="farthest move"):
        build_refiner_pairs(tmp_path / "none.safetensors", generator, [0], 1, progress=False, max_move=0.1)
    assert not (tmp_path / "none.safetensors").exists()
    with pytest.raises(ValueError, match="not a refiner pairs file"):
        bad = tmp_path / "bad.safetensors"
        save_file({"x": torch.zeros(1)}, str(bad))
        load_refiner_pairs(bad)
    unrecorded = tmp_path / "unrecorded.safetensors"  # the right format, but no encoder named
    with safe_open(str(path), "pt") as handle:
        metadata = {k: v for k, v in handle.metadata().items() if k != "autoencoder"}
    save_file(load_refiner_pairs(path), str(unrecorded), metadata=metadata)
    assert len(load_refiner_pairs(unrecorded)["input"]) == n  # readable as pairs
    with pytest.raises(ValueError, match="do not record whose latents they hold"):
        load_refiner_pairs(unrecorded, autoencoder_digest(generator.autoencoder))


def test_the_refiners_structure_weight_is_its_ssim_term(tmp_path):
    """The refiner's loss counts 1 - SSIM of the decoded RGB by its structure weight (0.25
    unless told): two tasks differing only in it differ by exactly that term; the run's meta
    records it; a negative weight is refused."""
    from tests.conftest import make_tiny_generator
    from worldengine.model.refiner import RefinerConfig
    from worldengine.train.refiner_data import build_refiner_pairs
    from worldengine.train.refiner_task import STRUCTURE_WEIGHT, RefinerTask

    generator = make_tiny_generator()
    path = build_refiner_pairs(tmp_path / "pairs.safetensors", generator, [0], 2, progress=False)
    config = RefinerConfig(latent_channels=4, width=8, depth=1)
    digest = autoencoder_digest(generator.autoencoder)
    usual = RefinerTask(config, 2, path, generator.autoencoder, digest)
    heavy = RefinerTask(config, 2, path, generator.autoencoder, digest, structure_weight=1.5)
    torch.manual_seed(0)
    model = usual.build_model()
    torch.nn.init.normal_(model.out.conv.weight, std=0.1)
    batch = next(usual.batches(seed=1, rank=0, world_size=1))
    with torch.no_grad():
        (low, logged), (high, _) = usual.loss(model, batch), heavy.loss(model, batch)
    assert 0.0 < float(logged["loss_structure"]) <= 2.0
    assert float(high - low) == pytest.approx((1.5 - STRUCTURE_WEIGHT) * float(logged["loss_structure"]), rel=1e-4)
    assert heavy.meta()["loss_weights"]["structure"] == 1.5 and usual.meta()["loss_weights"]["structure"] == STRUCTURE_WEIGHT
    with pytest.raises(ValueError, match="structure weight"):
        RefinerTask(config, 2, path, generator.autoencoder, "digest", structure_weight=-1.0)


def test_refiner_pair_moves_reach_the_farthest_asked_for():
    """The moves of the pairs lie between MIN_MOVE and max_move, log-uniform: far ones
    exist, and near ones stay common (the engine's own step is 0.25 m)."""
    import numpy as np

    from worldengine.agent.actions import MotionConfig
    from worldengine.agent.start import start_pose
    from worldengine.scenes import ProceduralScene
    from worldengine.train.refiner_data import MIN_MOVE, _nearby_free_pose

    scene, rng, motion = ProceduralScene(TRAIN_SCENE_SEEDS[0]), np.random.default_rng(0), MotionConfig()
    pose = start_pose(scene, rng, motion)
    moves = []
    for _ in range(200):
        moved = _nearby_free_pose(scene, pose, rng, motion, 4.0)
        if moved is not None:
            moves.append(float((moved[:3, 3] - pose[:3, 3]).norm()))
    moves = np.array(moves)
    assert len(moves) > 100 and moves.min() >= MIN_MOVE - 1e-6 and moves.max() <= 4.0 + 1e-6
    assert (moves > 1.5).any() and (moves < 0.4).mean() > 0.2


def test_the_refiners_structure_loss_counts_only_the_weighted_pixels():
    """1 - SSIM on [-1, 1] images: 0 for the same image, about 1 against an independent one,
    blind to pixels of weight 0 (beyond the window's reach), and it passes gradients."""
    from worldengine.train.structure import masked_dissimilarity

    torch.manual_seed(0)
    truth = torch.rand(1, 6, 3, 32, 32) * 2 - 1
    noise = (torch.rand_like(truth) * 2 - 1).requires_grad_(True)
    weight = torch.zeros(1, 6, 1, 32, 32)
    weight[..., :12] = 1.0
    assert float(masked_dissimilarity(truth, truth, weight)) < 1e-5
    assert 0.8 < float(masked_dissimilarity(noise.detach(), truth, weight)) < 1.2
    outside = truth.clone()
    outside[..., 20:] = noise.detach()[..., 20:]  # changed only where the weight is 0, more than a window away
    assert float(masked_dissimilarity(outside, truth, weight)) < 1e-5
    masked_dissimilarity(noise, truth, weight).backward()
    assert noise.grad is not None and noise.grad[..., :12].abs().sum() > 0 and noise.grad[..., 20:].abs().sum() == 0
