"""worldengine.eval.revisit: what was seen before, and the longest return of a walk."""

import numpy as np
import pytest
import torch

from memory import block_depth
from worldengine.data.record import walk
from worldengine.eval.revisit import SeenBefore, is_revisit, longest_return
from worldengine.scenes import ProceduralScene


def test_seen_before_counts_a_view_seen_again():
    scene = ProceduralScene(1_000_003)
    frames = []
    walk(scene, 2, 32, 0, frames.append, backend="torch")
    seen = SeenBefore(8)
    first = seen.observe(frames[0]["depth"], frames[0]["pose"], 0, gap=2)
    assert first["overlap"] == 0 and first["overlap_old"] == 0 and first["since_first_visit"] is None
    again = seen.observe(frames[0]["depth"], frames[0]["pose"], 1, gap=2)
    assert again["overlap"] == pytest.approx(1.0) and again["overlap_old"] == 0  # seen, but only a step ago
    later = seen.observe(frames[0]["depth"], frames[0]["pose"], 5, gap=2)
    assert later["overlap_old"] == pytest.approx(1.0) and later["since_first_visit"] == 5
    assert len(seen.positions) == np.count_nonzero(
        block_depth(torch.from_numpy(frames[0]["depth"])[None], 8))  # nothing stored twice


def _record(overlap_old: float, since: float | None) -> dict:
    return {"overlap": overlap_old, "overlap_old": overlap_old, "since_first_visit": since}


def test_longest_return_known_answer():
    records = [_record(0, None)] * 5 + [_record(0.9, 3), _record(0.4, 9), _record(0.8, 6), _record(0.7, 6)]
    assert is_revisit(records[5]) and not is_revisit(records[6])
    assert longest_return(records) == (1, 7)  # step 7 returns to step 1; step 6 saw too little of the past
    assert longest_return([_record(0, None)] * 5) is None


def test_longest_return_finds_the_out_and_back():
    scene, frames = ProceduralScene(1_000_003), []
    walk(scene, 400, 32, 1_000_003, frames.append, route_kinds=("out_and_back",), routes=1, backend="torch")
    seen = SeenBefore(8)
    records = [seen.observe(f["depth"], f["pose"], t, gap=20) for t, f in enumerate(frames)]
    first, back = longest_return(records)
    assert back > len(frames) * 0.8 and first < len(frames) * 0.2  # near the end, back to near the start
