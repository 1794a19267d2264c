"""Where the records of a domain point at each other, as the data generator needs to know.

A reference is declared (`customer: Customer`, manifest "ref"), typed inside a collection or
a struct (`list<Reservation>`, a struct field of an entity type: shape nodes `{"ref": E}`),
or only named: a text field called like an entity's key (`product_id`, `flight_number`), like
the entity (`menu_item` for MenuItem, `user_id` for User), or a list of text called like its
plural (`orders`, `reservations`). Named ones are what specs written before typed
collections use; following them keeps a user's `orders` holding that user's order ids.
"""

from __future__ import annotations

import re
from typing import Any

from envscale.records import EntityField, Manifest, Shape
from envscale.runtime.errors import DataError


def snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def plural(word: str) -> str:
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy", "uy")):
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def shape_ref(shape: Shape | dict | None) -> str | None:
    """The entity a shape node refers to (`{"ref": "E"}`), if it is one."""
    if shape is None:
        return None
    if isinstance(shape, dict):
        return shape.get("ref")
    ref = getattr(shape, "ref", None)
    return ref if isinstance(ref, str) else None


def element_shape(shape: Shape | None) -> Shape | dict | None:
    if shape is None:
        return None
    if isinstance(shape, dict):
        return shape.get("list") or shape.get("map")
    return shape.list or shape.map


class Links:
    """The references of one manifest, declared, typed and named."""

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        self._by_name: dict[tuple[str, str | None], str | None] = {}

    def by_name(self, field: str, owner: str | None = None) -> str | None:
        """The entity a text field refers to by its name alone, if any; never the owner's
        own key."""
        if (field, owner) not in self._by_name:
            self._by_name[field, owner] = self._named(field, owner)
        return self._by_name[field, owner]

    def _named(self, field: str, owner: str | None) -> str | None:
        # Text holds only text keys, and a field named after its own entity (a search
        # result's `player`) is what the record is about, not another record of it.
        entities = self.manifest.entities
        for entity, spec in entities.items():
            if len(spec.key) != 1 or entity == owner:
                continue
            key = spec.key[0]
            if next(f.kind for f in spec.fields if f.name == key) != "str":
                continue
            if field == key or field in (snake(entity), f"{snake(entity)}_id"):
                return entity
        return None

    def list_by_name(self, field: str) -> str | None:
        """The entity a list of text refers to by its name (`orders`, `item_ids`)."""
        for entity, spec in self.manifest.entities.items():
            if len(spec.key) != 1:
                continue
            if field in (plural(snake(entity)), plural(spec.key[0]), f"{snake(entity)}_ids"):
                return entity
        return None

    def element_ref(self, f: EntityField) -> str | None:
        """The entity a list or map field of references holds, typed or named."""
        typed = shape_ref(element_shape(f.shape))
        if typed is not None:
            return typed
        if f.type.replace(" ", "") in ("list<str>", "list<str>?"):
            return self.list_by_name(f.name)
        return None

    def struct_ref(self, struct: str, field: str, schema: dict[str, Any]) -> str | None:
        """The entity a struct's field refers to, typed or named (text fields only)."""
        for g in self.manifest.structs.get(struct, []):
            if g.name == field and (typed := shape_ref(g.shape)) is not None:
                return typed
        if schema.get("type") == "string" and "pattern" not in schema:
            return self.by_name(field)
        return None

    def inverse(self, entity: str, f: EntityField) -> str | None:
        """For a list of references to T: T's declared reference back to `entity`, whose
        records then are the list (a user's orders are the orders whose user is them)."""
        target = self.element_ref(f)
        if target is None or target not in self.manifest.entities:
            return None
        back = [g.name for g in self.manifest.entities[target].fields if g.ref == entity]
        return back[0] if len(back) == 1 else None

    def needs(self, entity: str, level: int) -> list[str]:
        """What an entity's records refer to. Level 0: every reference; 1: declared ones;
        2: required declared ones (the last resort in a cycle)."""
        spec = self.manifest.entities[entity]
        out = []
        for f in spec.fields:
            targets = [f.ref] if f.ref and not (level == 2 and f.nullable) else []
            if level == 0:
                targets.append(self.element_ref(f) or "")
                targets.extend(self._nested(f.shape))
                if f.kind == "str" and f.name not in spec.key:
                    targets.append(self.by_name(f.name, entity) or "")
            out.extend(t for t in targets if t and t != entity and t in self.manifest.entities)
        return out

    def _nested(self, shape: Shape | dict | None, depth: int = 0) -> list[str]:
        if shape is None or depth > 8:
            return []
        found = [r] if (r := shape_ref(shape)) else []
        inner = element_shape(shape)
        if inner is not None:
            found += self._nested(inner, depth + 1)
        struct = shape.get("struct") if isinstance(shape, dict) else shape.struct
        if struct:
            for g in self.manifest.structs.get(struct, []):
                typed = shape_ref(g.shape)
                named = self.by_name(g.name) if g.shape is None else None
                found += [t for t in (typed, named) if t]
                found += self._nested(g.shape, depth + 1)
        return found


def entity_order(manifest: Manifest) -> list[str]:
    """Entities so that each comes after those it refers to.

    References inside collections and named ones give way in a cycle first, then nullable
    ones.
    """
    links = Links(manifest)
    names = list(manifest.entities)
    for level in (0, 1, 2):
        needs = {name: links.needs(name, level) for name in names}
        order: list[str] = []
        placed: set[str] = set()
        progress = True
        while progress and len(order) < len(names):
            progress = False
            for name in names:
                if name not in placed and all(n in placed for n in needs[name]):
                    order.append(name)
                    placed.add(name)
                    progress = True
        if len(order) == len(names):
            return order
    cycle = [n for n in names if n not in order]
    raise DataError(
        [
            f"entities {', '.join(cycle)} refer to each other through required references; "
            "make one of those references optional to generate data"
        ]
    )
