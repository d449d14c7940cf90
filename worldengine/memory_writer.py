"""Frames into the latent spatial memory: encode with the autoencoder, lift, fuse, export.

The write-back half of the engine's step, usable on ground-truth frames today and on
generated ones later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from memory import LatentMemory, backproject, export_ply, preview_png
from worldengine.autoencoder import CubeAutoencoder, pack_rgbd
from worldengine.cube import face_rotations

DEFAULT_AUTOENCODER = Path(__file__).resolve().parents[1] / "checkpoints" / "autoencoder"


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

    def finish(self, folder: Path, preview_pose: np.ndarray) -> dict:
        """Close the store; write memory.ply (+ cameras, trajectory) and memory_preview.png."""
        self.memory.close()
        exported = export_ply(self.memory, folder / "memory.ply")
        preview_png(self.memory, torch.as_tensor(preview_pose), self.rotations, folder / "memory_preview.png")
        return {"memory_tokens": len(self.memory), "memory_bytes_on_disk": self.memory.nbytes_on_disk(),
                "memory_files": [p.name for p in exported] + ["memory_preview.png"]}
