"""memory/export.py: PLY + camera trajectory export read back by trimesh and open3d; previews."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import trimesh

from memory.backproject import backproject
from memory.export import export_ply, fill_holes, preview_png
from memory.store import LatentMemory
from worldengine.geometry.cube import face_rotations

ROT = face_rotations()  # (F, 3, 3)
HALF = 2.0  # half side of the cube room, metres
# One colour per wall, in face order F R B L U D (the wall each face sees from an unturned pose).
WALLS = torch.tensor([[220, 30, 30], [30, 200, 30], [30, 30, 220], [230, 200, 20], [20, 210, 210], [200, 30, 200]],
                     dtype=torch.uint8)
UPPER_F = torch.tensor([250, 250, 250], dtype=torch.uint8)  # the upper half of the F wall
CROSS_SLOTS = ((1, 1), (1, 2), (1, 3), (1, 0), (0, 1), (2, 1))  # (row, col) of F R B L U D in the cross


def yaw_pose(quarter_turns: int = 0, position=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Body-to-world pose turned right about +y by quarter turns, at `position`."""
    angle = -np.pi / 2 * quarter_turns  # a right turn is negative about +y
    c, s = np.cos(angle), np.sin(angle)
    pose = torch.eye(4)
    pose[:3, :3] = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=torch.float32)
    pose[:3, 3] = torch.tensor(position, dtype=torch.float32)
    return pose


def new_memory(tmp_path, name="mem"):
    return LatentMemory.create(str(tmp_path / name), channels=4, background=False)


def write_frames(memory, poses, size=4, depth=2.0, seed=0):
    """One backprojected frame per pose: constant depth, random features and colours."""
    gen = torch.Generator().manual_seed(seed)
    for i, pose in enumerate(poses):
        features = torch.randn(1, 6, 4, size, size, generator=gen)
        rgb = torch.randint(0, 256, (1, 6, size, size, 3), generator=gen, dtype=torch.uint8)
        depths = torch.full((1, 6, size, size), depth)
        points = backproject(features, depths, pose[None], ROT, torch.tensor([i]), rgb)
        memory.write(points, frame_id=i, pose=pose, time=float(i))


def room_memory(tmp_path, size=32):
    """A cube room of half side HALF around the origin, seen from the unturned origin pose:
    every face's z-depth is HALF, each wall has its own colour, the F wall's upper half white."""
    memory = new_memory(tmp_path, "room")
    rgb = WALLS[None, :, None, None, :].expand(1, 6, size, size, 3).clone()  # (1, F, s, s, 3)
    rgb[0, 0, : size // 2] = UPPER_F  # F face rows run top (+y) to bottom
    depth = torch.full((1, 6, size, size), HALF)
    features = torch.zeros(1, 6, 4, size, size)
    memory.write(backproject(features, depth, torch.eye(4)[None], ROT, torch.tensor([0]), rgb), 0, torch.eye(4), 0.0)
    return memory


POSES = [yaw_pose(0, (0.0, 0.0, 0.0)), yaw_pose(1, (1.0, 0.0, 0.0)), yaw_pose(2, (1.0, 0.5, -1.5))]


# --------------------------------------------------------------------------- export_ply


def test_export_ply_reads_back_in_trimesh(tmp_path):
    memory = new_memory(tmp_path)
    write_frames(memory, POSES)
    files = export_ply(memory, tmp_path / "cloud.ply")
    assert files.points == tmp_path / "cloud.ply"
    assert files.cameras == tmp_path / "cloud_cameras.ply"
    assert files.trajectory == tmp_path / "cloud_trajectory.json"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "cloud.ply", "cloud_cameras.ply", "cloud_trajectory.json"]  # no temporary files left
    assert files.points.read_bytes().startswith(b"ply\nformat binary_little_endian")

    tokens = memory.tokens()
    cloud = trimesh.load(files.points)
    assert isinstance(cloud, trimesh.PointCloud)
    assert len(cloud.vertices) == len(memory) > 0
    np.testing.assert_allclose(cloud.vertices, tokens["position"].numpy(), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(cloud.colors)[:, :3], tokens["rgb"].numpy())

    cams = trimesh.load(files.cameras)
    assert len(cams.vertices) == len(POSES)
    np.testing.assert_allclose(cams.vertices, torch.stack(POSES)[:, :3, 3].numpy(), atol=1e-6)
    colours = np.asarray(cams.colors)[:, :3].astype(int)
    assert colours[0, 2] > colours[0, 0] and colours[-1, 0] > colours[-1, 2]  # blue first, red last


def test_export_ply_reads_back_in_open3d(tmp_path):
    o3d = pytest.importorskip("open3d")
    memory = new_memory(tmp_path)
    write_frames(memory, POSES)
    files = export_ply(memory, tmp_path / "cloud.ply", face_size=64)

    cloud = o3d.io.read_point_cloud(str(files.points))
    assert len(cloud.points) == len(memory)
    assert cloud.has_colors()
    np.testing.assert_allclose(np.asarray(cloud.colors) * 255, memory.tokens()["rgb"].numpy(), atol=1e-3)
    assert len(o3d.io.read_point_cloud(str(files.cameras)).points) == len(POSES)

    trajectory = o3d.io.read_pinhole_camera_trajectory(str(files.trajectory))
    assert len(trajectory.parameters) == len(POSES)
    flip = np.diag([1.0, -1.0, -1.0])
    for params, pose in zip(trajectory.parameters, POSES):
        camera_to_world = np.linalg.inv(params.extrinsic)
        np.testing.assert_allclose(camera_to_world[:3, 3], pose[:3, 3].numpy(), atol=1e-6)
        np.testing.assert_allclose(camera_to_world[:3, :3], pose[:3, :3].numpy() @ flip, atol=1e-6)
        assert (params.intrinsic.width, params.intrinsic.height) == (64, 64)
        np.testing.assert_allclose(params.intrinsic.intrinsic_matrix, [[32, 0, 31.5], [0, 32, 31.5], [0, 0, 1]])


def test_trajectory_extrinsic_maps_points_in_front_of_f_face(tmp_path):
    """A point straight ahead of the body (-z) lies on the F camera's +z axis, at the image centre."""
    memory = new_memory(tmp_path)
    write_frames(memory, POSES)
    files = export_ply(memory, tmp_path / "cloud.ply", face_size=64)
    doc = json.loads(files.trajectory.read_text())
    assert doc["class_name"] == "PinholeCameraTrajectory"
    for params, pose in zip(doc["parameters"], POSES):
        extrinsic = np.array(params["extrinsic"]).reshape(4, 4, order="F")
        intrinsic = np.array(params["intrinsic"]["intrinsic_matrix"]).reshape(3, 3, order="F")
        ahead = pose.numpy() @ np.array([0.0, 0.0, -3.0, 1.0])  # 3 m in front of the body
        camera = extrinsic @ ahead
        np.testing.assert_allclose(camera[:3], [0.0, 0.0, 3.0], atol=1e-5)
        u, v, w = intrinsic @ camera[:3]
        np.testing.assert_allclose([u / w, v / w], [31.5, 31.5], atol=1e-5)


def test_export_ply_errors(tmp_path):
    empty = new_memory(tmp_path, "empty")
    with pytest.raises(ValueError, match="empty"):
        export_ply(empty, tmp_path / "empty.ply")
    assert not (tmp_path / "empty_trajectory.json").exists()

    memory = new_memory(tmp_path)
    write_frames(memory, POSES[:1])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_ply(memory, tmp_path / "missing" / "cloud.ply")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        export_ply(memory, tmp_path / "a_file" / "cloud.ply")
    with pytest.raises(ValueError, match=r"\.ply"):
        export_ply(memory, tmp_path / "cloud.obj")
    with pytest.raises(ValueError, match="face_size"):
        export_ply(memory, tmp_path / "cloud.ply", face_size=0)


# --------------------------------------------------------------------------- preview_png


def face_centre(image, face, size):
    row, col = CROSS_SLOTS[face]
    return image[row * size + size // 2 + size // 8, col * size + size // 2]  # just below the centre


@pytest.mark.parametrize("turns", [0, 1, 2])
def test_preview_shows_each_wall_in_its_colour(tmp_path, turns):
    memory = room_memory(tmp_path)
    size = 48
    pose = yaw_pose(turns, (0.3, -0.2, 0.1))
    image = preview_png(memory, pose, ROT, tmp_path / "room.png", size=size, cameras=False)
    assert image.shape == (3 * size, 4 * size, 3) and image.dtype == np.uint8
    # Face f of the turned pose looks along R_pose @ z_f: it sees the wall of the unturned face most along it.
    axes = ROT[:, :, 2]  # (F, 3) world directions of the walls
    for face in range(6):
        wall = int((axes @ (pose[:3, :3] @ ROT[face][:, 2])).argmax())
        np.testing.assert_array_equal(face_centre(image, face, size), WALLS[wall].numpy(), err_msg=f"face {face}")
    if turns == 1:  # after a right turn, F looks at the R wall and L at the F wall
        np.testing.assert_array_equal(face_centre(image, 0, size), WALLS[1].numpy())
        np.testing.assert_array_equal(face_centre(image, 3, size), WALLS[0].numpy())
    # Black outside the cross.
    assert (image[:size, :size] == 0).all() and (image[2 * size:, 2 * size:] == 0).all()
    # A valid PNG holding the returned image.
    data = (tmp_path / "room.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(iio.imread(tmp_path / "room.png"), image)


def test_preview_faces_are_upright(tmp_path):
    """The F wall's upper half (white) is at the top of the F face, not the bottom."""
    memory = room_memory(tmp_path)
    size = 32
    image = preview_png(memory, torch.eye(4), ROT, None, size=size, cameras=False)
    row, col = CROSS_SLOTS[0]
    np.testing.assert_array_equal(image[row * size + size // 4, col * size + size // 2], UPPER_F.numpy())
    np.testing.assert_array_equal(image[row * size + 3 * size // 4, col * size + size // 2], WALLS[0].numpy())


def test_preview_draws_frame_cameras_and_fills_holes(tmp_path):
    memory = room_memory(tmp_path, size=16)  # sparse: far fewer points than preview pixels
    size = 64
    pose = yaw_pose(0, (0.0, 0.0, 1.0))  # 1 m behind the frame camera at the origin
    plain = preview_png(memory, pose, ROT, None, size=size, cameras=False, fill=0)
    filled = preview_png(memory, pose, ROT, None, size=size, cameras=False, fill=2)
    dotted = preview_png(memory, pose, ROT, None, size=size, cameras=True, fill=2)
    row, col = CROSS_SLOTS[0]
    f_plain = plain[row * size:(row + 1) * size, col * size:(col + 1) * size]
    f_filled = filled[row * size:(row + 1) * size, col * size:(col + 1) * size]
    empty_plain, empty_filled = (f_plain == 0).all(-1).mean(), (f_filled == 0).all(-1).mean()
    assert empty_plain > 0.3 and empty_filled < 0.05, (empty_plain, empty_filled)
    # The frame camera at the origin lies straight ahead: a red dot at the F face centre.
    centre = dotted[row * size + size // 2, col * size + size // 2]
    np.testing.assert_array_equal(centre, [255, 0, 0])
    assert (dotted != filled).any(-1).sum() == 9  # one 3 x 3 dot, nothing else changed


def test_fill_holes_takes_nearest_surface_within_reach():
    rgb = torch.zeros(1, 3, 7, 7)
    depth = torch.zeros(1, 7, 7)
    rgb[0, :, 3, 3], depth[0, 3, 3] = torch.tensor([1.0, 2.0, 3.0]), 5.0
    rgb[0, :, 3, 4], depth[0, 3, 4] = torch.tensor([9.0, 9.0, 9.0]), 1.0  # nearer surface
    out, out_depth = fill_holes(rgb, depth, steps=2)
    assert out_depth[0, 2, 3] == 1.0 and out[0, 0, 2, 3] == 9.0  # two at one pixel: the nearer surface wins
    assert out_depth[0, 3, 2] == 5.0 and out[0, 1, 3, 2] == 2.0  # the closer pixel wins over a nearer surface
    assert out_depth[0, 3, 1] == 5.0 and out_depth[0, 3, 6] == 1.0  # two pixels out
    assert out_depth[0, 3, 0] == 0.0 and out[0, 0, 3, 0] == 0.0  # three pixels out: still empty
    assert out_depth[0, 3, 3] == 5.0 and out[0, 2, 3, 3] == 3.0  # filled pixels keep their own surface


def test_preview_errors(tmp_path):
    memory = room_memory(tmp_path, size=8)
    with pytest.raises(ValueError, match="pose"):
        preview_png(memory, torch.eye(3), ROT, None)
    with pytest.raises(ValueError, match="rotations"):
        preview_png(memory, torch.eye(4), ROT[:4], None)
    with pytest.raises(ValueError, match="size"):
        preview_png(memory, torch.eye(4), ROT, None, size=0)
    with pytest.raises(FileNotFoundError):
        preview_png(memory, torch.eye(4), ROT, tmp_path / "missing" / "x.png")
    # An empty memory is a black picture, not an error: nothing has been seen yet.
    image = preview_png(new_memory(tmp_path, "empty"), torch.eye(4), ROT, None, size=8)
    assert image.shape == (24, 32, 3) and (image == 0).all()
