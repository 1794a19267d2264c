"""The shown form of values: what the agent reads and what documents hold.

A record's shown form leaves out its `@external` fields (its address, such as a key kept
outside the record) and its `@sparse` fields that are none; structs likewise drop sparse
fields that are none. Plain values are shown as they are.
"""

from __future__ import annotations

from typing import Any


class Shower:
    def __init__(self, manifest: dict):
        self.entities = {
            name: [(f["name"], f["external"], f["sparse"], f["shape"]) for f in spec["fields"]]
            for name, spec in manifest["entities"].items()
        }
        self.structs = {
            name: [(f["name"], False, f["sparse"], f["shape"]) for f in fields]
            for name, fields in manifest.get("structs", {}).items()
        }
        self._trivial: dict[str, bool] = {}

    def needs_work(self, shape: dict | None) -> bool:
        """Whether anything under this shape is ever left out (memoized per record type)."""
        if shape is None:
            return False
        if "list" in shape or "map" in shape:
            return self.needs_work(shape.get("list") or shape.get("map"))
        name = shape.get("row") or shape.get("struct")
        cache_key = f"{'row' if 'row' in shape else 'struct'}:{name}"
        if cache_key not in self._trivial:
            self._trivial[cache_key] = False  # guards against recursion through itself
            fields = self.entities[name] if "row" in shape else self.structs[name]
            self._trivial[cache_key] = any(ext or sparse or self.needs_work(sub) for _, ext, sparse, sub in fields)
        return self._trivial[cache_key]

    def show(self, shape: dict | None, value: Any) -> Any:
        if value is None or not self.needs_work(shape):
            return value
        if "list" in shape:
            return [self.show(shape["list"], v) for v in value]
        if "map" in shape:
            return {k: self.show(shape["map"], v) for k, v in value.items()}
        fields = self.entities[shape["row"]] if "row" in shape else self.structs[shape["struct"]]
        out = {}
        for name, external, sparse, sub in fields:
            if external or name not in value:
                continue
            item = value[name]
            if sparse and item is None:
                continue
            out[name] = self.show(sub, item)
        return out
