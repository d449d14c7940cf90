import numpy as np
import pytest
import torch
import trimesh

from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import MeshScene, render_cubemaps


def _room_file(tmp_path, suffix, coloured=True):
    """A closed 6 x 3 x 8 m room (floor at y = 0) with a red pillar box, as a mesh file."""
    room = trimesh.creation.box(extents=(6.0, 3.0, 8.0))
    room.apply_translation((0, 1.5, 0))
    room.invert()  # normals point inwards: we look at it from inside
    pillar = trimesh.creation.box(extents=(0.5, 3.0, 0.5))
    pillar.apply_translation((1.0, 1.5, -2.0))
    if coloured:
        room.visual.face_colors = (200, 200, 200, 255)
        pillar.visual.face_colors = (255, 0, 0, 255)
    path = tmp_path / f"room{suffix}"
    trimesh.util.concatenate([room, pillar]).export(path)
    return path


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".obj"])
def test_users_mesh_renders_with_known_depth(tmp_path, suffix):
    scene = MeshScene(_room_file(tmp_path, suffix))
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.0, 0.0)
    frame = render_cubemaps(scene, pose, 32)
    assert (frame.depth > 0).all()  # closed room: every ray hits
    torch.testing.assert_close(frame.depth[5], torch.full((32, 32), 1.5), atol=1e-4, rtol=0)  # floor
    torch.testing.assert_close(frame.depth[4], torch.full((32, 32), 1.5), atol=1e-4, rtol=0)  # ceiling
    # F looks along -z from (0, 1.5, 0): a ray (x, y, 1) meets the front wall at z-depth 4,
    # a side wall at 3 / |x|, floor or ceiling at 1.5 / |y|; the pillar (near face at
    # z-depth 1.75) hides part of that.
    coords = (2 * torch.arange(32) + 1) / 32 - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    expected = torch.minimum(torch.minimum(torch.full_like(x, 4.0), 3 / x.abs()), 1.5 / y.abs())
    front = frame.depth[0]
    matches = torch.isclose(front, expected, atol=1e-4, rtol=1e-5)
    assert matches.float().mean() > 0.8  # the pillar covers about 15% of the face
    assert (front[~matches] < expected[~matches]).all()  # only the pillar differs, and it is nearer
    assert torch.isclose(front, torch.tensor(1.75), atol=1e-4).any()


def test_mesh_colours_are_used(tmp_path):
    scene = MeshScene(_room_file(tmp_path, ".ply"))
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.0, 0.0)
    rgb = render_cubemaps(scene, pose, 32).rgb[0].int()
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 40) & (rgb[..., 2] < 40)
    assert red.any()


def test_uncoloured_mesh_gets_a_pattern(tmp_path):
    scene = MeshScene(_room_file(tmp_path, ".stl", coloured=False))
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.0, 0.0)
    rgb = render_cubemaps(scene, pose, 32).rgb[5]
    assert rgb.float().std() > 10  # a textured floor, not a flat colour


def test_free_space_of_a_mesh(tmp_path):
    scene = MeshScene(_room_file(tmp_path, ".ply"))
    free = scene.is_free(np.array([[0.0, 1.5, 0.0], [1.0, 1.5, -2.0], [2.9, 1.5, 0.0], [10.0, 1.5, 0.0]]))
    assert free.tolist() == [True, False, False, False]  # centre; in the pillar; at a wall; outside


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="mesh file not found"):
        MeshScene(tmp_path / "nope.glb")
    bad = tmp_path / "bad.obj"
    bad.write_text("this is not a mesh\n")
    with pytest.raises(ValueError, match="bad.obj"):
        MeshScene(bad)


def test_mesh_scene_has_no_torch_backend(tmp_path):
    scene = MeshScene(_room_file(tmp_path, ".ply"))
    pose = pose_from_yaw_pitch(torch.tensor([0.0, 1.5, 0.0]), 0.0, 0.0)
    with pytest.raises(ValueError, match="cannot render with 'torch'"):
        render_cubemaps(scene, pose, 8, "torch")
