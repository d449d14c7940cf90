"""Cubemap geometry: directions and faces, depth, back-projection, edges, padding, sampling."""

import math

import pytest
import torch

from worldengine.geometry.cube import (
    EDGES,
    FACE_NAMES,
    SIDE_NAMES,
    cubemap_to_points,
    direction_to_face,
    face_rays,
    face_rotations,
    face_to_direction,
    norm_to_pixel,
    pixel_coords,
    pixel_to_norm,
    project_points,
    range_to_zdepth,
    zdepth_to_range,
)
from worldengine.geometry.padding import pad_faces, sample_cubemap

F, R, B, L, U, D = range(6)
TOP, RIGHT, BOTTOM, LEFT = range(4)
AXES = torch.tensor([[0, 0, -1], [1, 0, 0], [0, 0, 1], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], dtype=torch.float64)


def smooth(d: torch.Tensor) -> torch.Tensor:
    """A smooth test function of direction (any length): low-frequency sinusoids of the unit vector."""
    x, y, z = (d / d.norm(dim=-1, keepdim=True)).unbind(-1)
    return 0.5 + 0.2 * torch.sin(3 * x + 1) * torch.cos(2 * y) + 0.15 * torch.cos(4 * z - 0.5) + 0.1 * x * y


def extended_rays(size: int, p: int) -> torch.Tensor:
    """Body rays (F, S+2p, S+2p, 3) of each face's image plane extended by p pixels: a wider field of view."""
    c = pixel_to_norm(torch.arange(-p, size + p, dtype=torch.float64), size)
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([face_to_direction(torch.full_like(x, f, dtype=torch.long), x, y) for f in range(6)])


def random_rotations(n: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    return q * torch.linalg.det(q)[:, None, None]  # det +1


# ---------------------------------------------------------------------------
# Rotations, directions, known pixels
# ---------------------------------------------------------------------------


def test_face_rotations_are_proper_and_look_along_the_axes():
    rot = face_rotations(torch.float64)
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(6, 3, 3))
    assert torch.allclose(torch.linalg.det(rot), torch.ones(6, dtype=torch.float64))
    assert torch.equal(rot[:, :, 2], AXES)


def test_known_pixels():
    s = 5
    rays = face_rays(s, torch.float64)
    assert torch.equal(rays[F, 2, 2], torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64))  # F centre: forward
    k = 1 - 1 / s
    assert torch.allclose(rays[F, 0, s - 1], torch.tensor([k, k, -1.0], dtype=torch.float64))  # up-right-forward
    assert torch.allclose(rays[U, s - 1, 2], torch.tensor([0.0, 1.0, -k], dtype=torch.float64))  # U bottom: up, forward
    assert torch.allclose(rays[U, 0, 2], torch.tensor([0.0, 1.0, k], dtype=torch.float64))  # U top: up, back
    assert torch.allclose(rays[D, 0, 2], torch.tensor([0.0, -1.0, -k], dtype=torch.float64))  # D top: down, forward
    assert torch.allclose(rays[R, 2, 0], torch.tensor([1.0, 0.0, -k], dtype=torch.float64))  # R left: right, forward
    assert torch.allclose(rays[L, 2, s - 1], torch.tensor([-1.0, 0.0, -k], dtype=torch.float64))  # L right: left, fwd
    assert torch.allclose(rays[B, 2, 2], torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))


def test_random_directions_map_to_one_face_and_back():
    gen = torch.Generator().manual_seed(0)
    d = torch.randn(20000, 3, generator=gen, dtype=torch.float64) * torch.rand(20000, 1, generator=gen).add(0.1)
    face, x, y = direction_to_face(d)
    dots = (d / d.norm(dim=-1, keepdim=True)) @ AXES.T  # (N, F)
    assert torch.equal(face, dots.argmax(-1))
    assert (dots.gather(1, face[:, None]) > 1 / math.sqrt(3) - 1e-12).all()
    assert (x.abs() <= 1).all() and (y.abs() <= 1).all()
    back = face_to_direction(face, x, y, unit=True)
    assert torch.allclose(back, d / d.norm(dim=-1, keepdim=True), atol=1e-12)
    assert torch.bincount(face, minlength=6).min() > 2500  # every face is hit, roughly evenly


def test_face_centres_and_edges_are_exact_and_deterministic():
    face, x, y = direction_to_face(3 * AXES)
    assert torch.equal(face, torch.arange(6)) and (x == 0).all() and (y == 0).all()
    # Exactly on an edge or corner: lowest face index in F R B L U D wins.
    ties = torch.tensor([[1.0, 0, -1], [1, 1, -1], [0, -1, 1], [-1, 1, 0], [1, 0, 1]])
    face, x, y = direction_to_face(ties)
    assert face.tolist() == [F, F, B, L, R]
    assert (x[:2] == 1).all() and y[1] == -1 and y[2] == 1
    # Just off an edge: the side it is on.
    eps = 1e-6
    face, x, _ = direction_to_face(torch.tensor([[1.0, 0.2, -(1 + eps)], [1 + eps, 0.2, -1.0]]))
    assert face.tolist() == [F, R] and x[0] < 1 and x[1] > -1


def test_face_to_direction_inverts_direction_to_face():
    gen = torch.Generator().manual_seed(1)
    face = torch.randint(0, 6, (1000,), generator=gen)
    x, y = (torch.rand(2, 1000, generator=gen, dtype=torch.float64) * 2 - 1).unbind(0)
    d = face_to_direction(face, x, y)
    assert torch.allclose(torch.einsum("nj,nj->n", d, AXES[face]), torch.ones(1000, dtype=torch.float64))  # z = 1
    f2, x2, y2 = direction_to_face(d)
    assert torch.equal(f2, face) and torch.allclose(x2, x) and torch.allclose(y2, y)


def test_every_pixel_ray_maps_back_to_its_own_pixel():
    s = 7
    face, x, y = direction_to_face(face_rays(s, torch.float64))
    assert torch.equal(face, torch.arange(6)[:, None, None].expand(6, s, s))
    cols = norm_to_pixel(x, s)
    assert torch.allclose(cols, torch.arange(s, dtype=torch.float64).expand(6, s, s))
    assert torch.allclose(norm_to_pixel(y, s), cols.transpose(1, 2))


def test_pixel_conversions():
    s = 8
    assert torch.allclose(norm_to_pixel(pixel_coords(s), s), torch.arange(s, dtype=torch.float32))
    assert norm_to_pixel(torch.tensor(-1.0), s) == -0.5 and norm_to_pixel(torch.tensor(1.0), s) == s - 0.5
    assert pixel_to_norm(torch.tensor(3.0), s) == 7 / 8 - 1


# ---------------------------------------------------------------------------
# Depth and points
# ---------------------------------------------------------------------------


def test_zdepth_range_known_values_and_zero_stays_zero():
    s = 3
    depth = torch.full((2, 6, s, s), 2.0, dtype=torch.float64)
    depth[1, U] = 0
    rng = zdepth_to_range(depth)
    assert rng[0, F, 1, 1] == 2.0  # centre ray is the axis
    assert torch.isclose(rng[0, R, 0, 0], torch.tensor(2.0 * math.sqrt(2 * (2 / 3) ** 2 + 1), dtype=torch.float64))
    assert (rng[1, U] == 0).all() and (rng[0, :, 0, 0] > rng[0, :, 0, 1]).all()
    assert torch.allclose(range_to_zdepth(rng), depth) and (range_to_zdepth(rng)[1, U] == 0).all()
    with pytest.raises(ValueError, match=r"\(\.\.\., 6, S, S\), got \(5, 3, 3\)"):
        zdepth_to_range(torch.ones(5, 3, 3))


def test_cubemap_to_points_known_answer():
    depth = torch.zeros(6, 3, 3)
    depth[F, 1, 1], depth[U, 1, 1] = 2.0, 3.0
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    points, valid = cubemap_to_points(depth, pose)
    assert points.shape == (6, 3, 3, 3) and valid.sum() == 2
    assert torch.equal(points[F, 1, 1], torch.tensor([1.0, 2.0, 1.0]))
    assert torch.equal(points[U, 1, 1], torch.tensor([1.0, 5.0, 3.0]))
    assert torch.equal(points[B, 0, 0], pose[:3, 3])  # no hit: camera position
    with pytest.raises(ValueError, match=r"pose must have shape \(\.\.\., 4, 4\), got \(3, 4\)"):
        cubemap_to_points(depth, torch.zeros(3, 4))


def test_back_projection_round_trip():
    gen = torch.Generator().manual_seed(2)
    s = 6
    depth = torch.rand(2, 3, 6, s, s, generator=gen, dtype=torch.float64) * 10 + 0.5
    depth[depth < 2] = 0  # some sky
    pose = torch.eye(4, dtype=torch.float64).repeat(2, 3, 1, 1)
    pose[..., :3, :3] = random_rotations(6, gen).view(2, 3, 3, 3)
    pose[..., :3, 3] = torch.randn(2, 3, 3, generator=gen, dtype=torch.float64) * 5
    points, valid = cubemap_to_points(depth, pose)
    assert points.shape == (2, 3, 6, s, s, 3) and torch.equal(valid, depth > 0)
    face, x, y, z = project_points(points, pose[:, :, None, None, None])
    faces = torch.arange(6)[:, None, None].expand(2, 3, 6, s, s)
    assert torch.equal(face[valid], faces[valid])
    cols = torch.arange(s, dtype=torch.float64)
    assert torch.allclose(norm_to_pixel(x, s)[valid], cols.expand(2, 3, 6, s, s)[valid], atol=1e-9)
    assert torch.allclose(norm_to_pixel(y, s)[valid], cols[:, None].expand(2, 3, 6, s, s)[valid], atol=1e-9)
    assert torch.allclose(z[valid], depth[valid], atol=1e-9)


# ---------------------------------------------------------------------------
# Edge adjacency
# ---------------------------------------------------------------------------


def edge(face, side):
    e = EDGES[4 * face + side]
    assert (e.face, e.side) == (face, side)
    return e


def test_edges_known_answers():
    known = {  # (face, side) -> (neighbour, its side, turns, reversed)
        (F, TOP): (U, BOTTOM, 0, False),
        (F, RIGHT): (R, LEFT, 0, False),
        (F, BOTTOM): (D, TOP, 0, False),
        (L, RIGHT): (F, LEFT, 0, False),
        (B, RIGHT): (L, LEFT, 0, False),
        (U, TOP): (B, TOP, 2, True),
        (U, RIGHT): (R, TOP, 1, True),
        (D, RIGHT): (R, BOTTOM, 3, False),
    }
    for (f, s), want in known.items():
        e = edge(f, s)
        assert (e.neighbour, e.neighbour_side, e.turns, e.reversed) == want, (FACE_NAMES[f], SIDE_NAMES[s])


def test_edges_pair_up_symmetrically():
    assert len(EDGES) == 24
    pairs = {frozenset([(e.face, e.side), (e.neighbour, e.neighbour_side)]) for e in EDGES}
    assert len(pairs) == 12 and all(len(p) == 2 for p in pairs)
    for e in EDGES:
        back = edge(e.neighbour, e.neighbour_side)
        assert (back.neighbour, back.neighbour_side) == (e.face, e.side)
        assert back.reversed == e.reversed and back.turns == (-e.turns) % 4
    assert sorted(sum(((e.face, e.neighbour) for e in EDGES), ())) == sorted(list(range(6)) * 8)


def test_edges_match_pixel_geometry():
    """Independent check: across each side, the nearest pixel of the neighbour's side is the tabled one."""
    s = 6
    rays = face_rays(s, torch.float64, unit=True)
    strips = [lambda r: r[0], lambda r: r[:, -1], lambda r: r[-1], lambda r: r[:, 0]]  # side -> (S, 3)
    for e in EDGES:
        mine, theirs = strips[e.side](rays[e.face]), strips[e.neighbour_side](rays[e.neighbour])
        nearest = (mine @ theirs.T).argmax(1)
        want = torch.arange(s).flip(0) if e.reversed else torch.arange(s)
        assert torch.equal(nearest, want), e


# ---------------------------------------------------------------------------
# Padding
# ---------------------------------------------------------------------------


def test_pad_copy_known_neighbours():
    gen = torch.Generator().manual_seed(3)
    s, p = 5, 2
    x = torch.randn(2, 6, 3, s, s, generator=gen)
    out = pad_faces(x, p, mode="copy")
    assert out.shape == (2, 6, 3, s + 2 * p, s + 2 * p)
    mid = slice(p, p + s)
    assert torch.equal(out[:, :, :, mid, mid], x)
    assert torch.equal(out[:, F, :, :p, mid], x[:, U, :, -p:, :])  # F top <- U bottom rows
    assert torch.equal(out[:, F, :, mid, -p:], x[:, R, :, :, :p])  # F right <- R left columns
    assert torch.equal(out[:, F, :, -p:, mid], x[:, D, :, :p, :])  # F bottom <- D top rows
    assert torch.equal(out[:, L, :, mid, -p:], x[:, F, :, :, :p])  # L right <- F left
    assert torch.equal(out[:, B, :, mid, -p:], x[:, L, :, :, :p])  # B right <- L left
    # U right <- R top, reversed: U's row i, r steps out is R's row r - 1, column S - 1 - i.
    for r in range(1, p + 1):
        assert torch.equal(out[:, U, :, mid, p + s - 1 + r], x[:, R, :, r - 1, :].flip(-1))
    # Corner rule: mean of the nearest values of the two strips (top-left corner of F).
    i, j = 0, 1  # padded coordinates, 2 and 1 steps outside top and left
    want = 0.5 * (out[:, F, :, i, p] + out[:, F, :, p, j])
    assert torch.allclose(out[:, F, :, i, j], want)


def test_pad_copy_matches_rotated_neighbours_for_every_side():
    s, p = 4, 3
    x = torch.arange(6 * s * s, dtype=torch.float32).view(1, 6, 1, s, s)
    out = pad_faces(x, p, mode="copy")[0, :, 0]
    mid = slice(p, p + s)
    for e in EDGES:
        nbr = torch.rot90(x[0, e.neighbour, 0], e.turns, (0, 1))
        got, want = [
            (out[e.face, :p, mid], nbr[-p:, :]),
            (out[e.face, mid, -p:], nbr[:, :p]),
            (out[e.face, -p:, mid], nbr[:p, :]),
            (out[e.face, mid, :p], nbr[:, -p:]),
        ][e.side]
        assert torch.equal(got, want), e


def test_pad_exact_is_a_wider_field_of_view():
    """Padded pixels equal the function at their extended rays, with second-order error in 1/S."""
    p = 4
    errors = []
    for s in (16, 32):
        x = smooth(face_rays(s, torch.float64))[:, None]  # (F, 1, S, S)
        out = pad_faces(x, p)
        assert torch.equal(out[:, :, p:-p, p:-p], x)
        errors.append((out[:, 0] - smooth(extended_rays(s, p))).abs().max().item())
    print(f"pad exact max error S=16: {errors[0]:.2e}, S=32: {errors[1]:.2e}")
    assert errors[1] < 1.5e-3  # measured 9.1e-4 (values in [0.1, 0.9])
    assert errors[0] / errors[1] > 3  # second order: ~4x per halving of the pixel
    # copy at p=1 is right only to first order (the neighbour's pixels are not on our grid)
    x = smooth(face_rays(32, torch.float64))[:, None]
    copy_err = (pad_faces(x, 1, "copy")[:, 0] - smooth(extended_rays(32, 1))).abs().max().item()
    assert copy_err < 0.02 and copy_err > errors[1]  # measured 8.5e-3


def test_pad_shapes_gradients_and_errors():
    x = torch.randn(6, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    assert pad_faces(x, 2).shape == (6, 1, 6, 6)
    assert pad_faces(torch.zeros(2, 3, 6, 1, 4, 4), 1).shape == (2, 3, 6, 1, 6, 6)
    assert torch.equal(pad_faces(x, 0), x)
    for mode in ("exact", "copy"):
        assert torch.autograd.gradcheck(lambda t: pad_faces(t, 2, mode), (x,))
    # A constant cubemap pads to the same constant (weights sum to one).
    assert torch.allclose(pad_faces(torch.full((6, 1, 5, 5), 0.7), 3), torch.full((6, 1, 11, 11), 0.7))
    with pytest.raises(ValueError, match=r"\(\.\.\., 6, C, S, S\), got \(5, 1, 4, 4\)"):
        pad_faces(torch.zeros(5, 1, 4, 4), 1)
    with pytest.raises(ValueError, match=r"got \(6, 1, 4, 3\)"):
        pad_faces(torch.zeros(6, 1, 4, 3), 1)
    with pytest.raises(ValueError, match="p must be an int >= 0, got -1"):
        pad_faces(torch.zeros(6, 1, 4, 4), -1)
    with pytest.raises(ValueError, match="p <= S, got p=5 with S=4"):
        pad_faces(torch.zeros(6, 1, 4, 4), 5, mode="copy")
    with pytest.raises(ValueError, match="mode must be one of"):
        pad_faces(torch.zeros(6, 1, 4, 4), 1, mode="reflect")


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def test_sample_at_pixel_centres_returns_pixels():
    gen = torch.Generator().manual_seed(4)
    s = 5
    x = torch.randn(2, 6, 3, s, s, generator=gen, dtype=torch.float64)
    rays = face_rays(s, torch.float64) * 2.5  # any length
    for mode in ("bilinear", "nearest"):
        out = sample_cubemap(x, rays, mode)  # shared (F, S, S, 3)
        assert out.shape == (2, 3, 6, s, s)
        assert torch.allclose(out.permute(0, 2, 1, 3, 4), x), mode


def test_sample_is_seamless_and_batched():
    """A smooth function sampled on a great circle through four faces matches it; batches stay separate."""
    s = 32
    faces = torch.stack([smooth(face_rays(s, torch.float64)), 1 - smooth(face_rays(s, torch.float64))])[:, :, None]
    t = torch.linspace(0, 2 * math.pi, 2001, dtype=torch.float64)
    d = torch.stack([t.cos() * 0.9, t.sin(), 0.4 * t.sin() + 0.3], -1)  # crosses edges and near corners
    out = sample_cubemap(faces, d)
    assert out.shape == (2, 1, 2001)
    assert (out[0, 0] - smooth(d)).abs().max() < 2e-3
    assert (out[1, 0] - (1 - smooth(d))).abs().max() < 2e-3
    batched = sample_cubemap(faces, torch.stack([d, -d]))  # (B, N, 3)
    assert torch.allclose(batched[0], out[0]) and torch.allclose(batched[1, 0], 1 - smooth(-d), atol=2e-3)
    # A shared grid whose first axis equals B by coincidence needs batched=False.
    grid = d[:1000].view(2, 500, 3)
    assert sample_cubemap(faces, grid, batched=False).shape == (2, 1, 2, 500)
    assert sample_cubemap(faces, grid).shape == (2, 1, 500)


def test_sample_gradients_and_errors():
    faces = torch.randn(1, 6, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    d = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    assert torch.autograd.gradcheck(lambda f: sample_cubemap(f, d), (faces,))
    with pytest.raises(ValueError, match=r"\(B, 6, C, S, S\), got \(6, 1, 3, 3\)"):
        sample_cubemap(faces[0], d)
    with pytest.raises(ValueError, match=r"directions must be a floating tensor of shape \(\.\.\., 3\), got \(20, 2\)"):
        sample_cubemap(faces, d[:, :2])
    with pytest.raises(ValueError, match="mode must be one of"):
        sample_cubemap(faces, d, mode="bicubic")
    with pytest.raises(ValueError, match=r"batched directions must be \(B=1, \.\.\., 3\)"):
        sample_cubemap(faces, d[:, None].expand(20, 2, 3), batched=True)
