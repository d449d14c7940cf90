"""Generator training windows cut from encoded ground-truth walks.

For a target frame i of an episode: its latents are what to generate; the previous H
frames are the history (a random number of them present); the memory is built the way
the engine builds it (earlier frames' latents lifted by their depth and fused per voxel)
from the K frames nearest to the target among frames 0..i-1, then warped into the
target's latent grid. Random memory and action dropout teach the unconditional
velocities guidance needs; random face roles (some faces given clean, the rest generated
jointly or one alone with the others absent) teach one model both generation modes and
every face order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from kernels.attention import ABSENT, CONTEXT, GENERATED
from memory import Warped, backproject, warp_points
from memory.table import reduce_duplicates
from memory.voxels import voxel_keys
from worldengine.geometry.cube import NUM_FACES, face_rotations
from worldengine.model.dit import CubeDiTConfig
from worldengine.model.generate import memory_input
from worldengine.model.plucker import plucker_rays
from worldengine.train.latent_data import LatentEpisode

VOXEL_SIZE = 0.1  # metres, as the engine's memory


@dataclass(frozen=True)
class WindowSampling:
    """memory_frames K nearest earlier frames form the memory; probabilities of dropping
    memory / action, of a joint window (no face clean), of each history length 0..H;
    history_noise: the history latents get Gaussian noise of a std drawn uniformly from
    [0, history_noise] per window, so the model learns not to trust a history that, in a
    rollout, is its own imperfect output (exposure bias)."""

    memory_frames: int = 8
    memory_dropout: float = 0.1
    action_dropout: float = 0.1
    joint: float = 0.4
    history_lengths: tuple[float, ...] = (0.1, 0.2, 0.7)
    history_noise: float = 0.0


def fused_memory_warp(latents: torch.Tensor, cell_depth: torch.Tensor, poses: torch.Tensor,
                      target: torch.Tensor, voxel_size: float = VOXEL_SIZE) -> Warped:
    """Frames' latents (K, F, C, s, s) lifted by cell_depth (K, F, s, s) at poses (K, 4, 4),
    fused per voxel (weighted mean, as the memory's token table does) and warped into the
    target pose (4, 4)."""
    rotations = face_rotations()
    size = latents.shape[-1]
    points = backproject(latents.float(), cell_depth.float(), poses.float(), rotations, torch.arange(len(latents)))
    if len(points) == 0:  # nothing with depth: an empty warp
        f, c = latents.shape[1:3]
        empty = torch.zeros(f, size, size)
        return Warped(torch.zeros(f, c, size, size), empty.bool(), empty, torch.zeros(f), empty.long() - 1)
    n = len(points)
    fused = reduce_duplicates({"key": voxel_keys(points.positions, voxel_size), "position": points.positions,
                               "feature": points.features, "rgb": points.rgb, "frame": points.frame,
                               "time": torch.zeros(n), "weight": torch.ones(n)})
    return warp_points(fused["position"], fused["feature"].float(), target.float(), rotations, size)


def nearest_earlier(poses: torch.Tensor, index: int, count: int) -> torch.Tensor:
    """Indices of the `count` frames before `index` whose positions are nearest to frame `index`."""
    distance = (poses[:index, :3, 3] - poses[index, :3, 3]).norm(dim=-1)
    return distance.argsort()[:count]


def face_roles(rng: np.random.Generator, joint: float) -> torch.Tensor:
    """Roles (F,) of one training window: a joint window, or some faces clean and then all
    the rest generated together or one generated with the others absent."""
    roles = torch.full((NUM_FACES,), GENERATED, dtype=torch.int8)
    if rng.random() < joint:
        return roles
    order = rng.permutation(NUM_FACES)
    clean = int(rng.integers(0, NUM_FACES))  # 0..5 faces already done
    roles[order[:clean]] = CONTEXT
    if rng.random() < 0.5:  # sequential: one face now, the rest later
        roles[order[clean + 1:]] = ABSENT
    return roles


def _noisy(history: torch.Tensor, max_std: float, rng: np.random.Generator) -> torch.Tensor:
    if max_std <= 0:
        return history
    std = float(rng.uniform(0, max_std))
    noise = torch.from_numpy(rng.standard_normal(history.shape).astype(np.float32))
    return history + std * noise


def window_sample(episode: LatentEpisode, index: int, config: CubeDiTConfig, sampling: WindowSampling,
                  rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Everything CubeDiT needs for target frame `index` (T = 1), without the batch axis."""
    h, size = config.history, config.latent_size
    target = episode.poses[index]
    previous = [max(index - h + j, 0) for j in range(h)]  # oldest first
    length = int(rng.choice(len(sampling.history_lengths), p=np.asarray(sampling.history_lengths)))
    present = torch.tensor([j >= h - length and index - h + j >= 0 for j in range(h)])
    memory = torch.zeros(NUM_FACES, config.memory_channels, size, size)
    if index > 0 and rng.random() >= sampling.memory_dropout:
        frames = nearest_earlier(episode.poses, index, sampling.memory_frames)
        memory = memory_input(fused_memory_warp(episode.latents[frames], episode.cell_depth[frames],
                                                episode.poses[frames], target), config)
    return {
        "target": episode.latents[index].float()[None],  # (1, F, C, s, s)
        "roles": face_roles(rng, sampling.joint),
        "memory": memory[None],
        "current_rays": plucker_rays(target[None], target, size),  # (1, F, 6, s, s)
        "history": _noisy(episode.latents[previous].float(), sampling.history_noise, rng),
        "history_rays": plucker_rays(episode.poses[previous], target, size),
        "history_present": present,
        "action": episode.rates[index],
        "action_present": torch.tensor(rng.random() >= sampling.action_dropout),
    }


def window_stream(episodes: Sequence[LatentEpisode], config: CubeDiTConfig, sampling: WindowSampling,
                  batch_size: int, seed: int, rank: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches of training windows; a pure function of (seed, rank)."""
    if config.window != 1:
        raise ValueError(f"training windows are single frames (T = 1); config has window {config.window}")
    rng = np.random.default_rng([seed, rank])
    while True:
        items = []
        for _ in range(batch_size):
            episode = episodes[int(rng.integers(len(episodes)))]
            items.append(window_sample(episode, int(rng.integers(1, len(episode))), config, sampling, rng))
        yield {key: torch.stack([item[key] for item in items]) for key in items[0]}
