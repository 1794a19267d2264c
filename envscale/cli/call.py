"""`envscale call SPEC TOOL JSON`: one tool call by hand, on a fresh environment."""

from __future__ import annotations

import argparse
import json
import sys

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, error, print_diagnostics
from envscale.cli.options import add_limit_arguments, limits_from
from envscale.dsl.diagnostics import SpecError, did_you_mean
from envscale.runtime.errors import DataError, ToolError
from envscale.runtime.limits import NotAnObject, admit_arguments
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
    limits = limits_from(args)
    text = args.arguments
    if text == "-":
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError as problem:
            error(f"the arguments on standard input are not UTF-8 text: {problem.reason}")
            return EXIT_USAGE
    try:
        # Checked here as the call would check them, to tell malformed input (a usage error)
        # from arguments over a limit (a failed call).
        admit_arguments(text, limits)
    except NotAnObject as problem:
        error(f"the {problem.message}")
        return EXIT_USAGE
    except ToolError as problem:
        error(problem.message)
        return EXIT_SPEC_ERRORS
    try:
        env = domain.environment(
            data=args.data, enforce_policies=not args.no_policies, limits=limits
        )
    except DataError as problem:
        error(str(problem))
        return EXIT_USAGE
    result = env.call(args.tool, text)
    if result.ok:
        _print(result.content)
    else:
        error(str(result.error))
    if args.diff and result.ok:
        _print({"diff": env.diff(), "state_hash": env.state_hash()})
    return EXIT_OK if result.ok else EXIT_SPEC_ERRORS


def _print(value: object) -> None:
    """Print a JSON value, indented where it nests little enough for that, with any lone
    surrogate (a tool may return what it was sent) escaped."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    except RecursionError:
        text = json.dumps(value, ensure_ascii=False)
    encoding = sys.stdout.encoding or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding))


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "call",
        help="call one tool by hand on a database loaded from JSON",
        description="Call one tool on a fresh environment and print its result. Exit status: "
        "0 the call succeeded; 1 it failed (a tool error, or arguments over a limit); 2 the "
        "arguments are not a JSON object, or the tool or data is unknown.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("tool", metavar="TOOL")
    p.add_argument(
        "arguments",
        metavar="JSON",
        nargs="?",
        default="{}",
        help="the arguments as a JSON object; '-' reads them from standard input",
    )
    p.add_argument("--data", metavar="FILE", help="seed data: a JSON object of records per entity")
    p.add_argument(
        "--diff", action="store_true", help="also print what the call changed and the state hash"
    )
    p.add_argument(
        "--no-policies", action="store_true", help="do not enforce the spec's episode policies"
    )
    add_limit_arguments(p)
    p.set_defaults(func=run)
