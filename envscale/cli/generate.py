"""`envscale generate SPEC... --out DIR`: episodes on sampled tasks, the verified ones kept."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, run_reporting_errors
from envscale.cli.options import (
    add_backend_arguments,
    add_data_arguments,
    add_run_arguments,
    job_from,
)
from envscale.jobs.generate import TASKS_FILE, generate


def run(args: argparse.Namespace) -> int:
    job = job_from(args, Path(args.out), list(args.specs), tasks=args.tasks)
    job.data, job.data_seed, job.data_size = args.data, args.data_seed, args.size
    job.max_length = args.max_length

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


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "generate",
        help="run simulated user-agent episodes on sampled tasks and keep the verified ones",
        description="Sample tasks from each spec's tool graph, run one episode per task, apply "
        "the validity, state and exact-match filters, and write tasks.jsonl and "
        "trajectories.jsonl. Running the same command again continues where it stopped.",
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="*.domain files")
    p.add_argument("--tasks", type=int, default=10, metavar="N", help="tasks per spec (default 10)")
    add_data_arguments(p, paths=False)
    p.add_argument("--max-length", type=int, default=4, help="most calls per task")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_run_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=run)
