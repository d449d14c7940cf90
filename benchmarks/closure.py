"""Loop closure: does a generated world stay put when the agent turns, steps, and comes back?

Run: python -m benchmarks.closure [--quick] [--mesh PATH [--mesh-up z] [--mesh-scale S]]
     [--generator DIR] [--autoencoder DIR] [--refiner DIR]   (other weights than the shipped ones)

On held-out scenes (rooms and houses, checked against the training range), each from a
start found by a seeded search: a level pose facing a multiple of 45 degrees with a free
straight path of max(RETRACES) moves ahead. Every world starts from the scene's
ground-truth frame there and is stepped along poses computed exactly (`step_to`, with
the action that makes each move conditioning the generator), so a return is at the
exact start pose and heading. Per world configuration (CONFIGS, all in the same run):

- turn: 24 x TURN_LEFT (a full turn); turn_return_psnr / _ssim: the frame after it
  against the start frame; turn_step_ssim_vs_gt: every turn step against ground truth.
- step: one FORWARD move; step_psnr_vs_gt / step_ssim_vs_gt / step_depth_absrel_vs_gt
  against ground truth.
- retrace N (N in RETRACES): N forward, a half turn (12 x TURN_LEFT), N forward, a half
  turn: back at the start; retrace_return_psnr / _ssim / _depth_absrel[N]: the return
  frame against the start frame.
- reach: how far from what it saw a world holds. Along the longest retrace's straight outbound
  leg, the frames REACH_METRES ahead of the start (those the leg gets to): reach_psnr_vs_gt /
  reach_ssim_vs_gt[m] against ground truth there. Nothing but the start frame was seen, so the
  same bound as the step's holds at each: reach_reproject_ae_psnr / _ssim[m], the start's
  autoencoder round trip reprojected per pixel (below), and reach_ae_psnr / _ssim[m], the
  round trip of the ground truth there (the ceiling of anything decoded there).
- warp_ssim_vs_gt: the memory alone (the start frame's tokens) read at the step's pose
  and decoded, against ground truth there; warp_coverage: the cells it covers.
- ms_turn_step, ms_move_step: wall ms per step of each kind.

The ceiling, in the same run: ae_psnr / ae_ssim, the autoencoder's round trip of the same
ground-truth frames (the start frames and the step frames). What geometry alone keeps over
the step, with no latent involved: reproject_psnr / reproject_ssim, the ground-truth start
frame reprojected per pixel (each pixel a point at its true depth, rendered at the step's pose
with holes of up to CRACK_FILL pixels filled: the "rgb_points" rendering) against the
ground truth there, and reproject_ae_psnr / reproject_ae_ssim, the autoencoder's round trip of
the start frame reprojected the same way (a perfect warp of a perfectly remembered frame).
The renderer samples one ray per pixel, so fine texture aliases differently at every pose and
even exact reprojection does not reproduce it. Figures are means over the
scenes. "engine" is the default WorldConfig; "unrefined" the engine without its learned
refiner (covered cells are the warped memory as it is); "body_frame" is the engine before
position-keyed worlds (generated in the body frame, point-splatted memory, memory not
authoritative), for the ratio. Writes benchmarks/results/closure.json and closure.png
(per scene: start | after the full turn | retrace return | ground truth at the step |
generated step, as equirect rows). With --mesh, the one scene is your mesh (its ground
truth the mesh itself), and the files are closure_mesh.json and closure_mesh.png.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import imageio.v2 as imageio
import numpy as np
import torch

from benchmarks.common import ENGINES, RESULTS_DIR, bench_command, markdown_table, publish
from benchmarks.weights import add_weight_arguments, load_weights, weight_flags
from memory import fill_holes
from memory.points import PointCloudMemory
from worldengine.agent.actions import DiscreteAction, MotionConfig
from worldengine.cli.mesh_args import add_mesh_arguments, mesh_flags, mesh_scene
from worldengine.eval.metrics import depth_absrel, psnr, ssim
from worldengine.eval.visualize import equirect_image
from worldengine.geometry.cube import face_rotations
from worldengine.geometry.pose import pose_from_yaw_pitch, turned
from worldengine.model.autoencoder import pack_rgbd
from worldengine.model.generate import CubeGenerator
from worldengine.scenes import MeshScene, ProceduralScene, Scene, render_cubemaps
from worldengine.scenes.layout import generate_layout
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, check_heldout
from worldengine.world import StartFrame, WorldConfig, WorldModel
from worldengine.world.recall import CRACK_FILL
from worldengine.world.view import CubeView

FORWARD, TURN = int(DiscreteAction.FORWARD), int(DiscreteAction.TURN_LEFT)
CONFIGS = ENGINES
HEADINGS = 8  # start headings tried: multiples of 45 degrees
REACH_METRES = (1.0, 2.0, 4.0)


@dataclass(frozen=True)
class ClosureConfig:
    kinds: tuple[str, ...] = ("room", "house")
    per_kind: int = 2
    retraces: tuple[int, ...] = (4, 12, 40)
    turn_steps: int = 24
    candidates: int = 300  # start cells tried per scene


FULL = ClosureConfig()
QUICK = ClosureConfig(per_kind=1, retraces=(4, 12))


def _seed(scene: Scene) -> int:
    return getattr(scene, "seed", 0)


def scene_label(scene: Scene) -> dict[str, Any]:
    if isinstance(scene, MeshScene):
        return scene.source()
    return {"seed": scene.seed, "kind": scene.layout.kind}


def straight_start(scene: Scene, moves: int, motion: MotionConfig, tries: int) -> np.ndarray | None:
    """A level start pose (4, 4) facing a multiple of 45 degrees with `moves` free moves ahead
    on one floor, or None."""
    cells = np.argwhere(scene.grid.free)
    rng = np.random.default_rng(_seed(scene))
    for index in rng.permutation(len(cells))[:tries]:
        x, z = scene.grid.centre(*cells[index])
        eye = np.array([x, scene.grid.floor_at(*cells[index]) + motion.eye_height, z])
        for k in range(HEADINGS):
            yaw = k * 2 * math.pi / HEADINGS
            ahead = np.array([-math.sin(yaw), 0.0, -math.cos(yaw)])
            path = eye + np.arange(0, moves + 1)[:, None] * motion.move_step * ahead
            if scene.is_free(path, motion.agent_radius, motion.eye_height).all():
                return pose_from_yaw_pitch(torch.as_tensor(eye, dtype=torch.float32), yaw, 0.0).numpy()
    return None


def closure_scenes(config: ClosureConfig, motion: MotionConfig) -> list[tuple[ProceduralScene, np.ndarray]]:
    """The first `per_kind` held-out scenes of each kind that admit a straight retrace, with their starts."""
    chosen, counts = [], dict.fromkeys(config.kinds, 0)
    for seed in HELDOUT_SCENE_SEEDS:
        kind = generate_layout(seed).kind
        if counts.get(kind, config.per_kind) >= config.per_kind:
            continue
        scene = ProceduralScene(seed)
        start = straight_start(scene, max(config.retraces), motion, config.candidates)
        if start is not None:
            chosen.append((scene, start))
            counts[kind] += 1
        if all(c >= config.per_kind for c in counts.values()):
            break
    check_heldout([scene.seed for scene, _ in chosen])
    return chosen


def _moved(pose: np.ndarray, metres: float) -> np.ndarray:
    out = pose.copy()
    out[:3, 3] -= metres * pose[:3, 2]  # forward is -z of the body
    return out


def _turned(pose: np.ndarray, radians: float) -> np.ndarray:
    """geometry.pose.turned for the numpy poses of a path."""
    return turned(torch.as_tensor(pose, dtype=torch.float64), radians).numpy()


def retrace_path(start: np.ndarray, moves: int, motion: MotionConfig) -> list[tuple[np.ndarray, int]]:
    """(pose, action) of N forward, a half turn, N forward, a half turn: back at `start`."""
    step, turn = motion.move_step, math.radians(motion.turn_step_deg)
    half = round(math.pi / turn)
    path, pose = [], start
    for leg in range(2):
        for _ in range(moves):
            pose = _moved(pose, step)
            path.append((pose, FORWARD))
        for k in range(1, half + 1):
            path.append((_turned(pose, k * turn), TURN))
        pose = path[-1][0]
    path[-1] = (start.copy(), TURN)  # the last turn lands exactly on the start heading
    return path


def reach_moves(config: ClosureConfig, motion: MotionConfig) -> dict[str, int]:
    """{metres label: forward moves} of the REACH_METRES the longest retrace's outbound leg gets to."""
    moves = {f"{m:g}": round(m / motion.move_step) for m in REACH_METRES}
    return {label: k for label, k in moves.items() if 1 <= k <= max(config.retraces)}


def turn_path(start: np.ndarray, steps: int, motion: MotionConfig) -> list[tuple[np.ndarray, int]]:
    turn = math.radians(motion.turn_step_deg)
    path = [(_turned(start, k * turn), TURN) for k in range(1, steps + 1)]
    if abs(steps * turn - 2 * math.pi) < 1e-9:
        path[-1] = (start.copy(), TURN)  # a full turn ends at the start heading
    return path


def _walk(world: WorldModel, path: list[tuple[np.ndarray, int]]) -> tuple[list, list[float]]:
    frames, ms = [], []
    for pose, action in path:
        began = time.perf_counter()
        frames.append(world.step_to({0: (pose, action)})[0])
        ms.append((time.perf_counter() - began) * 1e3)
    return frames, ms


def _truth(scene: Scene, pose: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    backend = "torch" if "torch" in scene.backends else "auto"  # procedural: the analytic shapes
    frame = render_cubemaps(scene, torch.as_tensor(pose), size, backend)
    return frame.rgb.numpy(), frame.depth.numpy().astype(np.float32)


def memory_alone(world: WorldModel, pose: np.ndarray) -> tuple[np.ndarray, float]:
    """World 0's memory read at body `pose` as the world reads it, decoded and seen in the body frame, and the
    fraction of cells it covers."""
    state = world.world(0)
    state.pose = torch.as_tensor(pose, dtype=torch.float32)
    where = world.cube_pose(0)
    warped, _ = state.recall.read(where, face_rotations(), world.model_config.latent_size)
    rgb, depth = world.generator.decode(warped.features[None].float())
    rgb8 = (rgb[0].clamp(0, 1) * 255).round().to(torch.uint8)
    view = CubeView(rgb8, depth[0].float(), where[:3, 3], where[:3, :3])
    return view.seen_from(state.pose)[0], float(warped.mask.float().mean())


def autoencoder_round_trip(generator: CubeGenerator, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
    ae = generator.autoencoder
    with torch.no_grad():
        latents = ae.encode(pack_rgbd(torch.from_numpy(rgb)[None], torch.from_numpy(depth)[None], ae.config.near))
    return (generator.decode(latents)[0][0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def reprojected(rgb: np.ndarray, depth: np.ndarray, seen_at: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """A frame (rgb (F, S, S, 3) uint8, z-depth (F, S, S)) seen at body pose `seen_at`,
    reprojected per pixel to body `pose`: every pixel a point at its depth, rendered there at
    the same size with holes of up to CRACK_FILL pixels filled (uint8 (F, S, S, 3))."""
    rotations, size = face_rotations(), rgb.shape[1]
    points = PointCloudMemory()
    points.add(torch.from_numpy(rgb), torch.from_numpy(depth), torch.as_tensor(seen_at, dtype=torch.float32), rotations)
    render = points.render(torch.as_tensor(pose, dtype=torch.float32), rotations, size)
    colour, _ = fill_holes(render.rgb.permute(0, 3, 1, 2).float(), render.depth, CRACK_FILL)
    return colour.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def reprojection_figures(rgb: np.ndarray, depth: np.ndarray, round_trip: np.ndarray, start_pose: np.ndarray,
                         ahead: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """What one step keeps of the start frame (rgb, depth, and `round_trip`, its autoencoder
    round trip) with exact geometry and no latent: each reprojected from `start_pose` to
    `ahead`, against the ground truth `truth` there."""
    exact = reprojected(rgb, depth, start_pose, ahead)
    remembered = reprojected(round_trip, depth, start_pose, ahead)
    return {"reproject_psnr": psnr(exact, truth), "reproject_ssim": ssim(exact, truth),
            "reproject_ae_psnr": psnr(remembered, truth), "reproject_ae_ssim": ssim(remembered, truth)}


def run_scene(generator: CubeGenerator, scene: Scene, start_pose: np.ndarray, config: ClosureConfig,
              settings: dict) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every figure of one world configuration on one scene, and the frames to look at."""
    motion, size = MotionConfig(), generator.autoencoder.config.face_size
    start = StartFrame(*_truth(scene, start_pose, size), start_pose.astype(np.float32))
    world = WorldModel(generator, 1, WorldConfig(sampler=generator.sampler, **settings))
    figures, pictures = {}, {}
    try:
        world.reset(0, start, seed=_seed(scene))
        turns = turn_path(start_pose, config.turn_steps, motion)
        frames, turn_ms = _walk(world, turns)
        figures["turn_return_psnr"] = psnr(frames[-1].rgb, start.rgb)
        figures["turn_return_ssim"] = ssim(frames[-1].rgb, start.rgb)
        figures["turn_step_ssim_vs_gt"] = statistics.mean(ssim(f.rgb, _truth(scene, p, size)[0])
                                                          for f, (p, _) in zip(frames, turns))
        pictures["turned"] = frames[-1].rgb

        world.reset(0, start, seed=_seed(scene))
        ahead = _moved(start_pose, motion.move_step)
        truth_rgb, truth_depth = _truth(scene, ahead, size)
        pictures["warp"], figures["warp_coverage"] = memory_alone(world, ahead)
        figures["warp_ssim_vs_gt"] = ssim(pictures["warp"], truth_rgb)
        world.world(0).pose = torch.as_tensor(start_pose, dtype=torch.float32)
        (step,), move_ms = _walk(world, [(ahead, FORWARD)])
        figures["step_psnr_vs_gt"], figures["step_ssim_vs_gt"] = psnr(step.rgb, truth_rgb), ssim(step.rgb, truth_rgb)
        figures["step_depth_absrel_vs_gt"] = depth_absrel(step.depth, truth_depth)
        pictures["step"], pictures["step_truth"] = step.rgb, truth_rgb

        figures["retrace_return_psnr"], figures["retrace_return_ssim"], figures["retrace_return_depth_absrel"] = {}, {}, {}
        reach = reach_moves(config, motion)
        for moves in config.retraces:
            world.reset(0, start, seed=_seed(scene))
            path = retrace_path(start_pose, moves, motion)
            frames, ms = _walk(world, path)
            figures["retrace_return_psnr"][str(moves)] = psnr(frames[-1].rgb, start.rgb)
            figures["retrace_return_ssim"][str(moves)] = ssim(frames[-1].rgb, start.rgb)
            figures["retrace_return_depth_absrel"][str(moves)] = depth_absrel(frames[-1].depth, start.depth)
            move_ms += [m for m, (_, action) in zip(ms, path) if action == FORWARD]
            turn_ms += [m for m, (_, action) in zip(ms, path) if action == TURN]
            pictures["retrace"] = frames[-1].rgb
            if moves == max(config.retraces):  # its outbound leg: frame k - 1 is k moves straight ahead
                figures.update(_reach_figures(scene, [(frames[k - 1].rgb, path[k - 1][0]) for k in reach.values()],
                                              list(reach), size))
        figures["ms_turn_step"], figures["ms_move_step"] = statistics.mean(turn_ms), statistics.mean(move_ms)
    finally:
        world.close()
    pictures["start"] = start.rgb
    return figures, pictures


def _reach_figures(scene: Scene, seen: list[tuple[np.ndarray, np.ndarray]], labels: list[str],
                   size: int) -> dict[str, dict[str, float]]:
    """reach_psnr_vs_gt / reach_ssim_vs_gt keyed by label: each (rgb, pose) of `seen` against ground truth."""
    truths = [_truth(scene, pose, size)[0] for _, pose in seen]
    return {"reach_psnr_vs_gt": {label: psnr(rgb, truth) for label, (rgb, _), truth in zip(labels, seen, truths)},
            "reach_ssim_vs_gt": {label: ssim(rgb, truth) for label, (rgb, _), truth in zip(labels, seen, truths)}}


def reach_bounds(generator: CubeGenerator, scene: Scene, start_pose: np.ndarray, start_depth: np.ndarray,
                 start_decoded: np.ndarray, reach: dict[str, int], motion: MotionConfig) -> dict[str, dict[str, float]]:
    """What bounds each reach with exact geometry: the start's round trip reprojected k moves
    ahead (reach_reproject_ae_*), and the round trip of the ground truth there (reach_ae_*)."""
    size = start_depth.shape[1]
    out: dict[str, dict[str, float]] = {key: {} for key in
                                        ("reach_reproject_ae_psnr", "reach_reproject_ae_ssim", "reach_ae_psnr", "reach_ae_ssim")}
    for label, k in reach.items():
        pose = _moved(start_pose, k * motion.move_step)
        rgb, depth = _truth(scene, pose, size)
        remembered, decoded = reprojected(start_decoded, start_depth, start_pose, pose), autoencoder_round_trip(generator, rgb, depth)
        out["reach_reproject_ae_psnr"][label], out["reach_reproject_ae_ssim"][label] = psnr(remembered, rgb), ssim(remembered, rgb)
        out["reach_ae_psnr"][label], out["reach_ae_ssim"][label] = psnr(decoded, rgb), ssim(decoded, rgb)
    return out


def _mean_figures(per_scene: list[dict]) -> dict[str, Any]:
    out = {}
    for key, value in per_scene[0].items():
        if isinstance(value, dict):
            out[key] = {k: statistics.mean(s[key][k] for s in per_scene) for k in value}
        else:
            out[key] = statistics.mean(s[key] for s in per_scene)
    return out


def mesh_scenes(mesh: MeshScene, config: ClosureConfig, motion: MotionConfig) -> list[tuple[Scene, np.ndarray]]:
    start = straight_start(mesh, max(config.retraces), motion, config.candidates)
    if start is None:
        raise ValueError(f"{mesh.path}: no straight free path of {max(config.retraces)} moves on one floor")
    return [(mesh, start)]


def run(generator: CubeGenerator, config: ClosureConfig, results_dir: Path, mesh: MeshScene | None = None,
        name: str = "closure") -> dict[str, Any]:
    motion, size = MotionConfig(), generator.autoencoder.config.face_size
    began = time.perf_counter()
    scenes = closure_scenes(config, motion) if mesh is None else mesh_scenes(mesh, config, motion)
    per_config: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    ae_psnr, ae_ssim, rows, reprojection = [], [], [], []
    for scene, start_pose in scenes:
        for config_name, settings in CONFIGS.items():
            figures, pictures = run_scene(generator, scene, start_pose, config, settings)
            per_config[config_name].append({"scene": scene_label(scene), **figures})
            if config_name == "engine":
                rows.append(np.vstack([equirect_image(pictures[k], 2 * size)
                                       for k in ("start", "turned", "retrace", "step_truth", "step")]))
        ahead, frames = _moved(start_pose, motion.move_step), []
        for pose in (start_pose, ahead):
            rgb, depth = _truth(scene, pose, size)
            decoded = autoencoder_round_trip(generator, rgb, depth)
            ae_psnr.append(psnr(decoded, rgb))
            ae_ssim.append(ssim(decoded, rgb))
            frames.append((rgb, depth, decoded))
        (start_rgb, start_depth, start_decoded), (ahead_rgb, _, _) = frames
        reprojection.append({**reprojection_figures(start_rgb, start_depth, start_decoded, start_pose, ahead, ahead_rgb),
                             **reach_bounds(generator, scene, start_pose, start_depth, start_decoded,
                                            reach_moves(config, motion), motion)})
    results_dir.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(results_dir / f"{name}.png", np.hstack(rows))
    engine = _mean_figures([{k: v for k, v in s.items() if k != "scene"} for s in per_config["engine"]])
    figures = {**engine, "ae_psnr": statistics.mean(ae_psnr), "ae_ssim": statistics.mean(ae_ssim),
               **_mean_figures(reprojection), "per_scene_reprojection": reprojection,
               "configs": {c: _mean_figures([{k: v for k, v in s.items() if k != "scene"} for s in runs])
                           for c, runs in per_config.items()},
               "per_scene": per_config,
               "scenes": [{**scene_label(s), "start": p.tolist()} for s, p in scenes],
               "retraces": list(config.retraces), "turn_steps": config.turn_steps,
               "sampler_steps": generator.sampler.steps, "wall_s": time.perf_counter() - began}
    return figures


def report(f: dict[str, Any]) -> str:
    names = list(f["configs"])
    keys = ["turn_return_psnr", "turn_return_ssim", "turn_step_ssim_vs_gt", "step_psnr_vs_gt", "step_ssim_vs_gt",
            "step_depth_absrel_vs_gt", "warp_ssim_vs_gt", "warp_coverage", "ms_turn_step", "ms_move_step"]
    rows = [[key, *(f"{f['configs'][n][key]:.3f}" for n in names)] for key in keys]
    for kind in ("psnr", "ssim", "depth_absrel"):
        for moves in f["retraces"]:
            rows.append([f"retrace_return_{kind}[{moves}]",
                         *(f"{f['configs'][n][f'retrace_return_{kind}'][str(moves)]:.3f}" for n in names)])
    rows.append(["ae_psnr / ae_ssim (ceiling)", *([f"{f['ae_psnr']:.2f} / {f['ae_ssim']:.3f}"] * len(names))])
    for what, key in (("ground truth", "reproject"), ("autoencoder round trip", "reproject_ae")):
        rows.append([f"{key}_psnr / _ssim (the start's {what} reprojected to the step)",
                     *([f"{f[f'{key}_psnr']:.2f} / {f[f'{key}_ssim']:.3f}"] * len(names))])
    for metres in f["configs"][names[0]].get("reach_ssim_vs_gt", {}):
        rows.append([f"reach_psnr / _ssim_vs_gt[{metres} m]",
                     *(f"{f['configs'][n]['reach_psnr_vs_gt'][metres]:.2f} / {f['configs'][n]['reach_ssim_vs_gt'][metres]:.3f}"
                       for n in names)])
    for metres in f.get("reach_ae_ssim", {}):
        for what, key in (("the start's autoencoder round trip reprojected there", "reach_reproject_ae"),
                          ("the autoencoder round trip of the ground truth there", "reach_ae")):
            rows.append([f"{key}_psnr / _ssim[{metres} m] ({what})",
                         *([f"{f[f'{key}_psnr'][metres]:.2f} / {f[f'{key}_ssim'][metres]:.3f}"] * len(names))])
    scenes = ", ".join(f"{s['seed']} ({s['kind']})" if "seed" in s else s["mesh"] for s in f["scenes"])
    return markdown_table(["figure (mean over scenes)", *names], rows) + f"\n\nscenes: {scenes}"


def main(argv: Sequence[str] | None = None, generator: CubeGenerator | None = None,
         config: ClosureConfig | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.closure", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one room, one house, retraces of 4 and 12")
    parser.add_argument("--results-dir", type=Path, default=None, help="where closure.json and closure.png go")
    add_mesh_arguments(parser, "measure on your mesh instead (writes closure_mesh.json)")
    add_weight_arguments(parser)
    args = parser.parse_args(argv)
    mesh = mesh_scene(args)
    generator = generator or load_weights(args)
    folder = args.results_dir or RESULTS_DIR
    name = "closure" if mesh is None else "closure_mesh"
    figures = run(generator, config or (QUICK if args.quick else FULL), folder, mesh, name)
    command = bench_command("closure", args.quick, *mesh_flags(args), *weight_flags(args))
    publish(name, figures, report(figures), command, folder, also=f" and {name}.png")
    return figures


if __name__ == "__main__":
    main()
