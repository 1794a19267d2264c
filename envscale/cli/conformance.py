"""`envscale conformance taubench|tau2 ...`: replay another implementation's recorded cases."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from envscale.cli.common import (
    EXIT_OK,
    EXIT_SPEC_ERRORS,
    EXIT_USAGE,
    error,
    print_diagnostics,
    shipped,
)
from envscale.conformance import tau2, taubench
from envscale.conformance.replay import FileResult
from envscale.dsl.diagnostics import SpecError
from envscale.runtime.errors import DataError


def _report(args: argparse.Namespace, replay: Callable[[str], FileResult]) -> int:
    matched = total = 0
    for path in args.cases:
        try:
            result = replay(path)
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


def _files(args: argparse.Namespace, version: str) -> tuple[Path, Path]:
    """The spec and layout asked for, else the shipped version's (`retail.tau2.domain`), else
    the shipped spec of the domain's name."""
    name = f"{args.domain}{version}"
    if version and not shipped(f"{name}.domain").exists():
        name = args.domain
    spec = Path(args.spec) if args.spec else shipped(f"{name}.domain")
    layout = Path(args.layout) if args.layout else shipped(f"{name}.layout.json")
    return spec, layout


def run_taubench(args: argparse.Namespace) -> int:
    try:
        env, layout = taubench.environment(*_files(args, ""), args.data)
    except SpecError as problem:
        print_diagnostics(problem.diagnostics, problem.sources)
        return EXIT_SPEC_ERRORS
    except DataError as problem:
        error(str(problem))
        return EXIT_USAGE
    return _report(args, lambda path: taubench.replay_file(env, layout, path))


def run_tau2(args: argparse.Namespace) -> int:
    try:
        domain = tau2.environment(*_files(args, ".tau2"), args.data)
    except SpecError as problem:
        print_diagnostics(problem.diagnostics, problem.sources)
        return EXIT_SPEC_ERRORS
    except DataError as problem:
        error(str(problem))
        return EXIT_USAGE
    return _report(args, lambda path: tau2.replay_file(domain, path))


def _suite(
    suites: argparse._SubParsersAction, name: str, help: str, description: str, default: str
) -> argparse.ArgumentParser:
    p = suites.add_parser(name, help=help, description=description)
    p.add_argument(
        "--domain", required=True, help="retail, airline, or a spec of your own with --spec"
    )
    p.add_argument(
        "--data", required=True, metavar="DIR", help="folder of the domain's JSON documents"
    )
    p.add_argument("--cases", required=True, nargs="+", metavar="FILE.jsonl", help="case files")
    p.add_argument("--spec", help=f"the spec (default: the shipped specs/{default}.domain)")
    p.add_argument("--layout", help=f"the document layout (default: specs/{default}.layout.json)")
    p.add_argument("--show", type=int, default=5, metavar="N", help="mismatches to print per file")
    return p


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "conformance",
        help="replay another implementation's recorded cases",
        description="Replay recorded cases and compare every output and the final state.",
    )
    suites = p.add_subparsers(dest="suite", metavar="SUITE", required=True)
    _suite(
        suites,
        "taubench",
        "tau-bench retail and airline cases",
        "Replay tau-bench cases (visible or sealed) on an envscale spec.",
        "DOMAIN",
    ).set_defaults(func=run_taubench)
    _suite(
        suites,
        "tau2",
        "tau2-bench cases",
        "Replay tau2-bench cases (visible or sealed) on an envscale spec: outputs, final "
        "databases and assertions.",
        "DOMAIN.tau2 (or DOMAIN)",
    ).set_defaults(func=run_tau2)
