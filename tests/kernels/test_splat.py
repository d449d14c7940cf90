"""Z-buffered splat: known answers, reference vs brute force, Triton vs reference, errors.

Tolerances: none. A splat is a min-reduction plus a gather, so every backend must
agree bit for bit (torch.equal) on features, depth, index and mask.
"""

import os
import sys

import pytest
import torch

if not torch.cuda.is_available():  # before triton is imported (see conftest.py)
    os.environ.setdefault("TRITON_INTERPRET", "1")

from kernels import SplatResult, splat, splat_ref, splat_triton  # noqa: E402

splat_mod = sys.modules["kernels.splat"]
HAS_TRITON = splat_mod.triton is not None
INTERPRETED = splat_mod._triton_interpreted()
FIELDS = ("features", "depth", "index", "mask")


def _triton_device() -> str:
    if not HAS_TRITON:
        pytest.skip("triton is not importable")
    if INTERPRETED:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    pytest.skip("no CUDA and triton was imported without TRITON_INTERPRET=1")


def _run(backend: str, cell, depth, features, num_cells) -> SplatResult:
    """Run one backend; the Triton one on its device, results brought back to the CPU."""
    if backend == "ref":
        return splat_ref(cell, depth, features, num_cells)
    device = _triton_device()
    out = splat_triton(cell.to(device), depth.to(device), features.to(device), num_cells)
    return SplatResult(*(getattr(out, f).cpu() for f in FIELDS))


def _assert_same(a: SplatResult, b: SplatResult) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape, (f, x.dtype, y.dtype, x.shape, y.shape)
        assert torch.equal(x, y), f"{f} differs"


def _random_inputs(n, c, num_cells, dtype, seed):
    """Many collisions (n points into few cells), repeated depths (ties), ~1/8 ignored."""
    g = torch.Generator().manual_seed(seed)
    cell = torch.randint(0, num_cells, (n,), generator=g)  # (N,)
    cell[torch.rand(n, generator=g) < 0.125] = -1
    depth = torch.randint(1, 9, (n,), generator=g).float() * 0.25  # (N,) ties
    smooth = torch.rand(n, generator=g) < 0.5
    depth[smooth] = torch.rand(int(smooth.sum()), generator=g) * 10 + 1e-3
    depth[cell < 0] = float("nan")  # ignored points may hold anything
    features = torch.randn(n, c, generator=g).to(dtype)  # (N, C)
    return cell, depth, features


BACKENDS = ["ref", "triton"]


# --------------------------------------------------------------------- known answers


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearest_point_wins(backend):
    cell = torch.tensor([0, 0, 0])
    depth = torch.tensor([2.0, 1.0, 3.0])
    features = torch.tensor([[10.0, 11.0], [20.0, 21.0], [30.0, 31.0]])
    out = _run(backend, cell, depth, features, 1)
    assert out.index.tolist() == [1]
    assert out.depth.tolist() == [1.0]
    assert out.features.tolist() == [[20.0, 21.0]]
    assert out.mask.tolist() == [True]


@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_depths_order_like_floats(backend):
    # subnormal < normal < near float32 max: the bit patterns keep this order
    cell = torch.tensor([0, 0, 0, 1, 1])
    depth = torch.tensor([3e38, 1e-40, 1.0, 1.0000001, 1.0])
    features = torch.arange(5.0).view(5, 1)
    out = _run(backend, cell, depth, features, 2)
    assert out.index.tolist() == [1, 4]
    assert out.depth[0].item() == pytest.approx(1e-40, rel=1e-3) and out.depth[1].item() == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_go_to_the_smaller_index(backend):
    cell = torch.tensor([1, 0, 1, 0, 1])
    depth = torch.tensor([5.0, 2.0, 5.0, 2.0, 5.0])
    features = torch.arange(5.0).view(5, 1)
    out = _run(backend, cell, depth, features, 2)
    assert out.index.tolist() == [1, 0]
    assert out.features.flatten().tolist() == [1.0, 0.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ignored_points_never_win_and_empty_cells_are_blank(backend):
    # ignored points (-1) may carry any depth, even 0 or NaN, and still never win
    cell = torch.tensor([-1, 2, -1, 2])
    depth = torch.tensor([0.0, 4.0, float("nan"), 3.0])
    features = torch.tensor([[9.0, 9.0, 9.0], [1.0, 2.0, 3.0], [9.0, 9.0, 9.0], [4.0, 5.0, 6.0]])
    out = _run(backend, cell, depth, features, 4)
    assert out.index.tolist() == [-1, -1, 3, -1]
    assert out.mask.tolist() == [False, False, True, False]
    assert out.depth.tolist() == [0.0, 0.0, 3.0, 0.0]
    assert out.features.tolist() == [[0.0] * 3, [0.0] * 3, [4.0, 5.0, 6.0], [0.0] * 3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_points_ignored_or_none(backend):
    for n in (0, 3):
        cell = torch.full((n,), -1, dtype=torch.int64)
        out = _run(backend, cell, torch.ones(n), torch.ones(n, 5, dtype=torch.float16), 6)
        assert out.features.shape == (6, 5) and out.features.dtype == torch.float16
        assert not out.features.any() and not out.depth.any() and not out.mask.any()
        assert out.index.tolist() == [-1] * 6


# ------------------------------------------------------------------ brute force


def _brute_force(cell, depth, features, num_cells):
    index = [-1] * num_cells
    for i, (k, d) in enumerate(zip(cell.tolist(), depth.tolist())):
        if k >= 0 and (index[k] < 0 or d < depth[index[k]].item()):  # strict: first index keeps ties
            index[k] = i
    index = torch.tensor(index, dtype=torch.int64)
    mask = index >= 0
    feats = torch.zeros(num_cells, features.shape[1], dtype=features.dtype)
    feats[mask] = features[index[mask]]
    dep = torch.zeros(num_cells)
    dep[mask] = depth[index[mask]]
    return SplatResult(feats, dep, index, mask)


@pytest.mark.parametrize("seed", range(6))
def test_ref_matches_brute_force(seed):
    g = torch.Generator().manual_seed(100 + seed)
    n, c, m = (int(v) for v in torch.randint(1, 60, (3,), generator=g))
    cell, depth, features = _random_inputs(n, c, m, torch.float64, seed)
    _assert_same(splat_ref(cell, depth, features, m), _brute_force(cell, depth, features, m))


def test_ref_keeps_the_feature_dtype():
    cell, depth, _ = _random_inputs(50, 3, 7, torch.float32, 0)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        features = torch.randn(50, 3).to(dtype)
        out = splat_ref(cell, depth, features, 7)
        assert out.features.dtype == dtype
        assert torch.equal(out.features, _brute_force(cell, depth, features, 7).features)


# ------------------------------------------------------------------ triton vs ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("num_cells", [1, 7, 96, 1536])
@pytest.mark.parametrize("c", [1, 3, 8, 13])
@pytest.mark.parametrize("n", [0, 1, 37, 1000, 4099])
def test_triton_matches_ref(n, c, num_cells, dtype):
    cell, depth, features = _random_inputs(n, c, num_cells, dtype, seed=n * 7919 + c * 31 + num_cells)
    _assert_same(_run("triton", cell, depth, features, num_cells), splat_ref(cell, depth, features, num_cells))


def test_triton_strided_features_and_wide_channels():
    # non-contiguous features (a transposed view, a column slice) and C > one channel block
    cell, depth, _ = _random_inputs(500, 1, 33, torch.float32, seed=5)
    g = torch.Generator().manual_seed(5)
    for features in (torch.randn(200, 500, generator=g).t(), torch.randn(500, 400, generator=g)[:, ::2]):
        assert not features.is_contiguous()
        _assert_same(_run("triton", cell, depth, features, 33), splat_ref(cell, depth, features.contiguous(), 33))


# -------------------------------------------------------------------- determinism


@pytest.mark.parametrize("backend", BACKENDS)
def test_permuting_points_picks_the_same_winners(backend):
    # distinct depths: the winner of each cell is a property of the point set, not its order
    g = torch.Generator().manual_seed(7)
    n, c, m = 2000, 5, 64
    cell = torch.randint(-1, m, (n,), generator=g)  # (N,)
    depth = (torch.randperm(n, generator=g) + 1).float() * 0.01  # (N,) distinct
    features = torch.randn(n, c, generator=g)  # (N, C)
    base = _run(backend, cell, depth, features, m)
    for _ in range(3):
        perm = torch.randperm(n, generator=g)  # new point i is old point perm[i]
        out = _run(backend, cell[perm], depth[perm], features[perm], m)
        assert torch.equal(out.mask, base.mask)
        assert torch.equal(out.depth, base.depth)
        assert torch.equal(out.features, base.features)
        assert torch.equal(perm[out.index[out.mask]], base.index[base.mask])


@pytest.mark.parametrize("backend", BACKENDS)
def test_permuting_points_with_ties_keeps_depths_and_the_tie_rule(backend):
    cell, depth, features = _random_inputs(1500, 4, 40, torch.float32, seed=11)
    g = torch.Generator().manual_seed(11)
    perm = torch.randperm(1500, generator=g)
    base = _run(backend, cell, depth, features, 40)
    out = _run(backend, cell[perm], depth[perm], features[perm], 40)
    assert torch.equal(out.depth, base.depth) and torch.equal(out.mask, base.mask)
    _assert_same(out, _brute_force(cell[perm], depth[perm], features[perm], 40))


# ---------------------------------------------------------------------- dispatch


def test_splat_dispatch_on_cpu():
    cell, depth, features = _random_inputs(300, 6, 20, torch.float32, seed=3)
    ref = splat_ref(cell, depth, features, 20)
    _assert_same(splat(cell, depth, features, 20), ref)  # auto on CPU is the reference
    _assert_same(splat(cell, depth, features, 20, backend="ref"), ref)
    if HAS_TRITON and INTERPRETED:
        _assert_same(splat(cell, depth, features, 20, backend="triton"), ref)
    with pytest.raises(ValueError, match="backend must be"):
        splat(cell, depth, features, 20, backend="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_triton_matches_ref_on_cuda():
    # a latent cubemap's worth of cells (6 faces of 64x64) and ~1M points, some thousands per cell
    for n, c, m, dtype in [(1_000_003, 16, 6 * 64 * 64, torch.float16), (77_777, 13, 1000, torch.float32)]:
        cell, depth, features = _random_inputs(n, c, m, dtype, seed=n)
        cell, depth, features = cell.cuda(), depth.cuda(), features.cuda()
        ref = splat_ref(cell, depth, features, m)
        _assert_same(splat_triton(cell, depth, features, m), ref)
        _assert_same(splat(cell, depth, features, m), ref)
        again = splat_triton(cell, depth, features, m)
        _assert_same(again, ref)  # run-to-run identical despite racing atomics
        assert ref.mask.any() and (ref.index >= 0).sum() == ref.mask.sum()


# ------------------------------------------------------------------- bad inputs


def _good():
    return torch.tensor([0, 1, -1]), torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3, 2)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c, d, f, m: (c.view(3, 1), d, f, m), r"cell must have shape \(N,\), got \(3, 1\)"),
        (lambda c, d, f, m: (c, d[:2], f, m), r"depth must have shape \(N,\) = \(3,\).*got \(2,\)"),
        (lambda c, d, f, m: (c, d, f[:2], m), r"features must have shape \(N, C\) with N = 3, got \(2, 2\)"),
        (lambda c, d, f, m: (c, d, f[:, 0], m), r"features must have shape \(N, C\).*got \(3,\)"),
        (lambda c, d, f, m: (c.int(), d, f, m), r"cell must be int64, got torch.int32"),
        (lambda c, d, f, m: (c, d.double(), f, m), r"depth must be float32, got torch.float64"),
        (lambda c, d, f, m: (c, d, f.long(), m), r"features must be a floating dtype, got torch.int64"),
        (lambda c, d, f, m: (c, d, f, 1), r"cell must be in \[0, num_cells=1\).*got 1 out of range"),
        (lambda c, d, f, m: (torch.tensor([0, -2, 1]), d, f, m), r"got 1 out of range, values in \[-2, 1\]"),
        (lambda c, d, f, m: (c, torch.tensor([1.0, 0.0, 3.0]), f, m), r"depth must be > 0.*depth\[1\] = 0.0"),
        (lambda c, d, f, m: (c, torch.tensor([-1.0, 2.0, 3.0]), f, m), r"depth\[0\] = -1.0"),
        (lambda c, d, f, m: (c, torch.tensor([1.0, float("inf"), 0.0]), f, m), r"depth\[1\] = inf"),
        (lambda c, d, f, m: (c, torch.tensor([float("nan"), 1.0, 0.0]), f, m), r"depth\[0\] = nan"),
        (lambda c, d, f, m: (c, d, f, -1), r"num_cells must be >= 0, got -1"),
        (lambda c, d, f, m: (c, d, f, 2.0), r"num_cells must be an int, got float"),
        (lambda c, d, f, m: (c, d, f.to("meta"), m), r"one device.*features on meta"),
        (lambda c, d, f, m: (c.tolist(), d, f, m), r"cell must be a torch.Tensor, got list"),
    ],
)
@pytest.mark.parametrize("fn", [splat_ref, splat])
def test_bad_inputs_raise(fn, change, match):
    cell, depth, features = _good()
    with pytest.raises(ValueError, match=match):
        fn(*change(cell, depth, features, 2))


def test_too_many_points_raises():
    # a zero-stride view stands for 2^31 points without allocating them
    n = 2**31
    cell = torch.zeros(1, dtype=torch.int64).expand(n)
    depth = torch.ones(1).expand(n)
    features = torch.zeros(1, 1).expand(n, 1)
    with pytest.raises(ValueError, match=r"at most 2\^31 - 1 points.*got N = 2147483648"):
        splat_ref(cell, depth, features, 4)


def test_triton_validates_too():
    if not HAS_TRITON:
        pytest.skip("triton is not importable")
    cell, depth, features = _good()
    with pytest.raises(ValueError, match="cell must be in"):
        splat_triton(cell, depth, features, 1)
