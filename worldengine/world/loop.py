"""WorldModel: the engine's step loop over many independent generated worlds.

One step of world i (DESIGN.md, "One env.step"):
action -> pose' (collisions against world i's own memory) -> only the heading changed?
resample the body-frame faces from the world's cube (worldengine.world.view); done ->
query its memory and warp it, footprints and all, into the latent grid of the
world-aligned cube at the new position -> generate the unseen cells of the window (all
moved worlds in one batch: one network call per sampler step; covered cells are the
memory's) -> decode, blend seams -> lift the unseen cells by their generated depth and
write them into world i's memory -> resample the body-frame faces -> observation.

Each world owns a LatentMemory store on disk, its last H frames (the generator's
history), its pose and its own noise generator, so a world's rollout is reproducible
from its seed whatever other worlds share the batch.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from memory import LatentMemory
from worldengine.agent.actions import action_rates, decode_action
from worldengine.agent.kinematics import step_pose
from worldengine.geometry.cube import NUM_FACES, face_rotations
from worldengine.geometry.pose import check_rigid
from worldengine.model.autoencoder import pack_rgbd
from worldengine.model.generate import CubeGenerator, WindowContext, memory_input
from worldengine.model.refiner import cells_to_refine, refiner_input
from worldengine.world.collision import MemoryCollider
from worldengine.world.config import WorldConfig
from worldengine.world.frame import Frame
from worldengine.world.recall import MEMORY_KINDS, RETRIEVALS, LatentRecall, NoRecall, PointRecall, Recall, Seen
from worldengine.world.start import StartFrame
from worldengine.world.state import WorldState, read_saved, restore_world, save_world
from worldengine.world.view import CubeView, cube_from_body, cube_pose, level_heading

UNSEEN_ONLY = 1.0  # a write-policy margin no surface passes: only cells the memory did not cover are written


class WorldModel:
    """`num_worlds` independent generated worlds sharing one generator.

    Stores live in `workdir` (a temporary folder by default, removed by `close`) unless
    `reset` is given a `memory_path`.
    """

    def __init__(self, generator: CubeGenerator, num_worlds: int = 1, config: WorldConfig = WorldConfig(),
                 workdir: str | Path | None = None):
        if not isinstance(num_worlds, int) or num_worlds <= 0:
            raise ValueError(f"num_worlds must be a positive int, got {num_worlds!r}")
        self.generator = generator.with_sampler(**vars(config.sampler))
        self.config, self.num_worlds = config, num_worlds
        self.model_config = generator.model.config
        self.face_size = generator.autoencoder.config.face_size
        self.rotations = face_rotations()
        self._own_workdir = workdir is None  # a temporary workdir is removed by close()
        self.workdir = Path(tempfile.mkdtemp(prefix="worldengine-")) if workdir is None else Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._worlds: list[WorldState | None] = [None] * num_worlds
        self._episodes = [0] * num_worlds

    # ---------------------------------------------------------------- life cycle

    def world(self, index: int) -> WorldState:
        if not 0 <= index < self.num_worlds:
            raise IndexError(f"world {index} out of range: this model runs {self.num_worlds} worlds")
        world = self._worlds[index]
        if world is None:
            raise RuntimeError(f"world {index} has not been reset")
        return world

    def memory(self, index: int) -> LatentMemory:
        return self.world(index).memory

    def pose(self, index: int) -> np.ndarray:
        return self.world(index).pose.numpy().copy()

    def last_frame(self, index: int) -> Frame:
        """World `index`'s newest observation (after a reset, a step or a resume)."""
        return self.world(index).last

    def _release(self, index: int) -> None:
        """Close world `index`'s store; remove it if it lives in the model's own workdir."""
        world = self._worlds[index]
        if world is None:
            return
        world.memory.close()
        if world.owned:
            shutil.rmtree(world.memory.log.url, ignore_errors=True)
        self._worlds[index] = None

    def _store_path(self, index: int, memory_path: str | Path | None) -> Path:
        """Release world `index` and name the store of its next episode."""
        self._release(index)
        self._episodes[index] += 1
        return Path(memory_path) if memory_path else self.workdir / f"world{index}-episode{self._episodes[index]}.zarr"

    def _blank_world(self, memory: LatentMemory, pose: torch.Tensor, seed: int | None, recall: Recall,
                     owned: bool) -> WorldState:
        """A world at `pose` with an empty history and its noise seeded by `seed` (random if None)."""
        cfg = self.model_config
        h, s = cfg.history, cfg.latent_size
        noise = torch.Generator()
        noise.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, ())))
        collider = MemoryCollider(memory, self.config.collision_reach, self.config.surface_radius,
                                  self.config.collision_floor_band)
        pose = pose.to(torch.float32)
        return WorldState(memory=memory, collider=collider, recall=recall, pose=pose, noise=noise, owned=owned,
                          history=torch.zeros(h, NUM_FACES, cfg.latent_channels, s, s),  # (H, F, C, s, s)
                          history_poses=pose.expand(h, 4, 4).clone(), history_present=torch.zeros(h, dtype=torch.bool))

    def reset(self, index: int, start: StartFrame | None, pose: np.ndarray | None = None, seed: int | None = None,
              memory_path: str | Path | None = None, memory_kind: str | None = None,
              retrieval: str | None = None) -> Frame:
        """Begin world `index` afresh from `start` (a first frame, written to the memory as
        it is) or, with `start=None`, from an empty memory at `pose`, generating the first
        frame. `seed` fixes the world's noise; `memory_kind` and `retrieval` override the
        config's for this world (ablations side by side in one batch)."""
        memory_kind, retrieval = memory_kind or self.config.memory, retrieval or self.config.retrieval
        if memory_kind not in MEMORY_KINDS or retrieval not in RETRIEVALS:
            raise ValueError(f"memory_kind must be one of {MEMORY_KINDS} and retrieval one of {RETRIEVALS}, "
                             f"got {memory_kind!r}, {retrieval!r}")
        if start is not None and start.rgb.shape[1] != self.face_size:
            raise ValueError(f"start frame faces are {start.rgb.shape[1]} px, the autoencoder makes {self.face_size}")
        if start is None and pose is None:
            raise ValueError("a world started from nothing needs a pose")
        first_pose = torch.as_tensor(np.asarray(start.pose if start is not None else pose, dtype=np.float32))
        if first_pose.shape != (4, 4):
            raise ValueError(f"a world needs a (4, 4) start pose, got {tuple(first_pose.shape)}")
        check_rigid(first_pose, "start pose")
        if memory_path is not None and Path(memory_path).exists():
            raise FileExistsError(f"a memory store already exists at {memory_path}")
        path = self._store_path(index, memory_path)
        memory = LatentMemory.create(str(path), channels=self.model_config.latent_channels,
                                     voxel_size=self.config.voxel_size, overwrite=memory_path is None)
        world = self._worlds[index] = self._blank_world(memory, first_pose, seed,
                                                        self._new_recall(memory_kind, retrieval, memory),
                                                        owned=memory_path is None)
        world.heading = level_heading(first_pose) if self.config.world_aligned else first_pose[:3, :3].clone()
        if start is None:
            return self._advance([index], [np.zeros(4, np.float32)])[0]  # no motion: zero rates
        view = cube_from_body(torch.from_numpy(start.rgb), torch.from_numpy(start.depth), first_pose, world.heading)
        ae = self.generator.autoencoder
        with torch.no_grad():
            latents = ae.encode(pack_rgbd(view.rgb[None], view.depth[None], ae.config.near))  # (1, F, C, s, s)
        new = world.recall.write(latents[0], view.depth, view.rgb, self._cube_pose(world), self.rotations,
                                 world.frames)
        self._remember(world, latents)
        world.view = view
        world.last = Frame(start.rgb.copy(), start.depth.copy(), start.pose.copy(), new)
        return world.last

    def close(self) -> None:
        for index in range(self.num_worlds):
            world = self._worlds[index]
            if world is not None:
                world.memory.close()
        self._worlds = [None] * self.num_worlds
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---------------------------------------------------------------- stepping

    def step(self, actions: dict[int, Any]) -> dict[int, Frame]:
        """Step the worlds named by `actions` {index: action} (each checked before any
        world moves); those that moved are generated in one batch, those that only turned
        or looked are resampled from their cube."""
        kind, motion_config = self.config.action_kind, self.config.motion
        motions = {}
        for i, action in actions.items():
            try:
                motions[i] = decode_action(action, kind, motion_config)
            except ValueError as error:
                raise ValueError(f"world {i}: {error}") from None
        rates = [action_rates(a, kind, motion_config) for a in actions.values()]
        indices, blocked, moved_ms = list(actions), [], []
        for i in indices:
            world = self.world(i)
            start = time.perf_counter()
            world.pose, hit = step_pose(world.pose, motions[i], motion_config, world.collider.ray_distance)
            moved_ms.append((time.perf_counter() - start) * 1e3)
            blocked.append(hit)
        frames = self._observe(indices, rates)
        for i, hit, ms in zip(indices, blocked, moved_ms):
            frames[i].blocked = hit
            frames[i].timings["collision_ms"] = ms
        return frames

    def step_to(self, moves: dict[int, tuple[np.ndarray, Any]]) -> dict[int, Frame]:
        """Step worlds {index: (pose, action)}: each is placed at `pose` (4, 4) instead of
        being moved by its action and its own collisions, and `action` conditions the
        generator as in `step`. For running in lockstep with another simulator (the
        ground truth of benchmarks.explore) along the poses it reached."""
        kind, motion_config = self.config.action_kind, self.config.motion
        poses, rates = {}, []
        for i, (pose, action) in moves.items():
            try:
                decode_action(action, kind, motion_config)
                rates.append(action_rates(action, kind, motion_config))
                poses[i] = torch.as_tensor(np.asarray(pose, dtype=np.float32))
                check_rigid(poses[i], "pose")
            except ValueError as error:
                raise ValueError(f"world {i}: {error}") from None
        for i, pose in poses.items():
            self.world(i).pose = pose
        return self._observe(list(moves), rates)

    def memory_bytes(self, index: int) -> int:
        """Bytes world `index`'s conditioning memory holds in RAM (0 for "none")."""
        return self.world(index).recall.nbytes

    def _new_recall(self, kind: str, retrieval: str, memory: LatentMemory) -> Recall:
        """The memory of kind `kind` a world reads and writes (its token store for "latent")."""
        margin = self.config.occlusion_margin if self.config.write_policy == "novel" else None
        if self.config.anchored:  # covered cells are the memory's own: only unseen cells are new
            margin = UNSEEN_ONLY
        if kind == "rgb_points":
            return PointRecall(self.generator.autoencoder, margin)
        if kind == "none":
            return NoRecall(self.model_config.latent_channels)
        return LatentRecall(memory, self.config.memory_radius, retrieval, margin, self.config.footprint)

    def _context(self, indices: list[int], rates: list[np.ndarray]) -> tuple[WindowContext, list[Seen | None],
                                                                               list[float], torch.Tensor, torch.Tensor | None]:
        """The batched window context of worlds `indices` at their current poses, what
        each memory read found remembered (for the write policy), the ms each read took,
        what to scale the decoded depth of each remembered cell by (B, F, s, s), and what
        covered cells are (B, F, C, s, s): the warped memory, refined where the refiner runs
        (`cells_to_refine`), or None without a refiner."""
        memories, seen, read_ms, scales, refiner_inputs, refine_cells = [], [], [], [], [], []
        refining = self._refining()
        for i in indices:
            world = self.world(i)
            start = time.perf_counter()
            warped, found = world.recall.read(self._cube_pose(world), self.rotations, self.model_config.latent_size)
            memories.append(memory_input(warped, self.model_config))
            scales.append(warped.decoded_depth_scale())
            if refining:
                refiner_inputs.append(refiner_input(warped))
                refine_cells.append(cells_to_refine(warped))
            seen.append(found)
            read_ms.append((time.perf_counter() - start) * 1e3)
        worlds = [self.world(i) for i in indices]
        context = WindowContext(
            pose=torch.stack([self._cube_pose(w) for w in worlds]), memory=torch.stack(memories),
            history=torch.stack([w.history for w in worlds]), history_poses=torch.stack([w.history_poses for w in worlds]),
            history_present=torch.stack([w.history_present for w in worlds]),
            action=torch.from_numpy(np.stack(rates)).float())
        scales, remembered = torch.stack(scales), None
        if refining:
            cells = torch.stack(refine_cells)  # (B, F, s, s)
            with torch.no_grad():
                refined = self.generator.refiner(torch.stack(refiner_inputs))
            remembered = torch.where(cells[:, :, None], refined, context.memory[:, :, :refined.shape[2]])
            scales = torch.where(cells, torch.ones_like(scales), scales)  # refined cells decode to this view's depth
        return context, seen, read_ms, scales, remembered

    def _refining(self) -> bool:
        """Whether covered cells go through the generator's refiner (anchored worlds with one)."""
        return self.config.anchored and self.config.refine and self.generator.refiner is not None

    def _observe(self, indices: list[int], rates: list[np.ndarray]) -> dict[int, Frame]:
        """Each of `indices` at its new pose: generated where it stands somewhere new (all in
        one batch), resampled from its cube where it only turned or looked."""
        moved = [n for n, i in enumerate(indices) if not self._stands_still(self.world(i))]
        frames = dict(zip([indices[n] for n in moved], self._advance([indices[n] for n in moved],
                                                                        [rates[n] for n in moved]))) if moved else {}
        for i in indices:
            if i not in frames:
                frames[i] = self._look(self.world(i))
        return {i: frames[i] for i in indices}

    def _stands_still(self, world: WorldState) -> bool:
        """Whether the world's view stays its cube's: world-aligned and still at the cube's position."""
        return self.config.world_aligned and world.view is not None and world.view.stands_at(world.pose)

    def cube_pose(self, index: int) -> torch.Tensor:
        """Where world `index`'s cube stands now (4, 4): what its memory is read and written at."""
        return self._cube_pose(self.world(index))

    def _cube_pose(self, world: WorldState) -> torch.Tensor:
        """Where the world's cube is generated, stored and warped: its heading at the body's position."""
        return cube_pose(world.heading if self.config.world_aligned else world.pose[:3, :3], world.pose[:3, 3])

    def _look(self, world: WorldState) -> Frame:
        """The body-frame faces of a world that only turned or looked: its cube resampled, nothing generated."""
        start = time.perf_counter()
        rgb, depth = world.view.seen_from(world.pose)
        timings = {"memory_read_ms": 0.0, "generate_ms": 0.0, "decode_ms": 0.0, "memory_write_ms": 0.0,
                   "resample_ms": (time.perf_counter() - start) * 1e3}
        world.last = Frame(rgb, depth, world.pose.numpy().astype(np.float32), 0,
                           coverage=np.ones(NUM_FACES, np.float32), timings=timings)
        return world.last

    def _advance(self, indices: list[int], rates: list[np.ndarray]) -> list[Frame]:
        """Generate, decode and write back one cube for each of `indices` at its position;
        its body-frame faces are the observation."""
        context, seen, read_ms, depth_scales, remembered = self._context(indices, rates)
        worlds = [self.world(i) for i in indices]
        start = time.perf_counter()
        latents, order = self.generator.latents(context, self.config.mode, [w.noise for w in worlds],
                                                anchored=self.config.anchored, remembered=remembered)
        generate_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        rgb, depth = self.generator.decode(latents)  # (B, F, S, S, 3) in [0, 1], (B, F, S, S)
        if self.config.anchored:  # remembered cells decode to their writer's depth: rescale to this viewpoint
            # (refined cells decode to this view's already: their scale is 1)
            k = depth.shape[-1] // depth_scales.shape[-1]
            depth = depth * depth_scales.repeat_interleave(k, -1).repeat_interleave(k, -2)
        decode_ms = (time.perf_counter() - start) * 1e3
        rgb8 = (rgb.clamp(0, 1) * 255).round().to(torch.uint8)
        frames = []
        for b, world in enumerate(worlds):
            start = time.perf_counter()
            pose = context.pose[b]
            new = world.recall.write(latents[b], depth[b], rgb8[b], pose, self.rotations, world.frames, seen[b])
            write_ms = (time.perf_counter() - start) * 1e3
            self._remember(world, latents[b:b + 1])
            start = time.perf_counter()
            world.view = CubeView(rgb8[b], depth[b].float(), pose[:3, 3].clone(), pose[:3, :3].clone())
            body_rgb, body_depth = world.view.seen_from(world.pose)
            frames.append(Frame(
                body_rgb, body_depth, world.pose.numpy().astype(np.float32), new,
                coverage=context.coverage[b].numpy().astype(np.float32), order=order[b].numpy().astype(np.int64),
                timings={"memory_read_ms": read_ms[b], "generate_ms": generate_ms / len(worlds),
                         "decode_ms": decode_ms / len(worlds), "memory_write_ms": write_ms,
                         "resample_ms": (time.perf_counter() - start) * 1e3}))
            world.last = frames[-1]
        return frames

    def _remember(self, world: WorldState, latents: torch.Tensor) -> None:
        """Count the cube just stored and make its latents (1, F, C, s, s) the newest history frame."""
        world.frames += 1
        world.history = torch.cat([world.history[1:], latents.float()])
        world.history_poses = torch.cat([world.history_poses[1:], self._cube_pose(world)[None]])
        world.history_present = torch.cat([world.history_present[1:], torch.ones(1, dtype=torch.bool)])

    # ---------------------------------------------------------------- save and resume

    def save(self, index: int, folder: str | Path, extra: dict | None = None, replace: bool = False) -> Path:
        """Write world `index` to `folder` (worldengine.world.state.save_world; `replace` a
        world saved there before); `resume` continues it."""
        world = self.world(index)
        if world.recall.kind != "latent":
            raise ValueError(f"world {index} remembers {world.recall.kind!r}: only latent-memory worlds can be saved")
        return save_world(world, folder, extra, replace)

    def resume(self, index: int, folder: str | Path, memory_path: str | Path | None = None,
               check_extra: Callable[[dict], Any] | None = None) -> dict:
        """Continue world `index` from a `save`d folder (left untouched: its store is copied
        to `memory_path` or the workdir). All or nothing: everything is read and checked into
        a new world first (`check_extra` checks the saved `extra` dict, raising to refuse it),
        and only then does it replace world `index`; on any failure the running world is
        untouched and the error names the folder and the file. Returns the `extra` dict."""
        folder = Path(folder)
        if memory_path is not None and Path(memory_path).exists():
            raise FileExistsError(f"a memory store already exists at {memory_path}")
        saved = read_saved(folder, self.model_config)
        if check_extra is not None:
            check_extra(saved.extra)
        path = Path(memory_path) if memory_path else self.workdir / f"world{index}-resume-{uuid.uuid4().hex[:8]}.zarr"
        try:
            shutil.copytree(folder / "memory.zarr", path)
            memory = self._open_saved_store(path, folder, saved.frames)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        world = self._blank_world(memory, saved.tensors["pose"], 0,
                                  self._new_recall("latent", self.config.retrieval, memory), owned=memory_path is None)
        restore_world(world, saved)
        self._release(index)
        self._episodes[index] += 1
        self._worlds[index] = world
        return saved.extra

    def _open_saved_store(self, path: Path, folder: Path, frames: int) -> LatentMemory:
        """The copied store of a saved world, every committed segment read, its channels and frame count checked."""
        try:
            memory = LatentMemory.open(str(path))
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise ValueError(f"{folder}/memory.zarr cannot be read: {type(error).__name__}: {error}") from None
        if memory.channels != self.model_config.latent_channels:
            memory.close()
            raise ValueError(f"{folder}/memory.zarr holds {memory.channels} latent channels, this model makes "
                             f"{self.model_config.latent_channels}")
        if len(memory.frames()["frame_id"]) != frames:
            memory.close()
            raise ValueError(f"{folder}/memory.zarr commits {len(memory.frames()['frame_id'])} frames, but "
                             f"world.json saved {frames}: the store's commit record does not match the world")
        return memory

__all__ = ["WorldModel"]
