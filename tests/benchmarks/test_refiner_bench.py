import pytest

from benchmarks import refiner as refiner_bench
from worldengine.model.checkpoint import DEFAULT_AUTOENCODER
from worldengine.model.refiner import LatentRefiner, RefinerConfig
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS
from worldengine.train.checkpoint import save_model


def test_an_untrained_refiner_changes_nothing(tmp_path):
    """Known answer: an untrained refiner is the identity, so refined equals unrefined."""
    refiner = LatentRefiner(RefinerConfig())
    save_model(tmp_path / "refiner", refiner, {"kind": "refiner", "config": refiner.config.to_dict()})
    figures = refiner_bench.measure([HELDOUT_SCENE_SEEDS[0]], 1, tmp_path / "refiner")
    assert figures["pairs"] == 1 and 0 < figures["coverage"] < 1
    assert figures["ssim_gain"] == 0 and figures["psnr_gain_db"] == 0
    assert figures["refined, no sub-cell"] == figures["unrefined"] and figures["subcell_ssim_gain"] == 0
    assert figures["autoencoder"]["ssim"] > figures["unrefined"]["ssim"]  # the ceiling is above a warp
    assert "refined over unrefined" in refiner_bench.report(figures)
    assert figures["autoencoder_checkpoint"] == str(DEFAULT_AUTOENCODER) and figures["max_move"] == 1.0
    with pytest.raises(FileNotFoundError):  # the decoder to judge through is named, and must exist
        refiner_bench.measure([HELDOUT_SCENE_SEEDS[0]], 1, tmp_path / "refiner", tmp_path / "no-autoencoder")
    with pytest.raises(ValueError):
        refiner_bench.measure([0], 1, tmp_path / "refiner")  # training scenes are refused
