"""`envscale tasks SPEC --out FILE.jsonl`, and `--verify FILE.jsonl` to replay a task file."""

from __future__ import annotations

import argparse
import json
import sys

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, error, run_reporting_errors
from envscale.cli.options import add_data_arguments
from envscale.runtime.load import load
from envscale.tasks.instructions import load_instructions
from envscale.tasks.sampling import (
    SamplingReport,
    read_tasks,
    sample_over_states,
    verify_task,
    write_tasks,
)
from envscale.tasks.states import EnvFactory, initial_states_for


def run(args: argparse.Namespace) -> int:
    if not args.out and not args.verify:
        error("give --out FILE.jsonl (or --verify FILE.jsonl)")
        return EXIT_USAGE
    return run_reporting_errors(lambda: verify_file(args) if args.verify else sample_file(args))


def verify_file(args: argparse.Namespace) -> int:
    domain = load(args.spec)
    tasks = read_tasks(args.verify)
    failed = [t.id for t in tasks if not verify_task(domain, t, args.spec)]
    replayed = len(tasks) - len(failed)
    print(f"{args.verify}: {replayed}/{len(tasks)} tasks replay to their gold outputs and state")
    for task_id in failed[:10]:
        print(f"  mismatch: {task_id}")
    return EXIT_SPEC_ERRORS if failed else EXIT_OK


def sample_file(args: argparse.Namespace) -> int:
    if args.n < 0 or args.size < 0 or args.max_length < 1 or args.states < 1:
        error("-n and --size take a count of 0 or more, --max-length and --states 1 or more")
        return EXIT_USAGE
    domain = load(args.spec)
    states = initial_states_for(args.spec, args.data, args.data_seed, args.size, args.states)
    factories = [
        EnvFactory(domain, state, args.spec, enforce_policies=not args.no_policies)
        for state in states
    ]
    report = SamplingReport()
    tasks = sample_over_states(
        domain,
        factories,
        args.n,
        seed=args.seed,
        max_length=args.max_length,
        invalid_share=args.invalid_share,
        read_only_share=args.read_only_share,
        instructions=load_instructions(args.spec),
        report=report,
    )
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if args.n > 0 and not tasks:
        error(f"no tasks: {report.shortfall()}; nothing written")
        return EXIT_SPEC_ERRORS
    write_tasks(args.out, tasks)
    shortfall = report.shortfall()
    if shortfall:
        print(f"warning: {shortfall}", file=sys.stderr)
    if len(tasks) >= len(report.tools) and report.unused:
        print(
            f"warning: {len(report.unused)} of {len(report.tools)} tools appear in no task: "
            f"{', '.join(report.unused)} (none of their calls succeeded in the walks from this "
            "state)",
            file=sys.stderr,
        )
    reads = sum(1 for t in tasks if t.kind == "read")
    print(
        f"wrote {len(tasks)} tasks to {args.out} ({reads} read-only, {len(tasks) - reads} with "
        f"writes; {_describe_states(states)})"
    )
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "tasks",
        help="sample tasks (tool chains with gold calls and gold state) from a spec",
        description="Sample tasks by random walks on the tool graph, executed for their gold "
        "outputs and final state hash; or verify a task file by replaying it.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--out", metavar="FILE.jsonl", help="where to write the tasks")
    p.add_argument("--verify", metavar="FILE.jsonl", help="replay the tasks of a file and compare")
    p.add_argument(
        "-n",
        type=int,
        default=100,
        help="number of tasks (default 100); fewer made is a warning with the reason, none an "
        "error (exit 1)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    add_data_arguments(p, states=True)
    p.add_argument("--max-length", type=int, default=4, help="most calls per task")
    p.add_argument(
        "--invalid-share", type=float, default=0.1, help="share of calls made invalid on purpose"
    )
    p.add_argument("--read-only-share", type=float, default=0.3, help="share of read-only tasks")
    p.add_argument(
        "--no-policies", action="store_true", help="sample without enforcing the spec's policies"
    )
    p.set_defaults(func=run)


def _describe_states(states: list[dict]) -> str:
    if len(states) == 1:
        return f"initial state {json.dumps(states[0])}"
    first, last = states[0]["generated"], states[-1]["generated"]
    return (
        f"{len(states)} generated initial states, data seeds {first['seed']}-{last['seed']}, "
        f"size {first['size']}"
    )
