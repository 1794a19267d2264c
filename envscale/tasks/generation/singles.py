"""Entities of fixed records: those a domain's tools address only by constant keys.

A spec that writes `Phone["device"]` (and never looks a Phone up by a value it was given)
declares that the state holds exactly the Phone keyed `device`: the customer's own phone, a
place, a profile. The compiled tools say so (`db.get("Phone", "device")`), and `fixed_keys`
reads it off them with Python's `ast`. Generated data makes exactly those records, each under
its key (`values.py`); `Singles._tie_singles` then makes them agree with the rest of the
state: a text field named like a field of other records (a phone's `phone_number`) takes one
of their values for which the domain's sync blocks run, a `name` is that of the person whose
record the value came from or who holds it (the customer whose lines list the line), optional
fields that keep the sync blocks from running are left out, and the sync blocks run once so
that what they derive (the line is active, the data is used up) holds from the start.
"""

from __future__ import annotations

import ast
import random
from typing import Any

import apsw

from envscale.runtime.errors import ToolError
from envscale.tasks.generation.state import State, hashable


def fixed_keys(domain: Any) -> dict[str, list[str]]:
    """Entity -> the constant keys its records are looked up by, for entities of one key
    field that the compiled tools look up by constant keys only."""
    source = domain.files.get("tools.py", "")
    entities = domain.manifest.entities
    constant: dict[str, list[str]] = {}
    by_value: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        args = _lookup_args(node)
        if args is None or not (isinstance(args[0], ast.Constant) and args[0].value in entities):
            continue
        entity = args[0].value
        key = args[1]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            if key.value not in constant.setdefault(entity, []):
                constant[entity].append(key.value)
        else:
            by_value.add(entity)
    return {
        entity: keys
        for entity, keys in constant.items()
        if entity not in by_value and len(entities[entity].key) == 1
    }


# The runtime's reads of one record by key that the compiler plans (`runtime/reads.py`):
# `lib.get_part(db, entity, key, ...)` and the like.
_PLANNED_LOOKUPS = ("existing", "field_of", "entry_of", "find_part", "get_part")


def _lookup_args(node: ast.AST) -> list[ast.expr] | None:
    """The entity and key of a lookup of one record in compiled code (`db.get(E, k)`,
    `db.find(E, k)` or a planned read), or None for any other node."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner, name = node.func.value, node.func.attr
    if not isinstance(owner, ast.Name):
        return None
    if owner.id == "db" and name in ("get", "find") and len(node.args) == 2:
        return node.args
    planned = owner.id == "lib" and name in _PLANNED_LOOKUPS and len(node.args) >= 3
    if planned and isinstance(node.args[0], ast.Name) and node.args[0].id == "db":
        return node.args[1:3]
    return None


class Singles(State):
    """Ties the fixed records to the others once every entity has its records."""

    def _tie_singles(self, env: Any, singles: dict[str, list[str]]) -> None:
        if not singles:
            return
        rng = random.Random(f"envscale-datagen:{self.seed}:fixed records")
        for entity, keys in singles.items():
            for key in keys:
                if key in self.index.get(entity, {}):
                    self._copy_named(env, entity, key, rng, singles)
        for entity, keys in singles.items():
            for key in keys:
                if key in self.index.get(entity, {}) and not self._syncs(env):
                    self._leave_out_optional(env, entity, key)
        if self.domain.sync_tools and env.sync() is None:
            for entity, records in self.index.items():  # what the sync blocks derived
                for k in records:
                    records[k] = env.db.find(entity, k) or records[k]

    def _copy_named(
        self, env: Any, entity: str, key: str, rng: random.Random, singles: dict[str, list[str]]
    ) -> None:
        """Each text field named like a field of other entities' records takes one of their
        values with which the sync blocks run (or none, when it may be none and none does)."""
        spec = self.manifest.entities[entity]
        sources: list[tuple[str, dict]] = []
        for f in spec.fields:
            if f.kind != "str" or f.name in spec.key or "_" not in f.name:
                continue  # a plain `name` or `title` names something of its own
            offers = {
                record[g.name]: (other, record)
                for other, other_spec in self.manifest.entities.items()
                if other != entity and other not in singles
                for g in other_spec.fields
                if g.name == f.name and g.kind == "str"
                for record in self.index.get(other, {}).values()
                if isinstance(record.get(g.name), str)
            }
            if not offers:
                continue
            values = list(offers)
            rng.shuffle(values)
            for value in values:
                if self._set(env, entity, key, f.name, value):
                    sources.append(offers[value])
                    break
            else:
                if f.nullable:
                    self._set(env, entity, key, f.name, None, judge=False)
        self._owner_name(env, entity, key, sources)

    def _owner_name(self, env: Any, entity: str, key: str, sources: list[tuple[str, dict]]) -> None:
        """A fixed record's `name` is the person's whose record a copied value came from (their
        `full_name`), or who holds that record (the customer whose `line_ids` list the line:
        their `full_name`, else their `name`)."""
        fields = self.manifest.entities[entity].fields
        if not any(f.name == "name" and f.kind == "str" for f in fields):
            return
        people = [(source, record, False) for source, record in sources]
        for source, record in sources:
            own = self.manifest.entities[source].key
            held = record.get(own[0]) if len(own) == 1 else None
            if held is None:
                continue
            people += [
                (other, r, True)
                for other, records in self.index.items()
                if other != source
                for r in records.values()
                if any(v == held or (isinstance(v, list) and held in v) for v in r.values())
            ]
        for field in ("full_name", "name"):
            for other, record, holder in people:
                names = {f.name for f in self.manifest.entities[other].fields if f.kind == "str"}
                wanted = (holder or field == "full_name") and field in names
                if wanted and isinstance(record.get(field), str):
                    self._set(env, entity, key, "name", record[field], judge=False)
                    return

    def _leave_out_optional(self, env: Any, entity: str, key: str) -> None:
        spec = self.manifest.entities[entity]
        for f in spec.fields:
            if (
                f.nullable
                and f.name not in spec.key
                and self.index[entity][key].get(f.name) is not None
                and self._set(env, entity, key, f.name, None)
            ):
                return

    def _set(
        self, env: Any, entity: str, key: str, name: str, value: Any, judge: bool = True
    ) -> bool:
        """Set one field of a fixed record; kept when the sync blocks then run (or unjudged)."""
        record = dict(self.index[entity][key])
        record[name] = value
        connection = env.connection
        connection.execute("SAVEPOINT fixed")
        try:
            env.db.update(entity, record, name, as_move=False)
            ok = not judge or self._syncs(env)
        except (apsw.ConstraintError, ToolError):
            ok = False
        connection.execute("RELEASE fixed" if ok else "ROLLBACK TO fixed")
        if not ok:
            connection.execute("RELEASE fixed")
            return False
        self.index[entity][key] = env.db.find(entity, key) or record
        for f in self.manifest.entities[entity].fields:
            if f.unique and f.name == name and value is not None:
                self.used.setdefault((entity, name), set()).add(hashable(value))
        return True

    def _syncs(self, env: Any) -> bool:
        """Whether the sync blocks run on the state as it is, leaving it unchanged."""
        if not self.domain.sync_tools:
            return True
        connection = env.connection
        connection.execute("SAVEPOINT sync_probe")
        try:
            return env.sync() is None
        finally:
            connection.execute("ROLLBACK TO sync_probe")
            connection.execute("RELEASE sync_probe")
