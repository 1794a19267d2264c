"""`envscale check SPEC...`: every error of each spec, or a one-line summary."""

from __future__ import annotations

import argparse

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, print_diagnostics
from envscale.compiler.build import compile_file
from envscale.records import Manifest


def run(args: argparse.Namespace) -> int:
    failed = 0
    for spec in args.specs:
        files, diagnostics, sources = compile_file(spec)
        print_diagnostics(diagnostics, sources)
        if files is None:
            failed += 1
        elif not args.quiet:
            manifest = Manifest.from_line(files["manifest.json"], "manifest.json")
            entities, tools = len(manifest.entities), len(manifest.tools)
            print(f"{spec}: ok ({entities} entities, {tools} tools)")
    return EXIT_SPEC_ERRORS if failed else EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "check", help="check specs and print every error", description="Check specs."
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="*.domain files")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=run)
