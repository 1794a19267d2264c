"""Arguments for one call, drawn from the records a walk has met and then from the state.

Every parameter is filled by its JSON schema type: strings, numbers, flags and enums; lists
(of strings or of structs), structs and maps, field by field. A value is looked up by the
name it goes under (a parameter, or a field inside one), in this order: the records met so
far (most recent first: the previous call's output, the records earlier arguments pointed
at), the records one step from those (a user's orders, an order's products), and then the
whole state (`catalog.py`). A parameter naming an entity (`reservation_id`) takes that
entity's keys from wherever they sit (a record's key, a reference, a list of ids). Each
value found pulls its record to the front, so the next parameter comes from the same record
(an order's items from that order, a flight's date from that flight). A `new_` parameter
(`new_item_ids`) looks one step away first and avoids the values already drawn. A write
tool's parameter that sets a plain field of what it writes gets a new value (a new phone
number; one bag more), and a list it writes is the current one with one element replaced.
"""

from __future__ import annotations

import random
import re
from typing import Any

from envscale.records import Manifest
from envscale.tasks import fakes, reasons
from envscale.tasks.catalog import Catalog, Leaf, leaves, singular
from envscale.tasks.toolgraph import fresh_names

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
SKIP_RECORD = 0.2  # chance to pass over a matching record, for variety
OPTIONAL_SHARE = 0.5


class NoValue(Exception):
    pass


Context = list[tuple[str, dict]]


class ArgumentDrawer:
    def __init__(self, manifest: Manifest, schemas: dict[str, dict], clock: str):
        self.manifest = manifest
        self.schemas = schemas
        self.clock = clock
        self.fresh = {t.name: fresh_names(manifest, t) for t in manifest.tools}
        self.written = {
            t.name: {f.name for e in t.writes for f in manifest.entities[e].fields}
            for t in manifest.tools
        }
        self.reads = {t.name: set(t.reads) | set(t.writes) for t in manifest.tools}
        # tool -> "Entity.field" -> the states its records must be in for the call to pass
        self.needs = {t.name: dict(t.needs or {}) for t in manifest.tools}
        self._wanted: dict[str, list] = {}
        self._leaves: dict[int, tuple[dict, list[Leaf]]] = {}
        self._near: dict[tuple[int, ...], Context] = {}
        self._depth = 0

    def leaves_of(self, record: dict) -> list[Leaf]:
        cached = self._leaves.get(id(record))
        if cached is not None and cached[0] is record:
            return cached[1]
        found = list(leaves(record, "", record))
        self._leaves[id(record)] = (record, found)
        return found

    def forget(self) -> None:
        """Drop the leaves cached for records of past walks (their ids may be reused)."""
        self._leaves.clear()

    # ---- one call

    def draw(
        self, catalog: Catalog, rng: random.Random, tool: str, context: Context
    ) -> dict[str, Any]:
        schema = self.schemas[tool]
        required = set(schema.get("required", []))
        local = list(context)
        self._near: dict[tuple[int, ...], Context] = {}
        arguments: dict[str, Any] = {}
        properties = schema.get("properties") or {}
        self._wanted = self.needs.get(tool, {})
        self._fill_fields(catalog, rng, tool, properties, required, local, arguments, arguments)
        return arguments

    def _fill_fields(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        properties: dict[str, dict],
        required: set[str],
        local: Context,
        drawn: dict[str, Any],
        out: dict[str, Any],
    ) -> None:
        """Fill `out` with a value for each required field and for some optional ones."""
        for name, prop in properties.items():
            if name not in required and rng.random() < OPTIONAL_SHARE:
                continue
            try:
                out[name] = self.fill(catalog, rng, tool, name, prop, local, drawn)
            except NoValue:
                if name in required:
                    raise

    def fill(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        name: str,
        prop: dict,
        local: Context,
        drawn: dict[str, Any],
    ) -> Any:
        kind = prop.get("type", "string")
        if kind in ("array", "object"):
            self._depth += 1  # a field inside a list or struct sets no field of the record
            try:
                return self._collection(catalog, rng, tool, name, prop, local, drawn)
            finally:
                self._depth -= 1
        if "enum" in prop:
            return self._enum(rng, tool, name, prop["enum"], local)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind in ("integer", "number"):
            return self._number(rng, tool, name, kind, local)
        return self._string(catalog, rng, tool, name, prop, local, drawn)

    def _collection(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        name: str,
        prop: dict,
        local: Context,
        drawn: dict[str, Any],
    ) -> Any:
        if prop.get("type") == "array":
            return self._list(catalog, rng, tool, name, prop.get("items") or {}, local, drawn)
        if prop.get("properties"):
            out = self._struct(catalog, rng, tool, prop, local, drawn)
            if (
                self._depth == 1
                and name in self.written.get(tool, ())
                and out in self._same_name(name, local, whole=True)
            ):
                # A struct that replaces a record's own (a new address) is not the one it
                # holds: its fields come from another record of the state, together.
                out = self._struct(catalog, rng, tool, prop, [], drawn)
            return out
        return self._map(catalog, rng, tool, name, prop, local, drawn)

    def _fresh(self, tool: str, name: str) -> bool:
        return self._depth == 0 and name in self.fresh.get(tool, ())

    # ---- by type

    def _enum(self, rng: random.Random, tool: str, name: str, members: list, local: Context) -> Any:
        if name in self.written.get(tool, ()):
            current = self._same_name(name, local)
            others = [m for m in members if m not in current]
            if others:
                return rng.choice(others)
        return rng.choice(members)

    def _number(self, rng: random.Random, tool: str, name: str, kind: str, local: Context) -> Any:
        current = [
            v for v in self._same_name(name, local) if isinstance(v, int | float) and v is not True
        ]
        if self._fresh(tool, name):
            if current:
                step = rng.choice([1, 1, 2])
                value = current[0] + step
                return int(value) if kind == "integer" else float(value)
            return self._made_up(rng, name, kind)
        if current:
            return int(current[0]) if kind == "integer" else current[0]
        amounts = [
            leaf.value
            for entity, record in local[:8]
            if entity in self.reads.get(tool, ())
            for leaf in self.leaves_of(record)
            if isinstance(leaf.value, int | float)
            and not isinstance(leaf.value, bool)
            and leaf.value > 0
        ]
        if amounts:
            value = rng.choice(amounts)
            return int(value) if kind == "integer" else value
        return self._made_up(rng, name, kind)

    def _string(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        name: str,
        prop: dict,
        local: Context,
        drawn: dict[str, Any],
    ) -> Any:
        entity = named(catalog, name)
        fmt = prop.get("format")
        if entity is None and self._fresh(tool, name):
            if fmt in ("date", "date-time"):
                return fakes.value_for(rng, name, fmt.replace("date-time", "datetime"), self.clock)
            return self._made_up(rng, name, "string", tool, prop, drawn)
        if entity is None and reasons.is_reason(fakes.words(name)):
            # the user's own words for this tool, not a reason another record was given
            return self._made_up(rng, name, "string", tool, prop, drawn)
        avoid = _flat_values(drawn)
        if name.startswith("new_"):  # a new value is not the one the record holds now
            avoid |= {v for v in self._same_name(name.removeprefix("new_"), local) if _hashable(v)}
            avoid |= {
                v
                for v in self._same_name(singular(name.removeprefix("new_")), local)
                if _hashable(v)
            }
        if name in ("expression", "formula", "calculation"):
            return self._expression(rng, local)
        if name == "id" and entity is None:
            return self._any_key(catalog, rng, local)
        try:
            return self.find(catalog, rng, name, entity, local, avoid)
        except NoValue:
            if entity is not None:
                raise
        if fmt in ("date", "date-time") or name in ("date", "day") or name.endswith("_date"):
            return self._moment(catalog, rng, tool, fmt or "date")
        return self._made_up(rng, name, "string", tool, prop, drawn)

    def _any_key(self, catalog: Catalog, rng: random.Random, local: Context) -> str:
        """For a parameter called just `id`: the key of a record met (most recent first, now
        and then passed over), else of any record whose key is no address (`@external`)."""
        met = [catalog.key_of(entity, record) for entity, record in local]
        met = [k for k in met if isinstance(k, str)]
        for key in met:
            if rng.random() >= SKIP_RECORD:
                return key
        addressed = {
            name
            for name, spec in self.manifest.entities.items()
            if any(f.external for f in spec.fields if f.name in spec.key)
        }
        keyed = [
            key
            for entity, index in catalog.by_key.items()
            if entity not in addressed
            for key in index
            if isinstance(key, str)
        ]
        if not keyed:
            raise NoValue("id")
        return rng.choice(keyed)

    def _list(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        name: str,
        items: dict,
        local: Context,
        drawn: dict[str, Any],
    ) -> list:
        current = next(
            (v for v in self._same_name_lists(name, local) if v and isinstance(v[0], dict)), None
        )
        if items.get("type") == "object" and items.get("properties"):
            props = list(items["properties"])
            if current is not None:
                out = [{k: element[k] for k in props if k in element} for element in current]
                out = [
                    {**e, **self._struct(catalog, rng, tool, items, local, drawn, only_missing=e)}
                    for e in out
                ]
                if name in self.written.get(tool, ()) and rng.random() < 0.7:
                    i = rng.randrange(len(out))
                    out[i] = self._struct(catalog, rng, tool, items, local[1:], drawn)
                return out
            return [self._struct(catalog, rng, tool, items, local, drawn)]
        count = 1 if rng.random() < 0.7 else 2
        out = []
        for _ in range(count):
            try:
                out.append(
                    self.fill(catalog, rng, tool, singular(name), items, local, {**drawn, "_": out})
                )
            except NoValue:
                break
        if not out:
            raise NoValue(name)
        return out

    def _struct(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        prop: dict,
        local: Context,
        drawn: dict[str, Any],
        only_missing: dict | None = None,
    ) -> dict:
        required = set(prop.get("required", list(prop.get("properties", {}))))
        out: dict[str, Any] = {}
        fields = {
            name: sub
            for name, sub in prop["properties"].items()
            if only_missing is None or name not in only_missing
        }
        self._fill_fields(catalog, rng, tool, fields, required, list(local), drawn, out)
        return out

    def _map(
        self,
        catalog: Catalog,
        rng: random.Random,
        tool: str,
        name: str,
        prop: dict,
        local: Context,
        drawn: dict[str, Any],
    ) -> dict:
        values = prop.get("additionalProperties")
        values = values if isinstance(values, dict) else {"type": "string"}
        current = next(
            (v for v in self._same_name(name, local, whole=True) if isinstance(v, dict) and v),
            None,
        )
        keys = list(current)[:2] if current else []
        if not keys or rng.random() < 0.5:
            keys.append(str(fakes.value_for(rng, singular(name), "str", self.clock)))
        return {
            key: self.fill(catalog, rng, tool, singular(name), values, local, drawn)
            for key in dict.fromkeys(keys)
        }

    # ---- lookups

    def find(
        self,
        catalog: Catalog,
        rng: random.Random,
        name: str,
        entity: str | None,
        local: Context,
        avoid: set,
    ) -> Any:
        """A value for `name` from the records met, then those one step away, then the state;
        the record it came from moves to the front of `local`."""
        names = {
            name,
            name.removeprefix("new_"),
            singular(name),
            singular(name.removeprefix("new_")),
        }
        marks = tuple(id(r) for _, r in local[:12])
        near = self._near.get(marks)
        if near is None:
            near = self._near[marks] = catalog.near(local)
        sources = [near, local] if name.startswith("new_") else [local, near]
        for exact in (True, False):
            if entity is not None and not exact:
                break
            for source in sources:
                for owner, record in source:
                    found = [
                        leaf
                        for leaf in self.leaves_of(record)
                        if _matches(catalog, leaf, names, entity, exact)
                        and _hashable(leaf.value)
                        and leaf.value not in avoid
                    ]
                    if entity is not None and owner == entity:
                        key = catalog.key_of(entity, record)
                        if key is not None and key not in avoid:
                            found.append(Leaf(name, key, record))
                    if not found or (len(source) > 1 and rng.random() < SKIP_RECORD):
                        continue
                    leaf = rng.choice(found)
                    _pull(local, owner, record, leaf.parent)
                    return leaf.value
        return self._from_state(catalog, rng, names, entity, local, avoid)

    def _from_state(
        self,
        catalog: Catalog,
        rng: random.Random,
        names: set[str],
        entity: str | None,
        local: Context,
        avoid: set,
    ) -> Any:
        if entity is not None:
            records = catalog.by_key.get(entity, {})
            related = [
                r
                for owner, record in local
                for e, r in catalog.referrers.get((owner, catalog.key_of(owner, record)), [])
                if e == entity
            ]
            fresh = [r for r in related if catalog.key_of(entity, r) not in avoid]
            pool = fresh or [r for r in records.values() if catalog.key_of(entity, r) not in avoid]
            if not pool:
                raise NoValue(entity)
            # A record in the states the tool needs, when one is (a delivered order to rate):
            # a tool that few records pass is not starved by draws that cannot succeed.
            pool = [r for r in pool if self._ready(entity, r)] or pool
            record = rng.choice(pool)
            key = catalog.key_of(entity, record)
            _pull(local, entity, record, record)
            return key
        for n in names:
            found = catalog.by_name.get(n)
            if found:
                owner, leaf = rng.choice(found)
                if _hashable(leaf.value) and leaf.value not in avoid:
                    # The whole record first, so the next value is the same person's (a
                    # name's zip code), then the struct the value sat in.
                    record = catalog.record_of.get(id(leaf.parent), leaf.parent)
                    _pull(local, owner, record, leaf.parent)
                    return leaf.value
        raise NoValue(next(iter(names)))

    def _ready(self, entity: str, record: dict) -> bool:
        """Whether the record is in every state the tool being drawn needs of its entity."""
        return all(
            record.get(path.split(".", 1)[1]) in states
            for path, states in self._wanted.items()
            if path.split(".", 1)[0] == entity
        )

    def _same_name(self, name: str, local: Context, whole: bool = False) -> list[Any]:
        out = []
        for _, record in local[:6]:
            if name in record:
                out.append(record[name])
            elif not whole:
                out += [leaf.value for leaf in self.leaves_of(record) if leaf.name == name]
        return out

    def _same_name_lists(self, name: str, local: Context) -> list[list]:
        return [r[name] for _, r in local[:6] if isinstance(r.get(name), list)]

    def _moment(self, catalog: Catalog, rng: random.Random, tool: str, fmt: str) -> str:
        values = [
            leaf.value
            for entity in self.reads.get(tool, ())
            for record in catalog.data.get(entity, [])[:200]
            for leaf in self.leaves_of(record)
            if isinstance(leaf.value, str) and _DATE.match(leaf.value)
        ]
        if fmt == "date":
            values = sorted({v[:10] for v in values})
        ahead = [v for v in values if v >= self.clock[: len(v)]]
        if ahead or values:
            return rng.choice(ahead or values)
        return self.clock[:10] if fmt == "date" else self.clock

    def _expression(self, rng: random.Random, local: Context) -> str:
        """Arithmetic over numbers of the records met (a fare times the travellers)."""
        numbers = [
            leaf.value
            for _, record in local[:4]
            for leaf in self.leaves_of(record)
            if isinstance(leaf.value, int | float) and not isinstance(leaf.value, bool)
        ] or [rng.randint(2, 400) for _ in range(3)]
        picked = [rng.choice(numbers) for _ in range(rng.randint(2, 3))]
        return f" {rng.choice('+-*')} ".join(str(n) for n in picked)

    def _made_up(
        self,
        rng: random.Random,
        name: str,
        kind: str,
        tool: str = "",
        prop: dict | None = None,
        drawn: dict[str, Any] | None = None,
    ) -> Any:
        plain = {"integer": "int", "number": "float", "boolean": "bool"}.get(kind, "str")
        if plain == "str" and reasons.is_reason(fakes.words(name)):  # why the tool does it
            doc = (prop or {}).get("description") or ""
            return reasons.reason_for(rng, fakes.words(name), fakes.words(tool), doc, drawn)
        if plain == "str" and (name in ("dob", "birthday") or name.endswith(("_date", "_on"))):
            plain = "date"  # a string that names a day is a date, even unformatted
        return fakes.value_for(rng, name, plain, self.clock)


def named(catalog: Catalog, name: str) -> str | None:
    for candidate in (name, name.removeprefix("new_"), singular(name.removeprefix("new_"))):
        if candidate in catalog.names:
            return catalog.names[candidate]
    return None


def _matches(
    catalog: Catalog, leaf: Leaf, names: set[str], entity: str | None, exact: bool
) -> bool:
    if entity is not None:
        return catalog.names.get(leaf.name) == entity and isinstance(leaf.value, str | int)
    if exact:
        return leaf.name in names
    # `payment_id` also takes a `payment_method_id`: the leaf's words hold the name's words.
    words = set(next(iter(sorted(names, key=len))).split("_"))
    return (
        len(words) > 1
        and words <= set(leaf.name.split("_"))
        and leaf.name.endswith(next(iter(sorted(names, key=len))).split("_")[-1])
    )


def _pull(local: Context, owner: str, record: dict, parent: dict) -> None:
    """Put the record (and the struct the value sat in) first, so the next value comes
    from the same place."""
    for item in (record, parent):
        local[:] = [pair for pair in local if pair[1] is not item]
    local.insert(0, (owner, record))
    if parent is not record:
        local.insert(0, (owner, parent))


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _flat_values(drawn: dict[str, Any]) -> set:
    out: set = set()
    for value in drawn.values():
        for leaf in leaves({"v": value}, "", {}):
            if _hashable(leaf.value):
                out.add(leaf.value)
    return out
