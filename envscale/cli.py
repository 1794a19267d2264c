"""The `envscale` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from envscale import __version__

EXIT_OK = 0
EXIT_SPEC_ERRORS = 1  # the spec has errors, or a tool call failed
EXIT_USAGE = 2  # bad command line or unreadable input


def _print_diagnostics(diagnostics, sources) -> None:
    from envscale.dsl.diagnostics import render_all

    if diagnostics:
        # sys.stderr is looked up at each call, so a redirected stream is honoured.
        print(render_all(diagnostics, sources), file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    from envscale.api import compile_file

    failed = 0
    for spec in args.specs:
        files, diagnostics, sources = compile_file(spec)
        _print_diagnostics(diagnostics, sources)
        if files is None:
            failed += 1
        elif not args.quiet:
            manifest = json.loads(files["manifest.json"])
            print(f"{spec}: ok ({len(manifest['entities'])} entities, {len(manifest['tools'])} tools)")
    return EXIT_SPEC_ERRORS if failed else EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from envscale.api import compile_file
    from envscale.compiler.codegen import ARTIFACTS

    files, diagnostics, sources = compile_file(args.spec)
    _print_diagnostics(diagnostics, sources)
    if files is None:
        return EXIT_SPEC_ERRORS
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in ARTIFACTS:
            (out / name).write_text(files[name], encoding="utf-8")
    except OSError as error:
        print(f"error: cannot write to {out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"compiled {args.spec} -> {out}/ ({', '.join(ARTIFACTS)})")
    return EXIT_OK


def cmd_call(args: argparse.Namespace) -> int:
    from envscale.api import load
    from envscale.dsl.diagnostics import SpecError
    from envscale.runtime.errors import DataError

    try:
        domain = load(args.spec)
    except SpecError as error:
        _print_diagnostics(error.diagnostics, error.sources)
        return EXIT_SPEC_ERRORS
    if args.tool not in domain.tool_kinds:
        from envscale.dsl.diagnostics import did_you_mean

        hint = did_you_mean(args.tool, domain.tool_kinds) or f"tools: {', '.join(sorted(domain.tool_kinds))}"
        print(f"error: {args.spec} has no tool '{args.tool}'; {hint}", file=sys.stderr)
        return EXIT_USAGE
    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as error:
        print(f"error: the arguments are not valid JSON: {error.msg} (column {error.colno})", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(arguments, dict):
        print(f"error: the arguments must be a JSON object, not {type(arguments).__name__}", file=sys.stderr)
        return EXIT_USAGE
    try:
        env = domain.environment(data=args.data, enforce_policies=not args.no_policies)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    result = env.call(args.tool, arguments)
    if result.ok:
        print(json.dumps(result.content, indent=2, ensure_ascii=False))
    else:
        print(f"error: {result.error}", file=sys.stderr)
    if args.diff and result.ok:
        print(json.dumps({"diff": env.diff(), "state_hash": env.state_hash()}, indent=2, ensure_ascii=False))
    return EXIT_OK if result.ok else EXIT_SPEC_ERRORS


def _shipped(name: str) -> Path:
    """A file of the shipped specs folder: beside the current folder first, then beside the package."""
    local = Path("specs") / name
    return local if local.exists() else Path(__file__).resolve().parent.parent / "specs" / name


def cmd_conformance(args: argparse.Namespace) -> int:
    from envscale.conformance.taubench import environment, replay_file
    from envscale.dsl.diagnostics import SpecError
    from envscale.runtime.errors import DataError

    spec = Path(args.spec) if args.spec else _shipped(f"{args.domain}.domain")
    layout_path = Path(args.layout) if args.layout else _shipped(f"{args.domain}.layout.json")
    try:
        env, layout = environment(spec, layout_path, args.data)
    except SpecError as error:
        _print_diagnostics(error.diagnostics, error.sources)
        return EXIT_SPEC_ERRORS
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    matched = total = 0
    for path in args.cases:
        try:
            result = replay_file(env, layout, path)
        except (OSError, ValueError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            return EXIT_USAGE
        matched += result.matched
        total += result.total
        print(f"{path}: {result.matched}/{result.total} cases match")
        for mismatch in result.mismatches[: args.show]:
            print(mismatch.render())
    print(f"conformance: {matched}/{total} cases match")
    return EXIT_OK if matched == total else EXIT_SPEC_ERRORS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envscale",
        description="Compile domain specs into SQLite tool-use environments, generate trajectories, train agents.",
    )
    parser.add_argument("--version", action="version", version=f"envscale {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="check specs and print every error", description="Check specs.")
    check.add_argument("specs", nargs="+", metavar="SPEC", help="*.domain files")
    check.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    check.set_defaults(func=cmd_check)

    comp = commands.add_parser("compile", help="compile a spec to schema.sql, tools.py, models.py, tools.json, manifest.json",
                               description="Compile a spec into its artifacts, deterministically.")
    comp.add_argument("spec", metavar="SPEC")
    comp.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    comp.set_defaults(func=cmd_compile)

    call = commands.add_parser("call", help="call one tool by hand on a database loaded from JSON",
                               description="Call one tool on a fresh environment and print its result.")
    call.add_argument("spec", metavar="SPEC")
    call.add_argument("tool", metavar="TOOL")
    call.add_argument("arguments", metavar="JSON", nargs="?", default="{}", help="the arguments as a JSON object")
    call.add_argument("--data", metavar="FILE", help="seed data: a JSON object of records per entity")
    call.add_argument("--diff", action="store_true", help="also print what the call changed and the state hash")
    call.add_argument("--no-policies", action="store_true", help="do not enforce the spec's episode policies")
    call.set_defaults(func=cmd_call)

    conf = commands.add_parser("conformance", help="replay another implementation's recorded cases",
                               description="Replay recorded cases and compare every output and the final state.")
    suites = conf.add_subparsers(dest="suite", metavar="SUITE", required=True)
    tau = suites.add_parser("taubench", help="tau-bench retail and airline cases",
                            description="Replay tau-bench cases (visible or sealed) on an envscale spec.")
    tau.add_argument("--domain", required=True, help="retail, airline, or a spec of your own with --spec")
    tau.add_argument("--data", required=True, metavar="DIR", help="folder of the domain's JSON documents")
    tau.add_argument("--cases", required=True, nargs="+", metavar="FILE.jsonl", help="case files")
    tau.add_argument("--spec", help="the spec (default: the shipped specs/DOMAIN.domain)")
    tau.add_argument("--layout", help="the document layout (default: specs/DOMAIN.layout.json)")
    tau.add_argument("--show", type=int, default=5, metavar="N", help="mismatches to print per file")
    tau.set_defaults(func=cmd_conformance)

    from envscale import serve as serve_command
    from envscale.runtime import evaluate as eval_command
    from envscale.runtime import generate as generate_command
    from envscale.runtime import tasks as task_commands
    from envscale.runtime import toolgraph as graph_commands

    graph_commands.register(commands)
    task_commands.register(commands)
    generate_command.register(commands)
    eval_command.register(commands)
    serve_command.register(commands)

    try:
        from envscale.trainer.command import register
    except ImportError:
        register = None
    if register is not None:
        register(commands)
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
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
