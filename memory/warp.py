"""Latent warping: memory points projected straight into a target view's latent grid.

Never through pixels (Mirage's latent spatial memory): each point lands in the latent
cell its direction falls in, and a z-buffer keeps the nearest point per cell
(kernels.splat: deterministic, also on a GPU).

Covered means seen: a token stands for a patch of surface, not a point. Given each
token's extent (the world size of the patch it was lifted from), a token also covers the
cells around its own that its patch spans in the target view (a square of side
extent / cell size at that depth, up to FOOTPRINT_MAX cells each way), so moving closer or
fusing cells into voxels leaves no cracks. Footprint samples are offset on the token's
own face plane and projected again, so a footprint crosses cube edges like the surface
does. A cell keeps the nearest token that lands in it; footprints fill the cells no token
landed in (among them, the nearest, with depth raised by FOOTPRINT_PENALTY per cell of
distance, so the nearest centre wins at equal depth), and replace a cell's own token only
when that token is over 1 / FOOTPRINT_OCCLUDES times farther (a near object occluding
the background it now covers; a floor seen at a grazing angle changes depth fast from
cell to cell and must not smear into itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kernels.splat import splat
from memory.index import retrieve
from memory.rig import check_pose, check_rotations, face_local, project_to_cells
from memory.store import LatentMemory

NEAR = 0.05  # metres: points closer to the camera than this are ignored
FOOTPRINT_MAX = 2  # cells each way a token's footprint may reach (a 5 x 5 square)
FOOTPRINT_PENALTY = 0.05  # relative depth added per cell of footprint offset in the z-buffer (nearest centre wins)
FOOTPRINT_OCCLUDES = 0.5  # a footprint replaces a cell's own point only if that point is over twice as far
SUBCELL_LIMIT = FOOTPRINT_MAX + 1.0  # cells: the farthest a cell's token centre can lie from the cell's own centre


@dataclass
class Warped:
    """Memory seen from a pose: features (F, C, s, s) (zero where empty), mask (F, s, s),
    depth (F, s, s) z-depth of the winning point (0 where empty), coverage (F,) the
    fraction of valid cells per face (what orders face generation), source (F, s, s)
    index of the winning point (-1 where empty), depth_scale (F, s, s) its distance now over
    its distance from the camera that wrote it (when the warp was told the latter), and
    writer_offset (F, s, s) how far the viewer stands from that camera (0 where empty; when
    the warp knows the writers): 0 means the cell is seen from where it was written.
    subcell (F, 2, s, s) is where the winning token's centre lands relative to the cell's
    centre, in cells along the face's x and y (0 where empty): what moving whole cells
    lost, the part of a cell by which the content should shift."""

    features: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    coverage: torch.Tensor
    source: torch.Tensor
    depth_scale: torch.Tensor | None = None  # (F, s, s) viewer / writer distance of each cell's token
    writer_offset: torch.Tensor | None = None  # (F, s, s) metres from the viewer to each cell's writer
    subcell: torch.Tensor | None = None  # (F, 2, s, s) token centre minus cell centre, in cells

    def decoded_depth_scale(self) -> torch.Tensor:
        """(F, s, s): what to multiply the depth decoded from the warped latents by. A latent
        encodes disparity as its writer saw it, so a token seen from elsewhere decodes to the
        writer's depth; 1 where unknown or empty."""
        if self.depth_scale is None:
            return torch.ones_like(self.depth)
        return torch.where(self.mask, self.depth_scale, torch.ones_like(self.depth_scale))

    def near_over_depth(self, near: float) -> torch.Tensor:
        """(F, s, s): near / z of each covered cell, 1 at `near` or closer, 0 where empty."""
        return torch.where(self.mask, near / self.depth.clamp_min(near), 0.0)


def _check_points(positions: torch.Tensor, features: torch.Tensor, extent: torch.Tensor | None) -> None:
    if positions.ndim != 2 or positions.shape[1] != 3 or features.shape[:1] != positions.shape[:1] or features.ndim != 2:
        raise ValueError(f"positions must be (N, 3) and features (N, C); got {tuple(positions.shape)} and {tuple(features.shape)}")
    if extent is not None and extent.shape != positions.shape[:1]:
        raise ValueError(f"extent must be (N={positions.shape[0]},), got {tuple(extent.shape)}")


def _footprint_samples(body: torch.Tensor, rotations: torch.Tensor, size: int,
                       extent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Body-frame sample points (M, 3) covering each point's footprint, the point each came
    from (M,) and its distance in cells from that point's own cell (M,) (0 for itself)."""
    face, local = face_local(body, rotations)
    depth = local[:, 2]
    cell = 2.0 / size  # a cell's width on the face plane at depth 1
    half_side = 0.5 * extent / (depth.clamp_min(NEAR) * cell)  # footprint half side in cells (N,)
    reach = (half_side + 0.5).floor().clamp(0, FOOTPRINT_MAX)  # (N,)
    steps = torch.arange(-FOOTPRINT_MAX, FOOTPRINT_MAX + 1, dtype=body.dtype, device=body.device)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    dx, dy = dx.flatten(), dy.flatten()  # (K,)
    ring = torch.maximum(dx.abs(), dy.abs())  # (K,)
    keep = ring[None, :] <= reach[:, None]  # (N, K)
    source, k = keep.nonzero(as_tuple=True)
    # each face's K offsets along its camera x and y axes, in the body frame (F, K, 3): one
    # small table gathered per sample instead of a rotation per sample
    offsets = dx[None, :, None] * rotations[:, None, :, 0] + dy[None, :, None] * rotations[:, None, :, 1]
    shift = offsets[face[source], k] * (cell * depth[source, None])
    return body[source] + shift, source, (dx[k] ** 2 + dy[k] ** 2).sqrt()


def _subcell_offset(centres: torch.Tensor, winner: torch.Tensor, rotations: torch.Tensor, size: int) -> torch.Tensor:
    """(F, 2, s, s): where each cell's winning point (centres (N, 3) body frame, winner
    (F*s*s,) index, -1 where empty) projects on the cell's face, minus the cell's centre,
    in cells, within +-SUBCELL_LIMIT; 0 where empty."""
    faces = rotations.shape[0]
    cells = torch.arange(faces * size * size, device=centres.device)
    face, row, col = cells // (size * size), (cells // size) % size, cells % size
    local = torch.einsum("mji,mj->mi", rotations[face], centres[winner.clamp_min(0)])  # R_f^T p, (M, 3)
    z = local[:, 2].clamp_min(1e-6)  # a centre behind the face's plane is as far off as allowed
    x = (local[:, 0] / z + 1) / 2 * size - 0.5 - col
    y = (local[:, 1] / z + 1) / 2 * size - 0.5 - row
    offset = torch.stack([x, y], dim=1).clamp(-SUBCELL_LIMIT, SUBCELL_LIMIT)  # (M, 2)
    offset = torch.where((winner >= 0)[:, None], offset, 0.0)
    return offset.reshape(faces, size, size, 2).permute(0, 3, 1, 2)


def warp_points(positions: torch.Tensor, features: torch.Tensor, pose: torch.Tensor, rotations: torch.Tensor,
                size: int, backend: str = "auto", extent: torch.Tensor | None = None,
                writer_distance: torch.Tensor | None = None) -> Warped:
    """Splat points (N, 3) with features (N, C) into the faces of body pose (4, 4); with
    `extent` (N,) (metres of surface each point stands for), each covers its footprint;
    with `writer_distance` (N,) (each point's distance from the camera that wrote it), the
    warp also says how far each cell's point is now relative to then (depth_scale)."""
    check_rotations(rotations)
    check_pose(pose)
    _check_points(positions, features, extent)
    if writer_distance is not None and writer_distance.shape != positions.shape[:1]:
        raise ValueError(f"writer_distance must be (N={positions.shape[0]},), got {tuple(writer_distance.shape)}")
    faces = rotations.shape[0]
    rotations = rotations.float()
    body = (positions.float() - pose[:3, 3].float()) @ pose[:3, :3].float()  # R^T (p - t), (N, 3)
    ratio = None if writer_distance is None else body.norm(dim=-1) / writer_distance.float().to(body.device).clamp_min(NEAR)
    centres = body
    if extent is None:
        source, offset = torch.arange(len(body), device=body.device), torch.zeros(len(body), device=body.device)
    else:
        body, source, offset = _footprint_samples(body, rotations, size, extent.float().to(body.device))
    cell, depth = project_to_cells(body, rotations, size)
    cell = torch.where(depth > NEAR, cell, torch.full_like(cell, -1))
    depth = torch.where(depth > NEAR, depth, torch.ones_like(depth))
    grid = (faces, size, size)
    # splat only which sample wins each cell (its depth rides along as the one feature): the
    # winners' features are gathered afterwards, a cell each, not a row per footprint sample
    own = splat(torch.where(offset == 0, cell, -1), depth.float(), depth[:, None].float(), faces * size * size,
                backend=backend)  # every point in its own cell
    if len(source) == 0:
        return Warped(features.new_zeros(faces, features.shape[1], size, size), own.mask.reshape(grid),
                      own.depth.reshape(grid), torch.zeros(faces, device=body.device), own.index.reshape(grid),
                      depth_scale=None if ratio is None else torch.zeros(grid, device=body.device),
                      subcell=torch.zeros(faces, 2, size, size, device=body.device))
    sample, cell_depth, mask = own.index, own.depth, own.mask
    if extent is not None:  # footprints fill the cells no point landed in, and occlude clearly farther ones
        spread = splat(torch.where(offset > 0, cell, -1), (depth * (1 + FOOTPRINT_PENALTY * offset)).float(),
                       depth[:, None].float(), faces * size * size, backend=backend)
        spread_depth = spread.features[:, 0]  # the winner's own depth, without the penalty it won by
        take = spread.mask & (~mask | (spread_depth < cell_depth * FOOTPRINT_OCCLUDES))
        sample = torch.where(take, spread.index, sample)
        cell_depth = torch.where(take, spread_depth, cell_depth)
        mask = mask | take
    winner = torch.where(mask, source[sample.clamp_min(0)], -1)
    cell_features = torch.where(mask[:, None], features[winner.clamp_min(0)], 0)
    depth_scale = None if ratio is None else torch.where(mask, ratio[winner.clamp_min(0)], 0.0).reshape(grid)
    mask = mask.reshape(grid)
    return Warped(
        features=cell_features.reshape(faces, size, size, -1).permute(0, 3, 1, 2),
        mask=mask, depth=cell_depth.reshape(grid), coverage=mask.float().mean(dim=(1, 2)), source=winner.reshape(grid),
        depth_scale=depth_scale, subcell=_subcell_offset(centres, winner, rotations, size),
    )


def writer_origins(memory: LatentMemory, rows: torch.Tensor) -> torch.Tensor:
    """Where the camera of the frame that wrote each token (rows (N,)) stood, (N, 3)."""
    frames = memory.frames()
    ids, order = frames["frame_id"].to(memory.device).sort()
    if len(ids) == 0:
        return memory.table.columns_at(rows, "position")  # no frames recorded: as if written from where they lie
    written_by = memory.table.columns_at(rows, "frame").to(ids.dtype)
    writer = torch.searchsorted(ids, written_by).clamp_max(len(ids) - 1)
    return frames["frame_pose"].to(memory.device)[order[writer], :3, 3]


def token_extent(distance: torch.Tensor, size: int, voxel_size: float) -> torch.Tensor:
    """Metres of surface a token stands for: the width of the latent cell it was lifted from
    (its `distance` from the writing camera times a cell's angle on a face of `size` cells),
    and at least the memory's voxel, which fuses cells into one token."""
    return torch.clamp_min(distance * (2.0 / size), voxel_size)


def warp_memory(memory: LatentMemory, pose: torch.Tensor, rotations: torch.Tensor, size: int,
                radius: float = 12.0, backend: str = "auto", retrieval: str = "radius",
                footprint: bool = False) -> tuple[Warped, torch.Tensor]:
    """Query the tokens within `radius` of the camera that the `retrieval` policy reads
    (memory.index.retrieve) and warp them into its faces; with `footprint`, each token
    covers the cells its patch of surface spans (no cracks).

    Returns the warp and the memory rows of the queried tokens (`source` indexes them).
    """
    check_pose(pose)
    rows = retrieve(memory, pose, radius, retrieval)
    positions = memory.table.columns_at(rows, "position")
    features = memory.table.columns_at(rows, "feature")
    origins = writer_origins(memory, rows)
    distance = (positions - origins).norm(dim=-1)
    extent = token_extent(distance, size, memory.voxel_size) if footprint else None
    warped = warp_points(positions, features, pose.to(memory.device), rotations.to(memory.device), size, backend, extent,
                         distance)
    offset = (origins - pose[:3, 3].to(origins)).norm(dim=-1)  # (N,)
    warped.writer_offset = torch.where(warped.mask, offset[warped.source.clamp_min(0)] if len(offset) else 0.0, 0.0)
    return warped, rows
