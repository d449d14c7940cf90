"""Encoded ground-truth walks: the generator's training data, built once and kept on disk.

A Zarr v3 store of explorer walks through seeded scenes, each frame already encoded by
the frozen autoencoder:

    <store>/                       attrs: format, version, autoencoder (config + weight digest)
      scene_0000000/               attrs: scene_seed, scene_kind, steps
        latents    (L, F, C, s, s) float16  normalised autoencoder latents
        cell_depth (L, F, s, s)    float32  z-depth per latent cell (median of its pixels, 0 = none)
        poses      (L, 4, 4)       float32  body-to-world
        rates      (L, 4)          float32  action that led to the frame (zeros for the first)
        rgb        (L, F, S, S, 3) uint8    only with keep_pixels (evaluation)
        depth      (L, F, S, S)    float32  only with keep_pixels

The store is tied to the autoencoder that made it: opening it with another one fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import zarr
from tqdm import tqdm
from zarr.codecs import ZstdCodec

from memory import block_depth
from memory.files import check_format
from worldengine.agent.actions import action_rates
from worldengine.data.record import walk
from worldengine.model.autoencoder import CubeAutoencoder, pack_rgbd
from worldengine.model.latent_digest import autoencoder_digest
from worldengine.scenes import ProceduralScene

FORMAT = "worldengine.latent_trajectories"
VERSION = 1
ENCODE_BATCH = 16
_COMPRESSORS = (ZstdCodec(level=3),)


@dataclass
class LatentEpisode:
    """One encoded walk, in RAM: latents (L, F, C, s, s), cell_depth (L, F, s, s), poses
    (L, 4, 4), rates (L, 4); rgb (L, F, S, S, 3) and depth (L, F, S, S) or None."""

    scene_seed: int
    latents: torch.Tensor
    cell_depth: torch.Tensor
    poses: torch.Tensor
    rates: torch.Tensor
    rgb: torch.Tensor | None = None
    depth: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.latents.shape[0]


@torch.no_grad()
def encode_walk(scene: ProceduralScene, steps: int, autoencoder: CubeAutoencoder, seed: int,
                keep_pixels: bool = False) -> LatentEpisode:
    """Walk the loop explorer `steps` actions through `scene` and encode every frame."""
    frames: list[dict] = []
    walk(scene, steps, autoencoder.config.face_size, seed, frames.append)
    rgb = torch.from_numpy(np.stack([f["rgb"] for f in frames]))  # (L, F, S, S, 3)
    depth = torch.from_numpy(np.stack([f["depth"] for f in frames])).float()  # (L, F, S, S)
    latents = torch.cat([autoencoder.encode(pack_rgbd(rgb[i:i + ENCODE_BATCH], depth[i:i + ENCODE_BATCH],
                                                      autoencoder.config.near))
                         for i in range(0, len(frames), ENCODE_BATCH)])
    side = latents.shape[-1]
    rates = torch.from_numpy(np.stack([np.zeros(4, np.float32) if f["action"] < 0 else action_rates(f["action"])
                                       for f in frames]))
    poses = torch.from_numpy(np.stack([f["pose"] for f in frames])).float()
    return LatentEpisode(int(getattr(scene, "seed", seed)), latents.half(), block_depth(depth, side), poses, rates,
                         rgb if keep_pixels else None, depth if keep_pixels else None)


def build_latent_store(path: str | Path, seeds: Sequence[int], steps: int, autoencoder: CubeAutoencoder,
                       keep_pixels: bool = False, progress: bool = True) -> Path:
    """Encode one walk per scene seed into a store at `path`; episodes already there are kept
    (a stopped build resumes)."""
    if steps <= 0 or not len(seeds):
        raise ValueError(f"need steps > 0 and at least one seed, got steps={steps}, {len(seeds)} seeds")
    path = Path(path)
    root = zarr.open_group(str(path), mode="a", zarr_format=3)
    identity = {"format": FORMAT, "version": VERSION, "autoencoder": autoencoder_digest(autoencoder),
                "steps": steps, "keep_pixels": keep_pixels}
    if dict(root.attrs):
        _check_identity(dict(root.attrs), identity, path)
    else:
        root.attrs.update(identity)
    done = {int(root[name].attrs["scene_seed"]) for name in root.group_keys() if root[name].attrs.get("complete")}
    for seed in tqdm(list(seeds), desc="encoding walks", disable=not progress):
        if int(seed) in done:
            continue
        scene = ProceduralScene(int(seed))
        episode = encode_walk(scene, steps, autoencoder, int(seed), keep_pixels)
        _write_episode(root, _episode_name(int(seed)), episode, scene.layout.kind)
    return path


def _episode_name(seed: int) -> str:
    return f"scene_{seed:07d}"


def _write_episode(root: zarr.Group, name: str, episode: LatentEpisode, kind: str) -> None:
    if name in root:
        del root[name]  # a half-written episode of a stopped build
    group = root.create_group(name)
    arrays = {"latents": episode.latents, "cell_depth": episode.cell_depth, "poses": episode.poses,
              "rates": episode.rates, "rgb": episode.rgb, "depth": episode.depth}
    for key, value in arrays.items():
        if value is not None:
            data = value.numpy()
            group.create_array(key, shape=data.shape, chunks=data.shape, dtype=data.dtype, compressors=_COMPRESSORS)
            group[key][...] = data
    group.attrs.update({"scene_seed": episode.scene_seed, "scene_kind": kind, "steps": len(episode),
                        "complete": True})


def _check_identity(found: dict, expected: dict, path: Path) -> None:
    check_format(found, FORMAT, VERSION, path, "latent trajectory store")
    for key in ("autoencoder", "steps", "keep_pixels"):
        if found.get(key) != expected[key]:
            raise ValueError(f"{path} was built with {key}={found.get(key)!r}, not {expected[key]!r}; "
                             f"use another folder or delete it")


def load_latent_store(path: str | Path, autoencoder: CubeAutoencoder | None = None) -> list[LatentEpisode]:
    """Every complete episode of a store, in RAM. With `autoencoder`, check it made the store."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"latent trajectory store not found: {path}")
    root = zarr.open_group(str(path), mode="r")
    attrs = dict(root.attrs)
    check_format(attrs, FORMAT, VERSION, path, "latent trajectory store")
    if autoencoder is not None and attrs["autoencoder"] != autoencoder_digest(autoencoder):
        raise ValueError(f"{path} was encoded by another autoencoder (digest {attrs['autoencoder']})")
    episodes = []
    for name in sorted(root.group_keys()):
        group = root[name]
        if not group.attrs.get("complete"):
            continue
        read = {key: torch.from_numpy(group[key][...]) if key in group else None
                for key in ("latents", "cell_depth", "poses", "rates", "rgb", "depth")}
        episodes.append(LatentEpisode(int(group.attrs["scene_seed"]), **read))
    if not episodes:
        raise ValueError(f"{path} holds no complete episode")
    return episodes
