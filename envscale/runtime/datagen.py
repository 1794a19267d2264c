"""Initial states generated from the entity declarations of a compiled domain.

`generate_data(domain, seed, size)` makes records per entity that a real environment
accepts: entities are made in reference order so every reference points at an existing
record; keys and `@unique` fields never repeat; each row is inserted into a scratch
database of the domain, so its SQL CHECKs (field checks and single-row invariants) judge it,
and the runtime invariants are evaluated on what was inserted. A row that fails is made
again with fresh values, then with its declared defaults, and dropped only when nothing
passes. Values come from `fakes` (names, emails, prices, dates near the domain clock…);
ids follow the domain's own formats: those of sample data (`like`), else the prefixes its
tools pass to `next_key`, else the entity's initials.

The same seed and size give the same records, in any process.
"""

from __future__ import annotations

import inspect
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apsw
import pydantic

from envscale.runtime import fakes
from envscale.runtime.errors import DataError

DEFAULT_SIZE = 10
ATTEMPTS = 30
_NEXT_KEY = re.compile(r"""next_key\(\s*['"](\w+)['"]\s*,\s*['"]([^'"]*)['"]\s*(?:,\s*(\d+))?\s*\)""")
_ID_SHAPE = re.compile(r"^(\D*)(\d+)$")


@dataclass(frozen=True)
class IdFormat:
    prefix: str
    width: int

    def make(self, number: int) -> str:
        return f"{self.prefix}{str(number).zfill(self.width)}"


def generate_data(domain: Any, seed: int, size: int | dict[str, int] = DEFAULT_SIZE,
                  like: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Records per entity (in the domain's entity order) for `domain.environment(data=...)`.

    `size` is the number of records of every entity, or a count per entity name (entities
    left out get DEFAULT_SIZE). `like` is sample data whose ids set the id formats.
    """
    return _Generator(domain, seed, like).run(size)


def entity_order(manifest: dict) -> list[str]:
    """Entities so that each comes after those it refers to; nullable references give way in a cycle."""
    entities = manifest["entities"]
    names = list(entities)
    for strict in (False, True):
        needs = {name: [f["ref"] for f in spec["fields"]
                        if f["ref"] and f["ref"] != name and f["ref"] in entities and not (strict and f["nullable"])]
                 for name, spec in entities.items()}
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
    raise DataError([f"entities {', '.join(cycle)} refer to each other through required references; "
                     "make one of those references optional to generate data"])


def id_formats(domain: Any, like: dict[str, list[dict]] | None = None) -> dict[str, IdFormat]:
    """The id format of each entity keyed by one string field."""
    manifest = domain.manifest
    from_tools: dict[str, IdFormat] = {}
    for entity, prefix, width in _NEXT_KEY.findall(domain.files.get("tools.py", "")):
        from_tools.setdefault(entity, IdFormat(prefix, int(width or 0)))
    formats: dict[str, IdFormat] = {}
    taken: set[str] = set()
    pending = []
    for entity, spec in manifest["entities"].items():
        if len(spec["key"]) != 1:
            continue
        key = next(f for f in spec["fields"] if f["name"] == spec["key"][0])
        if key["kind"] != "str":
            continue
        learned = _learn_format((like or {}).get(entity) or [], key["name"])
        fmt = learned or from_tools.get(entity)
        if fmt is None:
            pending.append(entity)
            continue
        formats[entity] = fmt
        taken.add(fmt.prefix)
    for entity in pending:
        initials = "".join(w[0] for w in fakes.words(entity)).upper()
        prefix = initials if initials not in taken else entity[:3].upper()
        while prefix in taken:
            prefix += "X"
        taken.add(prefix)
        formats[entity] = IdFormat(prefix, 4)
    return formats


def _learn_format(records: list[dict], key: str) -> IdFormat | None:
    shapes = []
    for record in records if isinstance(records, list) else list(records.values()):
        match = _ID_SHAPE.match(str(record.get(key, "")))
        if match is None:
            return None
        shapes.append((match.group(1), len(match.group(2))))
    if not shapes or len({p for p, _ in shapes}) != 1:
        return None
    return IdFormat(shapes[0][0], max(w for _, w in shapes))


class _Generator:
    def __init__(self, domain: Any, seed: int, like: dict[str, list[dict]] | None):
        self.domain = domain
        self.manifest = domain.manifest
        self.seed = seed
        self.clock = self.manifest.get("clock") or "2024-01-01T09:00:00"
        self.formats = id_formats(domain, like)
        # entity -> key -> record, in the order the records were accepted
        self.index: dict[str, dict[Any, dict]] = {}
        self.used: dict[tuple[str, str], set] = {}

    # ---- the run

    def run(self, size: int | dict[str, int]) -> dict[str, list[dict]]:
        from envscale.runtime.environment import Environment

        env = Environment.create(self.domain, None, enforce_policies=False)
        try:
            for entity in entity_order(self.manifest):
                count = size.get(entity, DEFAULT_SIZE) if isinstance(size, dict) else size
                self._fill(env, entity, max(0, int(count)))
            problems = [f"invariant '{name}' violated: {message}"
                        for name, message in self._violations(env, None).items()]
            if problems:
                raise DataError(problems)
        finally:
            env.close()
        return {name: list(self.index.get(name, {}).values()) for name in self.manifest["entities"]}

    def _fill(self, env: Any, entity: str, count: int) -> None:
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}")
        meta = env.db.tables[entity]
        before = set(self._violations(env, entity))
        connection = env.connection
        connection.execute("SAVEPOINT batch")
        for i in range(count):
            self._insert(env, meta, entity, i, rng, None)
        if not set(self._violations(env, entity)) - before:
            connection.execute("RELEASE batch")
            return
        # Some rows break a runtime invariant: insert them again one at a time, judging each.
        connection.execute("ROLLBACK TO batch")
        connection.execute("RELEASE batch")
        self.index[entity] = {}
        for slot in [s for s in self.used if s[0] == entity]:
            del self.used[slot]
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}:one-by-one")
        for i in range(count):
            self._insert(env, meta, entity, i, rng, before)

    def _insert(self, env: Any, meta: Any, entity: str, index: int, rng: random.Random,
                judge: set[str] | None) -> dict | None:
        model = self.domain.models.ENTITIES[entity]
        for attempt in range(ATTEMPTS + 1):
            record = self._record(entity, index, rng, defaults=attempt == ATTEMPTS)
            if record is None:
                return None
            try:
                model.model_validate(record)
            except pydantic.ValidationError:
                continue
            env.connection.execute("SAVEPOINT row")
            try:
                env.connection.execute(meta.insert_sql, meta.encode(record))
            except apsw.ConstraintError:
                env.connection.execute("ROLLBACK TO row")
                env.connection.execute("RELEASE row")
                continue
            if judge is not None and set(self._violations(env, entity)) - judge:
                env.connection.execute("ROLLBACK TO row")
                env.connection.execute("RELEASE row")
                continue
            env.connection.execute("RELEASE row")
            self._accept(entity, meta.key_of(record), record)
            return record
        return None

    def _violations(self, env: Any, entity: str | None) -> dict[str, str]:
        out = {}
        for inv in self.manifest["invariants"]:
            if inv["enforced_by"] != "runtime" or (entity is not None and entity not in inv["reads"]):
                continue
            message = check_invariant(self.domain.tools_module.INVARIANTS[inv["name"]], env.db)
            if message is not None:
                out[inv["name"]] = message
        return out

    def _accept(self, entity: str, key: Any, record: dict) -> None:
        self.index.setdefault(entity, {})[key] = record
        spec = self.manifest["entities"][entity]
        for f in spec["fields"]:
            if f["unique"] and record.get(f["name"]) is not None:
                self.used.setdefault((entity, f["name"]), set()).add(_hashable(record[f["name"]]))

    # ---- one record

    def _record(self, entity: str, index: int, rng: random.Random, defaults: bool) -> dict | None:
        spec = self.manifest["entities"][entity]
        fields = {f["name"]: f for f in spec["fields"]}
        record: dict[str, Any] = {}
        for name in spec["key"]:
            value = self._key_value(entity, fields[name], index, rng, record)
            if value is None:
                return None
            record[name] = value
        rest = [f for f in spec["fields"] if f["name"] not in record]
        rest.sort(key=lambda f: 0 if f["kind"] == "ref" else (2 if "email" in fakes.words(f["name"]) else 1))
        schema = self.domain.models.ENTITIES[entity].model_json_schema()
        for f in rest:
            record[f["name"]] = self._field_value(entity, f, record, rng, schema, defaults)
        for f in rest:
            if f["unique"]:
                record[f["name"]] = self._unique(entity, f, record, rng, schema)
        return {f["name"]: record[f["name"]] for f in spec["fields"]}

    def _key_value(self, entity: str, f: dict, index: int, rng: random.Random, record: dict) -> Any:
        if f["kind"] == "ref":
            choices = list(self.index.get(f["ref"], {}))
            if len(self.manifest["entities"][entity]["key"]) == 1:
                taken = self.index.get(entity, {})
                choices = [k for k in choices if k not in taken]
            return rng.choice(choices) if choices else None
        if f["kind"] == "int":
            return index + 1
        fmt = self.formats.get(entity)
        if fmt is not None and f["kind"] == "str":
            return fmt.make(index + 1)
        value = fakes.value_for(rng, f["name"], f["kind"], self.clock, entity)
        return f"{value}-{index + 1}" if isinstance(value, str) else value

    def _field_value(self, entity: str, f: dict, record: dict, rng: random.Random, schema: dict,
                     defaults: bool) -> Any:
        has_default = "default" in f
        if has_default and (defaults or rng.random() < 0.5):
            return f["default"]
        if f["nullable"] and (defaults or rng.random() < 0.3):
            return None
        copied = self._copied(entity, f, record)
        if copied is None and f["kind"] == "ref":
            return self._reference(entity, f, record, rng)
        if copied is not None:
            return copied
        if f["kind"] == "enum":
            return rng.choice(f["enum"])
        if f["kind"] == "json":
            prop = schema["properties"][f["name"]]
            return self._from_schema(rng, prop, f["name"], entity, schema.get("$defs", {}), optional=has_default)
        if "email" in fakes.words(f["name"]):
            first, last = _names_in(record)
            return fakes.email(rng, first, last)
        return fakes.value_for(rng, f["name"], f["kind"], self.clock, entity)

    def _reference(self, entity: str, f: dict, record: dict, rng: random.Random) -> Any:
        target = f["ref"]
        candidates = list(self.index.get(target, {}).values())
        if not candidates:
            return None
        # Agree with references already chosen: an invoice's appointment is of the same patient.
        chosen = {name: value for name, value in record.items() if value is not None}
        target_fields = {g["name"] for g in self.manifest["entities"][target]["fields"] if g["kind"] == "ref"}
        shared = [name for name in chosen if name in target_fields and name != f["name"]]
        agreeing = [r for r in candidates if all(r.get(name) == chosen[name] for name in shared)]
        if shared and not agreeing:
            return None if f["nullable"] else rng.choice(candidates)[self.manifest["entities"][target]["key"][0]]
        pool = agreeing or candidates
        return rng.choice(pool)[self.manifest["entities"][target]["key"][0]]

    def _copied(self, entity: str, f: dict, record: dict) -> Any:
        """A date, date-time or reference named like a field of a referred record takes its
        value: an appointment starts when its slot does, with the slot's clinician."""
        if f["kind"] not in ("date", "datetime", "ref"):
            return None
        entities = self.manifest["entities"]
        for g in entities[entity]["fields"]:
            value = record.get(g["name"])
            if g["kind"] != "ref" or value is None:
                continue
            other = self.index.get(g["ref"], {}).get(value)
            types = {h["name"]: (h["kind"], h["ref"]) for h in entities[g["ref"]]["fields"]}
            same = types.get(f["name"]) == (f["kind"], f["ref"])
            if other is not None and same and other.get(f["name"]) is not None:
                return other[f["name"]]
        return None

    def _unique(self, entity: str, f: dict, record: dict, rng: random.Random, schema: dict) -> Any:
        value = record[f["name"]]
        used = self.used.setdefault((entity, f["name"]), set())
        for _ in range(40):
            if value is None or _hashable(value) not in used:
                return value
            value = self._field_value(entity, f, record, rng, schema, defaults=False)
        if isinstance(value, str):
            local, at, host = value.partition("@")
            n = 2
            while _hashable(candidate := f"{local}{n}{at}{host}" if at else f"{value}-{n}") in used:
                n += 1
            return candidate
        if isinstance(value, int) and not isinstance(value, bool):
            return max([v for v in used if isinstance(v, int)], default=0) + 1
        return value

    def _from_schema(self, rng: random.Random, schema: dict, name: str, entity: str, defs: dict,
                     optional: bool = False) -> Any:
        if "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            if not options or (len(options) < len(schema["anyOf"]) and rng.random() < 0.2):
                return None
            return self._from_schema(rng, options[0], name, entity, defs)
        if "enum" in schema:
            return rng.choice(schema["enum"])
        kind = schema.get("type")
        if kind == "array":
            items = [self._from_schema(rng, schema.get("items", {}), name, entity, defs)
                     for _ in range(rng.randint(0 if optional else 1, 3))]
            unique = []
            for item in items:
                if item not in unique:
                    unique.append(item)
            return unique
        if kind == "object" and "properties" in schema:
            required = set(schema.get("required", []))
            out = {}
            for prop, sub in schema["properties"].items():
                if prop in required or rng.random() < 0.6:
                    out[prop] = self._from_schema(rng, sub, prop, entity, defs)
            return out
        if kind == "object":
            sub = schema.get("additionalProperties") or {"type": "string"}
            values = [self._from_schema(rng, sub, name, entity, defs) for _ in range(rng.randint(1, 3))]
            # A map of records that carry an id is keyed by that id (methods saved under their own id).
            return {_own_id(value) or fakes.word(rng): value for value in values}
        pattern = schema.get("pattern", "")
        if kind == "string" and "T" in pattern:
            return fakes.value_for(rng, name, "datetime", self.clock, entity)
        if kind == "string" and pattern:
            return fakes.value_for(rng, name, "date", self.clock, entity)
        plain = {"integer": "int", "number": "float", "boolean": "bool"}.get(kind, "str")
        return fakes.value_for(rng, name, plain, self.clock, entity)


def check_invariant(check: Callable[..., str | None], db: Any) -> str | None:
    """Run a compiled invariant check over every record, not only those changed since reset."""
    if "every_row" in inspect.signature(check).parameters:
        return check(db, every_row=True)
    return check(db)


def _own_id(value: Any) -> str | None:
    if isinstance(value, dict):
        for name, inner in value.items():
            if (name == "id" or name.endswith("_id")) and isinstance(inner, str):
                return inner
    return None


def _names_in(record: dict) -> tuple[str | None, str | None]:
    first = last = None
    for name, value in record.items():
        tokens = fakes.words(name)
        if not isinstance(value, str) or "name" not in tokens:
            continue
        if {"first", "given"} & set(tokens):
            first = value
        elif {"last", "family", "surname"} & set(tokens):
            last = value
        elif tokens == ["name"] and " " in value:
            first, last = value.split(" ", 1)
    return first, last


def _hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, sort_keys=True)
    return value
