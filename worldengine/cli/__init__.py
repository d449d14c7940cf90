"""The `worldengine` command line: one subcommand a module, each with --help."""

from __future__ import annotations

import argparse
import sys

from worldengine.cli import bench, explore, export, record, train

COMMANDS = {"explore": explore, "export": export, "record": record, "train": train, "bench": bench}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="worldengine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:  # `worldengine` alone runs the main job
        args = build_parser().parse_args(["explore", *(argv or [])])
    try:
        return COMMANDS[args.command].run(args) or 0
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as error:
        print(f"worldengine {args.command}: error: {error}", file=sys.stderr)
        return 2


__all__ = ["main", "build_parser"]
