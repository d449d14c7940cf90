import numpy as np
import pytest
import torch

from memory.backproject import LatentPoints, backproject
from worldengine.geometry.cube import face_rotations
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import ProceduralScene, render_cubemaps


def random_points(n, channels=4, seed=0, frame=0, spread=5.0):
    g = torch.Generator().manual_seed(seed)
    return LatentPoints(torch.rand(n, 3, generator=g) * spread, torch.randn(n, channels, generator=g),
                        torch.randint(0, 256, (n, 3), dtype=torch.uint8, generator=g), torch.full((n,), frame))


class RoomViews:
    """Ground-truth RGB-D cubemaps of one procedural room, lifted to latent points."""

    def __init__(self, seed=30, size=32, latent=8, channels=4):
        self.scene = ProceduralScene(seed, "room")
        self.size, self.latent, self.channels = size, latent, channels
        self.rotations = face_rotations()

    def pose(self, k, yaw=None):
        rng = np.random.default_rng(k)
        position = torch.tensor(self.scene.sample_free_position(rng), dtype=torch.float32)
        return pose_from_yaw_pitch(position, float(rng.uniform(-np.pi, np.pi)) if yaw is None else yaw, 0.0)

    def points(self, pose, frame, features=None):
        frame_render = render_cubemaps(self.scene, pose, self.size)
        if features is None:  # a deterministic stand-in feature per cell: pooled RGB-D
            rgb = frame_render.rgb.permute(0, 3, 1, 2).float() / 255
            pooled = torch.nn.functional.avg_pool2d(torch.cat([rgb, frame_render.depth[:, None]], 1), self.size // self.latent)
            features = pooled[None]
        return backproject(features, frame_render.depth[None], pose[None], self.rotations,
                           torch.tensor([frame]), frame_render.rgb[None]), frame_render


@pytest.fixture(scope="session")
def room():
    return RoomViews()
