"""The tool graph against tau-bench's gold dataflow, beside the name-typed graph it replaced.

    python benchmarks/toolgraph.py [--quick] [--why] [--shared ../shared]

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
the first 60 cases per file. `--why` lists, under each spec, the gold pairs the tool graph
lacks: what each carries (the target's argument, where the source's output held the value,
how many values and how many of them the instruction states) and the states the source
leaves its record in against those the target needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
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


def strings(value: Any) -> set[str]:
    return set(paths(value, "", {}))


def paths(value: Any, path: str, out: dict[str, str]) -> dict[str, str]:
    """Each string a JSON value holds, with the first path it is found at (`.items[].item_id`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            paths(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            paths(item, f"{path}[]", out)
    elif isinstance(value, str):
        out.setdefault(value, path)
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


@dataclass(frozen=True)
class GoldFlow:
    """One value of a gold call's arguments first found in an earlier call's output."""

    source: str
    target: str
    param: str  # where in the target's arguments, `.payment_method_id`
    via: str  # where in the source's output, `.payment_history[].payment_method_id`
    stated: bool  # whether the task's instruction states the value


def gold_flows(folder: Path, limit: int | None) -> list[GoldFlow]:
    enums = enum_members(json.loads((folder / "tools.json").read_text(encoding="utf-8")), set())
    flows = []
    for path in sorted(folder.glob("tasks*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in lines[:limit] if limit else lines:
            task = json.loads(line)
            actions, said = task["actions"], str(task.get("instruction", "")).lower()
            outputs = [paths(parsed(a["output"]), "", {}) for a in actions]
            given = [strings(a["kwargs"]) for a in actions]
            for j, action in enumerate(actions):
                for value, param in paths(action["kwargs"], "", {}).items():
                    if value in enums or len(value) < 2:
                        continue
                    for i in range(j):
                        if any(value in given[k] for k in range(i + 1)):
                            break
                        if value in outputs[i]:
                            if actions[i]["name"] != action["name"]:
                                flows.append(
                                    GoldFlow(
                                        actions[i]["name"],
                                        action["name"],
                                        param,
                                        outputs[i][value],
                                        value.lower() in said,
                                    )
                                )
                            break
    return flows


def gold_pairs(flows: list[GoldFlow]) -> dict[str, dict[tuple[str, str], int]]:
    """{"all": pairs, "learnt": pairs whose value the instruction does not state}, each
    pair with the number of values it carries."""
    pairs: dict[str, dict[tuple[str, str], int]] = {"all": {}, "learnt": {}}
    for f in flows:
        for kind in ["all"] + ([] if f.stated else ["learnt"]):
            pairs[kind][(f.source, f.target)] = pairs[kind].get((f.source, f.target), 0) + 1
    return pairs


def why_missing(
    flows: list[GoldFlow], missing: set[tuple[str, str]], tools: dict[str, Any]
) -> list[str]:
    """For each gold pair the graph lacks: what it carries (target argument <- source output:
    values, how many of them the instruction states) and the states of the source's record
    that the target needs."""
    out = []
    for source, target in sorted(missing):
        carried: dict[tuple[str, str], list[int]] = {}
        for f in flows:
            if (f.source, f.target) == (source, target):
                seen = carried.setdefault((f.param, f.via), [0, 0])
                seen[0] += 1
                seen[1] += f.stated
        states = [
            f"{where}: leaves {tools[source].leaves.get(where)}, needs {accepted}"
            for where, accepted in tools[target].needs.items()
        ]
        out.append(f"  {source} -> {target}" + (f"  ({'; '.join(states)})" if states else ""))
        out += [
            f"      {param} <- {via}: {n} value{'s' * (n != 1)}, {stated} stated"
            for (param, via), (n, stated) in sorted(carried.items())
        ]
    return out


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
    parser.add_argument(
        "--why", action="store_true", help="what each gold pair the graph misses carries"
    )
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
        gold, why = "", []
        if folder.is_dir():
            flows = gold_flows(folder, 60 if args.quick else None)
            found = gold_pairs(flows)
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
            if args.why:
                tools = {x.name: x for x in domain.manifest.tools}
                lacking = {p for p in found["all"] if p not in new_pairs}
                why = why_missing(flows, lacking, tools)
        print(
            f"{name:10} {len(old):>9} {len(old_pairs):>9} {len(graph.edges):>9} "
            f"{graph.flow_count:>9}  {gold or '(no gold actions)'}"
        )
        for line in why:
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
