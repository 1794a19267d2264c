"""What the records of one state hold, indexed once so that drawing an argument is a lookup.

A record's *leaves* are its scalar values with the name they sit under, nested values
included: a struct's fields, a list's items (under the list's name and its singular), and a
map's keys (under the map's singular name and that name plus `_id`: the keys of
`payment_methods` are `payment_method` and `payment_method_id` values). A leaf *names an
entity* when its values are keys of that entity: the entity's key field (`reservation_id`),
`<entity>_id`, a reference field, a `{"ref": E}` node of a field's shape, or, where the spec
still types a collection of ids as strings, a field whose stored values are keys of one
entity (`User.reservations`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from envscale.compiler.toolgraph import entity_names, singular
from envscale.records import Manifest

# A plain-string collection is taken for references when this share of its sampled values
# are keys of one entity.
EVIDENCE_SHARE = 0.8
EVIDENCE_SAMPLE = 40


@dataclass(frozen=True)
class Leaf:
    name: str
    value: Any
    parent: dict  # the dict the value sits in (a record, a struct, a list's element)


def leaves(value: Any, name: str = "", parent: dict | None = None) -> Iterator[Leaf]:
    """The scalar values inside `value`, each with the name it sits under."""
    if isinstance(value, dict):
        inner = list(value.values())
        if inner and all(isinstance(v, dict) for v in inner) and name:
            for key, item in value.items():  # a map of structs: its keys, then its values
                yield Leaf(singular(name), key, value)
                yield Leaf(f"{singular(name)}_id", key, value)
                yield from leaves(item, "", item)
            return
        for key, item in value.items():
            yield from leaves(item, key, value)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield from leaves(item, "", item)
            else:
                yield from leaves(item, name, parent)
                if singular(name) != name:
                    yield from leaves(item, singular(name), parent)
    elif value is not None and name and parent is not None:
        yield Leaf(name, value, parent)


def evidence_names(manifest: Manifest, data: dict[str, list[dict]]) -> dict[str, str]:
    """Names of plain-string collections whose stored values are keys of one entity."""
    keys = {
        entity: {r.get(info.key[0]) for r in data.get(entity, [])}
        for entity, info in manifest.entities.items()
        if len(info.key) == 1
    }
    out: dict[str, str] = {}
    for entity, info in manifest.entities.items():
        records = data.get(entity, [])[:EVIDENCE_SAMPLE]
        for f in info.fields:
            if f.kind != "json" or (f.shape is not None and f.shape.struct is not None):
                continue
            values = [leaf.value for r in records for leaf in leaves(r.get(f.name), f.name, r)]
            values = [v for v in values if isinstance(v, str)]
            if not values:
                continue
            for target, known in keys.items():
                hits = sum(1 for v in values if v in known)
                if target != entity and hits >= EVIDENCE_SHARE * len(values):
                    out[f.name] = target
                    out[singular(f.name)] = target
                    break
    return out


@dataclass
class Catalog:
    """The records of one state, their leaves by name, and who refers to whom."""

    manifest: Manifest
    data: dict[str, list[dict]]
    names: dict[str, str] = field(default_factory=dict)  # leaf name -> entity it keys
    by_key: dict[str, dict[Any, dict]] = field(default_factory=dict)
    by_name: dict[str, list[tuple[str, Leaf]]] = field(default_factory=dict)
    referrers: dict[tuple[str, Any], list[tuple[str, dict]]] = field(default_factory=dict)
    entity_of: dict[int, str] = field(default_factory=dict)  # id(record) -> entity
    record_of: dict[int, dict] = field(default_factory=dict)  # id(a leaf's parent) -> record
    _refs: dict[int, tuple[dict, list[tuple[str, Any]]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, manifest: Manifest, data: dict[str, list[dict]]) -> Catalog:
        names = {**evidence_names(manifest, data), **entity_names(manifest)}
        catalog = cls(manifest, data, names)
        for entity, records in data.items():
            info = manifest.entities.get(entity)
            if info is None:
                continue
            single = info.key[0] if len(info.key) == 1 else None
            index = catalog.by_key.setdefault(entity, {})
            for record in records:
                catalog.entity_of[id(record)] = entity
                if single is not None and isinstance(record.get(single), str | int):
                    index[record[single]] = record
                for leaf in leaves(record, "", record):
                    catalog.by_name.setdefault(leaf.name, []).append((entity, leaf))
                    catalog.record_of[id(leaf.parent)] = record
        for entity, records in data.items():
            for record in records:
                for target, key in catalog.refs_of(entity, record):
                    catalog.referrers.setdefault((target, key), []).append((entity, record))
        return catalog

    def key_of(self, entity: str, record: dict) -> Any:
        info = self.manifest.entities.get(entity)
        if info is None or len(info.key) != 1:
            return None
        return record.get(info.key[0])

    def refs_of(self, entity: str | None, record: dict) -> list[tuple[str, Any]]:
        """(entity, key) of every record that `record` names, nested names included."""
        cached = self._refs.get(id(record))
        if cached is not None and cached[0] is record:
            return cached[1]
        found = list(self._refs_of(entity, record))
        self._refs[id(record)] = (record, found)  # the record is kept, so its id stays its own
        return found

    def forget(self) -> None:
        """Drop what was cached for records that are not this state's own (a walk's outputs)."""
        self._refs = {k: v for k, v in self._refs.items() if k in self.entity_of}

    def _refs_of(self, entity: str | None, record: dict) -> Iterator[tuple[str, Any]]:
        own = self.manifest.entities.get(entity or "")
        own_key = own.key[0] if own is not None and len(own.key) == 1 else None
        for leaf in leaves(record, "", record):
            target = self.names.get(leaf.name)
            if target is None or (target == entity and leaf.name == own_key):
                continue
            if isinstance(leaf.value, str | int) and leaf.value in self.by_key.get(target, {}):
                yield target, leaf.value

    def near(
        self, context: list[tuple[str, dict]], limit: int = 60, depth: int = 8
    ) -> list[tuple[str, dict]]:
        """Records one step from the first `depth` of `context`: the ones they name and the
        ones naming them (a user's orders, an order's products), from this catalog's state."""
        out: list[tuple[str, dict]] = []
        seen = {id(r) for _, r in context}
        for entity, record in context[:depth]:
            found = [
                (target, self.by_key[target][key]) for target, key in self.refs_of(entity, record)
            ]
            key = self.key_of(entity, record)
            if key is not None:
                found += self.referrers.get((entity, key), [])
            for pair in found:
                if id(pair[1]) not in seen:
                    seen.add(id(pair[1]))
                    out.append(pair)
            if len(out) >= limit:
                break
        return out
