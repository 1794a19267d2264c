"""`envscale call SPEC TOOL JSON`: one tool call by hand, on a fresh environment."""

from __future__ import annotations

import argparse
import json

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, error, print_diagnostics
from envscale.dsl.diagnostics import SpecError, did_you_mean
from envscale.runtime.errors import DataError
from envscale.runtime.load import load


def run(args: argparse.Namespace) -> int:
    try:
        domain = load(args.spec)
    except SpecError as problem:
        print_diagnostics(problem.diagnostics, problem.sources)
        return EXIT_SPEC_ERRORS
    if args.tool not in domain.tool_kinds:
        tools = ", ".join(sorted(domain.tool_kinds))
        hint = did_you_mean(args.tool, domain.tool_kinds) or f"tools: {tools}"
        error(f"{args.spec} has no tool '{args.tool}'; {hint}")
        return EXIT_USAGE
    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as problem:
        error(f"the arguments are not valid JSON: {problem.msg} (column {problem.colno})")
        return EXIT_USAGE
    if not isinstance(arguments, dict):
        error(f"the arguments must be a JSON object, not {type(arguments).__name__}")
        return EXIT_USAGE
    try:
        env = domain.environment(data=args.data, enforce_policies=not args.no_policies)
    except DataError as problem:
        error(str(problem))
        return EXIT_USAGE
    result = env.call(args.tool, arguments)
    if result.ok:
        print(json.dumps(result.content, indent=2, ensure_ascii=False))
    else:
        error(str(result.error))
    if args.diff and result.ok:
        changes = {"diff": env.diff(), "state_hash": env.state_hash()}
        print(json.dumps(changes, indent=2, ensure_ascii=False))
    return EXIT_OK if result.ok else EXIT_SPEC_ERRORS


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "call",
        help="call one tool by hand on a database loaded from JSON",
        description="Call one tool on a fresh environment and print its result.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("tool", metavar="TOOL")
    p.add_argument(
        "arguments", metavar="JSON", nargs="?", default="{}", help="the arguments as a JSON object"
    )
    p.add_argument("--data", metavar="FILE", help="seed data: a JSON object of records per entity")
    p.add_argument(
        "--diff", action="store_true", help="also print what the call changed and the state hash"
    )
    p.add_argument(
        "--no-policies", action="store_true", help="do not enforce the spec's episode policies"
    )
    p.set_defaults(func=run)
