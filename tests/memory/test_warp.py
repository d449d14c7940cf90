import pytest
import torch

from memory.store import LatentMemory
from memory.warp import warp_memory, warp_points
from worldengine.geometry.cube import face_rotations, project_points
from worldengine.geometry.pose import compose, pose_from_yaw_pitch

R = face_rotations()


def _valid_cells(depth, latent):
    """Latent cells whose block has >= 50% valid depth, as backproject keeps them."""
    k = depth.shape[-1] // latent
    return torch.nn.functional.avg_pool2d((depth > 0).float()[:, None], k)[:, 0] >= 0.5


def test_same_pose_round_trip_returns_every_cell_its_own_feature(room):
    pose = room.pose(0)
    features = torch.randn(1, 6, 8, room.latent, room.latent)
    points, frame = room.points(pose, 0, features)
    warped = warp_points(points.positions, points.features, pose, R, room.latent)
    valid = _valid_cells(frame.depth, room.latent)
    assert torch.equal(warped.mask, valid) and valid.float().mean() > 0.9
    assert torch.equal(warped.features.permute(0, 2, 3, 1)[valid], features[0].permute(0, 2, 3, 1)[valid])
    torch.testing.assert_close(warped.coverage, valid.float().mean(dim=(1, 2)))


def test_round_trip_through_the_store(room, tmp_path):
    # A voxel finer than the cells' spacing keeps every cell its own token.
    pose = room.pose(1)
    features = torch.randn(1, 6, 4, room.latent, room.latent).half().float()
    points, frame = room.points(pose, 0, features)
    memory = LatentMemory.create(str(tmp_path / "m"), channels=4, voxel_size=0.01)
    memory.write(points, 0, pose, 0.0)
    assert len(memory) == len(points)
    warped, rows = warp_memory(memory, pose, R, room.latent, radius=30.0)
    valid = _valid_cells(frame.depth, room.latent)
    assert torch.equal(warped.mask, valid)
    assert torch.equal(warped.features.permute(0, 2, 3, 1)[valid].float(), features[0].permute(0, 2, 3, 1)[valid])


def test_nearby_pose_mask_matches_visibility(room):
    """Warp the first view's points to a pose 0.5 m away: the warped cells must be cells
    the ground truth shows to be visible from the first view, at the right depth."""
    pose_a = room.pose(2)
    step = pose_from_yaw_pitch(torch.tensor([0.3, 0.0, -0.4]), 0.4, 0.0)
    pose_b = compose(pose_a, step)
    assert room.scene.is_free(pose_b[:3, 3].numpy()[None])[0]
    points, frame_a = room.points(pose_a, 0)
    latent = room.latent
    warped = warp_points(points.positions, points.features, pose_b, R, latent)

    # Ground truth at B: each cell's surface point (median depth, as backproject takes it),
    # seen from A: visible there if A's depth along that direction agrees.
    points_b, frame_b = room.points(pose_b, 1)
    cells_b = _valid_cells(frame_b.depth, latent)
    face, x, y, z = project_points(points_b.positions, pose_a)
    size = frame_a.depth.shape[-1]
    col = ((x + 1) / 2 * size).floor().clamp(0, size - 1).long()
    row = ((y + 1) / 2 * size).floor().clamp(0, size - 1).long()
    seen_from_a = (frame_a.depth[face, row, col] - z).abs() < 0.1 * z  # 10%: one-pixel lookups on grazing floors
    visible = torch.zeros_like(cells_b)
    visible[cells_b] = seen_from_a

    precision = (warped.mask & visible).sum() / warped.mask.sum()
    recall = (warped.mask & visible).sum() / visible.sum()
    assert precision > 0.9, precision  # warped cells are cells A really saw
    assert recall > 0.6, recall  # splatting one point per cell leaves some holes when moving closer
    depth_b = _cell_depth(frame_b.depth, latent)
    both = warped.mask & visible
    relative = ((warped.depth - depth_b).abs() / depth_b)[both]
    assert relative.median() < 0.1


def _cell_depth(depth, latent):
    k = depth.shape[-1] // latent
    blocks = depth.reshape(6, latent, k, latent, k).permute(0, 1, 3, 2, 4).reshape(6, latent, latent, k * k)
    return blocks.median(dim=-1).values


def test_points_behind_or_at_the_camera_are_ignored():
    positions = torch.tensor([[0.0, 0.0, -2.0], [0.0, 0.0, -0.01], [0.0, 0.0, 0.0]])
    warped = warp_points(positions, torch.ones(3, 1), torch.eye(4), R, 4)
    assert warped.mask.sum() == 1 and warped.mask[0].sum() == 1  # only the point 2 m ahead, on F
    assert warped.depth[warped.mask].item() == pytest.approx(2.0)


def test_nearest_point_wins():
    positions = torch.tensor([[0.0, 0.0, -3.0], [0.0, 0.0, -1.0], [0.0, 0.0, -2.0]])
    warped = warp_points(positions, torch.tensor([[3.0], [1.0], [2.0]]), torch.eye(4), R, 2)
    assert warped.features[warped.mask.unsqueeze(1).expand_as(warped.features)].tolist() == [1.0]


def test_bad_inputs():
    with pytest.raises(ValueError, match="positions must be"):
        warp_points(torch.zeros(3, 2), torch.zeros(3, 1), torch.eye(4), R, 4)
    with pytest.raises(ValueError, match="rigid"):
        warp_points(torch.zeros(3, 3), torch.zeros(3, 1), torch.eye(4) * 3, R, 4)
    with pytest.raises(ValueError, match="face rotations"):
        warp_points(torch.zeros(3, 3), torch.zeros(3, 1), torch.eye(4), torch.eye(3), 4)


def _extent(points, pose, latent):
    """Each point's footprint as the store computes it: the width of its cell where it was written."""
    return (points.positions - pose[:3, 3]).norm(dim=-1) * (2.0 / latent)


def test_footprint_leaves_no_cracks_where_the_point_splat_does(room, tmp_path):
    """Fused into voxels coarser than the near cells and read back at the writing pose, and
    again 0.25 m closer: the point splat loses cells the view saw; with footprints every seen
    cell is covered."""
    pose = room.pose(3)
    points, frame = room.points(pose, 0)
    memory = LatentMemory.create(str(tmp_path / "m"), channels=points.features.shape[1], voxel_size=0.4)
    memory.write(points, 0, pose, 0.0)
    valid = _valid_cells(frame.depth, room.latent)
    plain, _ = warp_memory(memory, pose, R, room.latent, radius=30.0)
    covered, _ = warp_memory(memory, pose, R, room.latent, radius=30.0, footprint=True)
    assert (valid & ~plain.mask).sum() > 0  # cracks: fused cells lost their own token
    assert not (valid & ~covered.mask).any()  # footprints: none
    closer = compose(pose, pose_from_yaw_pitch(torch.tensor([0.0, 0.0, -0.25]), 0.0, 0.0))
    if room.scene.is_free(closer[:3, 3].numpy()[None])[0]:
        plain, _ = warp_memory(memory, closer, R, room.latent, radius=30.0)
        covered, _ = warp_memory(memory, closer, R, room.latent, radius=30.0, footprint=True)
        assert covered.mask.sum() > plain.mask.sum()


def test_footprint_known_answers():
    """A point 2 m ahead standing for 0.5 m of surface covers the 3 x 3 cells around its own
    at s = 8 (a cell is 0.5 m wide there); a nearer point occludes the footprint, and a
    cell's own point beats a neighbour's footprint at the same depth."""
    ahead = torch.tensor([[0.0, 0.0, -2.0]])
    warped = warp_points(ahead + torch.tensor([[0.1, 0.1, 0.0]]), torch.ones(1, 1), torch.eye(4), R, 8,
                         extent=torch.tensor([0.5]))
    assert warped.mask.sum() == 9 and warped.mask[0].sum() == 9
    assert torch.allclose(warped.depth[warped.mask], torch.tensor(2.0))  # the true depth, not the ranking one
    near = torch.tensor([[0.3, 0.05, -1.0]])  # in the cell right of the centre, twice as close, its own cell only
    both = warp_points(torch.cat([ahead, near]), torch.tensor([[1.0], [2.0]]), torch.eye(4), R, 8,
                       extent=torch.tensor([0.5, 0.01]))
    assert (both.features[0, 0][both.mask[0]] == 2.0).sum() == 1 and both.mask[0].sum() == 9
    centre = torch.tensor([[0.25, -0.25, -2.0], [0.75, -0.25, -2.0]])  # the centres of two cells side by side
    own = warp_points(centre, torch.tensor([[1.0], [2.0]]), torch.eye(4), R, 8, extent=torch.tensor([0.5, 0.5]))
    assert (own.source[0] == 0).sum() == 6 and (own.source[0] == 1).sum() == 6  # each keeps its own column
    with pytest.raises(ValueError, match="extent must be"):
        warp_points(ahead, torch.ones(1, 1), torch.eye(4), R, 8, extent=torch.ones(2))


def test_depth_scale_is_how_far_each_cell_is_now_against_then():
    """A token written from 2 m away and seen from 1 m decodes to its writer's depth: its
    cell says to halve it. Empty cells say 1, and the features are unchanged."""
    ahead = torch.tensor([[0.0, 0.0, -1.0]])
    features = torch.tensor([[0.25]], dtype=torch.float16)
    warped = warp_points(ahead, features, torch.eye(4), R, 8, extent=torch.tensor([0.1]),
                         writer_distance=torch.tensor([2.0]))
    scale = warped.decoded_depth_scale()
    assert torch.allclose(scale[warped.mask], torch.tensor(0.5)) and (scale[~warped.mask] == 1).all()
    assert warped.features.dtype == torch.float16 and (warped.features[warped.mask[:, None]] == 0.25).all()
    plain = warp_points(ahead, features, torch.eye(4), R, 8, extent=torch.tensor([0.1]))
    assert torch.equal(plain.mask, warped.mask) and torch.equal(plain.features, warped.features)


def test_writer_offset_is_how_far_the_viewer_stands_from_each_cells_writer(room, tmp_path):
    """Read at the pose that wrote the tokens, every covered cell is 0 m from its writer;
    read 0.4 m to the side, 0.4 m; empty cells say 0."""
    pose = room.pose(3)
    points, _ = room.points(pose, 0)
    memory = LatentMemory.create(str(tmp_path / "m"), channels=points.features.shape[1], voxel_size=0.03)
    memory.write(points, 0, pose, 0.0)
    here, _ = warp_memory(memory, pose, R, room.latent, radius=30.0, footprint=True)
    assert here.mask.any() and torch.allclose(here.writer_offset, torch.zeros_like(here.writer_offset), atol=1e-5)
    aside = compose(pose, pose_from_yaw_pitch(torch.tensor([0.4, 0.0, 0.0]), 0.0, 0.0))
    there, _ = warp_memory(memory, aside, R, room.latent, radius=30.0, footprint=True)
    assert torch.allclose(there.writer_offset[there.mask], torch.tensor(0.4), atol=1e-4)
    assert (there.writer_offset[~there.mask] == 0).all()


def test_subcell_is_where_the_token_centre_lands_in_its_cell():
    """A point 2 m ahead at (0.1, 0.1) lands 4.2 cells right and 3.8 cells down on F at
    s = 8 (cell col 4, row 3): its own cell says (-0.3, +0.3), the footprint cell to the
    right of it (-1.3, +0.3), the one below (-0.3, -0.7); empty cells say 0."""
    point = torch.tensor([[0.1, 0.1, -2.0]])
    warped = warp_points(point, torch.ones(1, 1), torch.eye(4), R, 8, extent=torch.tensor([0.5]))
    assert warped.subcell.shape == (6, 2, 8, 8)
    torch.testing.assert_close(warped.subcell[0, :, 3, 4], torch.tensor([-0.3, 0.3]))
    torch.testing.assert_close(warped.subcell[0, :, 3, 5], torch.tensor([-1.3, 0.3]))
    torch.testing.assert_close(warped.subcell[0, :, 4, 4], torch.tensor([-0.3, -0.7]))
    assert (warped.subcell.permute(1, 0, 2, 3)[:, ~warped.mask] == 0).all()


def test_subcell_is_zero_at_the_writing_pose_and_follows_a_sidestep(room, tmp_path):
    """Tokens lifted through their cells' centres land on those centres when read where they
    were written; a sidestep moves them by parts of cells, within the footprint's reach."""
    pose = room.pose(3)
    points, _ = room.points(pose, 0)
    memory = LatentMemory.create(str(tmp_path / "m"), channels=points.features.shape[1], voxel_size=0.01)
    memory.write(points, 0, pose, 0.0)
    here, _ = warp_memory(memory, pose, R, room.latent, radius=30.0)
    assert here.mask.any() and here.subcell.abs().max() < 1e-3
    aside = compose(pose, pose_from_yaw_pitch(torch.tensor([0.13, 0.0, 0.0]), 0.0, 0.0))
    there, _ = warp_memory(memory, aside, R, room.latent, radius=30.0, footprint=True)
    moved = there.subcell.permute(1, 0, 2, 3)[:, there.mask]
    assert moved.abs().max() <= 3.0 and (moved.abs() > 0.05).float().mean() > 0.5


def test_every_covered_cell_holds_its_winning_tokens_own_feature_and_depth_ratio():
    # footprints and points mixed: whichever sample wins a cell, the cell's feature, depth
    # scale and subcell offset are those of the token it came from (source), empties zero
    generator = torch.Generator().manual_seed(3)
    directions = torch.nn.functional.normalize(torch.randn(3000, 3, generator=generator), dim=1)
    positions = directions * (0.5 + 6 * torch.rand(3000, 1, generator=generator))
    features = torch.randn(3000, 5, generator=generator).half()
    writer_distance = 0.5 + 4 * torch.rand(3000, generator=generator)
    warped = warp_points(positions, features, torch.eye(4), R, 8, extent=0.05 + torch.rand(3000, generator=generator),
                         writer_distance=writer_distance)
    covered, source = warped.mask, warped.source
    assert covered.float().mean() > 0.9 and ((source >= 0) == covered).all()
    assert torch.equal(warped.features.permute(0, 2, 3, 1)[covered], features[source[covered]])
    assert (warped.features.permute(0, 2, 3, 1)[~covered] == 0).all() and warped.features.dtype == torch.float16
    ratio = positions.norm(dim=1) / writer_distance
    torch.testing.assert_close(warped.depth_scale[covered], ratio[source[covered]])
    assert (warped.depth_scale[~covered] == 0).all()
