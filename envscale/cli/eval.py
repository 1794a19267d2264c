"""`envscale eval SPEC... --tasks FILE --out DIR`: pass^k of an agent on given tasks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, EXIT_USAGE, error, run_reporting_errors
from envscale.cli.options import add_backend_arguments, add_run_arguments, job_from
from envscale.jobs.evaluate import evaluate_job
from envscale.records import Task, load_jsonl


def run(args: argparse.Namespace) -> int:
    if args.trials < 1:
        error("--trials must be at least 1")
        return EXIT_USAGE
    return run_reporting_errors(lambda: evaluate_file(args), resumable=True)


def evaluate_file(args: argparse.Namespace) -> int:
    try:
        tasks = load_jsonl(Path(args.tasks), Task)  # a line that is not a task is a DataError
    except OSError as problem:
        raise ValueError(f"cannot read tasks: {problem}") from None
    job = job_from(args, Path(args.out), list(args.specs), trials=args.trials)
    report, written = evaluate_job(job, tasks, args.trials)
    shown = {"pass^k": report.pass_k, "failure_reasons": report.failure_reasons}
    print(json.dumps(shown, indent=2))
    print(f"wrote {', '.join(str(path) for path in written)}")
    if report.internal_error_episodes:
        examples = ", ".join(report.internal_error_examples)
        print(
            f"warning: {report.internal_error_episodes} episodes hit an internal error of the "
            f"environment (a bug in envscale), e.g. {examples}",
            file=sys.stderr,
        )
    if report.missing_episodes:
        print(
            f"warning: {report.missing_episodes} episodes failed on a backend error (see "
            "errors.jsonl); run the same command again to retry them",
            file=sys.stderr,
        )
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "eval",
        help="run an agent K times on each task and report pass^k",
        description="Run each task K times and report pass^k for k = 1..K (tau-bench's "
        "definition), success by chain length and failure reasons, as eval.json and PNG plots. "
        "Resumable.",
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="the *.domain files of the tasks")
    p.add_argument(
        "--tasks", required=True, metavar="FILE.jsonl", help="tasks, e.g. from envscale generate"
    )
    p.add_argument("--trials", type=int, default=4, metavar="K", help="trials per task (default 4)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_run_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=run)
