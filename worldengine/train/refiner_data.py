"""Training pairs of the refiner: the engine's own warp of a remembered frame to a nearby
view, and the ground truth at that view.

Each pair: in a training scene, a world starts from the ground-truth frame at a free pose
(the engine's writer puts its tokens in a `LatentMemory`); the body then stands at a free
pose MIN_MOVE to `max_move` metres away in a random direction (log-uniform: the far reads an
explorer makes of tokens written metres back join without crowding out the near ones of its
0.25 m steps), and the world reads its memory there exactly
as a step does (world-aligned cube, footprint splat, cracks and all). The pair is that
read as the refiner sees it (`refiner_input`) with the ground truth of the same cube:
its latents (the autoencoder's encoding) and its pixels. Stored as one safetensors file
whose metadata records the request (seeds, pairs per scene, farthest move, and the digest
of the latents: pairs of one encoder teach nothing about another's).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from memory.files import atomic_write, check_format
from worldengine.agent.actions import MotionConfig
from worldengine.agent.start import start_pose
from worldengine.geometry.cube import face_rotations
from worldengine.geometry.pose import turned
from worldengine.model.autoencoder import pack_rgbd
from worldengine.model.generate import CubeGenerator
from worldengine.model.latent_digest import autoencoder_digest
from worldengine.model.refiner import refiner_input
from worldengine.scenes import ProceduralScene, render_cubemaps
from worldengine.world import WorldConfig, WorldModel
from worldengine.world.start import scene_start

FORMAT, VERSION = "worldengine-refiner-pairs", 2  # 2: inputs carry the sub-cell offsets
MIN_MOVE = 0.15  # metres between the remembered frame and the view it is read at, at least
MAX_MOVE = 1.0  # and at most, unless asked for farther
TRIES = 20


def _nearby_free_pose(scene: ProceduralScene, pose: torch.Tensor, rng: np.random.Generator,
                      motion: MotionConfig, max_move: float) -> torch.Tensor | None:
    """`pose` moved MIN_MOVE to `max_move` m (log-uniform) in a random horizontal direction
    to free space (None if none found)."""
    for _ in range(TRIES):
        angle, distance = rng.uniform(0, 2 * math.pi), math.exp(rng.uniform(math.log(MIN_MOVE), math.log(max_move)))
        moved = pose.clone()
        moved[0, 3] += distance * math.cos(angle)
        moved[2, 3] += distance * math.sin(angle)
        path = np.linspace(pose[:3, 3].numpy(), moved[:3, 3].numpy(), 5)
        if scene.is_free(path, motion.agent_radius, motion.eye_height).all():
            return moved
    return None


def build_refiner_pairs(path: str | Path, generator: CubeGenerator, seeds: list[int], per_scene: int,
                        progress: bool = True, max_move: float = MAX_MOVE) -> Path:
    """Write the pairs of scenes `seeds` (`per_scene` each, moves up to `max_move` metres)
    to `path` unless a file of the same request is there (then it is kept: a rerun resumes
    training on it). Any other file there is refused, never replaced: pairs of another
    request cost minutes to hours to build, and a file that is not pairs is not ours."""
    if not max_move > MIN_MOVE:
        raise ValueError(f"the farthest move must be over {MIN_MOVE} m, got {max_move}")
    path = Path(path)
    request = {"format": FORMAT, "version": str(VERSION), "seeds": ",".join(map(str, seeds)),
               "per_scene": str(per_scene), "max_move": str(max_move),
               "autoencoder": autoencoder_digest(generator.autoencoder)}
    if path.exists():
        _check_same_request(path, request)
        return path
    motion, size = MotionConfig(), generator.autoencoder.config.face_size
    world = WorldModel(generator, 1, WorldConfig(sampler=generator.sampler, motion=motion))
    inputs, latents, rgb, depth = [], [], [], []
    try:
        for seed in tqdm(seeds, desc="refiner pairs", disable=not progress):
            scene, rng = ProceduralScene(seed), np.random.default_rng(seed)
            for _ in range(per_scene):
                pose = start_pose(scene, rng, motion)
                pose = turned(pose, rng.uniform(-math.pi, math.pi))  # the writer's heading varies
                target = _nearby_free_pose(scene, pose, rng, motion, max_move)
                if target is None:
                    continue
                world.reset(0, scene_start(scene, pose, size), seed=int(rng.integers(0, 2**31)))
                state = world.world(0)
                state.pose = target
                where = world.cube_pose(0)
                warped, _ = state.recall.read(where, face_rotations(), generator.model.config.latent_size)
                truth = render_cubemaps(scene, where, size)
                with torch.no_grad():
                    packed = pack_rgbd(truth.rgb[None], truth.depth[None], generator.autoencoder.config.near)
                    latents.append(generator.autoencoder.encode(packed)[0])
                inputs.append(refiner_input(warped))
                rgb.append(truth.rgb)
                depth.append(truth.depth.half())
    finally:
        world.close()
    tensors = {"input": torch.stack(inputs).half(), "target_latents": torch.stack(latents).half(),
               "target_rgb": torch.stack(rgb), "target_depth": torch.stack(depth)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temp: save_file(tensors, str(temp), metadata={k: str(v) for k, v in request.items()}))
    return path


def _metadata(path: Path) -> dict | None:
    try:
        with safe_open(str(path), "pt") as handle:
            return handle.metadata()
    except Exception:  # not a safetensors file
        return None


def _described(key: str, value: str | None) -> str:
    """A request's value as an error message shows it (a seed list by its count and ends)."""
    if key != "seeds" or not value:
        return repr(value)
    seeds = value.split(",")
    return f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]})" if len(seeds) > 3 else repr(value)


def _pairs_metadata(path: Path) -> dict[str, str]:
    """The metadata of the refiner pairs file at `path`, refused if it is not one."""
    found = _metadata(path) or {}
    check_format(found, FORMAT, str(VERSION), path, "refiner pairs file")  # metadata are strings
    return found


def _check_same_request(path: Path, request: dict[str, str]) -> None:
    """Refuse the file at `path` unless it holds the pairs of `request`, naming what differs."""
    found = _pairs_metadata(path)
    differs = {k: (found.get(k), v) for k, v in request.items() if found.get(k) != v}
    if differs:
        what = "; ".join(f"{k}: the file has {_described(k, a)}, asked for {_described(k, b)}"
                         for k, (a, b) in differs.items())
        raise ValueError(f"{path} holds refiner pairs of another request ({what}); pass the arguments it was "
                         "built with (--scenes, --pairs-per-scene, --max-move, --autoencoder) or another --data path")


def load_refiner_pairs(path: str | Path, latents: str | None = None) -> dict[str, torch.Tensor]:
    """The pairs at `path`, checked for format; float32 inputs and latents. With `latents` (an
    autoencoder digest), pairs that record another encoder's latents, or none, are refused."""
    recorded = _pairs_metadata(Path(path)).get("autoencoder")
    if latents is not None and recorded is None:
        raise ValueError(f"the pairs at {path} do not record whose latents they hold, so a refiner trained "
                         f"through autoencoder {latents} cannot trust them: rebuild them with it")
    if latents is not None and recorded != latents:
        raise ValueError(f"the pairs at {path} hold the latents of autoencoder {recorded}, not of the one "
                         f"this refiner trains through ({latents}): rebuild them with it")
    tensors = load_file(str(path))
    return {k: v.float() if v.dtype == torch.float16 else v for k, v in tensors.items()}


__all__ = ["MAX_MOVE", "MIN_MOVE", "build_refiner_pairs", "load_refiner_pairs"]
