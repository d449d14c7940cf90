"""Cubemap geometry: the conventions every module of the engine follows.

Frames (see DESIGN.md):
- World and body: right-handed, +y up, +x right, forward is -z (OpenGL).
- Face cameras: OpenCV axes (x right, y down, z forward), 90 degree field of view,
  square, principal point at the centre. Face order F R B L U D (index 0..5).
- F's camera-to-body rotation is diag(1, -1, -1); R, B, L each turn 90 degrees
  further to the right about body +y; U looks along +y with its bottom edge on F's
  top edge, D looks along -y with its top edge on F's bottom edge.
- Pixel (row i, column j) of a face of side S has its centre at normalised image
  coordinates x = (2j + 1) / S - 1, y = (2i + 1) / S - 1, both in (-1, 1); the
  camera-frame ray through it is (x, y, 1). Focal length is S / 2 pixels.
- Depth is metric distance along the face camera's z axis. Because face rays are
  returned with camera z = 1, a point at ray parameter t has z-depth exactly t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from worldengine.geometry.checks import NUM_FACES, check_cubemap, check_face_size, check_pose, check_vectors

__all__ = [
    "FACE_NAMES", "NUM_FACES", "SIDE_NAMES", "EDGES", "Edge", "face_rotations", "pixel_coords",
    "camera_rays", "face_rays", "direction_to_face", "face_to_direction", "norm_to_pixel",
    "pixel_to_norm", "zdepth_to_range", "range_to_zdepth", "cubemap_to_points", "project_points",
]

FACE_NAMES = ("F", "R", "B", "L", "U", "D")


def _yaw_right(quarter_turns: int) -> torch.Tensor:
    """Rotation about body +y turning `quarter_turns` x 90 degrees to the right."""
    c = [1.0, 0.0, -1.0, 0.0][quarter_turns % 4]
    s = [0.0, -1.0, 0.0, 1.0][quarter_turns % 4]  # right turn = negative angle about +y
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=torch.float64)


def _face_rotations_f64() -> torch.Tensor:
    front = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    # Columns are the camera's x, y, z axes written in the body frame.
    up = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=torch.float64)
    down = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    sides = [_yaw_right(k) @ front for k in range(4)]
    return torch.stack(sides + [up, down])  # (F, 3, 3)


_FACE_ROTATIONS = _face_rotations_f64()


def face_rotations(dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Camera-to-body rotations of the six faces, (F, 3, 3), in order F R B L U D."""
    return _FACE_ROTATIONS.to(dtype=dtype, device=device)


def pixel_coords(size: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Normalised image coordinates of pixel centres, (S,), from -1 + 1/S to 1 - 1/S."""
    check_face_size(size)
    return (2 * torch.arange(size, dtype=dtype, device=device) + 1) / size - 1


def camera_rays(size: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Camera-frame rays (x, y, 1) through every pixel centre of one face, (S, S, 3)."""
    coords = pixel_coords(size, dtype, device)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)  # (S, S, 3)


def face_rays(size: int, dtype: torch.dtype = torch.float32, device=None, unit: bool = False) -> torch.Tensor:
    """Body-frame ray directions through every pixel of the six faces, (F, S, S, 3).

    With unit=False each ray has camera-frame z = 1, so a hit at ray parameter t lies
    at z-depth t; with unit=True the rays are normalised (parameter = range).
    """
    rays = camera_rays(size, torch.float64, device)
    rays = torch.einsum("fij,hwj->fhwi", face_rotations(torch.float64, device), rays)  # (F, S, S, 3)
    if unit:
        rays = rays / rays.norm(dim=-1, keepdim=True)
    return rays.to(dtype)


# ---------------------------------------------------------------------------
# Directions <-> (face, x, y)
# ---------------------------------------------------------------------------


def _signed_permutations(rot: torch.Tensor):
    """Every face rotation is a signed permutation; index/sign form keeps lookups exact.

    Returns cam_idx, cam_sign (F, 3): camera coordinate i = cam_sign[f, i] * d[cam_idx[f, i]],
    and body_idx, body_sign (F, 3): body coordinate j = body_sign[f, j] * c[body_idx[f, j]].
    """
    cam_idx = rot.abs().argmax(dim=1)  # (F, 3) body axis along camera axis i
    cam_sign = rot.gather(1, cam_idx[:, None, :]).squeeze(1)  # (F, 3)
    body_idx = rot.abs().argmax(dim=2)  # (F, 3) camera axis along body axis j
    body_sign = rot.gather(2, body_idx[:, :, None]).squeeze(2)  # (F, 3)
    return cam_idx, cam_sign, body_idx, body_sign


_CAM_IDX, _CAM_SIGN, _BODY_IDX, _BODY_SIGN = _signed_permutations(_FACE_ROTATIONS)


def _to_camera(d: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """Body-frame vectors (..., 3) in the camera frame of `face` (...,) -> (..., 3)."""
    idx = _CAM_IDX.to(d.device)[face]  # (..., 3)
    return torch.gather(d, -1, idx) * _CAM_SIGN.to(d.device, d.dtype)[face]


def direction_to_face(d: torch.Tensor):
    """Body-frame directions (..., 3), any nonzero length -> (face, x, y), each (...,).

    face (long) is the face whose camera z axis has the largest dot product with d;
    ties (directions exactly on an edge or corner) go to the lowest face index, in
    order F R B L U D. x, y are normalised image coordinates in [-1, 1] on that face.
    Exact: faces are signed permutations, so no rounding enters the face choice.
    """
    check_vectors(d, "d")
    dots = d[..., _CAM_IDX[:, 2].to(d.device)] * _CAM_SIGN[:, 2].to(d.device, d.dtype)  # (..., F)
    face = dots.argmax(dim=-1)  # first maximum wins ties
    cam = _to_camera(d, face)
    return face, cam[..., 0] / cam[..., 2], cam[..., 1] / cam[..., 2]


def face_to_direction(face, x: torch.Tensor, y: torch.Tensor, unit: bool = False) -> torch.Tensor:
    """Inverse of direction_to_face: face (...,) int, x, y (...,) -> body-frame rays (..., 3).

    The ray is the camera-frame (x, y, 1) rotated into the body frame, so a point at
    ray parameter t has z-depth t on that face; unit=True normalises it instead.
    x, y may lie outside [-1, 1] (the face's image plane extended).
    """
    x = torch.as_tensor(x)
    face = torch.as_tensor(face, device=x.device).long()
    face, x, y = torch.broadcast_tensors(face, x, torch.as_tensor(y, device=x.device))
    cam = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # (..., 3)
    body = torch.gather(cam, -1, _BODY_IDX.to(x.device)[face]) * _BODY_SIGN.to(x.device, x.dtype)[face]
    return body / body.norm(dim=-1, keepdim=True) if unit else body


def norm_to_pixel(x: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised image coordinate -> continuous pixel coordinate (centre of column j is j).

    x = -1 (the left edge) maps to -0.5; x = (2j + 1) / S - 1 maps to j.
    """
    check_face_size(size)
    return (x + 1) * (size / 2) - 0.5


def pixel_to_norm(j: torch.Tensor, size: int) -> torch.Tensor:
    """Continuous pixel coordinate -> normalised image coordinate, (2j + 1) / S - 1."""
    check_face_size(size)
    return (2 * j + 1) / size - 1


# ---------------------------------------------------------------------------
# Depth maps and points
# ---------------------------------------------------------------------------


def _ray_lengths(size: int, like: torch.Tensor) -> torch.Tensor:
    """|(x, y, 1)| of every pixel, (S, S): the same on every face."""
    return camera_rays(size, torch.float64, like.device).norm(dim=-1).to(like.dtype)


def zdepth_to_range(depth: torch.Tensor) -> torch.Tensor:
    """z-depth cubemap (..., F, S, S) -> range along each pixel's ray; 0 (no hit) stays 0."""
    return depth * _ray_lengths(check_cubemap(depth, "depth"), depth)


def range_to_zdepth(rng: torch.Tensor) -> torch.Tensor:
    """Range cubemap (..., F, S, S) -> z-depth; 0 (no hit) stays 0."""
    return rng / _ray_lengths(check_cubemap(rng, "rng"), rng)


def cubemap_to_points(depth: torch.Tensor, pose: torch.Tensor):
    """Back-project a z-depth cubemap into the world.

    depth (..., F, S, S) metric z-depth, 0 = no hit; pose (..., 4, 4) body-to-world,
    its leading axes broadcast against depth's. Returns points (..., F, S, S, 3) in the
    world frame and valid (..., F, S, S) = depth > 0; invalid pixels get the camera
    position (their ray parameter is 0).
    """
    size = check_cubemap(depth, "depth")
    check_pose(pose)
    rays = face_rays(size, depth.dtype, depth.device)  # (F, S, S, 3)
    body = depth[..., None] * rays  # (..., F, S, S, 3)
    rot, trans = pose[..., None, None, None, :3, :3], pose[..., None, None, None, :3, 3]
    world = (rot.to(depth.dtype) @ body[..., None]).squeeze(-1) + trans.to(depth.dtype)
    return world, depth > 0


def project_points(points: torch.Tensor, pose: torch.Tensor):
    """World points (..., 3) seen from body pose (..., 4, 4) (broadcast) -> (face, x, y, depth).

    The inverse of cubemap_to_points: face (...,) long, normalised image coordinates
    x, y (...,) and z-depth (...,) on that face.
    """
    check_vectors(points, "points")
    check_pose(pose)
    rot, trans = pose[..., :3, :3].to(points.dtype), pose[..., :3, 3].to(points.dtype)
    body = ((points - trans)[..., None, :] @ rot).squeeze(-2)  # R^T (p - t), (..., 3)
    face, x, y = direction_to_face(body)
    return face, x, y, _to_camera(body, face)[..., 2]


# ---------------------------------------------------------------------------
# Edge adjacency
# ---------------------------------------------------------------------------

SIDE_NAMES = ("top", "right", "bottom", "left")


@dataclass(frozen=True)
class Edge:
    """One side of one face and what lies across it.

    Pixels along a side are ordered by increasing column (top, bottom) or row (left,
    right). `reversed` says the neighbour's side runs the other way. `turns` is the
    number of counter-clockwise quarter turns (torch.rot90(img, turns, (-2, -1))) that
    put the neighbour's image beside this face across this side, as in an unfolding.
    """

    face: int
    side: int
    neighbour: int
    neighbour_side: int
    turns: int
    reversed: bool


def _side_point(side: torch.Tensor, t: torch.Tensor, out: float = 0.0):
    """Image point (x, y) at along-coordinate t on `side`, stepped `out` outward."""
    s = 1.0 + out
    x = torch.where(side == 1, s, torch.where(side == 3, -s, t))
    y = torch.where(side == 0, -s, torch.where(side == 2, s, t))
    return x, y


def _derive_edges():
    """Step just across each side to find the neighbour, then read its side off the shared points."""
    t = torch.tensor([-0.5, 0.5], dtype=torch.float64)
    edges = []
    for face in range(NUM_FACES):
        for side in range(4):
            sides = torch.full_like(t, side)
            nbr = direction_to_face(face_to_direction(face, *_side_point(sides, t, 1e-3)))[0]
            assert nbr[0] == nbr[1] != face, "a side must have one neighbour"
            cam = _to_camera(face_to_direction(face, *_side_point(sides, t)), nbr)
            x, y = cam[:, 0] / cam[:, 2], cam[:, 1] / cam[:, 2]
            on = [bool((y == -1).all()), bool((x == 1).all()), bool((y == 1).all()), bool((x == -1).all())]
            assert sum(on) == 1, "shared points must lie on exactly one side of the neighbour"
            nside = on.index(True)
            along = x if nside in (0, 2) else y
            # rot90 by k CCW moves side s to side s - k; the neighbour's side must face ours.
            turns = (nside - side - 2) % 4
            edges.append(Edge(face, side, int(nbr[0]), nside, turns, bool(along[1] < along[0])))
    return tuple(edges)


EDGES = _derive_edges()
"""All 24 (face, side) entries, EDGES[4 * face + side]; each of the 12 cube edges twice."""
