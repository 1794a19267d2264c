"""The shown form of values: what the agent reads and what documents hold.

A record's shown form leaves out its `@external` fields (its address, such as a key kept
outside the record) and its `@sparse` fields that are none; structs likewise drop sparse
fields that are none. Tool results also leave out `@hidden` fields, of records and structs;
documents (runtime/layout.py) keep them, since they are part of the state. Plain values are
shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable
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
        # Per record and struct type, its fields as `compiled` functions show them.
        self._plans: dict[str, list[tuple[str, bool, Callable[[Any], Any] | None]]] = {}

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

    def compiled(self, shape: Shape | None) -> Callable[[Any], Any] | None:
        """A function that does what `show(shape, value)` does, for values of one shape
        shown many times (tool results); None where the shown form is the value itself."""
        if shape is None or not self.needs_work(shape):
            return None
        if shape.list is not None or shape.map is not None:
            inner = self.compiled(shape.list or shape.map)
            assert inner is not None  # needs_work said something below is left out
            if shape.list is not None:
                return lambda value: None if value is None else [inner(v) for v in value]
            return lambda value: None if value is None else {k: inner(v) for k, v in value.items()}
        cache_key = f"row:{shape.row}" if shape.row is not None else f"struct:{shape.struct}"
        plans = self._plans

        def show_fields(value: Any) -> Any:
            if value is None:
                return None
            plan = plans.get(cache_key)
            if plan is None:
                # Made on first use, so that a struct holding itself is no endless recursion.
                plan = plans[cache_key] = [
                    (name, sparse, self.compiled(sub))
                    for name, external, sparse, sub in self._fields(shape)
                    if not external
                ]
            out = {}
            for name, sparse, show in plan:
                if name in value:
                    item = value[name]
                    if item is None:
                        if not sparse:
                            out[name] = None
                    else:
                        out[name] = item if show is None else show(item)
            return out

        return show_fields
