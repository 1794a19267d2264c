"""Defaults of struct fields, filled into struct values that leave those fields out.

Arguments and loaded data are passed on as they were written (so 100 stays 100), but a
struct value missing a field with a `@default` gets that default, wherever the struct sits
(a field, a list item, a map value, a struct in a struct): the compiled tools read such a
field as present. The pydantic value validated from the same data tells where the structs
are; the manifest tells which of their fields have defaults.
"""

from __future__ import annotations

import copy
from typing import Any

import pydantic

from envscale.records import Manifest


class StructDefaults:
    def __init__(self, manifest: Manifest):
        self.clock = manifest.clock
        self.defaults: dict[str, dict[str, Any]] = {}
        for name, fields in manifest.structs.items():
            given = {f.name: f.default for f in fields if "default" in f.model_fields_set}
            if given:
                self.defaults[name] = given

    def __bool__(self) -> bool:
        return bool(self.defaults)

    def fill(self, raw: Any, validated: Any) -> Any:
        """`raw` with the defaults its structs leave out; `raw` itself (never changed) when
        none is missing, else a copy that shares what did not change."""
        if isinstance(validated, pydantic.BaseModel):
            if not isinstance(raw, dict):
                return raw
            defaults = self.defaults.get(type(validated).__name__, {})
            out = raw
            for name in type(validated).model_fields:
                if name in raw:
                    value = self.fill(raw[name], getattr(validated, name))
                    if value is raw[name]:
                        continue
                elif name in defaults:
                    value = self.value(defaults[name])
                else:
                    continue
                if out is raw:
                    out = dict(raw)
                out[name] = value
            return out
        if isinstance(validated, list) and isinstance(raw, list) and len(raw) == len(validated):
            items = [self.fill(r, v) for r, v in zip(raw, validated, strict=True)]
            return items if any(a is not b for a, b in zip(items, raw, strict=True)) else raw
        if isinstance(validated, dict) and isinstance(raw, dict):
            entries = {k: self.fill(v, validated.get(k)) for k, v in raw.items()}
            return entries if any(entries[k] is not raw[k] for k in raw) else raw
        return raw

    def value(self, default: Any) -> Any:
        """A default as a value: `now()` and `today()` read the domain's clock."""
        if isinstance(default, dict) and "$call" in default:
            return self.clock if default["$call"] == "now" else self.clock[:10]
        return copy.deepcopy(default)
