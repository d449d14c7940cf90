"""Training cubemaps: rendered on the fly from seeded scenes, or read from trajectory stores.

Both yield dicts of rgb (F, S, S, 3) uint8 and depth (F, S, S) float32 tensors, one
cubemap at a time, from a stream that depends only on (seed, rank), so runs repeat.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from worldengine.data.trajectory import TrajectoryReader
from worldengine.geometry.pose import pose_from_yaw_pitch
from worldengine.scenes import ProceduralScene, render_cubemaps

SCENE_POOL = 32  # scenes kept built at once; one is replaced every VIEWS_PER_SCENE views
VIEWS_PER_SCENE = 16


def rendered_cubemaps(seeds: range, face_size: int, seed: int, rank: int = 0, backend: str = "auto") -> Iterator[dict]:
    """Endless random free views (random yaw, pitch in +-30 degrees) of scenes from `seeds`."""
    rng = np.random.default_rng([seed, rank])
    pool = [ProceduralScene(int(rng.integers(seeds.start, seeds.stop))) for _ in range(SCENE_POOL)]
    count = 0
    while True:
        slot = int(rng.integers(0, SCENE_POOL))
        scene = pool[slot]
        position = torch.as_tensor(scene.sample_free_position(rng), dtype=torch.float32)
        pose = pose_from_yaw_pitch(position, float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(-0.5, 0.5)))
        frame = render_cubemaps(scene, pose, face_size, backend)
        yield {"rgb": frame.rgb, "depth": frame.depth}
        count += 1
        if count % VIEWS_PER_SCENE == 0:
            pool[slot] = ProceduralScene(int(rng.integers(seeds.start, seeds.stop)))


def recorded_cubemaps(path: str, seed: int, rank: int = 0, world_size: int = 1) -> Iterator[dict]:
    """Frames of a trajectory store, shuffled per epoch, each rank its own share, forever."""
    reader = TrajectoryReader(path)
    epoch = 0
    while True:
        for window in reader.windows(1, shuffle=True, seed=seed + epoch, rank=rank, world_size=world_size):
            yield {"rgb": torch.from_numpy(window.rgb[0]), "depth": torch.from_numpy(window.depth[0])}
        epoch += 1


def batches(stream: Iterator[dict], batch_size: int) -> Iterator[dict]:
    while True:
        items = [next(stream) for _ in range(batch_size)]
        yield {key: torch.stack([item[key] for item in items]) for key in items[0]}
