"""References held inside JSON fields: lists and maps of references, and struct fields that
name an entity (`list<Reservation>`, `map<str, Order>`, `product_id: Product` in a struct).

SQLite's foreign keys check a reference field's column; a reference inside a JSON value has
no column, so the runtime checks it: every key written (loaded, inserted or updated) must be
a record of its entity, and a record cannot be deleted while a JSON value refers to it. The
manifest's shapes say where the references are (`{"ref": "E"}` nodes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from envscale.records import Manifest, Shape

# A reference found in a value: the entity it refers to, the key it holds, where it is.
Found = tuple[str, Any, str]
# Appends the (entity, key) of each reference in a value to a list, in `found`'s order.
Collector = Callable[[Any, list[tuple[str, Any]]], None]


@dataclass
class NestedRefs:
    """Where the references inside JSON fields are, per entity and field."""

    structs: dict[str, list[tuple[str, Shape]]]
    # entity -> field -> the shape of its value, for fields that hold references inside.
    fields: dict[str, dict[str, Shape]] = field(default_factory=dict)
    # referred entity -> the (entity, field) pairs whose values may hold its keys.
    referrers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Per shape (by its JSON text), the collector `collector` made for it.
    _collectors: dict[str, Collector] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> NestedRefs:
        structs = {
            name: [(f.name, f.shape) for f in fields if f.shape is not None]
            for name, fields in manifest.structs.items()
        }
        refs = cls(structs)
        for entity, info in manifest.entities.items():
            for f in info.fields:
                if f.shape is None:
                    continue
                targets = refs.targets(f.shape)
                if targets:
                    refs.fields.setdefault(entity, {})[f.name] = f.shape
                    for target in sorted(targets):
                        refs.referrers.setdefault(target, []).append((entity, f.name))
        return refs

    def targets(self, shape: Shape, seen: frozenset[str] = frozenset()) -> set[str]:
        """The entities a value of this shape may refer to."""
        if shape.ref is not None:
            return {shape.ref}
        if shape.list is not None or shape.map is not None:
            return self.targets(shape.list or shape.map, seen)  # type: ignore[arg-type]
        if shape.struct is not None and shape.struct not in seen:
            inner = seen | {shape.struct}
            return {
                e for _, sub in self.structs.get(shape.struct, []) for e in self.targets(sub, inner)
            }
        return set()

    def found(self, shape: Shape, value: Any, path: str) -> Iterator[Found]:
        """Each reference in a value of this shape, with its path (`reservations[2]`)."""
        if value is None:
            return
        if shape.ref is not None:
            yield shape.ref, value, path
        elif shape.list is not None and isinstance(value, list):
            for i, item in enumerate(value):
                yield from self.found(shape.list, item, f"{path}[{i}]")
        elif shape.map is not None and isinstance(value, dict):
            for k, item in value.items():
                yield from self.found(shape.map, item, f"{path}[{json.dumps(k)}]")
        elif shape.struct is not None and isinstance(value, dict):
            for name, sub in self.structs.get(shape.struct, []):
                yield from self.found(sub, value.get(name), f"{path}.{name}")

    def collector(self, shape: Shape) -> Collector:
        """A function that lists what `found` yields, without the paths: writes check every
        reference they store, and only a missing one needs its path, for the message."""
        slot = shape.model_dump_json()
        made = self._collectors.get(slot)
        if made is not None:
            return made
        if shape.ref is not None:
            target = shape.ref

            def collect(value: Any, out: list[tuple[str, Any]]) -> None:
                if value is not None:
                    out.append((target, value))

        elif shape.list is not None or shape.map is not None:
            inner_shape = shape.list if shape.list is not None else shape.map
            of_list = shape.list is not None
            inner: list[Collector] = []

            def collect(value: Any, out: list[tuple[str, Any]]) -> None:
                if of_list:
                    if not isinstance(value, list):
                        return
                    items = value
                elif isinstance(value, dict):
                    items = value.values()
                else:
                    return
                each = inner[0]
                for item in items:
                    each(item, out)

            # Made after this one is known, so that a struct holding itself ends.
            self._collectors[slot] = collect
            inner.append(self.collector(inner_shape))  # type: ignore[arg-type]
            return collect
        elif shape.struct is not None:
            parts: list[tuple[str, Collector]] = []

            def collect(value: Any, out: list[tuple[str, Any]]) -> None:
                if isinstance(value, dict):
                    for name, each in parts:
                        each(value.get(name), out)

            self._collectors[slot] = collect
            parts.extend(
                (name, self.collector(sub)) for name, sub in self.structs.get(shape.struct, [])
            )
            return collect
        else:

            def collect(value: Any, out: list[tuple[str, Any]]) -> None:
                return None

        self._collectors[slot] = collect
        return collect
