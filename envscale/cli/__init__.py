"""The `envscale` command: one module per subcommand, registered here in the order of `--help`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from envscale import __version__
from envscale.cli import (
    call,
    check,
    compile,
    conformance,
    eval,
    export,
    fmt,
    generate,
    graph,
    mcp,
    serve,
    synth,
    tasks,
    train,
    view,
)
from envscale.cli.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

COMMANDS = [
    check,
    compile,
    fmt,
    call,
    conformance,
    graph,
    tasks,
    generate,
    eval,
    export,
    serve,
    mcp,
    train,
    synth,
    view,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envscale",
        description="Compile domain specs into SQLite tool-use environments, generate "
        "trajectories, train agents.",
    )
    parser.add_argument("--version", action="version", version=f"envscale {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
