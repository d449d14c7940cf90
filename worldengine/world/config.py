"""WorldConfig: how the worlds of a WorldModel are generated, remembered and moved."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldengine.agent.actions import ACTION_KINDS, MotionConfig
from worldengine.model.flow import SamplerConfig
from worldengine.model.generate import MODES
from worldengine.world.recall import MEMORY_KINDS, RETRIEVALS

WRITE_POLICIES = ("novel", "all")


@dataclass(frozen=True)
class WorldConfig:
    """mode: "sequential" (faces by coverage) or "joint"; sampler: steps and guidance;
    action_kind: "discrete" or "continuous"; memory_radius: metres of memory queried per
    step; voxel_size: the memory's fusion voxel (0.03 m: coarser voxels fuse neighbouring latent
    cells into one token, and a return then sees their average instead of what was there); collision_reach / surface_radius /
    collision_floor_band: see MemoryCollider. write_policy: which generated cells go back
    into the memory, "all", or "novel" (default): the cells the memory did not cover, and those whose generated
    surface stands more than `occlusion_margin` (a fraction) in front of the remembered
    one. What the memory holds is then never overwritten by a regenerated copy of itself,
    whose depth jitters from frame to frame: the remembered world cannot drift, and a
    world standing still adds nothing to its memory (nor earns exploration reward).
    memory: what conditions generation, "latent" (the engine's), "rgb_points" (the
    explicit baseline) or "none" (worldengine.world.recall); retrieval: which latent tokens
    are read (memory.index.retrieve). Worlds other than "latent" keep no tokens, so nothing collides.

    What keeps a world the same (DESIGN.md), each switchable to measure what it is worth:
    world_aligned: worlds are generated, stored and warped in a cube at the agent's position
    that keeps the episode's start heading (gravity- and yaw-fixed); the body-frame faces
    are resampled from it, and a step that only turns or looks runs no generator.
    footprint: a memory token covers the cells its patch of surface spans (no cracks).
    anchored: the memory is authoritative where it covers: covered cells are the memory's,
    only unseen cells are sampled, and a face the memory covers runs no sampler.
    refine: covered cells pass through the generator's learned refiner (if it has one),
    which turns warped latents into the new view's (worldengine.model.refiner)."""

    mode: str = "sequential"
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    action_kind: str = "discrete"
    motion: MotionConfig = field(default_factory=MotionConfig)
    memory_radius: float = 12.0
    voxel_size: float = 0.03
    collision_reach: float = 1.5
    surface_radius: float = 0.1
    collision_floor_band: float = 0.3
    write_policy: str = "novel"
    occlusion_margin: float = 0.2
    memory: str = "latent"
    retrieval: str = "radius"
    world_aligned: bool = True
    footprint: bool = True
    anchored: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        if self.memory not in MEMORY_KINDS:
            raise ValueError(f"memory must be one of {MEMORY_KINDS}, got {self.memory!r}")
        if self.retrieval not in RETRIEVALS:
            raise ValueError(f"retrieval must be one of {RETRIEVALS}, got {self.retrieval!r}")
        if self.write_policy not in WRITE_POLICIES:
            raise ValueError(f"write_policy must be one of {WRITE_POLICIES}, got {self.write_policy!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.action_kind not in ACTION_KINDS:
            raise ValueError(f"action_kind must be one of {ACTION_KINDS}, got {self.action_kind!r}")
        if not self.memory_radius > 0 or not self.voxel_size > 0:
            raise ValueError(f"memory_radius and voxel_size must be > 0, got {self.memory_radius}, {self.voxel_size}")


__all__ = ["WRITE_POLICIES", "WorldConfig"]
