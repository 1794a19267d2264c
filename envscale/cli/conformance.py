"""`envscale conformance taubench ...`: replay another implementation's recorded cases."""

from __future__ import annotations

import argparse
from pathlib import Path

from envscale.cli.common import (
    EXIT_OK,
    EXIT_SPEC_ERRORS,
    EXIT_USAGE,
    error,
    print_diagnostics,
    shipped,
)
from envscale.conformance.taubench import environment, replay_file
from envscale.dsl.diagnostics import SpecError
from envscale.runtime.errors import DataError


def run_taubench(args: argparse.Namespace) -> int:
    spec = Path(args.spec) if args.spec else shipped(f"{args.domain}.domain")
    layout_path = Path(args.layout) if args.layout else shipped(f"{args.domain}.layout.json")
    try:
        env, layout = environment(spec, layout_path, args.data)
    except SpecError as problem:
        print_diagnostics(problem.diagnostics, problem.sources)
        return EXIT_SPEC_ERRORS
    except DataError as problem:
        error(str(problem))
        return EXIT_USAGE
    matched = total = 0
    for path in args.cases:
        try:
            result = replay_file(env, layout, path)
        except (OSError, ValueError) as problem:
            error(f"{path}: {problem}")
            return EXIT_USAGE
        matched += result.matched
        total += result.total
        print(f"{path}: {result.matched}/{result.total} cases match")
        for mismatch in result.mismatches[: args.show]:
            print(mismatch.render())
    print(f"conformance: {matched}/{total} cases match")
    return EXIT_OK if matched == total else EXIT_SPEC_ERRORS


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "conformance",
        help="replay another implementation's recorded cases",
        description="Replay recorded cases and compare every output and the final state.",
    )
    suites = p.add_subparsers(dest="suite", metavar="SUITE", required=True)
    tau = suites.add_parser(
        "taubench",
        help="tau-bench retail and airline cases",
        description="Replay tau-bench cases (visible or sealed) on an envscale spec.",
    )
    tau.add_argument(
        "--domain", required=True, help="retail, airline, or a spec of your own with --spec"
    )
    tau.add_argument(
        "--data", required=True, metavar="DIR", help="folder of the domain's JSON documents"
    )
    tau.add_argument("--cases", required=True, nargs="+", metavar="FILE.jsonl", help="case files")
    tau.add_argument("--spec", help="the spec (default: the shipped specs/DOMAIN.domain)")
    tau.add_argument("--layout", help="the document layout (default: specs/DOMAIN.layout.json)")
    tau.add_argument(
        "--show", type=int, default=5, metavar="N", help="mismatches to print per file"
    )
    tau.set_defaults(func=run_taubench)
