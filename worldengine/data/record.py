"""Ground-truth rollouts of the loop-closing explorer, recorded into trajectory stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from worldengine.agent.actions import MotionConfig, decode_action
from worldengine.agent.explorer import ROUTES, LoopExplorer
from worldengine.agent.ground import scene_settle
from worldengine.agent.kinematics import step_pose
from worldengine.agent.start import start_pose
from worldengine.data.trajectory import TrajectoryWriter
from worldengine.scenes import ProceduralScene, Scene, render_cubemaps


@dataclass
class Rollout:
    """What one ground-truth walk produced, frame by frame (index 0 is the start)."""

    scene: Scene
    poses: list[np.ndarray] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    blocked: int = 0
    routes: list[dict] = field(default_factory=list)


def walk(scene: Scene, steps: int, face_size: int, seed: int, on_frame: Callable[[dict], None],
         backend: str = "auto", motion: MotionConfig | None = None, progress: bool = False,
         route_kinds: tuple[str, ...] = ROUTES, routes: int | None = None) -> Rollout:
    """Walk `steps` actions of the loop explorer from a seeded free start; call
    `on_frame({"rgb", "depth", "pose", "action"})` for the start frame and every step.
    `route_kinds` limits the explorer's routes; with `routes`, the walk ends early once
    that many routes are complete (and no look-around is taken between routes)."""
    motion = motion or MotionConfig()
    rng = np.random.default_rng(seed)
    pose = start_pose(scene, rng, motion)
    policy = LoopExplorer(scene.grid, rng, motion, 0.0 if routes else 0.2, route_kinds)
    rollout = Rollout(scene)
    action = -1
    for _ in tqdm(range(steps + 1), desc=f"scene {getattr(scene, 'seed', '?')}", disable=not progress, leave=False):
        if action >= 0:
            pose, blocked = step_pose(pose, decode_action(action, "discrete", motion), motion, scene.ray_distance,
                                       scene_settle(scene, motion))
            if blocked:
                rollout.blocked += 1
                policy.blocked()
        frame = render_cubemaps(scene, pose, face_size, backend)
        rollout.poses.append(pose.numpy().copy())
        rollout.actions.append(action)
        on_frame({"rgb": frame.rgb.numpy(), "depth": frame.depth.numpy(), "pose": pose.numpy(), "action": action})
        action = policy.act(pose)
        if routes is not None and len(policy.route_log) > routes:
            break  # the action just planned begins a route past the last one wanted
    rollout.routes = policy.route_log[:routes] if routes is not None else policy.route_log
    return rollout


def record(path: str | Path, episodes: int, steps: int, face_size: int = 64, first_seed: int = 0,
           backend: str = "auto", progress: bool = True) -> list[dict]:
    """Record `episodes` walks of `steps` steps, scene seeds first_seed, first_seed + 1, ...

    Returns one summary dict per episode.
    """
    if episodes <= 0 or steps <= 0:
        raise ValueError(f"episodes and steps must be > 0, got {episodes} and {steps}")
    writer = TrajectoryWriter(path, face_size)
    summaries = []
    for seed in tqdm(range(first_seed, first_seed + episodes), desc="episodes", disable=not progress):
        scene = ProceduralScene(seed)
        episode = writer.begin_episode({"scene_seed": seed, "scene_kind": scene.layout.kind,
                                        "action_kind": "discrete", "policy": "LoopExplorer"})
        rollout = walk(scene, steps, face_size, seed, lambda f: episode.add(f["rgb"], f["depth"], f["pose"], f["action"]),
                       backend, progress=progress)
        episode.close(routes=rollout.routes, blocked_steps=rollout.blocked)
        summaries.append({"scene_seed": seed, "scene_kind": scene.layout.kind, "steps": steps,
                          "routes": len(rollout.routes), "blocked_steps": rollout.blocked})
    return summaries
