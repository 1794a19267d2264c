"""The tool graph of a compiled domain: which tool's output can feed which tool's parameter.

The compiler writes it into manifest.json (`tool_graph`); the task sampler reads it from
there, or computes it again with names the data shows to be keys (`envscale.tasks.toolgraph`).
It works on the manifest record and the tools' JSON schemas, so both get the same graph.

Nodes are tools. An edge `source -> target` lists its *flows*: a value found in what `source`
returns (`via`, a path such as `Order.items[].item_id`) that can fill `target`'s parameter
`param` (or a field inside it, `flights[].flight_number`). Two kinds:

- `key`: the value is a key of entity E (a record's key, a reference, a `{"ref": E}` node of
  a shape, or a collection the data shows to hold E's keys) and the parameter names E
  (`reservation_id`, `new_slot_id`, `item_ids` where Item is an entity);
- `value`: the value is no entity's key, but a field of that name feeds a parameter of that
  name (a payment method's id, a flight's date), typed strings only: enums, numbers and
  flags are the user's choices, not flows.

A flow is kept only where the source introduces the value rather than echoes it:

- a key the source was given is no flow (the record it returns is the one the caller named),
  but for a read that finds a record by its key alone (`get_order(order_id)`), which hands
  the key on with the record it shows;
- a bare key of E (one whose record the output does not show: a reference, an id found, a
  list of ids) goes to that read, not straight to the other tools that take it, when it is
  a lone key or when the target needs E's record in some state: a customer an order names
  reaches the customer's tools through `get_customer`, an order picked from a customer's
  list reaches cancelling it through `get_order`; a key picked from a list feeds a target
  that needs no state of its record straight, and so does a key a write moved into the
  state the target needs;
- a write hands back the record the caller named, or one it made from the records it was
  given: only the key of a record it creates, and keys of entities it neither was given nor
  reads, flow from it (an invoice's id, not its patient, who is the appointment's); its
  values do flow (the items of an order whose address just changed feed changing its items);
- a key a write hands back without introducing it still feeds a target that needs the
  record it names in a state the write moved it into (a delivery marked done names its
  order, now delivered, which `rate_order` takes);
- a write's record in a state the target does not accept (the manifest's `needs` and
  `leaves`, compiler/states.py) is another record than the one the target changes: it feeds
  the values the target stores (the manifest's `stores`: a cancelled order's address into
  another order's new address, its payment method to pay another) and new values
  (`new_item_ids`), not those the target matches against its own record (the items to
  change);
- a value the target requires to be a part of the record another of its parameters names
  (the manifest's `parts`: `item_ids`, items of `order_id`'s order) flows only from a
  source that shows that entity's record in a state the target accepts: a cancelled order's
  items, or a product's variants, are not the items of the order returned;
- a read that finds one entity's records by that entity's key alone or by plain values alone
  (`get_order`, `find_user_id_by_email`) is fed by no tool whose output already holds what
  it finds (the order's record, the user's key);
- a parameter that sets a plain field of a record the target changes is the user's new value;
- of the value flows into one parameter, those from records of an entity the target reads or
  writes are kept when there are any (a customer's street for the customer's address, not a
  restaurant's).

Each flow has a `weight` for how specific it is: 1 for a key, 0.5 for a value of an
identifier-like name (`*_id`, `*_number`, `email`, dates) or 0.25, divided by the square root
of the number of tools whose output holds that value. An edge's weight is its strongest flow's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from envscale.records import Manifest, Shape, ToolEdge, ToolInfo

_ID_LIKE = ("_id", "_ids", "_number", "_code", "email", "date", "_on", "_at", "day")


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
class _Produced:
    name: str  # the leaf's own name
    via: str
    entity: str | None  # the entity whose keys the leaf holds
    record: str | None = None  # the entity whose returned record holds the leaf


@dataclass(frozen=True)
class _Slot:
    param: str
    name: str  # the name the value goes under: the parameter, or a field inside it
    entity: str | None


# ---- names


def singular(name: str) -> str:
    if name.endswith(("sses", "xes", "ches", "shes")):  # addresses, boxes, batches
        return name[:-2]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def entity_names(manifest: Manifest) -> dict[str, str]:
    """Leaf or parameter name -> the entity whose keys it holds, from the manifest alone."""
    out: dict[str, str] = {}
    for entity, info in manifest.entities.items():
        if len(info.key) != 1:
            continue
        key = info.key[0]
        base = snake(entity)
        for name in (f"{base}_id", f"{base}_ids"):
            out.setdefault(name, entity)
        if key not in ("id", "name", "key", "code"):
            out[key] = entity
            out.setdefault(f"{key}s", entity)
    for info in manifest.entities.values():
        for f in info.fields:
            if f.kind == "ref" and f.ref in manifest.entities:
                out.setdefault(f.name, f.ref)
                out.setdefault(f"{f.name}_id", f.ref)
            for name, target in shape_refs(manifest, f.name, f.shape):
                out.setdefault(name, target)
    return out


def shape_refs(
    manifest: Manifest, name: str, shape: Shape | None, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str]]:
    """(leaf name, entity) for every `{"ref": E}` node inside a field's shape."""
    if shape is None:
        return
    target = getattr(shape, "ref", None)
    if isinstance(target, str):
        yield name, target
        if singular(name) != name:
            yield singular(name), target
    if shape.list is not None:
        yield from shape_refs(manifest, name, shape.list, seen)
    if shape.map is not None:
        yield from shape_refs(manifest, name, shape.map, seen)
    if shape.struct is not None and shape.struct not in seen:
        for sf in manifest.structs.get(shape.struct, []):
            yield from shape_refs(manifest, sf.name, sf.shape, seen | {shape.struct})


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


# ---- the graph


def tool_edges(
    manifest: Manifest, schemas: list[dict] | None = None, names: dict[str, str] | None = None
) -> list[Edge]:
    """The edges of a manifest's tools; `schemas` (the tools' JSON schemas) type the
    parameters (without them every parameter is taken for a string) and `names` (leaf name ->
    entity) adds collections the data shows to hold keys. Only the agent's tools take part."""
    tools = {t.name: t for t in manifest.tools if t.side == "agent"}
    known = {**(names or {}), **entity_names(manifest)}
    produced = {
        t.name: list(_produced(manifest, known, t.name, t.returns_shape)) for t in tools.values()
    }
    rows = {t.name: _rows(manifest, t.returns_shape) for t in tools.values()}
    by_schema = {
        s["function"]["name"]: s["function"].get("parameters") or {} for s in schemas or []
    }
    slots = {t.name: list(_slots(known, t.params, by_schema.get(t.name))) for t in tools.values()}
    fresh = {t.name: fresh_names(manifest, t) for t in tools.values()}
    finds = {
        t.name: _finds(tools[t.name], rows[t.name], produced[t.name], slots[t.name])
        for t in tools.values()
    }
    makers: dict[tuple[str, str], set[str]] = {}
    for tool, items in produced.items():
        for p in items:
            makers.setdefault(_value_type(p), set()).add(tool)
    # (source, target) -> param -> the strongest flow; then the value flows are cut per parameter.
    found: dict[tuple[str, str], dict[str, tuple[Flow, _Produced]]] = {}
    moved_offers: set[tuple[str, str, str]] = set()  # (source, target, param) of moved keys
    for source, offers in produced.items():
        given = {s.entity for s in slots[source] if s.entity}
        holds = rows[source] | {o.entity for o in offers if o.entity}
        shown = _shows(finds[source], given)
        offers = [o for o in offers if o.entity not in given or _own_key(o, shown)]
        echoed: list[_Produced] = []  # keys a write hands back that it did not introduce
        if tools[source].kind == "write":
            echoed = [o for o in offers if not _introduced(o, tools[source], rows[source], given)]
            offers = [o for o in offers if o not in echoed]
        for target, wanted in slots.items():
            if target == source or _already_held(finds[target], rows[source], holds):
                continue
            moved = [o for o in echoed if _moved_into(tools[source], tools[target], o.entity)]
            best: dict[str, tuple[Flow, _Produced]] = {}
            stale = _stale(tools[source], tools[target], rows[source], given, slots[target])
            touched = set(tools[target].reads) | set(tools[target].writes)
            for slot in wanted:
                if slot.entity is None and slot.name in fresh[target]:
                    continue  # the user's new value for a field, not a value found
                for offer in [*offers, *moved]:
                    if offer.record in stale and not _copied(slot, tools[target]):
                        continue
                    if _foreign_part(slot, offer, tools[target], stale):
                        continue
                    flow = _flow(slot, offer, makers)
                    if flow is not None and (
                        slot.param not in best
                        or _rank(flow, offer, touched) > _rank(*best[slot.param], touched)
                    ):
                        best[slot.param] = (flow, offer)
                        if offer in moved:
                            moved_offers.add((source, target, slot.param))
                        else:
                            moved_offers.discard((source, target, slot.param))
            if best:
                found[(source, target)] = best
    _keep_own_values(found, tools)
    _through_finders(found, tools, finds, slots, moved_offers)
    edges = []
    for (source, target), best in found.items():
        if best:
            flows = sorted((f for f, _ in best.values()), key=lambda f: (-f.weight, f.param))
            edges.append(Edge(source, target, tuple(flows)))
    return edges


def _shows(finds: tuple[str, str] | None, given: set[str]) -> str | None:
    """The entity whose record a read finds by that entity's key alone (`get_order(order_id)`):
    it hands the key on with the record."""
    if finds is not None and finds[0] == "record" and finds[1] in given:
        return finds[1]
    return None


def _own_key(o: _Produced, shown: str | None) -> bool:
    return shown is not None and o.entity == shown and o.record == shown and _lone(o)


def _lone(o: _Produced) -> bool:
    """Whether the output holds this key once (a reference, a found id), not in a collection."""
    return "[]" not in o.via and "{}" not in o.via


def _copied(slot: _Slot, target: ToolInfo) -> bool:
    """Whether a value of a record the target cannot be changing (in a state it refuses) may
    fill the slot: a value, not a key, that the target stores (a new address, the payment
    method to charge) or a new one (`new_item_ids`); not one it matches against its own
    record (the items to change)."""
    if slot.name.startswith("new_"):
        return True
    return slot.entity is None and slot.param in set(target.stores)


def _foreign_part(slot: _Slot, offer: _Produced, target: ToolInfo, stale: set[str]) -> bool:
    """Whether the value may be a part of another record than the one the target names, where
    the target takes only parts of that record (the manifest's `parts`: the item ids of the
    order `order_id` names): any value but one from that entity's record, and from it too
    when the source leaves it in a state the target refuses (another order)."""
    entity = target.parts.get(slot.param)
    return entity is not None and (offer.record != entity or entity in stale)


def _through_finders(
    found: dict[tuple[str, str], dict[str, tuple[Flow, _Produced]]],
    tools: dict[str, ToolInfo],
    finds: dict[str, tuple[str, str] | None],
    slots: dict[str, list[_Slot]],
    moved: set[tuple[str, str, str]],
) -> None:
    """A bare key of E (one whose record the output does not show: a reference, an id found,
    a list of ids) goes to the read that finds E's record by that key, which hands it on with
    the record, and not straight to the other tools that take it, when it is a lone key or
    when the target needs the record in some state, which only the record shows. A key
    picked from a list goes straight to a target that needs no state of it (a user's
    reservation ids into cancelling one); a key a write moved into the state the target
    needs goes straight on too."""
    passed: dict[str, set[tuple[str, str]]] = {}  # entity -> (finder, target) it hands on to
    for (source, target), best in found.items():
        for flow, offer in best.values():
            shown = _shows(finds[source], {s.entity for s in slots[source] if s.entity})
            if flow.kind == "key" and offer.entity == shown and offer.record == shown:
                passed.setdefault(flow.entity or "", set()).add((source, target))
    for (source, target), best in found.items():
        for param in list(best):
            flow, offer = best[param]
            if (
                flow.kind != "key"
                or offer.record == offer.entity
                or (source, target, param) in moved
            ):
                continue
            entity = flow.entity or ""
            if not any(t == target and f != source for f, t in passed.get(entity, ())):
                continue
            needs = any(w.startswith(f"{entity}.") for w in tools[target].needs)
            if _lone(offer) or needs:
                del best[param]


def _rank(flow: Flow, offer: _Produced, touched: set[str]) -> tuple[bool, float]:
    """Of two flows into one parameter, a value from a record the target touches first."""
    return (flow.kind == "key" or offer.record in touched, flow.weight)


def _keep_own_values(
    found: dict[tuple[str, str], dict[str, tuple[Flow, _Produced]]], tools: dict[str, ToolInfo]
) -> None:
    """Of the value flows into one parameter, keep those from records of an entity the target
    reads or writes, when there are any."""
    own: set[tuple[str, str]] = set()
    for (_, target), best in found.items():
        touched = set(tools[target].reads) | set(tools[target].writes)
        for param, (flow, offer) in best.items():
            if flow.kind == "value" and offer.record in touched:
                own.add((target, param))
    for (_, target), best in found.items():
        touched = set(tools[target].reads) | set(tools[target].writes)
        for param in [p for p, (f, o) in best.items() if f.kind == "value"]:
            if (target, param) in own and best[param][1].record not in touched:
                del best[param]


def _stale(
    source: ToolInfo, target: ToolInfo, rows: set[str], given: set[str], wanted: list[_Slot]
) -> set[str]:
    """The entities whose record a write hands back in a state the target does not accept
    (a cancelled order for a change to a pending one): its values feed the target only as
    new values (`new_item_ids`), not as the current parts of the record it changes."""
    if source.kind != "write":
        return set()
    named = {s.entity for s in wanted if s.entity}
    out = set()
    for entity in rows & given & named:
        for where, accepted in target.needs.items():
            left = source.leaves.get(where)
            if (
                where.startswith(f"{entity}.")
                and left is not None
                and not set(left) & set(accepted)
            ):
                out.add(entity)
    return out


def _moved_into(source: ToolInfo, target: ToolInfo, entity: str | None) -> bool:
    """Whether a write leaves a record of the entity in a state the target needs and the
    write did not need (marking a delivery done delivers its order, which can then be
    rated): the key of that record, though the write did not introduce it, feeds the target."""
    if entity is None:
        return False
    for where, accepted in target.needs.items():
        if not where.startswith(f"{entity}."):
            continue
        left = set(source.leaves.get(where) or []) - set(source.needs.get(where) or [])
        if left & set(accepted):
            return True
    return False


def _introduced(o: _Produced, tool: ToolInfo, rows: set[str], given: set[str]) -> bool:
    """Whether a write's output introduces the value: any value that is no key; the key of a
    record it creates; a key of an entity it neither was given nor reads. The references of
    the record it changes were in it before, and those of a record it creates come from the
    records it was given (an invoice's patient is the appointment's)."""
    if o.entity is None:
        return True
    if o.entity == o.record and o.entity in rows:
        return o.entity not in given
    return o.record not in given and o.entity not in set(tool.reads) | given


def _finds(
    tool: ToolInfo, rows: set[str], produced: list[_Produced], slots: list[_Slot]
) -> tuple[str, str] | None:
    """("record", E) for a read that finds E's records by E's key alone or by plain values
    alone (`get_order(order_id)`, `find_patient(last_name, date_of_birth)`), ("key", E) for
    one that finds only E's key (`find_user_id_by_email`); None otherwise (a read that also
    checks a value against the record, `verify_patient(patient_id, date_of_birth)`, does more)."""
    if tool.kind != "read":
        return None
    keys = {s.entity for s in slots if s.entity}
    if keys and set(tool.params) != {s.param for s in slots if s.entity}:
        return None
    if len(rows) == 1:
        entity = next(iter(rows))
        return ("record", entity) if keys <= {entity} else None
    if not rows and len(produced) == 1 and produced[0].entity and not keys:
        return ("key", produced[0].entity)
    return None


def _already_held(finds: tuple[str, str] | None, rows: set[str], holds: set[str]) -> bool:
    if finds is None:
        return False
    kind, entity = finds
    return entity in rows if kind == "record" else entity in holds


def _rows(manifest: Manifest, shape: Shape | None) -> set[str]:
    """The entities whose records a tool returns (itself, or a list or map of them)."""
    while shape is not None and (shape.list is not None or shape.map is not None):
        shape = shape.list or shape.map
    if shape is not None and shape.row is not None and shape.row in manifest.entities:
        return {shape.row}
    return set()


def _value_type(p: _Produced) -> tuple[str, str]:
    return ("key", p.entity) if p.entity else ("value", p.name)


def _flow(slot: _Slot, offer: _Produced, makers: dict[tuple[str, str], set[str]]) -> Flow | None:
    if slot.entity is not None:
        if offer.entity != slot.entity:
            return None
        kind, base = "key", 1.0
    else:
        name = singular(offer.name)
        if offer.entity is not None or name not in (
            singular(slot.name),
            singular(slot.name.removeprefix("new_")),
        ):
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
    yield from _shape_leaves(manifest, names, shape, "", "", frozenset(), None)


def _shape_leaves(
    manifest: Manifest,
    names: dict[str, str],
    shape: Shape,
    name: str,
    path: str,
    seen: frozenset[str],
    record: str | None,
) -> Iterator[_Produced]:
    ref = getattr(shape, "ref", None)
    if isinstance(ref, str):
        yield _Produced(name, path or ref, ref, record)
        return
    if shape.list is not None:
        yield from _shape_leaves(manifest, names, shape.list, name, f"{path}[]", seen, record)
        return
    if shape.map is not None:
        yield from _shape_leaves(manifest, names, shape.map, name, f"{path}{{}}", seen, record)
        return
    if shape.row is not None and shape.row in manifest.entities and shape.row not in seen:
        row = shape.row
        info = manifest.entities[row]
        for f in info.fields:
            if f.hidden:
                continue
            here = f"{row}.{f.name}"
            if f.kind == "ref":
                yield _Produced(f.name, here, f.ref, row)
            elif f.shape is not None:
                yield from _shape_leaves(
                    manifest, names, f.shape, f.name, here, seen | {row}, record or row
                )
            elif f.name in info.key and len(info.key) == 1:
                yield _Produced(f.name, here, row, row)
            elif f.kind in ("str", "date", "datetime", "json"):
                yield _Produced(f.name, here, names.get(f.name), row)
        return
    if shape.struct is not None and shape.struct not in seen:
        for sf in manifest.structs.get(shape.struct, []):
            if sf.hidden:
                continue
            here = f"{path or shape.struct}.{sf.name}"
            if sf.shape is not None:
                yield from _shape_leaves(
                    manifest, names, sf.shape, sf.name, here, seen | {shape.struct}, record
                )
            else:
                yield _Produced(sf.name, here, names.get(sf.name), record)


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


# ---- records


def edge_records(edges: list[Edge]) -> list[dict[str, Any]]:
    """The manifest's `tool_graph`: one edge per pair of tools with its flows. `param` and
    `via` name the strongest flow, as each edge did when edges were one per parameter."""
    return [
        {
            "from": e.source,
            "to": e.target,
            "param": e.flows[0].param,
            "via": e.flows[0].via,
            "weight": e.weight,
            "flows": [
                {
                    "param": f.param,
                    "via": f.via,
                    "kind": f.kind,
                    "entity": f.entity,
                    "weight": f.weight,
                }
                for f in e.flows
            ],
        }
        for e in edges
    ]


def edges_of(records: list[ToolEdge]) -> list[Edge] | None:
    """The edges a manifest lists, or None for a manifest whose edges carry no flows
    (compiled before they did: one edge per parameter, to be computed again)."""
    if any(not r.flows for r in records):
        return None
    return [
        Edge(
            r.source,
            r.target,
            tuple(Flow(f.param, f.via, f.kind, f.entity, f.weight) for f in r.flows),
        )
        for r in records
    ]
