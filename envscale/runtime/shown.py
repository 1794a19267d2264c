"""The shown form of values: what the agent reads and what documents hold.

A record's shown form leaves out its `@external` fields (its address, such as a key kept
outside the record) and its `@sparse` fields that are none; structs likewise drop sparse
fields that are none. Tool results also leave out `@hidden` fields, of records and structs;
documents (runtime/layout.py) keep them, since they are part of the state. Plain values are
shown as they are.
"""

from __future__ import annotations

from typing import Any

from envscale.records import Manifest, Shape

# A field as the shown form needs it: name, external, sparse, shape of its value.
FieldShow = tuple[str, bool, bool, Shape | None]


class Shower:
    """`hide`: leave `@hidden` fields out too, as tool results do (documents keep them)."""

    def __init__(self, manifest: Manifest, *, hide: bool = False):
        # A field left out of every shown form counts as external here.
        self.entities: dict[str, list[FieldShow]] = {
            name: [
                (f.name, f.external or (hide and f.hidden), f.sparse, f.shape) for f in spec.fields
            ]
            for name, spec in manifest.entities.items()
        }
        self.structs: dict[str, list[FieldShow]] = {
            name: [(f.name, hide and f.hidden, f.sparse, f.shape) for f in fields]
            for name, fields in manifest.structs.items()
        }
        self._trivial: dict[str, bool] = {}

    def needs_work(self, shape: Shape | None) -> bool:
        """Whether anything under this shape is ever left out (memoized per record type)."""
        if shape is None or shape.ref is not None:
            return False
        if shape.list is not None or shape.map is not None:
            return self.needs_work(shape.list or shape.map)
        cache_key = f"row:{shape.row}" if shape.row is not None else f"struct:{shape.struct}"
        if cache_key not in self._trivial:
            self._trivial[cache_key] = False  # guards against recursion through itself
            fields = self._fields(shape)
            self._trivial[cache_key] = any(
                ext or sparse or self.needs_work(sub) for _, ext, sparse, sub in fields
            )
        return self._trivial[cache_key]

    def _fields(self, shape: Shape) -> list[FieldShow]:
        if shape.row is not None:
            return self.entities[shape.row]
        return self.structs[shape.struct or ""]

    def show(self, shape: Shape | None, value: Any) -> Any:
        if shape is None or value is None or not self.needs_work(shape):
            return value
        if shape.list is not None:
            return [self.show(shape.list, v) for v in value]
        if shape.map is not None:
            return {k: self.show(shape.map, v) for k, v in value.items()}
        out = {}
        for name, external, sparse, sub in self._fields(shape):
            if external or name not in value:
                continue
            item = value[name]
            if sparse and item is None:
                continue
            out[name] = self.show(sub, item)
        return out
