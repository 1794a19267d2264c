"""The tool graph against tau-bench's gold dataflow, beside the compiler's name-typed edges.

    python benchmarks/toolgraph.py [--quick] [--shared ../shared]

For each shipped spec (and `specs/delivery.domain` when present) it prints the edges the
compiler's manifest lists (`tool_graph`: one per source, target, parameter and field of the
same name and type, "today") and the connected pairs they make, against the graph of
`envscale.tasks.toolgraph` (one edge per connected pair, each with its flows). For retail
and airline, built on tau-bench's data, it also prints how many of the gold dataflow pairs
each graph holds.

A gold dataflow pair (A, B): in one of tau-bench's gold action lists
(`conformance/taubench/*/tasks*.jsonl`), a string value of a later call B's arguments
(not an enum member of tau-bench's tool schemas) is first found in the output of an
earlier call A, and was in no argument of any call up to A: the agent learnt it from A's
output. Calls of the same tool are not a pair. `--quick` reads the first 60 cases per file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.runtime.layout import Layout  # noqa: E402
from envscale.runtime.load import load  # noqa: E402
from envscale.tasks.toolgraph import ToolGraph  # noqa: E402


def strings(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for item in value.values():
            strings(item, out)
    elif isinstance(value, list):
        for item in value:
            strings(item, out)
    elif isinstance(value, str):
        out.add(value)
    return out


def enum_members(schema: Any, out: set[str]) -> set[str]:
    if isinstance(schema, dict):
        out.update(str(m) for m in schema.get("enum", []))
        for item in schema.values():
            enum_members(item, out)
    elif isinstance(schema, list):
        for item in schema:
            enum_members(item, out)
    return out


def parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def gold_pairs(folder: Path, limit: int | None) -> dict[tuple[str, str], int]:
    enums = enum_members(json.loads((folder / "tools.json").read_text(encoding="utf-8")), set())
    pairs: dict[tuple[str, str], int] = {}
    for path in sorted(folder.glob("tasks*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in lines[:limit] if limit else lines:
            actions = json.loads(line)["actions"]
            outputs = [strings(parsed(a["output"]), set()) for a in actions]
            given = [strings(a["kwargs"], set()) for a in actions]
            for j, action in enumerate(actions):
                for value in strings(action["kwargs"], set()):
                    if value in enums or len(value) < 2:
                        continue
                    for i in range(j):
                        if any(value in given[k] for k in range(i + 1)):
                            break
                        if value in outputs[i]:
                            if actions[i]["name"] != action["name"]:
                                pair = (actions[i]["name"], action["name"])
                                pairs[pair] = pairs.get(pair, 0) + 1
                            break
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the first 60 cases per file")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args()
    taubench = Path(args.shared) / "conformance" / "taubench"
    specs = ["clinic", "retail", "airline"]
    if (ROOT / "specs" / "delivery.domain").exists():
        specs.append("delivery")
    print(
        f"{'spec':10} {'today edges':>11} {'today pairs':>11} {'now edges':>9} {'now flows':>9}"
        f"  gold pairs held (today / now)"
    )
    for name in specs:
        spec = ROOT / "specs" / f"{name}.domain"
        domain = load(spec)
        data = None
        folder = taubench / name
        layout = ROOT / "specs" / f"{name}.layout.json"
        if folder.is_dir() and layout.exists():
            data = Layout.read(layout).load(folder)
        elif (ROOT / "specs" / f"{name}.data.json").exists():
            data = json.loads((ROOT / "specs" / f"{name}.data.json").read_text(encoding="utf-8"))
        graph = ToolGraph.from_domain(domain, data)
        today = domain.manifest.tool_graph
        today_pairs = {(e.source, e.target) for e in today}
        now_pairs = {(e.source, e.target) for e in graph.edges}
        gold = ""
        if folder.is_dir():
            pairs = gold_pairs(folder, 60 if args.quick else None)
            held_today = sum(1 for p in pairs if p in today_pairs)
            held_now = sum(1 for p in pairs if p in now_pairs)
            missing = sorted(f"{a}->{b}" for a, b in pairs if (a, b) not in now_pairs)
            gold = f"{held_today}/{len(pairs)} / {held_now}/{len(pairs)}"
            if missing:
                gold += f"  missing now: {', '.join(missing)}"
        print(
            f"{name:10} {len(today):>11} {len(today_pairs):>11} {len(graph.edges):>9} "
            f"{graph.flow_count:>9}  {gold or '(no gold actions)'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
