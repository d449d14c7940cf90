"""Z-buffered scatter ("splat") of points into a grid of cells.

Used to warp 3D latent memory points into a target view's latent grid: every point
has already been projected to a target cell (or -1 when it falls outside the view)
and a depth along the target camera's z axis; each cell keeps the feature row of
its nearest point.

Why a packed atomic min: on a GPU, ``out[cell] = features`` (``index_put_`` /
``scatter_``) with repeated cells writes in an undefined order, so sorting points
by depth first and relying on "last write wins" is *not* a z-buffer: which point
survives can change from run to run and from GPU to GPU. A correct splat first
reduces each cell to its minimum depth with an order-independent operation, then
gathers. Here the reduction runs on one int64 key per point::

    key = (float32 bit pattern of depth) << 32 | point index

For positive floats the IEEE-754 bit pattern, read as an integer, increases with
the value, so the smallest key in a cell is the nearest point, and among equal
depths the smallest point index. ``min`` is associative and commutative, so the
winner (and hence the whole output) is the same for any scatter order. Empty cells
keep the fill value ``int64 max``, which no valid key reaches (finite positive
depths have bit patterns below 0x7F800000 and indices are below 2^31).

Two implementations with identical, bit-exact results:
- ``splat_ref``: pure torch (``scatter_reduce_(..., "amin")`` then a gather).
- ``splat_triton``: two Triton kernels (per point ``tl.atomic_min`` of the key;
  per cell and channel block, decode the winner and gather its row).
``splat`` picks the Triton path for CUDA tensors when Triton is importable.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch

try:  # guarded: kernels must import where Triton is absent
    import triton
    import triton.language as tl
except ImportError as exc:  # pragma: no cover - depends on the environment
    triton = None
    tl = None
    _TRITON_IMPORT_ERROR: str | None = f"{type(exc).__name__}: {exc}"
else:
    _TRITON_IMPORT_ERROR = None

__all__ = ["SplatResult", "splat", "splat_ref", "splat_triton"]

_MAX_POINTS = 2**31  # the point index must fit in the low 31 bits of the key
_EMPTY_KEY = torch.iinfo(torch.int64).max
_LOW_MASK = 0x7FFFFFFF  # index bits of a key (indices < 2^31)
_INF_BITS = 0x7F800000  # float32 +inf; every finite positive depth is below it


@dataclass
class SplatResult:
    """Per-cell winners of a splat.

    features: (num_cells, C), the input dtype; the winner's feature row, 0 where empty.
    depth:    (num_cells,) float32; the winner's depth, 0 where empty.
    index:    (num_cells,) int64; the winning point's index, -1 where empty.
    mask:     (num_cells,) bool; True where the cell received a point.
    """

    features: torch.Tensor
    depth: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor


# --------------------------------------------------------------------------- checks


def _check_inputs(
    cell: torch.Tensor, depth: torch.Tensor, features: torch.Tensor, num_cells: int
) -> int:
    """Validate splat inputs; return num_cells as an int. Raises ValueError saying what was got."""
    for name, t in (("cell", cell), ("depth", depth), ("features", features)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if isinstance(num_cells, bool):
        raise ValueError(f"num_cells must be an int, got {num_cells!r}")
    try:
        num_cells = operator.index(num_cells)
    except TypeError:
        raise ValueError(
            f"num_cells must be an int, got {type(num_cells).__name__}"
        ) from None
    if num_cells < 0:
        raise ValueError(f"num_cells must be >= 0, got {num_cells}")
    if cell.ndim != 1:
        raise ValueError(f"cell must have shape (N,), got {tuple(cell.shape)}")
    n = cell.shape[0]
    if depth.shape != (n,):
        raise ValueError(
            f"depth must have shape (N,) = ({n},) like cell, got {tuple(depth.shape)}"
        )
    if features.ndim != 2 or features.shape[0] != n:
        raise ValueError(
            f"features must have shape (N, C) with N = {n}, got {tuple(features.shape)}"
        )
    if cell.dtype != torch.int64:
        raise ValueError(f"cell must be int64, got {cell.dtype}")
    if depth.dtype != torch.float32:
        raise ValueError(f"depth must be float32, got {depth.dtype}")
    if not features.is_floating_point():
        raise ValueError(f"features must be a floating dtype, got {features.dtype}")
    if not (cell.device == depth.device == features.device):
        raise ValueError(
            "cell, depth and features must be on one device, got "
            f"cell on {cell.device}, depth on {depth.device}, features on {features.device}"
        )
    if n >= _MAX_POINTS:
        raise ValueError(f"at most 2^31 - 1 points are supported, got N = {n}")
    if n == 0:
        return num_cells
    # One host sync for both value checks; details are computed only on failure.
    valid = cell >= 0
    bad_cell = (cell < -1) | (cell >= num_cells)
    bad_depth = valid & ~((depth > 0) & torch.isfinite(depth))
    n_bad_cell, n_bad_depth = torch.stack([bad_cell.sum(), bad_depth.sum()]).tolist()
    if n_bad_cell:
        raise ValueError(
            f"cell must be in [0, num_cells={num_cells}) or -1 (ignored); got "
            f"{n_bad_cell} out of range, values in [{int(cell.min())}, {int(cell.max())}]"
        )
    if n_bad_depth:
        first = int(bad_depth.nonzero()[0, 0])
        raise ValueError(
            "depth must be > 0 and finite where cell >= 0; got "
            f"{n_bad_depth} bad values, e.g. depth[{first}] = {float(depth[first])}"
        )
    return num_cells


# ------------------------------------------------------------------------ reference


def _splat_ref(
    cell: torch.Tensor, depth: torch.Tensor, features: torch.Tensor, num_cells: int
) -> SplatResult:
    device = cell.device
    n, c = features.shape
    keys = torch.full((num_cells,), _EMPTY_KEY, dtype=torch.int64, device=device)  # (num_cells,)
    valid = cell >= 0  # (N,)
    point = torch.arange(n, dtype=torch.int64, device=device)  # (N,)
    depth_bits = depth.contiguous().view(torch.int32).to(torch.int64)  # (N,)
    point_keys = (depth_bits << 32) | point  # (N,)
    keys.scatter_reduce_(0, cell[valid], point_keys[valid], reduce="amin", include_self=True)

    mask = keys != _EMPTY_KEY  # (num_cells,)
    index = torch.where(mask, keys & _LOW_MASK, -1)  # (num_cells,)
    winners = index[mask]  # (M,)
    out_features = features.new_zeros((num_cells, c))  # (num_cells, C)
    out_features[mask] = features[winners]
    out_depth = torch.zeros(num_cells, dtype=torch.float32, device=device)  # (num_cells,)
    out_depth[mask] = depth[winners]
    return SplatResult(out_features, out_depth, index, mask)


def splat_ref(
    cell: torch.Tensor, depth: torch.Tensor, features: torch.Tensor, num_cells: int
) -> SplatResult:
    """Z-buffered scatter in pure torch: each cell keeps its nearest point.

    cell:     (N,) int64, target cell of each point in [0, num_cells), or -1 to ignore it.
    depth:    (N,) float32, > 0 and finite where cell >= 0.
    features: (N, C) any floating dtype.
    Returns a SplatResult: features (num_cells, C) input dtype, depth (num_cells,)
    float32, index (num_cells,) int64, mask (num_cells,) bool; empty cells hold
    0 / 0 / -1 / False. Ties in depth go to the smallest point index, so the result
    does not depend on any scatter order.
    """
    num_cells = _check_inputs(cell, depth, features, num_cells)
    return _splat_ref(cell, depth, features, num_cells)


# --------------------------------------------------------------------------- triton

if triton is not None:

    @triton.jit
    def _splat_keys_kernel(cell_ptr, depth_ptr, keys_ptr, n, BLOCK: tl.constexpr):
        """Per point: keys[cell] = min(keys[cell], depth_bits << 32 | index)."""
        pid = tl.program_id(0)
        offs = pid * BLOCK + tl.arange(0, BLOCK)  # (BLOCK,)
        in_range = offs < n
        cell = tl.load(cell_ptr + offs, mask=in_range, other=-1)
        depth = tl.load(depth_ptr + offs, mask=in_range, other=1.0)
        bits = depth.to(tl.int32, bitcast=True).to(tl.int64)
        key = (bits << 32) | offs.to(tl.int64)
        valid = in_range & (cell >= 0)
        safe_cell = tl.where(valid, cell, 0)
        tl.atomic_min(keys_ptr + safe_cell, key, mask=valid, sem="relaxed")

    @triton.jit
    def _splat_gather_kernel(
        keys_ptr,
        feat_ptr,
        out_feat_ptr,
        out_depth_ptr,
        out_index_ptr,
        num_cells,
        c,
        stride_n,
        stride_c,
        BLOCK_M: tl.constexpr,
        BLOCK_C: tl.constexpr,
    ):
        """Per cell block x channel block: decode the winner and gather its row."""
        pid_m = tl.program_id(0)
        pid_c = tl.program_id(1)
        cells = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)  # (BLOCK_M,)
        cols = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)  # (BLOCK_C,)
        cell_ok = cells < num_cells
        col_ok = cols < c
        key = tl.load(keys_ptr + cells, mask=cell_ok, other=0x7FFFFFFFFFFFFFFF)
        hi = key >> 32
        found = cell_ok & (hi < 0x7F800000)  # the empty key has hi = 0x7FFFFFFF
        winner = tl.where(found, key & 0x7FFFFFFF, 0)  # (BLOCK_M,) int64
        src = feat_ptr + winner[:, None] * stride_n + cols[None, :] * stride_c
        vals = tl.load(src, mask=found[:, None] & col_ok[None, :], other=0.0)
        dst = out_feat_ptr + cells[:, None] * c + cols[None, :]
        tl.store(dst, vals, mask=cell_ok[:, None] & col_ok[None, :])
        if pid_c == 0:
            depth = tl.where(found, hi.to(tl.int32).to(tl.float32, bitcast=True), 0.0)
            tl.store(out_depth_ptr + cells, depth, mask=cell_ok)
            tl.store(out_index_ptr + cells, tl.where(found, winner, -1), mask=cell_ok)


def _triton_interpreted() -> bool:
    """True when the Triton kernels were built for the interpreter (TRITON_INTERPRET=1)."""
    if triton is None:
        return False
    return type(_splat_keys_kernel).__name__ == "InterpretedFunction"


def splat_triton(
    cell: torch.Tensor, depth: torch.Tensor, features: torch.Tensor, num_cells: int
) -> SplatResult:
    """Z-buffered scatter with two Triton kernels; bit-exact with ``splat_ref``.

    Same shapes and semantics as ``splat_ref``. Needs CUDA tensors, or CPU tensors
    with Triton's interpreter (TRITON_INTERPRET=1 set before triton is imported).
    Kernel 1 packs one int64 key per point and ``tl.atomic_min``s it into a
    (num_cells,) buffer; kernel 2 decodes each cell's winner and gathers its
    feature row and depth (zeros and -1 where empty).
    """
    if triton is None:
        raise RuntimeError(f"splat_triton needs triton, which failed to import ({_TRITON_IMPORT_ERROR})")
    num_cells = _check_inputs(cell, depth, features, num_cells)
    device = cell.device
    if device.type != "cuda" and not _triton_interpreted():
        raise ValueError(
            f"splat_triton needs CUDA tensors (got {device}), or TRITON_INTERPRET=1 "
            "set before triton is imported to run on the CPU"
        )
    n, c = features.shape
    keys = torch.full((num_cells,), _EMPTY_KEY, dtype=torch.int64, device=device)  # (num_cells,)
    out_features = torch.empty((num_cells, c), dtype=features.dtype, device=device)  # (num_cells, C)
    out_depth = torch.empty(num_cells, dtype=torch.float32, device=device)  # (num_cells,)
    out_index = torch.empty(num_cells, dtype=torch.int64, device=device)  # (num_cells,)
    if num_cells == 0:
        return SplatResult(out_features, out_depth, out_index, out_index >= 0)

    if n > 0:
        block = 1024
        _splat_keys_kernel[(triton.cdiv(n, block),)](
            cell.contiguous(), depth.contiguous(), keys, n, BLOCK=block
        )
    block_c = min(triton.next_power_of_2(max(c, 1)), 128)
    block_m = min(max(4096 // block_c, 16), triton.next_power_of_2(num_cells))
    grid = (triton.cdiv(num_cells, block_m), max(triton.cdiv(c, block_c), 1))
    _splat_gather_kernel[grid](
        keys,
        features,
        out_features,
        out_depth,
        out_index,
        num_cells,
        c,
        features.stride(0),
        features.stride(1),
        BLOCK_M=block_m,
        BLOCK_C=block_c,
    )
    return SplatResult(out_features, out_depth, out_index, out_index >= 0)


# --------------------------------------------------------------------------- public


def splat(
    cell: torch.Tensor,
    depth: torch.Tensor,
    features: torch.Tensor,
    num_cells: int,
    backend: str = "auto",
) -> SplatResult:
    """Z-buffered scatter: each cell keeps the feature row of its nearest point.

    cell (N,) int64 in [0, num_cells) or -1 (ignored); depth (N,) float32 > 0 where
    cell >= 0; features (N, C). Returns a SplatResult with features (num_cells, C),
    depth (num_cells,), index (num_cells,) (-1 where empty) and mask (num_cells,).
    backend: "auto" (Triton for CUDA tensors when triton is importable and not in
    interpreter mode, else the torch reference), "ref" or "triton".
    """
    if backend == "ref":
        return splat_ref(cell, depth, features, num_cells)
    if backend == "triton":
        return splat_triton(cell, depth, features, num_cells)
    if backend != "auto":
        raise ValueError(f'backend must be "auto", "ref" or "triton", got {backend!r}')
    use_triton = (
        isinstance(cell, torch.Tensor)
        and cell.device.type == "cuda"
        and triton is not None
        and not _triton_interpreted()
    )
    return (splat_triton if use_triton else splat_ref)(cell, depth, features, num_cells)
