"""`envscale compile SPEC -o DIR`: the five artifacts, written deterministically."""

from __future__ import annotations

import argparse
from pathlib import Path

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, error, print_diagnostics
from envscale.compiler.artifacts import ARTIFACTS
from envscale.compiler.build import compile_file


def run(args: argparse.Namespace) -> int:
    files, diagnostics, sources = compile_file(args.spec)
    print_diagnostics(diagnostics, sources)
    if files is None:
        return EXIT_SPEC_ERRORS
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in ARTIFACTS:
            (out / name).write_text(files[name], encoding="utf-8")
    except OSError as problem:
        error(f"cannot write to {out}: {problem.strerror or problem}")
        return EXIT_USAGE
    print(f"compiled {args.spec} -> {out}/ ({', '.join(ARTIFACTS)})")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "compile",
        help="compile a spec to schema.sql, tools.py, models.py, tools.json, manifest.json",
        description="Compile a spec into its artifacts, deterministically.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=run)
