"""`envscale fmt SPEC... [--check | --stdout]`: specs in their canonical layout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, error, print_diagnostics
from envscale.compiler.specfile import read_spec
from envscale.dsl.format import FormatError, format_spec


def spec_paths(names: list[str]) -> list[Path]:
    """The files named, a folder standing for the *.domain files in it."""
    paths: list[Path] = []
    for name in names:
        p = Path(name)
        paths.extend(sorted(p.glob("*.domain")) if p.is_dir() else [p])
    return paths


def run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    changed: list[Path] = []
    for path in spec_paths(args.specs):
        source, problems = read_spec(path)
        if source is None:
            print_diagnostics(problems, {})
            status = max(status, EXIT_SPEC_ERRORS)
            continue
        try:
            text, diagnostics = format_spec(source, str(path))
        except FormatError as problem:
            error(f"internal error, {path} left as it is: {problem}")
            status = EXIT_USAGE
            continue
        if text is None:
            print_diagnostics(diagnostics, {str(path): source})
            status = max(status, EXIT_SPEC_ERRORS)
            continue
        if args.stdout:
            sys.stdout.write(text)
        elif text != source:
            changed.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    for path in changed:
        print(f"{path}: {'would be reformatted' if args.check else 'reformatted'}")
    if args.check and changed:
        status = max(status, EXIT_SPEC_ERRORS)
    return status


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "fmt",
        help="rewrite specs in their canonical layout",
        description="Rewrite specs in place in their canonical layout; only whitespace "
        "changes. With --check, list the specs that would change and exit 1 if any would.",
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="*.domain files, or folders of them")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a spec would change"
    )
    mode.add_argument(
        "--stdout", action="store_true", help="print the formatted specs instead of writing them"
    )
    p.set_defaults(func=run)
