"""The tool graph against tau-bench's gold dataflow, beside the name-typed graph it replaced.

    python benchmarks/toolgraph.py [--quick] [--shared ../shared]

For each shipped spec (and `specs/delivery.domain` when present) it prints the edges of the
name-typed graph the compiler listed before ("old": one edge per source, target, parameter
and returned field of the same name and type, computed here from the compiled IR) and the
connected pairs they make, against the tool graph (`envscale.compiler.toolgraph`, as the
sampler reads it: one edge per connected pair, each with its flows). For retail and airline,
built on tau-bench's data, it also prints how many of the gold dataflow pairs each graph holds.

A gold dataflow pair (A, B): in one of tau-bench's gold action lists
(`conformance/taubench/*/tasks*.jsonl`), a string value of a later call B's arguments
(not an enum member of tau-bench's tool schemas) is first found in the output of an
earlier call A, and was in no argument of any call up to A. Calls of the same tool are not
a pair. Two counts: every such pair ("all"), and those whose value the task's instruction
does not state ("learnt": the user did not say it, so the agent took it from A's output;
retail's gold lists hold only writes, so an address or a payment method the user states
is otherwise credited to whichever earlier write returned the same order). `--quick` reads
the first 60 cases per file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.compiler import types as t  # noqa: E402
from envscale.compiler.pipeline import analyze  # noqa: E402
from envscale.compiler.symbols import stored_key_type  # noqa: E402
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


def gold_pairs(folder: Path, limit: int | None) -> dict[str, dict[tuple[str, str], int]]:
    """{"all": pairs, "learnt": pairs whose value the instruction does not state}, each
    pair with the number of values it carries."""
    enums = enum_members(json.loads((folder / "tools.json").read_text(encoding="utf-8")), set())
    pairs: dict[str, dict[tuple[str, str], int]] = {"all": {}, "learnt": {}}
    for path in sorted(folder.glob("tasks*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in lines[:limit] if limit else lines:
            task = json.loads(line)
            actions, said = task["actions"], str(task.get("instruction", "")).lower()
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
                                kinds = ["all"] + ([] if value.lower() in said else ["learnt"])
                                for kind in kinds:
                                    pairs[kind][pair] = pairs[kind].get(pair, 0) + 1
                            break
    return pairs


def name_typed_edges(spec: Path) -> list[tuple[str, str, str]]:
    """(source, target, parameter) of the name-typed graph the compiler listed before: an
    edge wherever a field of what one tool returns has a parameter's name and type (a
    reference also under its key's name, `<field>_id` and its own name)."""
    c = analyze(spec.read_text(encoding="utf-8"), str(spec), spec)
    d = c.ir
    assert d is not None, spec

    def produced(returns: t.Type | None) -> list[tuple[str, str, t.Type]]:
        if returns is None:
            return []
        base = t.strip_optional(returns)
        if isinstance(base, t.ListT):
            base = t.strip_optional(base.item)
        record = d.symbols.record(getattr(base, "entity", None) or getattr(base, "name", ""))
        if record is None or not isinstance(base, t.RowT | t.RefT | t.StructT):
            return []
        return [(record.name, f.name, f.type) for f in record.fields.values() if not f.hidden]

    def feedable(field: str, ftype: t.Type) -> list[tuple[str, t.Type]]:
        base = t.strip_optional(ftype)
        if isinstance(base, t.ListT):
            base = t.strip_optional(base.item)
        if isinstance(base, t.RefT):
            target = d.symbols.entities[base.entity]
            if not target.key:
                return []
            key_type = stored_key_type(d.symbols.entities, base.entity)
            return [(name, key_type) for name in (target.key[0], f"{field}_id", field)]
        if t.is_json(base):
            return []
        return [(field, base)]

    edges = []
    slots = [(x.name, [(p.name, t.strip_optional(p.type)) for p in x.params]) for x in d.tools]
    for source in d.tools:
        offers: dict[tuple[str, t.Type], str] = {}
        for owner, field, ftype in produced(source.returns):
            for slot in feedable(field, ftype):
                offers.setdefault(slot, f"{owner}.{field}")
        names = {name for name, _ in offers}
        for target, params in slots:
            if target != source.name:
                edges += [
                    (source.name, target, p[0]) for p in params if p[0] in names and p in offers
                ]
    return edges


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
        f"{'spec':10} {'old edges':>9} {'old pairs':>9} {'new edges':>9} {'new flows':>9}"
        f"  gold pairs held, old / new: all; learnt"
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
        old = name_typed_edges(spec)
        old_pairs = {(a, b) for a, b, _ in old}
        new_pairs = {(e.source, e.target) for e in graph.edges}
        gold = ""
        if folder.is_dir():
            found = gold_pairs(folder, 60 if args.quick else None)
            parts, missing = [], set()
            for kind in ("all", "learnt"):
                pairs = found[kind]
                held_old = sum(1 for p in pairs if p in old_pairs)
                held_new = sum(1 for p in pairs if p in new_pairs)
                parts.append(f"{held_old}/{len(pairs)} / {held_new}/{len(pairs)}")
                missing |= {(kind, f"{a}->{b}") for a, b in pairs if (a, b) not in new_pairs}
            gold = "; ".join(parts)
            if missing:
                gold += "  missing now: " + ", ".join(f"{p} ({k})" for k, p in sorted(missing))
        print(
            f"{name:10} {len(old):>9} {len(old_pairs):>9} {len(graph.edges):>9} "
            f"{graph.flow_count:>9}  {gold or '(no gold actions)'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
