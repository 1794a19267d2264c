"""`envscale generate SPEC... --out DIR`: episodes on sampled tasks, the verified ones kept.
`envscale generate SYNTH_DIR --tasks-per-domain N --out DIR`: the same over every kept domain
of a synthesised directory, sharded by domain (`jobs/directory.py`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, EXIT_USAGE, error, run_reporting_errors
from envscale.cli.options import (
    add_backend_arguments,
    add_data_arguments,
    add_run_arguments,
    job_from,
)
from envscale.jobs.directory import SUMMARY_FILE, generate_directory, is_synthesised
from envscale.jobs.generate import TASKS_FILE, Job, generate


def run(args: argparse.Namespace) -> int:
    job = job_from(args, Path(args.out), list(args.specs), tasks=args.tasks)
    job.data, job.data_seed, job.data_size = args.data, args.data_seed, args.size
    job.data_states = args.states
    job.max_length = args.max_length
    directories = [s for s in args.specs if is_synthesised(s)]
    if directories:
        if len(args.specs) > 1:
            error("give either spec files or one synthesised directory (holding index.jsonl)")
            return EXIT_USAGE
        return run_directory(Path(directories[0]), job)

    def body() -> int:
        result = generate(job)
        shortfalls = result.shortfalls(job.tasks, job.trials)
        print(result.table())
        for line in shortfalls:
            print(f"fewer than asked: {line}")
        for line in shortfalls:
            print(f"warning: {line}", file=sys.stderr)
        print(f"wrote {job.out / TASKS_FILE} and {result.path}")
        return EXIT_OK

    return run_reporting_errors(body, resumable=True)


def run_directory(directory: Path, job: Job) -> int:
    def body() -> int:
        result = generate_directory(directory, job)
        print(result.table())
        selection = result.selection
        print(
            f"{len(result.outcomes)} kept domains of {directory} ({selection.rejected} rejected "
            f"left out, {len(selection.unusable)} unusable), {result.skipped} done before"
        )
        problems = result.problems()
        if problems:
            print(f"{len(problems)} domain(s) made fewer than asked (see {SUMMARY_FILE})")
        for line in problems:
            print(f"warning: {line}", file=sys.stderr)
        print(f"wrote {result.tasks_path}, {result.trajectories_path} and {job.out / SUMMARY_FILE}")
        return EXIT_OK

    return run_reporting_errors(body, resumable=True)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "generate",
        help="run simulated user-agent episodes on sampled tasks and keep the verified ones",
        description="Sample tasks from each spec's tool graph, run one episode per task, apply "
        "the validity, state and exact-match filters, and write tasks.jsonl and "
        "trajectories.jsonl. Running the same command again continues where it stopped.",
    )
    p.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="*.domain files, or one synthesised directory (holding index.jsonl: its kept "
        "domains are each run as a job of their own, in DIR/domains/<name>/, and their files "
        "concatenated)",
    )
    p.add_argument(
        "--tasks",
        "--tasks-per-domain",
        type=int,
        default=10,
        metavar="N",
        help="tasks per spec or domain (default 10)",
    )
    add_data_arguments(p, paths=False, states=True)
    p.add_argument("--max-length", type=int, default=4, help="most calls per task")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_run_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=run)
