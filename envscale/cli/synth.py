"""`envscale synth INPUT... --out DIR`: verified domains synthesised from tool collections."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, run_reporting_errors
from envscale.cli.options import add_llm_arguments, llm_improver_from
from envscale.synth.graph import NEIGHBOURS, THRESHOLD
from envscale.synth.output import INDEX_FILE, REPORT_FILE
from envscale.synth.partition import MAX_SIZE, MIN_SIZE, RESOLUTION
from envscale.synth.pipeline import DEFAULT_TASKS, SynthOptions
from envscale.synth.run import synthesise


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.min_size > args.max_size:
        print("error: --min-size is larger than --max-size", file=sys.stderr)
        return 2
    improver = llm_improver_from(args)
    options = SynthOptions(
        inputs=[Path(p) for p in args.inputs],
        out=Path(args.out),
        seed=args.seed,
        workers=max(1, args.workers),
        executor=args.executor,
        ray_address=args.ray_address,
        vectoriser=args.vectoriser,
        threshold=args.threshold,
        neighbours=args.neighbours,
        resolution=args.resolution,
        min_size=args.min_size,
        max_size=args.max_size,
        tasks=args.tasks,
        limit=args.limit,
        improve=improver,
        improve_description=improver.describe() if improver is not None else {},
        progress=not args.quiet,
    )

    def body() -> int:
        result = synthesise(options)
        print(result.table())
        print(
            f"wrote {len(result.kept)} domains to {options.out / 'domains'}, "
            f"{options.out / INDEX_FILE} and {options.out / REPORT_FILE}"
        )
        return EXIT_OK

    return run_reporting_errors(body, resumable=True)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "synth",
        help="synthesise verified domains from tool collections",
        description="Read tool definitions (OpenAI JSON or JSON lines, gzipped or not, MCP "
        "tools/list results), link tools whose parameters are alike, split the graph into "
        "communities, write a spec per community, verify each, and write the kept ones to "
        "DIR/domains with DIR/index.jsonl, DIR/report.json and plots. Running the same "
        "command again continues where it stopped.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="tool collection files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of every stage (default 0)")
    p.add_argument("--limit", type=_positive, metavar="N", help="only the first N tools")
    g = p.add_argument_group("graph and communities")
    g.add_argument(
        "--vectoriser",
        default="hashed",
        metavar="SPEC",
        help="hashed (default), tfidf, st:<model dir> or openai:<base url>#<model>",
    )
    g.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"cosine similarity above which two tools are linked (default {THRESHOLD})",
    )
    g.add_argument(
        "--neighbours",
        type=_positive,
        default=NEIGHBOURS,
        help=f"neighbours searched per tool (default {NEIGHBOURS})",
    )
    g.add_argument(
        "--resolution",
        type=float,
        default=RESOLUTION,
        help=f"Louvain resolution (default {RESOLUTION})",
    )
    g.add_argument(
        "--min-size",
        type=_positive,
        default=MIN_SIZE,
        help=f"fewest tools of a domain (default {MIN_SIZE})",
    )
    g.add_argument(
        "--max-size",
        type=_positive,
        default=MAX_SIZE,
        help=f"most tools of a domain (default {MAX_SIZE})",
    )
    g = p.add_argument_group("verification")
    g.add_argument(
        "--tasks",
        type=_positive,
        default=DEFAULT_TASKS,
        metavar="N",
        help=f"tasks sampled per domain, at least one per tool (default {DEFAULT_TASKS})",
    )
    g = p.add_argument_group("how it runs")
    g.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="W",
        help="worker processes for the domains (default: one per core)",
    )
    g.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local processes (default) or a Ray cluster",
    )
    g.add_argument(
        "--ray-address", metavar="ADDR", help="Ray cluster address (default: a local instance)"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_llm_arguments(p)
    p.set_defaults(func=run)
