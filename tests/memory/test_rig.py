import torch

from memory.rig import cell_rays, face_local, project_to_cells
from worldengine.geometry.cube import direction_to_face, face_rays, face_rotations


def test_cell_rays_are_the_engines_face_rays():
    torch.testing.assert_close(cell_rays(face_rotations(torch.float64), 16), face_rays(16, torch.float64))


def test_projection_agrees_with_the_engine():
    directions = torch.randn(5000, 3, dtype=torch.float64)
    size = 16
    cell, z = project_to_cells(directions, face_rotations(torch.float64), size)
    face, x, y = direction_to_face(directions)
    col = torch.floor((x + 1) / 2 * size).clamp(0, size - 1).long()
    row = torch.floor((y + 1) / 2 * size).clamp(0, size - 1).long()
    assert torch.equal(cell, (face * size + row) * size + col)
    assert (z > 0).all()


def test_cell_centres_project_to_their_own_cells():
    size = 8
    rays = cell_rays(face_rotations(), size).reshape(-1, 3) * 3.0
    cell, z = project_to_cells(rays, face_rotations(), size)
    assert torch.equal(cell, torch.arange(6 * size * size))
    torch.testing.assert_close(z, torch.full_like(z, 3.0))


def test_face_local_is_the_point_in_its_face_camera_with_z_largest():
    rotations = face_rotations(torch.float64)
    points = torch.randn(2000, 3, dtype=torch.float64) * 4
    face, local = face_local(points, rotations)
    torch.testing.assert_close(local, torch.einsum("nji,nj->ni", rotations[face], points))  # R_f^T p
    assert (local[:, 2] >= local[:, :2].abs().amax(dim=1) - 1e-12).all()
    axis = torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64) @ rotations[3].T  # straight down face 3's axis
    assert face_local(axis, rotations)[0].item() == 3
