import dataclasses
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from worldengine.agent.actions import (
    DiscreteAction,
    Motion,
    MotionConfig,
    action_space,
    continuous_space,
    decode_action,
    discrete_space,
)


def test_spaces():
    d = discrete_space()
    assert isinstance(d, spaces.Discrete) and d.n == 9 and d.start == 0
    c = continuous_space()
    assert isinstance(c, spaces.Box) and c.shape == (4,) and c.dtype == np.float32
    assert np.all(c.low == -1) and np.all(c.high == 1)
    assert action_space("discrete") == d and action_space("continuous") == c
    assert [a.value for a in DiscreteAction] == list(range(9))
    assert DiscreteAction.TURN_LEFT == 5 and DiscreteAction.LOOK_DOWN == 8


def test_decode_discrete_table():
    cfg = MotionConfig()
    turn, look = math.radians(15), math.radians(10)
    expected = {
        0: Motion(),
        1: Motion(forward_m=0.25),
        2: Motion(forward_m=-0.25),
        3: Motion(right_m=-0.25),
        4: Motion(right_m=0.25),
        5: Motion(yaw_rad=turn),
        6: Motion(yaw_rad=-turn),
        7: Motion(pitch_rad=look),
        8: Motion(pitch_rad=-look),
    }
    for action_id, motion in expected.items():
        assert decode_action(action_id, "discrete", cfg) == motion


def test_decode_discrete_accepts_numpy_and_tensor_ints():
    fwd = Motion(forward_m=0.25)
    for action in (np.int64(1), np.int32(1), np.array(1), torch.tensor(1), DiscreteAction.FORWARD):
        assert decode_action(action, "discrete") == fwd
    for sample in (discrete_space().sample() for _ in range(20)):
        decode_action(sample, "discrete")


def test_decode_discrete_uses_config_steps():
    cfg = MotionConfig(move_step=0.5, turn_step_deg=90)
    assert decode_action(2, "discrete", cfg) == Motion(forward_m=-0.5)
    assert decode_action(6, "discrete", cfg).yaw_rad == pytest.approx(-math.pi / 2)


@pytest.mark.parametrize(
    "action, match",
    [
        (9, r"unknown discrete action id 9; expected one of 0=NOOP"),
        (-1, r"unknown discrete action id -1"),
        ("1", r"discrete action must be an integer id in \[0, 8\], got str '1'"),
        (1.0, r"must be an integer id .* got float"),
        (True, r"must be an integer id .* got bool"),
        (np.array([1, 2]), r"single integer id, got an array of shape \(2,\)"),
        (np.array(1.0), r"must be an integer id .* got float"),
        (None, r"must be an integer id .* got NoneType"),
    ],
)
def test_decode_discrete_rejects(action, match):
    with pytest.raises(ValueError, match=match):
        decode_action(action, "discrete")


def test_decode_continuous_scales_rates():
    cfg = MotionConfig()
    m = decode_action(np.array([1.0, -0.5, 0.5, -1.0], dtype=np.float32), "continuous", cfg)
    assert m.forward_m == pytest.approx(0.25)
    assert m.right_m == pytest.approx(-0.125)
    assert m.yaw_rad == pytest.approx(math.radians(7.5))
    assert m.pitch_rad == pytest.approx(-math.radians(10))
    assert decode_action([0, 0, 0, 0], "continuous") == Motion()
    assert decode_action(torch.ones(4), "continuous").forward_m == pytest.approx(0.25)
    for _ in range(20):
        decode_action(continuous_space().sample(), "continuous")


@pytest.mark.parametrize(
    "action, match",
    [
        (np.zeros(3), r"must have shape \(4,\) .* got shape \(3,\)"),
        (np.zeros((1, 4)), r"got shape \(1, 4\)"),
        (5, r"got shape \(\)"),
        (np.array([0.0, np.nan, 0.0, 0.0]), r"must be finite"),
        (np.array([0.0, 0.0, np.inf, 0.0]), r"must be finite"),
        (np.array([1.5, 0.0, 0.0, 0.0]), r"must lie in \[-1, 1\]"),
        (np.array([0.0, 0.0, 0.0, -1.01]), r"must lie in \[-1, 1\]"),
        ("abcd", r"4 numbers in \[-1, 1\], got str"),
        (["a", 0, 0, 0], r"4 numbers in \[-1, 1\]"),
    ],
)
def test_decode_continuous_rejects(action, match):
    with pytest.raises(ValueError, match=match):
        decode_action(action, "continuous")


def test_decode_rejects_unknown_kind_and_config():
    with pytest.raises(ValueError, match=r"unknown action kind 'joystick'; expected one of \('discrete', 'continuous'\)"):
        decode_action(1, "joystick")
    with pytest.raises(ValueError, match=r"unknown action kind"):
        action_space("Discrete")
    with pytest.raises(ValueError, match=r"config must be a MotionConfig, got dict"):
        decode_action(1, "discrete", {"move_step": 1.0})


def test_motion_config_validates():
    with pytest.raises(ValueError, match=r"move_step must be a positive"):
        MotionConfig(move_step=0)
    with pytest.raises(ValueError, match=r"max_pitch_deg must be in \[0, 90\)"):
        MotionConfig(max_pitch_deg=90)
    with pytest.raises(ValueError, match=r"floor_clearance"):
        MotionConfig(eye_height=0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        MotionConfig().move_step = 1.0
