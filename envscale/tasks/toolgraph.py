"""The tool graph of a compiled domain: which tool's output can feed which tool's parameter.

Nodes are tools (with their read/write kind). An edge `source -> target` says that a value
found in what `source` returns (`via`, a path such as `Order.items[].item_id`) can fill
`target`'s parameter `param` (or a field inside it, `flights[].flight_number`). Two kinds:

- `key`: the value is a key of entity E (a record's key, a reference, a `{"ref": E}` node of
  a collection's shape, or a collection the data shows to hold E's keys) and the parameter
  names E (`reservation_id`, `new_slot_id`, `item_ids` where Item is an entity);
- `value`: the value is no entity's key, but a field of that name feeds a parameter of that
  name (a payment method's id, a flight's date, an address's country), typed strings only:
  enums, numbers and flags are the user's choices, not flows.

Each edge has a `weight` for how specific the flow is: a key edge counts 1 and a value edge
0.5 (an identifier-like name: `*_id`, `*_number`, `email`, dates) or 0.25, divided by the
square root of the number of tools whose output holds the same value, so a value that every
tool returns says little. One edge per (source, target, parameter): its strongest path.
Task sampling walks this graph; `envscale graph` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envscale.records import Manifest, Shape, ToolInfo
from envscale.tasks.catalog import entity_names, evidence_names, singular
from envscale.tasks.toolgraph_png import draw

_ID_LIKE = ("_id", "_ids", "_number", "_code", "email", "date", "_on", "_at", "day")
_SCALARS = ("string",)


@dataclass(frozen=True)
class Flow:
    param: str
    via: str  # Entity.path of the value in the source's output
    kind: str = "key"  # key | value
    entity: str | None = None  # the entity whose key flows, for a key flow
    weight: float = 1.0


@dataclass(frozen=True)
class Edge:
    """`source`'s output can feed `target`: each flow a parameter it can fill, strongest first."""

    source: str
    target: str
    flows: tuple[Flow, ...]

    @property
    def weight(self) -> float:
        return self.flows[0].weight

    @property
    def kind(self) -> str:
        return self.flows[0].kind


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # read | write
    params: tuple[str, ...]
    returns: str | None


@dataclass(frozen=True)
class _Produced:
    name: str  # the leaf's own name
    via: str
    entity: str | None  # the entity whose keys the leaf holds


@dataclass(frozen=True)
class _Slot:
    param: str
    name: str  # the name the value goes under: the parameter, or a field inside it
    entity: str | None


@dataclass
class ToolGraph:
    domain: str
    nodes: dict[str, Node]
    edges: list[Edge]
    transitions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _pairs: dict[tuple[str, str], Edge] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        schemas: list[dict] | None = None,
        data: dict[str, list[dict]] | None = None,
    ) -> ToolGraph:
        """The graph of a manifest; `schemas` (the tools' JSON schemas) type the parameters
        and `data` (records per entity) lets collections of plain ids count as references."""
        nodes = {t.name: Node(t.name, t.kind, tuple(t.params), t.returns) for t in manifest.tools}
        names = {**(evidence_names(manifest, data) if data else {}), **entity_names(manifest)}
        produced = {
            t.name: list(_produced(manifest, names, t.name, t.returns_shape))
            for t in manifest.tools
        }
        by_schema = {
            s["function"]["name"]: s["function"].get("parameters") or {} for s in schemas or []
        }
        slots = {
            t.name: list(_slots(names, t.params, by_schema.get(t.name))) for t in manifest.tools
        }
        fresh = {t.name: fresh_names(manifest, t) for t in manifest.tools}
        makers: dict[tuple[str, str], set[str]] = {}
        for tool, items in produced.items():
            for p in items:
                makers.setdefault(_value_type(p), set()).add(tool)
        edges: list[Edge] = []
        for source, offers in produced.items():
            # A key the source was given is no flow: the record it returns is the one the
            # caller named. (A value of another name may differ from the one given: the
            # payment an order was paid with, beside the one a refund goes to.)
            given = {("key", s.entity) for s in slots[source] if s.entity}
            offers = [o for o in offers if _given_type(o) not in given]
            for target, wanted in slots.items():
                if target == source:
                    continue
                best: dict[str, Flow] = {}
                for slot in wanted:
                    if slot.entity is None and slot.name in fresh[target]:
                        continue  # the user's new value for a field, not a value found
                    for offer in offers:
                        flow = _flow(slot, offer, makers)
                        if flow is not None and (
                            slot.param not in best or flow.weight > best[slot.param].weight
                        ):
                            best[slot.param] = flow
                if best:
                    flows = sorted(best.values(), key=lambda f: (-f.weight, f.param))
                    edges.append(Edge(source, target, tuple(flows)))
        transitions = getattr(manifest, "transitions", None) or {}  # absent before they existed
        moves = {
            where: {start: list(ends) for start, ends in dict(table).items()}
            for where, table in dict(transitions).items()
        }
        return cls(manifest.domain, nodes, edges, moves)

    @classmethod
    def from_domain(cls, domain: Any, data: dict[str, list[dict]] | None = None) -> ToolGraph:
        return cls.from_manifest(domain.manifest, domain.tool_schemas, data)

    @property
    def flow_count(self) -> int:
        return sum(len(e.flows) for e in self.edges)

    def successors(self, tool: str, kinds: tuple[str, ...] = ("read", "write")) -> list[str]:
        """Tools that `tool`'s output can feed, in manifest order, restricted to some kinds."""
        targets = {e.target for e in self.edges if e.source == tool}
        return [n for n in self.nodes if n in targets and self.nodes[n].kind in kinds]

    def edge(self, source: str, target: str) -> Edge | None:
        return self._by_pair().get((source, target))

    def flows_between(self, source: str, target: str) -> tuple[Flow, ...]:
        edge = self.edge(source, target)
        return edge.flows if edge is not None else ()

    def _by_pair(self) -> dict[tuple[str, str], Edge]:
        if len(self._pairs) != len(self.edges):
            self._pairs = {(e.source, e.target): e for e in self.edges}
        return self._pairs

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "nodes": [
                {"name": n.name, "kind": n.kind, "params": list(n.params), "returns": n.returns}
                for n in self.nodes.values()
            ],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "weight": e.weight,
                    "flows": [asdict(f) for f in e.flows],
                }
                for e in self.edges
            ],
            "transitions": self.transitions,
        }

    def draw_png(self, path: str | Path, title: str | None = None, strongest: int = 3) -> Path:
        """Draw the graph (see `toolgraph_png.py`)."""
        return draw(self, path, title, strongest)


def fresh_names(manifest: Manifest, tool: ToolInfo) -> set[str]:
    """The plain fields (not keys, references or structs) of the records a tool changes: a
    parameter of such a name sets the field to a value the user gives. A tool whose
    parameters hold no key of an entity it writes creates that record instead, from values
    found elsewhere (a booking's airports come from the flights)."""
    out: set[str] = set()
    for entity in tool.writes:
        info = manifest.entities.get(entity)
        if info is None or not set(info.key) & set(tool.params):
            continue
        for f in info.fields:
            if f.name in info.key or f.kind == "ref":
                continue
            if f.shape is not None and _has_struct(f.shape):
                continue
            out.update({f.name, singular(f.name)})
    return out


def _has_struct(shape: Shape) -> bool:
    while shape.list is not None or shape.map is not None:
        shape = shape.list or shape.map  # type: ignore[assignment]
    return shape.struct is not None or getattr(shape, "ref", None) is not None


def _given_type(p: _Produced) -> tuple[str, str]:
    return ("key", p.entity) if p.entity else ("value", singular(p.name))


def _value_type(p: _Produced) -> tuple[str, str]:
    return ("key", p.entity) if p.entity else ("value", p.name)


def _flow(slot: _Slot, offer: _Produced, makers: dict[tuple[str, str], set[str]]) -> Flow | None:
    if slot.entity is not None:
        if offer.entity != slot.entity:
            return None
        kind, base = "key", 1.0
    else:
        if offer.entity is not None or singular(offer.name) != singular(slot.name):
            return None
        kind = "value"
        base = 0.5 if any(slot.name.endswith(s) or slot.name == s for s in _ID_LIKE) else 0.25
    weight = base / math.sqrt(len(makers.get(_value_type(offer), ())) or 1)
    return Flow(slot.param, offer.via, kind, slot.entity, round(weight, 4))


def _produced(
    manifest: Manifest, names: dict[str, str], tool: str, shape: Shape | None
) -> Iterator[_Produced]:
    """The values a tool's output holds: named leaves with their path and keyed entity."""
    if shape is None:
        # A tool returning plain text whose name says what it finds (`find_user_id_by_email`)
        # returns that key.
        for name, entity in names.items():
            if name in tool.split("_by_")[0] and name.endswith("_id"):
                yield _Produced(name, f"{entity}.{name}", entity)
                return
        return
    yield from _shape_leaves(manifest, names, shape, "", "", frozenset())


def _shape_leaves(
    manifest: Manifest,
    names: dict[str, str],
    shape: Shape,
    name: str,
    path: str,
    seen: frozenset[str],
) -> Iterator[_Produced]:
    ref = getattr(shape, "ref", None)
    if isinstance(ref, str):
        yield _Produced(name, path or ref, ref)
        return
    if shape.list is not None:
        yield from _shape_leaves(manifest, names, shape.list, name, f"{path}[]", seen)
        return
    if shape.map is not None:
        yield from _shape_leaves(manifest, names, shape.map, name, f"{path}{{}}", seen)
        return
    if shape.row is not None and shape.row in manifest.entities and shape.row not in seen:
        info = manifest.entities[shape.row]
        for f in info.fields:
            here = f"{shape.row}.{f.name}"
            if f.kind == "ref":
                yield _Produced(f.name, here, f.ref)
            elif f.shape is not None:
                yield from _shape_leaves(manifest, names, f.shape, f.name, here, seen | {shape.row})
            elif f.name in info.key and len(info.key) == 1:
                yield _Produced(f.name, here, shape.row)
            elif f.kind in ("str", "date", "datetime", "json"):
                yield _Produced(f.name, here, names.get(f.name))
        return
    if shape.struct is not None and shape.struct not in seen:
        for sf in manifest.structs.get(shape.struct, []):
            here = f"{path or shape.struct}.{sf.name}"
            if sf.shape is not None:
                yield from _shape_leaves(
                    manifest, names, sf.shape, sf.name, here, seen | {shape.struct}
                )
            else:
                yield _Produced(sf.name, here, names.get(sf.name))


def _slots(names: dict[str, str], params: list[str], schema: dict | None) -> Iterator[_Slot]:
    """The values a tool's parameters take: each string parameter, and each string field of
    a list or struct parameter; enums, numbers and flags are left out."""
    props = (schema or {}).get("properties")
    for param in params:
        prop = props.get(param, {}) if props is not None else {"type": "string"}
        yield from _prop_slots(names, param, param, prop)


def _prop_slots(names: dict[str, str], param: str, name: str, prop: dict) -> Iterator[_Slot]:
    kind = prop.get("type")
    if "enum" in prop:
        return
    if kind == "string":
        yield _Slot(param, name, _named(names, name))
    elif kind == "array":
        yield from _prop_slots(names, param, name, prop.get("items") or {})
    elif kind == "object":
        for inner, sub in (prop.get("properties") or {}).items():
            yield from _prop_slots(names, param, inner, sub)
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            yield from _prop_slots(names, param, name, extra)


def _named(names: dict[str, str], name: str) -> str | None:
    """The entity a parameter name names: `reservation_id`, `new_slot_id`, `item_ids`."""
    for candidate in (name, name.removeprefix("new_"), singular(name)):
        if candidate in names:
            return names[candidate]
    return None
