"""`envscale graph SPEC [--json OUT.json] [--png OUT.png]`: a spec's tool graph."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, run_reporting_errors
from envscale.runtime.load import load
from envscale.tasks.toolgraph import ToolGraph


def run(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: export_graph(args))


def export_graph(args: argparse.Namespace) -> int:
    graph = ToolGraph.from_manifest(load(args.spec).manifest)
    text = json.dumps(graph.to_json(), indent=2, ensure_ascii=False) + "\n"
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text, encoding="utf-8")
        print(f"wrote {args.json} ({len(graph.nodes)} tools, {len(graph.edges)} edges)")
    if args.png:
        graph.draw_png(args.png)
        print(f"wrote {args.png}")
    if not args.json and not args.png:
        sys.stdout.write(text)
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "graph",
        help="export a spec's tool graph as JSON and/or draw it as a PNG",
        description="The tool graph: an edge where a tool's output can feed another tool's "
        "parameter. Without --json or --png, prints the JSON.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", metavar="OUT.json", help="write the graph as JSON")
    p.add_argument(
        "--png", metavar="OUT.png", help="draw the graph (needs matplotlib, in the train extra)"
    )
    p.set_defaults(func=run)
