"""`envscale graph SPEC [--json OUT.json] [--png OUT.png]`: a spec's tool graph."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, run_reporting_errors
from envscale.runtime.errors import read_json
from envscale.runtime.load import load
from envscale.tasks.states import seed_data_file
from envscale.tasks.toolgraph import ToolGraph


def run(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: export_graph(args))


def export_graph(args: argparse.Namespace) -> int:
    domain = load(args.spec)
    # The spec's seed data, when it has some, shows which plain-string collections hold ids.
    seed = seed_data_file(args.spec)
    data = read_json(seed, "data file") if seed.exists() else None
    graph = ToolGraph.from_domain(domain, data if isinstance(data, dict) else None)
    text = json.dumps(graph.to_json(), indent=2, ensure_ascii=False) + "\n"
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text, encoding="utf-8")
        print(
            f"wrote {args.json} ({len(graph.nodes)} tools, {len(graph.edges)} edges, "
            f"{graph.flow_count} flows)"
        )
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
        description="The tool graph the compiler writes into manifest.json: an edge where a key "
        "of an entity (or a value of the same name) that one tool's output introduces can fill "
        "another tool's parameter, weighted by how specific the flow is; with the spec's seed "
        "data, collections the data shows to hold keys count as references. Declared status "
        "transitions come along. Without --json or --png, prints the JSON.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", metavar="OUT.json", help="write the graph as JSON")
    p.add_argument(
        "--png", metavar="OUT.png", help="draw the graph (needs matplotlib, in the train extra)"
    )
    p.set_defaults(func=run)
