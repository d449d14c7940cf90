import numpy as np
import pytest
import torch

from worldengine.geometry.cube import cubemap_to_points
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import ProceduralScene, render_cubemaps

D_FACE, U_FACE = 5, 4


def _free_pose(scene, seed, pitch=0.0):
    rng = np.random.default_rng(seed)
    position = torch.as_tensor(scene.sample_free_position(rng), dtype=torch.float32)
    return pose_from_yaw_pitch(position, float(rng.uniform(-np.pi, np.pi)), pitch, dtype=torch.float32)


@pytest.mark.parametrize("backend", ["open3d", "torch"])
def test_floor_and_ceiling_depth_are_known(backend):
    # A horizontal plane is perpendicular to the D and U cameras' axes: its z-depth is
    # the same on every pixel that sees it.
    scene = ProceduralScene(1, "room")
    pose = _free_pose(scene, 0)
    frame = render_cubemaps(scene, pose, 32, backend)
    floor, ceiling = frame.primitive[D_FACE] == 0, frame.primitive[U_FACE] == 1
    assert floor.float().mean() > 0.5 and ceiling.float().mean() > 0.5
    torch.testing.assert_close(frame.depth[D_FACE][floor], torch.full_like(frame.depth[D_FACE][floor], 1.5), atol=1e-4, rtol=0)
    expected = scene.layout.height - 1.5
    torch.testing.assert_close(frame.depth[U_FACE][ceiling], torch.full_like(frame.depth[U_FACE][ceiling], expected), atol=1e-4, rtol=0)


def test_back_projected_floor_lies_on_the_floor():
    scene = ProceduralScene(2, "corridor")
    pose = _free_pose(scene, 1, pitch=0.3)
    frame = render_cubemaps(scene, pose, 32)
    points, valid = cubemap_to_points(frame.depth, pose)
    floor = (frame.primitive == 0) & valid
    assert floor.sum() > 100
    assert points[floor][:, 1].abs().max() < 1e-3


@pytest.mark.parametrize("seed", [0, 4, 11])
def test_open3d_and_analytic_torch_paths_agree(seed):
    scene = ProceduralScene(seed)
    poses = torch.stack([_free_pose(scene, k, pitch=0.2 * k - 0.2) for k in range(3)])
    a = render_cubemaps(scene, poses, 48, "open3d")
    b = render_cubemaps(scene, poses, 48, "torch")
    same = a.primitive == b.primitive
    assert same.float().mean() > 0.97  # differences: tessellated silhouettes, coplanar wall overlaps
    hit = same & (b.depth > 0)
    relative = ((a.depth - b.depth).abs() / b.depth)[hit]
    assert relative.median() < 1e-5 and torch.quantile(relative, 0.99) < 1e-2
    mse = ((a.rgb.float() - b.rgb.float()) ** 2).mean()
    assert 10 * torch.log10(255 ** 2 / mse) > 30


def test_same_pose_renders_identically_and_batches_match_singles():
    scene = ProceduralScene(5)
    poses = torch.stack([_free_pose(scene, k) for k in range(2)])
    batch = render_cubemaps(scene, poses, 24)
    for k in range(2):
        single = render_cubemaps(scene, poses[k], 24)
        # Batched ray directions round differently in the last bit; colours may move by 1.
        torch.testing.assert_close(single.depth, batch.depth[k], atol=1e-5, rtol=1e-6)
        assert (single.rgb.int() - batch.rgb[k].int()).abs().max() <= 1
    again = render_cubemaps(ProceduralScene(5), poses, 24)
    assert torch.equal(again.rgb, batch.rgb) and torch.equal(again.depth, batch.depth)


def test_shapes_and_dtypes():
    scene = ProceduralScene(0)
    frame = render_cubemaps(scene, _free_pose(scene, 0), 16)
    assert frame.rgb.shape == (6, 16, 16, 3) and frame.rgb.dtype == torch.uint8
    assert frame.depth.shape == (6, 16, 16) and frame.depth.dtype == torch.float32
    assert (frame.depth >= 0).all()


def test_courtyard_sky_has_zero_depth():
    scene = ProceduralScene(3, "courtyard")
    frame = render_cubemaps(scene, _free_pose(scene, 0), 16)
    sky = frame.primitive[U_FACE] < 0
    assert sky.float().mean() > 0.5
    assert (frame.depth[U_FACE][sky] == 0).all()


def test_bad_inputs():
    scene = ProceduralScene(0)
    pose = _free_pose(scene, 0)
    with pytest.raises(ValueError, match="face size must be a positive int"):
        render_cubemaps(scene, pose, 0)
    scaled = pose.clone()
    scaled[:3, :3] *= 2
    with pytest.raises(ValueError, match="not a rigid transform|scaled"):
        render_cubemaps(scene, scaled, 8)
    with pytest.raises(ValueError, match="unknown render backend 'vulkan'"):
        render_cubemaps(scene, pose, 8, "vulkan")
