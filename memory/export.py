"""The memory as files other tools open: a coloured point cloud, the camera path, a preview.

- `export_ply`: token positions with their rgb preview colours as a binary PLY (trimesh),
  beside it `<stem>_cameras.ply` (every frame's camera centre as coloured points, blue
  for the first frame to red for the last) and `<stem>_trajectory.json`, the frames' F
  face cameras in open3d's PinholeCameraTrajectory JSON (`open3d.io.read_pinhole_camera_trajectory`).
- `preview_png`: the rgb previews seen from a pose, z-buffer splatted into the six faces
  and unfolded as a cube cross.

trimesh and imageio are imported inside the functions that write files (DESIGN.md), so
importing memory never needs them. Every file is written whole to a temporary name in
its folder and moved into place with `os.replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F_

from memory.files import atomic_write_bytes
from memory.index import tokens_near
from memory.rig import check_pose, check_rotations, project_to_cells
from memory.store import LatentMemory
from memory.warp import NEAR, warp_points

# The F face's camera-to-body rotation (DESIGN.md): OpenCV axes, a 180 degree turn about x.
F_FACE_ROTATION = np.diag([1.0, -1.0, -1.0])
# Where each face sits in the unfolded cross (row, column), in face order F R B L U D.
CROSS_SLOTS = ((1, 1), (1, 2), (1, 3), (1, 0), (0, 1), (2, 1))
CAMERA_DOT = (255, 0, 0)  # colour of the frame camera centres drawn into a preview


class ExportedFiles(NamedTuple):
    """Paths written by `export_ply`."""

    points: Path  # the token point cloud, .ply
    cameras: Path  # <stem>_cameras.ply, one point per frame
    trajectory: Path  # <stem>_trajectory.json, open3d PinholeCameraTrajectory


# --------------------------------------------------------------------------- files


def _writable_folder(path: str | os.PathLike, suffix: str) -> Path:
    """`path` as a Path, after checking its suffix and that its folder exists and is writable."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f"path must end in {suffix}, got {str(path)!r}")
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable")
    return path


def _point_cloud_ply(positions: np.ndarray, colours: np.ndarray) -> bytes:
    """Binary PLY bytes of points (N, 3) with colours (N, 3) uint8 (written as RGBA)."""
    import trimesh  # lazily: only exporting needs it

    rgba = np.concatenate([colours, np.full((len(colours), 1), 255, dtype=np.uint8)], axis=1)  # (N, 4)
    cloud = trimesh.PointCloud(vertices=positions.astype(np.float64), colors=rgba)
    return cloud.export(file_type="ply", encoding="binary")


# --------------------------------------------------------------------------- ply + trajectory


def face_intrinsic(face_size: int) -> np.ndarray:
    """Pinhole matrix K (3, 3) of a square 90 degree face of `face_size` pixels.

    fx = fy = S/2; the principal point is the image centre in the convention where the
    centre of pixel column j is j (worldengine.geometry.cube.norm_to_pixel, and open3d's), so
    cx = cy = (S - 1)/2.
    """
    if not isinstance(face_size, int) or isinstance(face_size, bool) or face_size <= 0:
        raise ValueError(f"face_size must be a positive int, got {face_size!r}")
    f, c = face_size / 2, (face_size - 1) / 2
    return np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])


def face_extrinsics(poses: np.ndarray) -> np.ndarray:
    """World-to-camera (M, 4, 4) of the F face cameras of body poses (M, 4, 4) (camera-to-world)."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise ValueError(f"poses must have shape (M, 4, 4), got {poses.shape}")
    rotation = poses[:, :3, :3] @ F_FACE_ROTATION  # F camera-to-world rotation, (M, 3, 3)
    out = np.zeros_like(poses)  # (M, 4, 4)
    out[:, :3, :3] = rotation.transpose(0, 2, 1)
    out[:, :3, 3] = -np.einsum("mji,mj->mi", rotation, poses[:, :3, 3])  # -R^T t
    out[:, 3, 3] = 1.0
    return out


def trajectory_json(poses: np.ndarray, face_size: int = 256) -> dict:
    """open3d's PinholeCameraTrajectory as a JSON-ready dict: one F face camera per pose.

    Matrices are flattened column-major, as open3d writes them (extrinsic 16, intrinsic 9).
    """
    intrinsic = {
        "width": face_size,
        "height": face_size,
        "intrinsic_matrix": face_intrinsic(face_size).flatten(order="F").tolist(),
    }
    parameters = [
        {
            "class_name": "PinholeCameraParameters",
            "extrinsic": extrinsic.flatten(order="F").tolist(),
            "intrinsic": intrinsic,
            "version_major": 1,
            "version_minor": 0,
        }
        for extrinsic in face_extrinsics(poses)
    ]
    return {"class_name": "PinholeCameraTrajectory", "parameters": parameters, "version_major": 1, "version_minor": 0}


def _trajectory_colours(count: int) -> np.ndarray:
    """Blue (first frame) to red (last frame), (M, 3) uint8."""
    t = np.linspace(0.0, 1.0, count) if count > 1 else np.zeros(count)
    return np.stack([255 * t, np.full(count, 40.0), 255 * (1 - t)], axis=1).round().astype(np.uint8)


def export_ply(memory: LatentMemory, path: str | os.PathLike, face_size: int = 256) -> ExportedFiles:
    """Write the memory's tokens as a coloured point cloud PLY, with its camera path beside it.

    path: the point cloud, `<folder>/<stem>.ply` (binary PLY, one vertex per token at
    its position, coloured by its rgb preview). Also written: `<stem>_cameras.ply`
    (camera centre of every frame, blue for the first to red for the last) and
    `<stem>_trajectory.json` (open3d PinholeCameraTrajectory of each frame's F face
    camera, intrinsics of a `face_size` pixel 90 degree face).
    Raises ValueError for an empty memory or a path not ending in .ply, and
    FileNotFoundError / NotADirectoryError / PermissionError for a folder that cannot
    be written. Returns the three paths.
    """
    if not isinstance(memory, LatentMemory):
        raise TypeError(f"memory must be a LatentMemory, got {type(memory).__name__}")
    if len(memory) == 0:
        raise ValueError("the memory is empty: there are no tokens to export")
    face_intrinsic(face_size)  # checks face_size before anything is written
    path = _writable_folder(path, ".ply")
    tokens, frames = memory.tokens(), memory.frames()
    positions = tokens["position"].detach().cpu().numpy()  # (N, 3)
    colours = tokens["rgb"].detach().cpu().numpy()  # (N, 3)
    poses = frames["frame_pose"].detach().cpu().numpy().astype(np.float64)  # (M, 4, 4)
    if len(poses) == 0:
        raise ValueError("the memory has tokens but no frames: cannot write a camera trajectory")

    cameras = path.with_name(f"{path.stem}_cameras.ply")
    trajectory = path.with_name(f"{path.stem}_trajectory.json")
    atomic_write_bytes(trajectory, json.dumps(trajectory_json(poses, face_size), indent=1).encode())
    atomic_write_bytes(cameras, _point_cloud_ply(poses[:, :3, 3], _trajectory_colours(len(poses))))
    atomic_write_bytes(path, _point_cloud_ply(positions, colours))
    return ExportedFiles(points=path, cameras=cameras, trajectory=trajectory)


# --------------------------------------------------------------------------- preview


def fill_holes(rgb: torch.Tensor, depth: torch.Tensor, steps: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill empty pixels of each face from filled ones at most `steps` pixels away.

    rgb (F, 3, S, S) float, depth (F, S, S) with 0 = empty. Each step is a 3 x 3 min-pool
    of depth that carries the colour along: every still-empty pixel with a filled
    neighbour takes that neighbour's colour and depth, the nearest surface (smallest
    depth) winning among several. So a hole takes its closest filled pixel (Chebyshev
    distance <= steps), ties going to the nearer surface. Faces are filled separately
    (nothing crosses a face edge).
    """
    faces, _, side, _ = rgb.shape
    for _ in range(steps):
        empty = depth <= 0  # (F, S, S)
        if not empty.any():
            break
        far = torch.where(empty, torch.full_like(depth, float("inf")), depth)
        windows = F_.unfold(F_.pad(far[:, None], (1, 1, 1, 1), value=float("inf")), 3)  # (F, 9, S*S)
        best, which = windows.min(dim=1)  # (F, S*S)
        colours = F_.unfold(F_.pad(rgb, (1, 1, 1, 1)), 3).reshape(faces, 3, 9, side * side)  # (F, 3, 9, S*S)
        picked = colours.gather(2, which[:, None, None, :].expand(faces, 3, 1, side * side))  # (F, 3, 1, S*S)
        fill = empty & torch.isfinite(best).reshape(faces, side, side)  # (F, S, S)
        rgb = torch.where(fill[:, None], picked.reshape(faces, 3, side, side), rgb)
        depth = torch.where(fill, best.reshape(faces, side, side), depth)
    return rgb, depth


def cube_cross(faces: np.ndarray) -> np.ndarray:
    """Faces (F=6, S, S, 3) unfolded as a cross (3S, 4S, 3): F in the middle, black outside."""
    if faces.ndim != 4 or faces.shape[0] != 6 or faces.shape[1] != faces.shape[2] or faces.shape[3] != 3:
        raise ValueError(f"faces must have shape (6, S, S, 3), got {faces.shape}")
    side = faces.shape[1]
    cross = np.zeros((3 * side, 4 * side, 3), dtype=faces.dtype)  # (3S, 4S, 3)
    for face, (row, col) in enumerate(CROSS_SLOTS):
        cross[row * side:(row + 1) * side, col * side:(col + 1) * side] = faces[face]
    return cross


def _draw_cameras(image: torch.Tensor, depth: torch.Tensor, centres: torch.Tensor, pose: torch.Tensor,
                  rotations: torch.Tensor) -> None:
    """Mark camera centres (M, 3) seen from `pose` as 3 x 3 red dots in image (F, S, S, 3) uint8,
    in place; a centre hidden behind the surface drawn at its pixel is left out."""
    side = image.shape[1]
    body = (centres.float() - pose[:3, 3].float()) @ pose[:3, :3].float()  # (M, 3)
    cell, z = project_to_cells(body, rotations.float(), side)
    surface = depth.reshape(-1)[cell]  # (M,)
    visible = (z > NEAR) & ((surface <= 0) | (z <= surface))
    colour = torch.tensor(CAMERA_DOT, dtype=torch.uint8, device=image.device)
    for c in cell[visible].tolist():
        face, row, col = c // (side * side), (c // side) % side, c % side
        image[face, max(row - 1, 0):row + 2, max(col - 1, 0):col + 2] = colour


def preview_png(memory: LatentMemory, pose: torch.Tensor, rotations: torch.Tensor,
                path: str | os.PathLike | None, size: int = 128, radius: float | None = 20.0,
                fill: int = 2, cameras: bool = True) -> np.ndarray:
    """Render the memory's rgb previews seen from body pose (4, 4) as an unfolded cube cross.

    Tokens within `radius` metres of the camera (all tokens if None) are moved into the
    body frame, projected into the six faces (rotations (F=6, 3, 3), camera-to-body) at
    `size` pixels a side and z-buffer splatted (memory.warp.warp_points, kernels.splat),
    so each pixel shows its nearest token. Empty pixels within `fill` pixels of a
    filled one take the nearest surface's colour (`fill_holes`). With `cameras`, every
    frame's camera centre in view is drawn as a small red dot. Faces sit in the cross
    as F (1,1), R (1,2), B (1,3), L (1,0), U (0,1), D (2,1); black elsewhere.
    Writes the image as a PNG to `path` (skipped if None) and returns it,
    (3*size, 4*size, 3) uint8.
    """
    if not isinstance(memory, LatentMemory):
        raise TypeError(f"memory must be a LatentMemory, got {type(memory).__name__}")
    check_rotations(rotations)
    if rotations.shape[0] != 6:
        raise ValueError(f"rotations must hold the 6 faces, (6, 3, 3), got {tuple(rotations.shape)}")
    check_pose(pose)
    if pose.shape != (4, 4):
        raise ValueError(f"pose must have shape (4, 4), got {tuple(pose.shape)}")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if not isinstance(fill, int) or fill < 0:
        raise ValueError(f"fill must be an int >= 0, got {fill!r}")
    if path is not None:
        path = _writable_folder(path, ".png")

    device = memory.device
    pose, rotations = pose.to(device, torch.float32), rotations.to(device, torch.float32)
    if radius is None:
        rows = torch.arange(len(memory), device=device)
    else:
        rows = tokens_near(memory, pose[:3, 3], radius)
    positions = memory.table.columns_at(rows, "position")  # (K, 3)
    colours = memory.table.columns_at(rows, "rgb").float()  # (K, 3)
    warped = warp_points(positions, colours, pose, rotations, size)
    rgb, depth = fill_holes(warped.features, warped.depth, fill)  # (F, 3, S, S), (F, S, S)
    faces = rgb.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()  # (F, S, S, 3)
    if cameras:
        _draw_cameras(faces, depth, memory.frames()["frame_pose"][:, :3, 3].to(device), pose, rotations)
    image = cube_cross(faces.cpu().numpy())  # (3S, 4S, 3)
    if path is not None:
        import imageio.v3 as iio  # lazily: only writing a picture needs it

        atomic_write_bytes(path, iio.imwrite("<bytes>", image, extension=".png"))
    return image


__all__ = [
    "CROSS_SLOTS",
    "F_FACE_ROTATION",
    "ExportedFiles",
    "cube_cross",
    "export_ply",
    "face_extrinsics",
    "face_intrinsic",
    "fill_holes",
    "preview_png",
    "trajectory_json",
]
