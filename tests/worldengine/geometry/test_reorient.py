"""worldengine.geometry.reorient: known answers for quarter turns, the identity, and depth kept as range."""

import importlib
import math

import pytest
import torch

from worldengine.geometry.cube import face_rays, range_to_zdepth
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.geometry.reorient import reorient


def _cube(size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    rgb = torch.randint(0, 256, (6, size, size, 3), generator=gen, dtype=torch.uint8)
    depth = torch.rand(6, size, size, generator=gen) * 5 + 0.5
    return rgb, depth


def _yaw(angle):
    return pose_from_yaw_pitch(torch.zeros(3), angle, 0.0, dtype=torch.float64)[:3, :3]


def test_identity_is_exact():
    rgb, depth = _cube()
    out_rgb, out_depth = reorient(rgb, depth, torch.eye(3) + 1e-7)
    assert torch.equal(out_rgb, rgb) and torch.equal(out_depth, depth)


def test_a_quarter_turn_to_the_right_shows_the_right_face_ahead():
    rgb, depth = _cube()
    turned = _yaw(-math.pi / 2)  # yaw is counter-clockwise seen from above: -90 degrees turns right
    assert torch.allclose(turned @ torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64),
                          torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-12)
    out_rgb, out_depth = reorient(rgb, depth, turned)
    assert torch.equal(out_rgb[0], rgb[1])  # the new front is the old right, pixel for pixel
    assert torch.allclose(out_depth[0], depth[1], rtol=1e-6)  # z -> range -> z rounding only
    assert torch.equal(out_rgb[4], torch.rot90(rgb[4], -1, (0, 1)))  # the up face turns in its plane
    back_rgb, back_depth = reorient(out_rgb, out_depth, turned.T)
    assert torch.equal(back_rgb, rgb) and torch.allclose(back_depth, depth, rtol=1e-6)


def test_depth_is_kept_as_range_along_the_ray():
    size = 16
    rays = face_rays(size, torch.float64)
    rng = torch.full((6, size, size), 4.0)
    depth = range_to_zdepth(rng)  # a sphere of radius 4 around the camera
    rgb = torch.zeros(6, size, size, 3, dtype=torch.uint8)
    _, out = reorient(rgb, depth, _yaw(0.3) @ pose_from_yaw_pitch(torch.zeros(3), 0, 0.2, dtype=torch.float64)[:3, :3])
    assert torch.allclose(out * rays.norm(dim=-1).float(), rng, atol=1e-4)


def test_sky_stays_sky_and_bad_shapes_are_named():
    rgb, depth = _cube()
    depth[0] = 0
    _, out = reorient(rgb, depth, _yaw(-math.pi / 2))
    assert (out[3] == 0).all()  # the old front is now on the left
    with pytest.raises(ValueError, match="reorient takes"):
        reorient(rgb[:5], depth, torch.eye(3))


def test_a_cached_turn_gives_what_a_fresh_one_gives_and_float_noise_finds_it():
    module = importlib.import_module("worldengine.geometry.reorient")

    rgb, depth = _cube()
    turn = pose_from_yaw_pitch(torch.zeros(3), 0.2618, 0.1)[:3, :3]
    module._samplers.clear()
    fresh = reorient(rgb, depth, turn)
    cached = reorient(rgb, depth, turn)
    noisy = reorient(rgb, depth, turn + 1e-9)  # a heading recomputed with float noise
    assert module._samplers.misses == 1 and module._samplers.hits == 2
    for again in (cached, noisy):
        assert torch.equal(again[0], fresh[0]) and torch.equal(again[1], fresh[1])
    module._samplers.clear()
    assert torch.equal(reorient(rgb, depth, turn)[0], fresh[0])  # not what was cached: the same anyway


def test_the_kept_samplers_stay_within_their_budget_dropping_the_least_recently_used():
    module = importlib.import_module("worldengine.geometry.reorient")
    one = 6 * 16 * 16 * (4 * 8 + 4 * 4 + 8 + 4)  # bytes of a bilinear and a nearest sampler at S = 16
    cache = module._SamplerCache(budget_bytes=3 * one)
    keys = [tuple(_yaw(0.1 * k).flatten().tolist()) for k in range(1, 5)]
    for key in keys[:3]:
        cache(16, key)
    cache(16, keys[0])  # used again: now the most recent
    cache(16, keys[3])  # over budget: the least recently used (keys[1]) goes
    assert list(k for _, k in cache._kept) == [keys[2], keys[0], keys[3]]
    assert (cache.hits, cache.misses) == (1, 4)
