"""Frames into the latent spatial memory (encode with the autoencoder, lift, fuse), and a
memory out again as files (point cloud, camera path, pictures)."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from memory import LatentMemory, backproject, export_ply, preview_png
from worldengine.eval.visualize import pointcloud_topdown
from worldengine.geometry.cube import face_rotations
from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd

CEILING_ABOVE_EYE = 0.5  # metres: pointcloud.png leaves out points higher than this above the eye


class MemoryWriter:
    """Writes RGB-D cubemap frames into a LatentMemory as autoencoder latents."""

    def __init__(self, autoencoder: CubeAutoencoder, memory: LatentMemory):
        if memory.channels != autoencoder.config.latent_channels:
            raise ValueError(f"the memory holds {memory.channels} channels, the autoencoder makes "
                             f"{autoencoder.config.latent_channels}")
        self.autoencoder = autoencoder.eval()
        self.memory = memory
        self.rotations = face_rotations()
        self.frames = 0

    @torch.no_grad()
    def add(self, rgb: np.ndarray, depth: np.ndarray, pose: np.ndarray, time: float) -> int:
        """One frame: rgb (F, S, S, 3) uint8, depth (F, S, S), pose (4, 4); returns new voxels."""
        rgb_t, depth_t, pose_t = torch.as_tensor(rgb), torch.as_tensor(depth), torch.as_tensor(pose)
        latents = self.autoencoder.encode(pack_rgbd(rgb_t[None], depth_t[None], self.autoencoder.config.near))
        points = backproject(latents, depth_t[None], pose_t[None], self.rotations,
                             torch.tensor([self.frames]), rgb_t[None])
        new = self.memory.write(points, self.frames, pose_t, time)
        self.frames += 1
        return new


def export_memory(memory: LatentMemory, folder: Path, preview_size: int = 128) -> list[str]:
    """Write a memory's pictures and point cloud into `folder`: memory.ply (+ cameras,
    trajectory), pointcloud.png (from above, roofs cut, with the camera path) and
    memory_preview.png (seen from the last frame's pose). Returns the file names."""
    poses = memory.frames()["frame_pose"]  # (M, 4, 4)
    if len(poses) == 0:
        raise ValueError("the memory holds no frames to export")
    exported = export_ply(memory, folder / "memory.ply")
    tokens = memory.tokens()
    ceiling = float(poses[:, 1, 3].max()) + CEILING_ABOVE_EYE
    imageio.imwrite(folder / "pointcloud.png", pointcloud_topdown(tokens["position"].numpy(), tokens["rgb"].numpy(),
                                                                  poses[:, :3, 3].numpy(), ceiling))
    preview_png(memory, poses[-1], face_rotations(), folder / "memory_preview.png", size=preview_size)
    return [p.name for p in exported] + ["pointcloud.png", "memory_preview.png"]
