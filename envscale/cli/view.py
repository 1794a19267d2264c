"""`envscale view TRAJECTORIES.jsonl [-o page.html]`: the trajectories as one HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, EXIT_USAGE, error, run_reporting_errors
from envscale.viewer import Sources, build, write


def run(args: argparse.Namespace) -> int:
    trajectories = Path(args.trajectories)
    if not trajectories.is_file():
        error(f"no trajectories file {trajectories}")
        return EXIT_USAGE
    if args.tasks and not Path(args.tasks).is_file():
        error(f"no tasks file {args.tasks}")
        return EXIT_USAGE
    for spec in args.spec:
        if not Path(spec).is_file():
            error(f"no spec file {spec}")
            return EXIT_USAGE
    out = Path(args.out) if args.out else trajectories.with_suffix(".html")

    def body() -> int:
        sources = Sources(
            trajectories,
            tasks=Path(args.tasks) if args.tasks else None,
            specs=list(args.spec),
            diffs=not args.no_state,
        )
        data = build(sources)
        size = write(out, data.value, args.title or f"envscale: {trajectories.name}")
        for note in data.notes:
            print(f"warning: {note}", file=sys.stderr)
        print(f"wrote {out}: {data.count} trajectories, {size / 1e6:.1f} MB")
        return EXIT_OK

    return run_reporting_errors(body)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "view",
        help="write trajectories as one self-contained HTML page to browse",
        description="Write one HTML page (no network needed) to browse trajectories: filter by "
        "domain, outcome and failure reason; open one to read its dialogue, its calls beside "
        "the task's gold calls, and its final state beside the gold state (replayed from the "
        "spec when it is at hand).",
    )
    p.add_argument("trajectories", metavar="TRAJECTORIES", help="a trajectories.jsonl file")
    p.add_argument(
        "-o", "--out", metavar="PAGE", help="the page to write (default: TRAJECTORIES.html)"
    )
    p.add_argument(
        "--tasks",
        metavar="FILE",
        help="the tasks the trajectories ran (default: tasks.jsonl beside them)",
    )
    p.add_argument(
        "--spec",
        action="append",
        default=[],
        metavar="SPEC",
        help="a domain's spec, to replay episodes for their final state; repeatable "
        "(default: the specs job.json beside the trajectories names)",
    )
    p.add_argument(
        "--no-state",
        action="store_true",
        help="do not replay episodes: the page shows no final states",
    )
    p.add_argument("--title", help="the page's title")
    p.set_defaults(func=run)
