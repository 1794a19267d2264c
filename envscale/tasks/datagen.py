"""Initial states generated from the entity declarations of a compiled domain.

`generate_data(domain, seed, size)` makes records per entity that a real environment
accepts: entities are made in reference order so every reference points at an existing
record; keys and `@unique` fields never repeat; each row is inserted into a scratch
database of the domain, so its SQL CHECKs (field checks and single-row invariants) judge it,
and the runtime invariants are evaluated on what was inserted. A row that fails is made
again with fresh values, then with its declared defaults, and dropped only when nothing
passes. Values come from `fakes` (names, emails, prices, dates near the domain clock…);
ids follow the domain's own formats: those of sample data (`like`), else the prefixes its
tools pass to `next_key` or the first keys they give `free_key` (manifest `key_formats`),
else (for a key whose checks shape it) an example quoted in the tools' parameter docs, else
the entity's initials.

Values aim at the facts the compiler reads off the checks (manifest `facts`, see
`compiler/facts.py`): strings take the required length, numbers fall within their bounds,
a field stays apart from (or below, above) another, members come from `in [...]` lists. A
doc that names a format (`YYYY-MM-DD`, `HH:MM:SS`) gives a string field or map keys that form.

When an entity gets fewer records than asked (a reference with nothing to point at, unique
values that run out, a check or invariant that no made value meets, an invariant that caps
the count), the generator says so and why: into `notes` when the caller passes a list, else
on stderr. It never returns records that break a check or an invariant.

The same seed and size give the same records, in any process.
"""

from __future__ import annotations

import inspect
import json
import math
import operator
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apsw
import pydantic

from envscale.records import EntityField, Fact, Manifest, Shape
from envscale.runtime.environment import Environment
from envscale.runtime.errors import DataError, ToolError
from envscale.runtime.refs import NestedRefs
from envscale.tasks import fakes

DEFAULT_SIZE = 10
MAX_MADE_LENGTH = 1_000
_USED_UP = object()  # a unique field of few values (an enum, a bool) that has none left
ATTEMPTS = 30
_ID_SHAPE = re.compile(r"^(\D*)(\d+)$")
_EXAMPLE = re.compile(r"(?:such as|e\.g\.,?)\s+'([^']+)'((?:\s*(?:,|or)\s*'[^']+')*)")
_QUOTED = re.compile(r"'([^']+)'")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class IdFormat:
    """Ids `prefix` + a number padded to `width`; or, with `first`, counting up from `first` as
    `free_key` does (HATHAT, HATHAU, …)."""

    prefix: str
    width: int
    first: str = ""

    def make(self, number: int) -> str:
        if self.first:
            return counted(self.first, number - 1)
        return f"{self.prefix}{str(number).zfill(self.width)}"

    def fitted(self, low: int, high: int | None) -> IdFormat:
        """The format with its width changed so that its ids are `low` to `high` long."""
        if self.first:
            return self
        length = len(self.prefix) + self.width
        if length >= low and (high is None or length <= high):
            return self
        target = low if length < low else high
        assert target is not None
        prefix = self.prefix[: max(0, target - 1)]
        return IdFormat(prefix, target - len(prefix))


def counted(first: str, steps: int) -> str:
    """The key `steps` after `first`, counting its last run of letters and digits like an
    odometer, each position within its own kind (what `free_key` walks through)."""
    start = len(first)
    while start > 0 and first[start - 1].isascii() and first[start - 1].isalnum():
        start -= 1
    digits = list(first[start:])
    carry = steps
    for i in range(len(digits) - 1, -1, -1):
        if not carry:
            break
        ch = digits[i]
        zero, base = ("0", 10) if ch.isdigit() else (("A", 26) if ch.isupper() else ("a", 26))
        total = ord(ch) - ord(zero) + carry
        digits[i], carry = chr(ord(zero) + total % base), total // base
    head = str(carry) if carry else ""
    return first[:start] + head + "".join(digits)


def generate_data(
    domain: Any,
    seed: int,
    size: int | dict[str, int] = DEFAULT_SIZE,
    like: dict[str, list[dict]] | None = None,
    notes: list[str] | None = None,
) -> dict[str, list[dict]]:
    """Records per entity (in the domain's entity order) for `domain.environment(data=...)`.

    `size` is the number of records of every entity, or a count per entity name (entities
    left out get DEFAULT_SIZE). `like` is sample data whose ids set the id formats. Each
    entity that gets fewer records than asked adds a line to `notes` saying why (written to
    stderr when `notes` is None).
    """
    generator = _Generator(domain, seed, like)
    data = generator.run(size)
    if notes is not None:
        notes.extend(generator.notes)
    else:
        for note in generator.notes:
            print(f"warning: generated data: {note}", file=sys.stderr)
    return data


def entity_order(manifest: Manifest) -> list[str]:
    """Entities so that each comes after those it refers to.

    Nullable references give way in a cycle.
    """
    entities = manifest.entities
    names = list(entities)
    for strict in (False, True):
        needs = {
            name: [
                f.ref
                for f in spec.fields
                if f.ref and f.ref != name and f.ref in entities and not (strict and f.nullable)
            ]
            for name, spec in entities.items()
        }
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


def id_formats(domain: Any, like: dict[str, list[dict]] | None = None) -> dict[str, IdFormat]:
    """The id format of each entity keyed by one string field."""
    manifest = domain.manifest
    from_tools = {
        entity: IdFormat(fmt.prefix, fmt.width, fmt.first)
        for entity, fmt in manifest.key_formats.items()
    }
    examples = doc_examples(domain)
    formats: dict[str, IdFormat] = {}
    taken: set[str] = set()
    pending = []
    for entity, spec in manifest.entities.items():
        if len(spec.key) != 1:
            continue
        key = next(f for f in spec.fields if f.name == spec.key[0])
        if key.kind != "str":
            continue
        facts = [fact for fact in spec.facts if fact.field == key.name]
        learned = _learn_format((like or {}).get(entity) or [], key.name)
        fmt = learned or from_tools.get(entity)
        if fmt is None and facts:
            # A check shapes the key: follow an example of the docs that meets it.
            meeting = [
                {key.name: x}
                for x in examples.get(key.name, [])
                if all(meets(fact, {key.name: x}) for fact in facts)
            ]
            fmt = _learn_format(meeting, key.name)
        if fmt is None:
            pending.append(entity)
            continue
        formats[entity] = fmt.fitted(*length_range(facts))
        taken.add(fmt.prefix)
    for entity in pending:
        initials = "".join(w[0] for w in fakes.words(entity)).upper()
        prefix = initials if initials not in taken else entity[:3].upper()
        while prefix in taken:
            prefix += "X"
        taken.add(prefix)
        key_name = manifest.entities[entity].key[0]
        facts = [fact for fact in manifest.entities[entity].facts if fact.field == key_name]
        formats[entity] = IdFormat(prefix, 4).fitted(*length_range(facts))
    return formats


def doc_examples(domain: Any) -> dict[str, list[str]]:
    """Values the tools' parameter docs quote as examples ("such as 'HAT001'"), by parameter
    or field name, in first-seen order."""
    found: dict[str, list[str]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and isinstance(prop.get("description"), str):
                for match in _EXAMPLE.finditer(prop["description"]):
                    for value in [match.group(1), *_QUOTED.findall(match.group(2))]:
                        if value not in found.setdefault(name, []):
                            found[name].append(value)
        for value in node.values():
            visit(value)

    visit(domain.tool_schemas)
    return found


def meets(fact: Fact, record: dict) -> bool:
    """Whether a record meets one check fact; a missing or null value meets it, as in SQL."""
    value = record.get(fact.field)
    if value is None:
        return True
    if fact.of == "len":
        if not isinstance(value, str | list | dict):
            return True
        value = len(value)
    if fact.values is not None:
        return (value in fact.values) == (fact.op == "in")
    other = record.get(fact.other) if fact.other is not None else fact.value
    if other is None:
        return True
    try:
        return bool(_OPS[fact.op](value, other))
    except TypeError:
        return True


def length_range(facts: list[Fact]) -> tuple[int, int | None]:
    """The lengths (shortest, longest or None) that the length facts allow."""
    low, high = 0, None
    for fact in facts:
        if fact.of != "len" or fact.value is None:
            continue
        n, op = fact.value, fact.op
        if op in ("==", ">=", ">"):
            low = max(low, n + (op == ">"))
        if op in ("==", "<=", "<"):
            bound = n - (op == "<")
            high = bound if high is None else min(high, bound)
    # Longer text is not made: a check may ask for a length no memory holds (2**63 - 1).
    return min(low, MAX_MADE_LENGTH), high


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


_NOTHING = object()  # a reference with no record to refer to


class _Generator:
    def __init__(self, domain: Any, seed: int, like: dict[str, list[dict]] | None):
        self.domain = domain
        self.manifest = domain.manifest
        self.seed = seed
        self.clock = self.manifest.clock or "2024-01-01T09:00:00"
        self.formats = id_formats(domain, like)
        # entity -> field -> the check facts about that field
        self.facts: dict[str, dict[str, list[Fact]]] = {}
        for entity, spec in self.manifest.entities.items():
            for fact in spec.facts:
                self.facts.setdefault(entity, {}).setdefault(fact.field, []).append(fact)
        # entity -> key -> record, in the order the records were accepted
        self.index: dict[str, dict[Any, dict]] = {}
        self.used: dict[tuple[str, str], set] = {}
        self.schemas: dict[str, dict] = {}  # entity -> its model's JSON schema, made once
        self.notes: list[str] = []  # why an entity got fewer records than asked
        self.failure: dict[str, str] = {}  # entity -> why its latest attempt failed
        self.gave_up: dict[str, list[str]] = {}  # entity -> why records were not made
        self.nested = NestedRefs.from_manifest(self.manifest)

    # ---- the run

    def run(self, size: int | dict[str, int]) -> dict[str, list[dict]]:

        env = Environment.create(self.domain, None, enforce_policies=False)
        try:
            for entity in entity_order(self.manifest):
                count = size.get(entity, DEFAULT_SIZE) if isinstance(size, dict) else size
                self._fill(env, entity, max(0, int(count)))
            problems = [
                f"invariant '{name}' violated: {message}"
                for name, message in self._violations(env, None).items()
            ]
            if problems:
                raise DataError(problems)
        finally:
            env.close()
        return {name: list(self.index.get(name, {}).values()) for name in self.manifest.entities}

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
            self._note_shortfall(entity, count)
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
        self._note_shortfall(entity, count)

    def _note_shortfall(self, entity: str, count: int) -> None:
        made = len(self.index.get(entity, {}))
        if made < count:
            why = "; ".join(self.gave_up.get(entity) or ["no record could be made"])
            self.notes.append(f"{entity}: {made} of {count} records: {why}")

    def _insert(
        self,
        env: Any,
        meta: Any,
        entity: str,
        index: int,
        rng: random.Random,
        judge: set[str] | None,
    ) -> dict | None:
        model = self.domain.models.ENTITIES[entity]
        for attempt in range(ATTEMPTS + 1):
            record = self._record(entity, index, rng, defaults=attempt == ATTEMPTS)
            if record is None:
                break
            try:
                model.model_validate(record)
            except pydantic.ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                self.failure[entity] = f"no made value of '{where}' is valid: {first['msg']}"
                continue
            env.connection.execute("SAVEPOINT row")
            try:
                env.connection.execute(meta.insert_sql, meta.encode(record))
            except (
                apsw.ConstraintError,
                ToolError,
            ) as error:  # a CHECK, or a value SQLite cannot hold
                env.connection.execute("ROLLBACK TO row")
                env.connection.execute("RELEASE row")
                self.failure[entity] = f"no made record passes the table's constraints ({error})"
                continue
            if judge is not None and (broken := set(self._violations(env, entity)) - judge):
                env.connection.execute("ROLLBACK TO row")
                env.connection.execute("RELEASE row")
                names = ", ".join(sorted(broken))
                self.failure[entity] = f"every further record breaks invariant {names}"
                continue
            env.connection.execute("RELEASE row")
            self._accept(entity, meta.key_of(record), record)
            return record
        reasons = self.gave_up.setdefault(entity, [])
        why = self.failure.get(entity, "no record could be made")
        if why not in reasons:
            reasons.append(why)
        return None

    def _no_key_reason(self, entity: str) -> str:
        spec = self.manifest.entities[entity]
        refs = [f.ref for f in spec.fields if f.name in spec.key and f.kind == "ref"]
        if refs:
            return f"its key refers to {', '.join(refs)}, which has no record left to refer to"
        return "it has no key value left"

    def _violations(self, env: Any, entity: str | None) -> dict[str, str]:
        out = {}
        for inv in self.manifest.invariants:
            if inv.enforced_by != "runtime" or (entity is not None and entity not in inv.reads):
                continue
            message = check_invariant(self.domain.tools_module.INVARIANTS[inv.name], env.db)
            if message is not None:
                out[inv.name] = message
        return out

    def _accept(self, entity: str, key: Any, record: dict) -> None:
        self.index.setdefault(entity, {})[key] = record
        spec = self.manifest.entities[entity]
        for f in spec.fields:
            if f.unique and record.get(f.name) is not None:
                self.used.setdefault((entity, f.name), set()).add(_hashable(record[f.name]))

    # ---- one record

    def _record(self, entity: str, index: int, rng: random.Random, defaults: bool) -> dict | None:
        spec = self.manifest.entities[entity]
        fields = {f.name: f for f in spec.fields}
        record: dict[str, Any] = {}
        for name in spec.key:
            value = self._key_value(entity, fields[name], index, rng, record)
            if value is None:
                self.failure[entity] = self._no_key_reason(entity)
                return None
            record[name] = value
        rest = [f for f in spec.fields if f.name not in record]
        rest.sort(
            key=lambda f: 0 if f.kind == "ref" else (2 if "email" in fakes.words(f.name) else 1)
        )
        schema = self.schemas.get(entity)
        if schema is None:
            schema = self.schemas[entity] = self.domain.models.ENTITIES[entity].model_json_schema()
        for f in rest:
            record[f.name] = self._field_value(entity, f, record, rng, schema, defaults)
            if f.kind == "ref" and not f.nullable and record[f.name] is None:
                self.failure[entity] = f"'{f.name}' must refer to a {f.ref}, and there is none"
                return None
        for f in rest:
            self._relate(entity, f, record, rng, schema)
        for f in rest:
            if f.unique:
                record[f.name] = self._unique(entity, f, record, rng, schema)
                if record[f.name] is _USED_UP:
                    self.failure[entity] = f"every value of unique '{f.name}' is taken"
                    return None
        return {f.name: record[f.name] for f in spec.fields}

    def _key_value(
        self, entity: str, f: EntityField, index: int, rng: random.Random, record: dict
    ) -> Any:
        if f.kind == "ref":
            choices = list(self.index.get(f.ref, {}))
            if len(self.manifest.entities[entity].key) == 1:
                taken = self.index.get(entity, {})
                choices = [k for k in choices if k not in taken]
            return rng.choice(choices) if choices else None
        if f.kind == "int":
            return index + 1
        if f.kind == "enum":  # one record per member
            return f.enum[index] if f.enum and index < len(f.enum) else None
        if f.kind in ("date", "datetime"):  # one record per day, counting from the clock
            day = fakes.shift_date(self.clock, index)
            return day if f.kind == "date" else day + self.clock[10:]
        fmt = self.formats.get(entity)
        if fmt is not None and f.kind == "str":
            return fmt.make(index + 1)
        value = fakes.value_for(rng, f.name, f.kind, self.clock, entity)
        return f"{value}-{index + 1}" if isinstance(value, str) else value

    def _field_value(
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        defaults: bool,
    ) -> Any:
        value = self._plain_value(entity, f, record, rng, schema, defaults)
        return self._aimed(entity, f, value, rng)

    def _plain_value(
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        defaults: bool,
    ) -> Any:
        has_default = "default" in f.model_fields_set
        if has_default and (defaults or rng.random() < 0.5):
            return self._constant(f.default)
        if f.nullable and (defaults or rng.random() < 0.3):
            return None
        copied = self._copied(entity, f, record)
        if copied is None and f.kind == "ref":
            return self._reference(entity, f, record, rng)
        if copied is not None:
            return copied
        if f.kind == "enum":
            return rng.choice(f.enum)
        if f.kind == "json":
            prop = schema["properties"][f.name]
            value = self._from_schema(
                rng, prop, f.name, entity, schema.get("$defs", {}), optional=has_default
            )
            if f.shape is None or not self.nested.targets(f.shape):
                return value
            pointed = self._pointed(f.shape, value, rng)
            if pointed is _NOTHING:
                return [] if f.shape.list else {} if f.shape.map else None
            return pointed
        if f.kind == "str" and "email" in fakes.words(f.name):
            first, last = _names_in(record)
            return fakes.email(rng, first, last)
        if f.kind == "str":
            formatted = self._formatted(rng, schema["properties"].get(f.name, {}), f.name)
            if formatted is not None:
                return formatted
        return fakes.value_for(rng, f.name, f.kind, self.clock, entity)

    def _pointed(self, shape: Shape, value: Any, rng: random.Random) -> Any:
        """The value with each reference inside it aimed at a record made already; a list
        item or map entry whose reference has nothing to aim at is left out (_NOTHING)."""
        if value is None:
            return None
        if shape.ref is not None:
            keys = list(self.index.get(shape.ref, {}))
            return rng.choice(keys) if keys else _NOTHING
        inner = shape.list or shape.map
        if inner is not None and isinstance(value, list | dict):
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            kept = [(k, self._pointed(inner, v, rng)) for k, v in pairs]
            kept = [(k, v) for k, v in kept if v is not _NOTHING]
            return dict(kept) if isinstance(value, dict) else [v for _, v in kept]
        if shape.struct is not None and isinstance(value, dict):
            for name, sub in self.nested.structs.get(shape.struct, []):
                pointed = self._pointed(sub, value.get(name), rng)
                if pointed is _NOTHING:
                    return _NOTHING
                if name in value:
                    value[name] = pointed
        return value

    def _constant(self, value: Any) -> Any:
        """A declared default as stored: now() and today() read the domain's clock."""
        if isinstance(value, dict) and set(value) == {"$call"}:
            return self.clock if value["$call"] == "now" else self.clock[:10]
        return value

    def _formatted(self, rng: random.Random, prop: dict, name: str) -> str | None:
        """A string in the format its doc names (YYYY-MM-DD, HH:MM:SS), if it names one."""
        doc = prop.get("description") or ""
        if "YYYY-MM-DD" in doc:
            kind = "datetime" if "HH:MM" in doc else "date"
            return str(fakes.value_for(rng, name, kind, self.clock))
        if "HH:MM:SS" in doc:
            return fakes.time_of_day(rng)
        if "HH:MM" in doc:
            return fakes.time_of_day(rng)[:5]
        return None

    # ---- aiming at the check facts

    def _aimed(self, entity: str, f: EntityField, value: Any, rng: random.Random) -> Any:
        """The value changed, where it fails one, to meet the facts about the field alone."""
        facts = [fact for fact in self.facts.get(entity, {}).get(f.name, []) if fact.other is None]
        if value is None or not facts or all(meets(fact, {f.name: value}) for fact in facts):
            return value
        for fact in facts:
            if fact.op == "in" and value not in fact.values:
                return rng.choice(fact.values)
            if fact.op == "==" and fact.value is not None and fact.of != "len":
                return fact.value
        if isinstance(value, str):
            low, high = length_range(facts)
            value = _shaped(value, low, high, rng, f.name)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = _bounded(value, facts, rng)
        for _ in range(10):  # a value ruled out by `!=` or `not in`
            if all(meets(fact, {f.name: value}) for fact in facts):
                break
            if isinstance(value, str):
                value = _shaped("", *length_range(facts), rng, f.name)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = _bounded(value + rng.randint(1, 9), facts, rng)
        return value

    def _relate(
        self, entity: str, f: EntityField, record: dict, rng: random.Random, schema: dict
    ) -> None:
        """Make the field meet its facts about other fields: apart from, below or above them."""
        spec = self.manifest.entities[entity]
        for fact in self.facts.get(entity, {}).get(f.name, []):
            if fact.other is None or meets(fact, record):
                continue
            name, other, op = f.name, fact.other, fact.op
            if op in ("<", "<=", ">", ">="):
                swapped = {**record, name: record[other], other: record[name]}
                movable = other not in spec.key and not any(
                    g.name == other and g.ref for g in spec.fields
                )
                if movable and meets(fact, swapped):
                    record[name], record[other] = record[other], record[name]
                    continue
            if op in ("==", "<=", ">="):
                record[name] = record[other]
                continue
            for _ in range(20):
                record[name] = self._field_value(entity, f, record, rng, schema, defaults=False)
                if meets(fact, record):
                    break

    def _reference(self, entity: str, f: EntityField, record: dict, rng: random.Random) -> Any:
        target = f.ref
        candidates = list(self.index.get(target, {}).values())
        if target == entity and not f.nullable and (not candidates or rng.random() < 0.3):
            # A required reference to the entity itself: the first record refers to itself.
            return record.get(self.manifest.entities[entity].key[0])
        if not candidates:
            return None
        # Agree with references already chosen: an invoice's appointment is of the same patient.
        chosen = {name: value for name, value in record.items() if value is not None}
        target_fields = {g.name for g in self.manifest.entities[target].fields if g.kind == "ref"}
        shared = [name for name in chosen if name in target_fields and name != f.name]
        agreeing = [r for r in candidates if all(r.get(name) == chosen[name] for name in shared)]
        if shared and not agreeing:
            return (
                None
                if f.nullable
                else rng.choice(candidates)[self.manifest.entities[target].key[0]]
            )
        pool = agreeing or candidates
        return rng.choice(pool)[self.manifest.entities[target].key[0]]

    def _copied(self, entity: str, f: EntityField, record: dict) -> Any:
        """A date, date-time or reference named like a field of a referred record takes its
        value: an appointment starts when its slot does, with the slot's clinician."""
        if f.kind not in ("date", "datetime", "ref"):
            return None
        entities = self.manifest.entities
        for g in entities[entity].fields:
            value = record.get(g.name)
            if g.kind != "ref" or value is None:
                continue
            other = self.index.get(g.ref, {}).get(value)
            types = {h.name: (h.kind, h.ref) for h in entities[g.ref].fields}
            same = types.get(f.name) == (f.kind, f.ref)
            if other is not None and same and other.get(f.name) is not None:
                return other[f.name]
        return None

    def _unique(
        self, entity: str, f: EntityField, record: dict, rng: random.Random, schema: dict
    ) -> Any:
        value = record[f.name]
        used = self.used.setdefault((entity, f.name), set())
        for _ in range(40):
            if value is None or _hashable(value) not in used:
                return value
            value = self._field_value(entity, f, record, rng, schema, defaults=False)
        if f.kind in ("enum", "bool"):
            return _USED_UP
        if f.kind in ("date", "datetime"):  # the next day nobody has
            day = 0
            while _hashable(value) in used:
                day += 1
                value = fakes.shift_date(self.clock, day) + (
                    self.clock[10:] if f.kind == "datetime" else ""
                )
            return value
        if isinstance(value, str):
            local, at, host = value.partition("@")
            sized = any(fact.of == "len" for fact in self.facts.get(entity, {}).get(f.name, []))
            n = 2
            while (
                _hashable(
                    candidate := f"{local}{n}{at}{host}"
                    if at
                    else (
                        value[: max(0, len(value) - len(str(n)))] + str(n)
                        if sized
                        else f"{value}-{n}"
                    )
                )
                in used
            ):
                n += 1
            return candidate
        if isinstance(value, int) and not isinstance(value, bool):
            return max([v for v in used if isinstance(v, int)], default=0) + 1
        return value

    def _from_schema(
        self,
        rng: random.Random,
        schema: dict,
        name: str,
        entity: str,
        defs: dict,
        optional: bool = False,
    ) -> Any:
        if "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            if not options or (len(options) < len(schema["anyOf"]) and rng.random() < 0.2):
                return None
            return self._from_schema(rng, options[0], name, entity, defs)
        if "enum" in schema:
            return rng.choice(schema["enum"])
        if "const" in schema:  # an enum of one member
            return schema["const"]
        kind = schema.get("type")
        if kind == "string" and (formatted := self._formatted(rng, schema, name)) is not None:
            return formatted
        if kind == "array":
            items = [
                self._from_schema(rng, schema.get("items", {}), name, entity, defs)
                for _ in range(rng.randint(0 if optional else 1, 3))
            ]
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
            keys = schema.get("propertyNames") or {}
            keys = defs.get(keys["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in keys else keys
            members = keys.get("enum") or ([keys["const"]] if "const" in keys else [])
            if members:  # a map keyed by an enum's members
                chosen = rng.sample(members, rng.randint(1, len(members)))
                return {
                    key: self._from_schema(rng, sub, name, entity, defs)
                    for key in sorted(chosen, key=members.index)
                }
            values = [
                self._from_schema(rng, sub, name, entity, defs) for _ in range(rng.randint(1, 3))
            ]
            # A map of records that carry an id is keyed by that id (methods saved under their
            # own id); a map whose doc names a key format is keyed in it (by day, YYYY-MM-DD).
            return {
                _own_id(value) or self._formatted(rng, schema, name) or fakes.word(rng): value
                for value in values
            }
        pattern = schema.get("pattern", "")
        if kind == "string" and "T" in pattern:
            return fakes.value_for(rng, name, "datetime", self.clock, entity)
        if kind == "string" and pattern:
            return fakes.value_for(rng, name, "date", self.clock, entity)
        plain = {"integer": "int", "number": "float", "boolean": "bool"}.get(kind, "str")
        return fakes.value_for(rng, name, plain, self.clock, entity)


def _shaped(value: str, low: int, high: int | None, rng: random.Random, name: str) -> str:
    """A string `low` to `high` long: the value itself, else a code for short lengths, else the
    value cut or padded with digits."""
    if len(value) >= low and (high is None or len(value) <= high):
        return value
    target = low if len(value) < low else high
    assert target is not None
    if target <= 8 or not value:
        return fakes.code(rng, target, fakes.words(name))
    if len(value) > target:
        return value[: target - 1].rstrip() + str(rng.randint(0, 9)) * (
            target - len(value[: target - 1].rstrip())
        )
    return value + "".join(str(rng.randint(0, 9)) for _ in range(target - len(value)))


def _bounded(value: float, facts: list[Fact], rng: random.Random) -> float:
    """A number within the bounds of the facts (the value itself when it already is)."""
    low = high = None
    step = 1 if isinstance(value, int) else 0.01
    for fact in facts:
        if fact.of == "len" or fact.value is None or not isinstance(fact.value, int | float):
            continue
        bound, op = fact.value, fact.op
        if op in (">", ">="):
            bound = bound + step if op == ">" else bound
            low = bound if low is None else max(low, bound)
        elif op in ("<", "<="):
            bound = bound - step if op == "<" else bound
            high = bound if high is None else min(high, bound)
    if (low is None or value >= low) and (high is None or value <= high):
        return value
    if low is not None and high is not None and low > high:
        return value
    low = low if low is not None else high - abs(value) - 10  # type: ignore[operator]
    high = high if high is not None else low + abs(value) + 10
    if isinstance(value, int):
        return rng.randint(math.ceil(low), math.floor(high))
    return round(rng.uniform(low, high), 2)


def check_invariant(check: Callable[..., str | None], db: Any) -> str | None:
    """Run a compiled invariant check over every record, not only those changed since reset.
    A condition that cannot be evaluated (a division by zero, a none compared) is broken."""
    try:
        if "every_row" in inspect.signature(check).parameters:
            return check(db, every_row=True)
        return check(db)
    except ToolError as error:
        return error.message


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
        return json.dumps(value, sort_keys=True)
    return value
