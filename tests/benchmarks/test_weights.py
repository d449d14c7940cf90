"""The world benchmarks' --generator / --autoencoder / --refiner flags: recorded as typed, and a bad
folder fails before anything is measured or written."""

import argparse

import pytest

from benchmarks import closure, explore
from benchmarks.weights import add_weight_arguments, weight_flags


def test_only_flags_that_differ_from_the_shipped_weights_are_recorded():
    parser = argparse.ArgumentParser()
    add_weight_arguments(parser)
    assert weight_flags(parser.parse_args([])) == []
    assert weight_flags(parser.parse_args(["--refiner", "runs/r"])) == ["--refiner runs/r"]
    assert weight_flags(parser.parse_args(["--generator", "runs/g", "--refiner", "runs/r"])) == \
        ["--generator runs/g", "--refiner runs/r"]


@pytest.mark.parametrize("bench", [closure, explore])
@pytest.mark.parametrize("flag", ["--generator", "--autoencoder", "--refiner"])
def test_a_missing_weights_folder_fails_before_any_run(tmp_path, bench, flag):
    with pytest.raises(FileNotFoundError):
        bench.main(["--quick", "--results-dir", str(tmp_path / "out"), flag, str(tmp_path / "missing")])
    assert not (tmp_path / "out").exists()
