"""Users' mesh files as they come: textured OBJ+MTL, z-up, scene graphs, plain materials, errors."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import MeshScene, render_cubemaps
from worldengine.scenes.mesh_surface import FLAT, NONE, TEXTURE, barycentric, sample_texture
from worldengine.scenes.sample_mesh import COLOURS, PLAZA_HALF, TEXTURE_SIZE, UV_PERIOD, write_sample_scene


@pytest.fixture(scope="module")
def plaza_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plaza")
    return {up: write_sample_scene(folder / up, up=up, ground_cells=4) for up in ("y", "z")}


def _texel_points(rows, cols, period_shift=0):
    """Ground points (N, 3) whose UVs are the centres of texels (row, col); `period_shift`
    moves them one texture repeat over (UVs repeat)."""
    u = (np.asarray(cols) + 0.5) / TEXTURE_SIZE + period_shift
    v = 1 - (np.asarray(rows) + 0.5) / TEXTURE_SIZE + period_shift
    x, z = u * UV_PERIOD - PLAZA_HALF, v * UV_PERIOD - PLAZA_HALF
    return torch.tensor(np.stack([x, np.zeros_like(x), z], -1))


def _ground_triangles(scene, points):
    origins = points + torch.tensor([0.0, 1.0, 0.0], dtype=points.dtype)
    hits = scene.cast(origins, torch.tensor([[0.0, -1.0, 0.0]], dtype=points.dtype).expand_as(points))
    assert torch.allclose(hits.t.double(), torch.ones(len(points), dtype=torch.float64), atol=1e-4)
    return hits.primitive


@pytest.mark.parametrize("up", ["y", "z"])
def test_texture_is_read_back_per_pixel_at_known_uvs(plaza_files, up):
    scene = MeshScene(plaza_files[up], up=up)
    image = iio.imread(plaza_files[up].parent / "ground.png")  # the file, read independently
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, TEXTURE_SIZE, 40), rng.integers(0, TEXTURE_SIZE, 40)
    for shift in (0, 1):  # the ground's UVs run past 1: the texture repeats
        points = _texel_points(rows, cols, shift)
        colour, uncoloured = scene.surface.colours(points, _ground_triangles(scene, points))
        assert not uncoloured.any()
        expected = torch.tensor(image[rows, cols, :3] / 255.0, dtype=torch.float32)
        torch.testing.assert_close(colour, expected, atol=1e-4, rtol=0)


def test_one_ground_triangle_shows_many_texels(tmp_path):
    path = write_sample_scene(tmp_path, up="z", ground_cells=1)  # the ground is 2 triangles
    scene = MeshScene(path, up="z")
    down = pose_from_yaw_pitch(torch.tensor([-4.0, 1.5, -4.0]), 0.0, 0.0)
    floor = render_cubemaps(scene, down, 64).rgb[5].reshape(-1, 3)  # the face looking down
    assert len(torch.unique(floor, dim=0)) > 500  # per pixel, not one colour per triangle


def test_plain_materials_keep_their_colours(plaza_files):
    scene = MeshScene(plaza_files["y"])
    kinds = np.bincount(scene.surface.kind, minlength=4)
    assert kinds[TEXTURE] == 2 * 4 * 4 and kinds[FLAT] > 0 and kinds[NONE] == 0
    flat = np.unique(scene.surface.flat[scene.surface.kind == FLAT], axis=0)
    expected = np.unique(np.array(list(COLOURS.values())), axis=0)
    np.testing.assert_allclose(flat, expected, atol=1 / 255)  # Kd, through trimesh's 8-bit colours


def test_z_up_file_turns_into_the_y_up_scene(plaza_files):
    y_up, z_up = MeshScene(plaza_files["y"]), MeshScene(plaza_files["z"], up="z")
    np.testing.assert_allclose(z_up.surface.vertices, y_up.surface.vertices, atol=1e-5)
    np.testing.assert_allclose(z_up.bounds[0][1], 0.0, atol=1e-6)  # the ground is at y = 0 either way


def test_z_up_file_read_as_y_up_warns(plaza_files, recwarn):
    with pytest.warns(UserWarning, match="looks z-up"):
        MeshScene(plaza_files["z"], up="y")
    MeshScene(plaza_files["y"], up="y")
    MeshScene(plaza_files["z"], up="z")
    assert not [w for w in recwarn if "looks z-up" in str(w.message)]  # no false alarm


def test_a_mesh_with_no_floor_says_so(tmp_path):
    wall = trimesh.creation.box(extents=(4.0, 3.0, 0.1))  # a free-standing wall: nowhere to stand
    wall.apply_translation((0, 1.5, 0))
    path = tmp_path / "wall.ply"
    wall.export(path)
    with pytest.raises(ValueError, match=r"wall\.ply: no walkable floor.*mesh_up='z'.*mesh_scale"):
        MeshScene(path).grid


def test_scale_converts_units(tmp_path):
    box = trimesh.creation.box(extents=(100.0, 10.0, 100.0))  # centimetres
    box.apply_translation((0, -5.0, 0))
    path = tmp_path / "cm.ply"
    box.export(path)
    scene = MeshScene(path, scale=0.01)
    np.testing.assert_allclose(scene.bounds[1] - scene.bounds[0], [1.0, 0.1, 1.0], atol=1e-6)


def test_glb_scene_graph_with_several_geometries(tmp_path):
    """Three geometries, one used twice under different transforms: a textured floor (PBR,
    base colour factor), a red box by face colours, and plain-material boxes."""
    floor = trimesh.creation.box(extents=(8.0, 0.2, 8.0))
    texture = np.zeros((4, 4, 3), np.uint8)
    texture[:, :] = (0, 200, 0)
    uv = (floor.vertices[:, [0, 2]] + 4) / 8
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texture),
                                                   baseColorFactor=[255, 255, 255, 255])
    floor.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    red = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    red.visual.face_colors = (255, 0, 0, 255)
    plain = trimesh.creation.box(extents=(0.5, 2.0, 0.5))
    plain.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(baseColorFactor=[0, 0, 255, 255]))
    graph = trimesh.Scene()
    graph.add_geometry(floor, node_name="floor", transform=trimesh.transformations.translation_matrix((0, -0.1, 0)))
    graph.add_geometry(red, node_name="red", transform=trimesh.transformations.translation_matrix((2, 0.5, 0)))
    for k, x in enumerate((-2.0, -3.0)):
        graph.add_geometry(plain, geom_name="pillar", node_name=f"pillar{k}",
                           transform=trimesh.transformations.translation_matrix((x, 1.0, 2.0)))
    path = tmp_path / "yard.glb"
    graph.export(path)
    scene = MeshScene(path)
    assert len(scene.surface.triangles) == 4 * 12  # four instances of boxes
    np.testing.assert_allclose(scene.bounds[0], [-4.0, -0.2, -4.0], atol=1e-5)
    np.testing.assert_allclose(scene.bounds[1], [4.0, 2.0, 4.0], atol=1e-5)

    def colour_at(origin, direction):
        origin = torch.tensor([origin], dtype=torch.float64)
        direction = torch.tensor([direction], dtype=torch.float64)
        hits = scene.cast(origin, direction)
        return scene.surface.colours(origin + hits.t[:, None].double() * direction, hits.primitive)[0][0]

    torch.testing.assert_close(colour_at((0, 1, 0), (0, -1, 0)), torch.tensor([0, 200 / 255, 0]), atol=1e-3, rtol=0)
    torch.testing.assert_close(colour_at((2, 3, 0), (0, -1, 0)), torch.tensor([1.0, 0, 0]), atol=1e-3, rtol=0)
    for x in (-2.0, -3.0):  # both instances, where their transforms put them
        torch.testing.assert_close(colour_at((x, 3, 2), (0, -1, 0)), torch.tensor([0, 0, 1.0]), atol=1e-3, rtol=0)


@pytest.mark.parametrize("content, message", [
    ("this is not a mesh\n", "bad.obj"),
    ("v 0 0 0\nv 1 0 0\n", "bad.obj holds no triangles"),
])
def test_unreadable_files_are_named(tmp_path, content, message):
    bad = tmp_path / "bad.obj"
    bad.write_text(content)
    with pytest.raises(ValueError, match=message):
        MeshScene(bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"up": "x"}, "mesh_up must be one of"),
    ({"scale": 0.0}, "mesh_scale must be a positive number"),
    ({"scale": float("nan")}, "mesh_scale must be a positive number"),
])
def test_bad_options_are_named(plaza_files, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MeshScene(plaza_files["y"], **kwargs)


def test_missing_texture_falls_back_to_the_material_colour(tmp_path):
    path = write_sample_scene(tmp_path, ground_cells=2)
    (tmp_path / "ground.png").unlink()
    scene = MeshScene(path)  # loads: the ground keeps its Kd colour
    assert not (scene.surface.kind == TEXTURE).any()
    points = _texel_points([5, 90], [7, 100])
    colour, _ = scene.surface.colours(points, _ground_triangles(scene, points))
    torch.testing.assert_close(colour, torch.ones(2, 3))


def test_barycentric_and_bilinear_known_answers():
    corners = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 0, 1]]], dtype=torch.float64)
    points = torch.tensor([[0.0, 0, 0], [0.25, 0, 0.5], [1 / 3, 0, 1 / 3]], dtype=torch.float64)
    weights = barycentric(points, corners.expand(3, 3, 3))
    expected = torch.tensor([[1.0, 0, 0], [0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    torch.testing.assert_close(weights, expected)
    image = torch.tensor([[[0, 0, 0], [100, 0, 0]], [[0, 200, 0], [100, 200, 0]]], dtype=torch.uint8)
    # v = 1 is the top row; half-way between the four texel centres is their mean
    sample = sample_texture(image, torch.tensor([[0.5, 0.5], [0.25, 0.75]], dtype=torch.float64))
    torch.testing.assert_close(sample, torch.tensor([[50, 100, 0], [0, 0, 0]], dtype=torch.float32) / 255)
