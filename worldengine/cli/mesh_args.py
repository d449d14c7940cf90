"""The command-line flags that name a user's mesh (path, up axis, scale), declared once for
every command that can run on one (worldengine explore, python -m benchmarks.closure)."""

from __future__ import annotations

import argparse

from worldengine.scenes import MeshScene


def add_mesh_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """--mesh PATH, --mesh-up and --mesh-scale; `what` says what --mesh does in this command."""
    parser.add_argument("--mesh", default=None, metavar="PATH", help=what)
    parser.add_argument("--mesh-up", default="y", choices=["y", "z"], help="the mesh file's up axis (default y)")
    parser.add_argument("--mesh-scale", type=float, default=1.0, help="metres per mesh file unit (default 1)")


def mesh_scene(args: argparse.Namespace) -> MeshScene | None:
    """The mesh the flags name, loaded (None without --mesh)."""
    return MeshScene(args.mesh, args.mesh_up, args.mesh_scale) if args.mesh is not None else None


def mesh_flags(args: argparse.Namespace) -> list[str]:
    """The flags as typed, to rebuild the command that made a result (defaults left out)."""
    if args.mesh is None:
        return []
    return [f"--mesh {args.mesh}", *([f"--mesh-up {args.mesh_up}"] if args.mesh_up != "y" else []),
            *([f"--mesh-scale {args.mesh_scale:g}"] if args.mesh_scale != 1.0 else [])]


__all__ = ["add_mesh_arguments", "mesh_flags", "mesh_scene"]
