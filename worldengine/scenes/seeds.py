"""Scene seed ranges: models train on one range and are measured on another, never mixed."""

TRAIN_SCENE_SEEDS = range(0, 100_000)
HELDOUT_SCENE_SEEDS = range(1_000_000, 1_000_100)


def check_disjoint(train: range, heldout: range) -> None:
    if train.start < heldout.stop and heldout.start < train.stop:
        raise ValueError(f"training seeds {train} overlap held-out seeds {heldout}")


def check_heldout(seeds, train: range = TRAIN_SCENE_SEEDS) -> None:
    """Raise if any seed meant for evaluation lies in the training range."""
    seen = [s for s in seeds if s in train]
    if seen:
        raise ValueError(f"evaluation seeds {seen[:5]} are training seeds (range {train})")


__all__ = ["TRAIN_SCENE_SEEDS", "HELDOUT_SCENE_SEEDS", "check_disjoint", "check_heldout"]
