"""The cube camera rig as memory sees it: six face rotations handed in by the engine.

memory/ may not import worldengine (DESIGN.md), so the face rotations of
worldengine.geometry.cube (camera-to-body, OpenCV axes, 90 degree field of view) are passed in
as a tensor (F, 3, 3); this file holds only the pinhole arithmetic on them. Tests check
it against worldengine.geometry.cube.
"""

from __future__ import annotations

import torch


def check_rotations(rotations: torch.Tensor) -> None:
    if not isinstance(rotations, torch.Tensor) or rotations.ndim != 3 or rotations.shape[1:] != (3, 3):
        got = tuple(rotations.shape) if isinstance(rotations, torch.Tensor) else type(rotations).__name__
        raise ValueError(f"face rotations must have shape (F, 3, 3), got {got}")


def check_pose(pose: torch.Tensor, name: str = "pose", atol: float = 1e-4) -> None:
    """A camera-to-world rigid transform (4, 4), or (..., 4, 4)."""
    if not isinstance(pose, torch.Tensor) or pose.ndim < 2 or pose.shape[-2:] != (4, 4):
        got = tuple(pose.shape) if isinstance(pose, torch.Tensor) else type(pose).__name__
        raise ValueError(f"{name} must have shape (..., 4, 4), got {got}")
    p = pose.to(torch.float64)
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} is not finite")
    last = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64, device=p.device)
    rot = p[..., :3, :3]
    eye = torch.eye(3, dtype=torch.float64, device=p.device)
    rigid = ((p[..., 3, :] - last).abs().max() <= atol) and ((rot.transpose(-1, -2) @ rot - eye).abs().max() <= atol)
    if not rigid or (torch.det(rot) <= 0).any():
        raise ValueError(f"{name} is not a rigid transform (rotation + translation, last row [0, 0, 0, 1])")


def cell_rays(rotations: torch.Tensor, size: int) -> torch.Tensor:
    """Body-frame rays (F, s, s, 3) through latent cell centres, camera z = 1 (parameter = z-depth)."""
    check_rotations(rotations)
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"latent grid side must be a positive int, got {size!r}")
    coords = (2 * torch.arange(size, dtype=rotations.dtype, device=rotations.device) + 1) / size - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    camera = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # (s, s, 3)
    return torch.einsum("fij,hwj->fhwi", rotations, camera)  # (F, s, s, 3)


def face_local(body: torch.Tensor, rotations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Body-frame points (N, 3) -> (face (N,) int64, the point in that face's camera frame (N, 3)).

    The face is the one whose axis the point is most along (argmax of dot products),
    so every direction lands on exactly one face with z >= |x|, |y|.
    """
    check_rotations(rotations)
    camera = torch.einsum("fji,nj->nfi", rotations.to(body.dtype), body)  # R_f^T p, (N, F, 3)
    face = camera[..., 2].contiguous().argmax(dim=1)  # contiguous: a strided argmax is ~6x slower on CPU
    return face, camera.gather(1, face[:, None, None].expand(-1, 1, 3))[:, 0]


def project_to_cells(body: torch.Tensor, rotations: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Body-frame points (N, 3) -> (cell (N,) int64 = face*s*s + row*s + col, z-depth (N,))."""
    face, local = face_local(body, rotations)
    z = local[:, 2]
    safe = z.clamp_min(1e-12)
    col = torch.floor((local[:, 0] / safe + 1) / 2 * size).clamp(0, size - 1).long()
    row = torch.floor((local[:, 1] / safe + 1) / 2 * size).clamp(0, size - 1).long()
    return (face * size + row) * size + col, z
