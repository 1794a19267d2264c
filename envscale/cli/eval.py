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
from envscale.runtime.load import load
from envscale.tasks.tau2tasks import is_tau2_file, tau2_tasks


def run(args: argparse.Namespace) -> int:
    if args.trials < 1:
        error("--trials must be at least 1")
        return EXIT_USAGE
    return run_reporting_errors(lambda: evaluate_file(args), resumable=True)


def read_tasks(args: argparse.Namespace) -> list[Task]:
    """The tasks of --tasks (envscale's tasks.jsonl, or a tau2 task file, recognised by its
    content) or --tau2-tasks, for the specs given."""
    path = Path(args.tau2_tasks or args.tasks)
    try:
        tau2 = bool(args.tau2_tasks) or is_tau2_file(path)
        if not tau2:
            return load_jsonl(path, Task)  # a line that is not a task is a DataError
    except OSError as problem:
        raise ValueError(f"cannot read tasks: {problem}") from None
    if len(args.specs) != 1:
        raise ValueError("tau2's tasks are of one domain: give its one spec")
    spec = args.specs[0]
    return tau2_tasks(load(spec), spec, path, args.tau2_data, args.tau2_layout)


def evaluate_file(args: argparse.Namespace) -> int:
    if not args.tasks and not args.tau2_tasks:
        raise ValueError("give --tasks FILE or --tau2-tasks FILE")
    tasks = read_tasks(args)
    job = job_from(args, Path(args.out), list(args.specs), trials=args.trials)
    report, written = evaluate_job(job, tasks, args.trials)
    shown: dict = {"pass^k": report.pass_k, "failure_reasons": report.failure_reasons}
    if report.scores:
        shown["scores"] = {part: f"{s.passed}/{s.episodes}" for part, s in report.scores.items()}
    print(json.dumps(shown, indent=2))
    print(f"wrote {', '.join(str(path) for path in written)}")
    for part, episodes in report.not_scored.items():
        print(
            f"warning: {part} is in the reward basis of {episodes} episodes and was not scored "
            "(it needs a judge model); their rewards leave it out",
            file=sys.stderr,
        )
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
        "--tasks",
        metavar="FILE",
        help="tasks, e.g. from envscale generate; a tau2 task file (a checkout's tasks.json, or "
        "lines with task_id and actions) is recognised and read as --tau2-tasks",
    )
    p.add_argument(
        "--tau2-tasks",
        metavar="FILE",
        help="tau2-bench's tasks (data/tau2/domains/DOMAIN/tasks.json of a tau2 checkout), "
        "scored as tau2 scores them",
    )
    p.add_argument(
        "--tau2-data",
        metavar="DIR",
        help="the folder of tau2's documents for the domain (default: the task file's folder)",
    )
    p.add_argument(
        "--tau2-layout",
        metavar="FILE",
        help="the document layout of tau2's documents (default: SPEC's stem + .layout.json)",
    )
    p.add_argument("--trials", type=int, default=4, metavar="K", help="trials per task (default 4)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_run_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=run)
