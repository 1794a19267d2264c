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

import copy
import inspect
import itertools
import json
import math
import operator
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import apsw
import pydantic

from envscale.records import EntityField, Fact
from envscale.runtime.environment import Environment
from envscale.runtime.errors import DataError, ToolError
from envscale.runtime.rowview import run_check
from envscale.tasks import fakes
from envscale.tasks.links import Links, entity_order, plural, shape_ref
from envscale.tasks.repair import Check, candidates, judge, probe

__all__ = ["EntityReport", "check_invariant", "entity_order", "generate_data", "id_formats"]

DEFAULT_SIZE = 10
MAX_MADE_LENGTH = 1_000
_USED_UP = object()  # a unique field of few values (an enum, a bool) that has none left
ATTEMPTS = 30
REPAIR_CANDIDATES = 24  # values tried per field, records per reference, in a repair
_NOTHING = object()  # no value to take from a referred record
_PART_OF = re.compile(r"\b[Pp]art of the (\w+)")
_SUM_OF = re.compile(r"\b[Ss]um of (?:the |its |all )?(\w+)")
_ID_SHAPE = re.compile(r"^(\D*)(\d+)$")
_EXAMPLE = re.compile(r"(?:such as|e\.g\.,?)\s+'([^']+)'((?:\s*(?:,|or)\s*'[^']+')*)")
_QUOTED = re.compile(r"'([^']+)'")
# An id given unquoted: "e.g. P001", "e.g. #W0000000" (a word holding a digit).
_BARE_EXAMPLE = re.compile(r"(?:such as|e\.g\.,?)\s+([#A-Za-z_-]*\d[#A-Za-z0-9_-]*)\b")
_USERNAME = re.compile(r"^[a-z]+_[a-z]+_\d+$")
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
    username: bool = False  # made from the record's person (`sara_doe_496`), not counted

    def make(self, number: int) -> str:
        if self.first:
            return counted(self.first, number - 1)
        return f"{self.prefix}{str(number).zfill(self.width)}"

    def fitted(self, low: int, high: int | None) -> IdFormat:
        """The format with its width changed so that its ids are `low` to `high` long."""
        if self.first or self.username:
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
    report: dict[str, EntityReport] | None = None,
) -> dict[str, list[dict]]:
    """Records per entity (in the domain's entity order) for `domain.environment(data=...)`.

    `size` is the number of records of every entity, or a count per entity name (entities
    left out get DEFAULT_SIZE). `like` is sample data whose ids set the id formats. Each
    entity that gets fewer records than asked adds a line to `notes` saying how many were
    made and why the rest were dropped (written to stderr when `notes` is None); an entity
    asked for that gets none is a warning on stderr either way. `report`, when given, is
    filled with what was asked, made and dropped per entity.
    """
    generator = _Generator(domain, seed, like)
    data = generator.run(size)
    if report is not None:
        report.update(generator.report)
    if notes is not None:
        notes.extend(generator.notes)
    for entity, counts in generator.report.items():
        if notes is None and counts.made < counts.asked:
            print(f"warning: generated data: {counts.line(entity)}", file=sys.stderr)
        elif counts.asked and not counts.made:
            print(
                f"warning: generated data: no {entity} at all: {counts.line(entity)}",
                file=sys.stderr,
            )
    return data


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
        if fmt is None:
            # Follow the examples of the docs that meet the key's checks: user names made
            # from the person's name ('sara_doe_496'), else a prefix and a number ('P001').
            meeting = [
                x
                for x in examples.get(key.name, [])
                if all(meets(fact, {key.name: x}) for fact in facts)
            ]
            if meeting and all(_USERNAME.match(x) for x in meeting):
                fmt = IdFormat("", 0, username=True)
            else:
                fmt = _learn_format([{key.name: x} for x in meeting], key.name)
                if fmt is not None and any(c.islower() for c in fmt.prefix):
                    fmt = None
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
                doc = prop["description"]
                quoted = [
                    value
                    for match in _EXAMPLE.finditer(doc)
                    for value in [match.group(1), *_QUOTED.findall(match.group(2))]
                ]
                for value in quoted + _BARE_EXAMPLE.findall(doc):
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


@dataclass
class EntityReport:
    """How many records of one entity were asked for and made, and why the rest were not."""

    asked: int = 0
    made: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def line(self, entity: str) -> str:
        why = "; ".join(
            reason if n == 1 or self.asked - self.made == n else f"{reason} ({n})"
            for reason, n in self.dropped.most_common()
        )
        return f"{entity}: {self.made} of {self.asked} records: {why or 'no record could be made'}"


@dataclass
class _Ctx:
    """What one record's values agree with: its person and address (drawn when a value first
    needs them), and the records it refers to (by entity, directly and one reference further)."""

    def __init__(
        self,
        rng: random.Random,
        known: dict[str, tuple[Any, str | None]] | None = None,
        referred: list[tuple[str, dict]] | None = None,
    ):
        self._rng = random.Random(rng.getrandbits(64))
        self._persona: fakes.Persona | None = None
        # entity -> (key, the entity of the reference it was learned through, or None)
        self.known: dict[str, tuple[Any, str | None]] = known if known is not None else {}
        self.referred: list[tuple[str, dict]] = referred if referred is not None else []
        self.options: dict[str, list[str]] | None = None  # the record's option sets

    @property
    def persona(self) -> fakes.Persona:
        if self._persona is None:
            self._persona = fakes.Persona.make(self._rng)
        return self._persona

    def person_for(self, kind: str) -> fakes.LazyPersona | None:
        """The persona for a value of this kind (only text is made from it), drawn when read."""
        return fakes.LazyPersona(lambda: self.persona) if kind == "str" else None


_TEXT_FIELDS = frozenset({"description", "comment", "comments", "notes", "note", "reason"})
# Lifecycle order of date fields named after events: created <= updated, start < end …
_DATE_RANK = {
    "born": -1,
    "birth": -1,
    "dob": -1,
    "created": 0,
    "registered": 0,
    "joined": 0,
    "opened": 0,
    "since": 0,
    "issued": 1,
    "placed": 1,
    "ordered": 1,
    "booked": 1,
    "requested": 1,
    "start": 2,
    "starts": 2,
    "departure": 2,
    "assigned": 2,
    "scheduled": 2,
    "filled": 2,
    "picked": 3,
    "shipped": 3,
    "redeemed": 3,
    "updated": 4,
    "modified": 4,
    "paid": 4,
    "approved": 4,
    "arrival": 5,
    "delivered": 5,
    "end": 5,
    "ends": 5,
    "completed": 5,
    "returned": 5,
    "closed": 6,
    "cancelled": 6,
    "resolved": 6,
    "expires": 7,
    "expiry": 7,
    "expiration": 7,
    "until": 7,
}


class _Generator:
    def __init__(self, domain: Any, seed: int, like: dict[str, list[dict]] | None):
        self.domain = domain
        self.manifest = domain.manifest
        self.seed = seed
        self.clock = self.manifest.clock or "2024-01-01T09:00:00"
        self.formats = id_formats(domain, like)
        self.links = Links(self.manifest)
        # entity -> field -> the check facts about that field
        self.facts: dict[str, dict[str, list[Fact]]] = {}
        for entity, spec in self.manifest.entities.items():
            for fact in spec.facts:
                self.facts.setdefault(entity, {}).setdefault(fact.field, []).append(fact)
        checks = domain.tools_module.INVARIANTS
        runtime = [inv for inv in self.manifest.invariants if inv.enforced_by == "runtime"]
        # Invariants on one entity's rows are met record by record; the others (global ones,
        # or those on another entity that read this one) are judged over the whole table.
        self.row_checks: dict[str, list[tuple[str, Check]]] = {}
        for inv in runtime:
            if inv.entity is not None:
                self.row_checks.setdefault(inv.entity, []).append((inv.name, checks[inv.name]))
        self.table_checks = [inv for inv in runtime if inv.entity is None]
        # entity -> key -> record, in the order the records were accepted
        self.index: dict[str, dict[Any, dict]] = {}
        self.used: dict[tuple[str, str], set] = {}
        self.schemas: dict[str, dict] = {}  # entity -> its model's JSON schema, made once
        self.notes: list[str] = []  # why an entity got fewer records than asked
        self.report: dict[str, EntityReport] = {}
        self.failure: dict[str, str] = {}  # entity -> why its latest attempt failed

    # ---- the run

    def run(self, size: int | dict[str, int]) -> dict[str, list[dict]]:
        env = Environment.create(self.domain, None, enforce_policies=False)
        try:
            for entity in entity_order(self.manifest):
                count = size.get(entity, DEFAULT_SIZE) if isinstance(size, dict) else size
                self._fill(env, entity, max(0, int(count)))
            self._fill_inverse_lists(env)
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
        report = self.report[entity] = EntityReport(asked=count)
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}")
        meta = env.db.tables[entity]
        before = set(self._violations(env, entity))
        connection = env.connection
        connection.execute("SAVEPOINT batch")
        for i in range(count):
            self._insert(env, meta, entity, i, rng, None)
        if not set(self._violations(env, entity)) - before:
            connection.execute("RELEASE batch")
            self._note_shortfall(entity)
            return
        # Some rows break an invariant over the whole table: insert them again one at a
        # time, judging each.
        connection.execute("ROLLBACK TO batch")
        connection.execute("RELEASE batch")
        for other, records in self.index.items():  # undo repairs of referred records too
            for key in records:
                records[key] = env.db.find(other, key) or records[key]
        self.index[entity] = {}
        report.dropped.clear()
        for slot in [s for s in self.used if s[0] == entity]:
            del self.used[slot]
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}:one-by-one")
        for i in range(count):
            self._insert(env, meta, entity, i, rng, before)
        self._note_shortfall(entity)

    def _note_shortfall(self, entity: str) -> None:
        report = self.report[entity]
        report.made = len(self.index.get(entity, {}))
        if report.made < report.asked:
            self.notes.append(report.line(entity))

    def _insert(
        self,
        env: Any,
        meta: Any,
        entity: str,
        index: int,
        rng: random.Random,
        judge_table: set[str] | None,
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
                key = meta.key_of(record)
                refers_to_itself = any(
                    f.ref == entity and record.get(f.name) == key
                    for f in self.manifest.entities[entity].fields
                )
                if refers_to_itself:  # Db.insert would look for the record it is inserting
                    derived = self.domain.derive(entity, record)  # as Db.insert computes them
                    env.connection.execute(meta.insert_sql, meta.encode(derived))
                else:  # through the runtime's insert, which computes derived fields
                    env.db.insert(entity, record)
            except (apsw.ConstraintError, ToolError) as error:  # a CHECK, or a value SQLite
                env.connection.execute("ROLLBACK TO row")  # cannot hold
                env.connection.execute("RELEASE row")
                self.failure[entity] = f"no made record passes the table's constraints ({error})"
                continue
            stored = env.db.find(entity, meta.key_of(record)) or record
            stored = self._meet_row_invariants(env, meta, entity, stored, rng)
            if stored is None:
                env.connection.execute("ROLLBACK TO row")
                env.connection.execute("RELEASE row")
                continue
            if judge_table is not None and (
                broken := set(self._violations(env, entity)) - judge_table
            ):
                env.connection.execute("ROLLBACK TO row")
                env.connection.execute("RELEASE row")
                names = ", ".join(sorted(broken))
                self.failure[entity] = f"every further record breaks invariant {names}"
                continue
            env.connection.execute("RELEASE row")
            self._accept(entity, meta.key_of(stored), stored)
            return stored
        why = self.failure.get(entity, "no record could be made")
        self.report[entity].dropped[why] += 1
        return None

    def _no_key_reason(self, entity: str) -> str:
        spec = self.manifest.entities[entity]
        refs = [f.ref for f in spec.fields if f.name in spec.key and f.kind == "ref"]
        if refs:
            return f"its key refers to {', '.join(refs)}, which has no record left to refer to"
        return "it has no key value left"

    def _violations(self, env: Any, entity: str | None) -> dict[str, str]:
        """Broken runtime invariants that read the entity (all of them for None), except those
        on the entity's own rows, which each record meets as it is made."""
        out = {}
        for inv in self.manifest.invariants:
            if inv.enforced_by != "runtime" or (entity is not None and entity not in inv.reads):
                continue
            if entity is not None and inv.entity == entity:
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

    # ---- invariants on the record's own row: probe, repair, or search another reference

    def _meet_row_invariants(
        self, env: Any, meta: Any, entity: str, record: dict, rng: random.Random
    ) -> dict | None:
        checks = self.row_checks.get(entity, [])
        for _ in range(2 * len(checks) + 2):
            broken = [(n, c, m) for n, c in checks if (m := judge(c, env.db, entity, record))]
            if not broken:
                return record
            name, check, message = broken[0]
            fixed = self._repair(env, meta, entity, record, check, rng)
            if fixed is None:
                self.failure[entity] = f"breaks invariant {name} ({message})"
                return None
            record = fixed
        names = ", ".join(n for n, c in checks if judge(c, env.db, entity, record))
        if names:
            self.failure[entity] = f"no repair meets invariants {names} together"
            return None
        return record

    def _repair(
        self, env: Any, meta: Any, entity: str, record: dict, check: Check, rng: random.Random
    ) -> dict | None:
        """The record with one field changed so that the check holds, written to the
        database; None when no field the check compares, nor another reference, does it."""
        spec = self.manifest.entities[entity]
        plain = [
            f
            for f in spec.fields
            if f.name not in spec.key and not _derived(f) and f.kind not in ("ref", "json")
        ]
        for f in plain:
            seen = probe(check, env.db, entity, record, f.name)
            if not seen:
                continue
            options = candidates(rng, record.get(f.name), seen, f.kind, f.enum)
            for value in itertools.islice(options, REPAIR_CANDIDATES):
                if value is None and not f.nullable:
                    continue
                fixed = self._try(env, meta, entity, record, f, _as_kind(value, f.kind), check)
                if fixed is not None:
                    return fixed
        refs = [
            f
            for f in spec.fields
            if f.kind == "ref" and f.ref in self.index and record.get(f.name) is not None
        ]
        for f in refs:  # another record to refer to
            if f.name in spec.key:
                continue
            keys = list(self.index[f.ref])
            rng.shuffle(keys)
            for key in keys[:REPAIR_CANDIDATES]:
                if key != record.get(f.name):
                    fixed = self._try(env, meta, entity, record, f, key, check)
                    if fixed is not None:
                        return fixed
        for f in refs:  # the referred record changed: a rated order is a delivered one
            if self._repair_referred(env, entity, record, f, check, rng):
                return env.db.find(entity, meta.key_of(record)) or record
        return None

    def _repair_referred(
        self,
        env: Any,
        entity: str,
        record: dict,
        f: EntityField,
        check: Check,
        rng: random.Random,
    ) -> bool:
        """Change one field of the record a reference points at, so that the check holds,
        when no invariant that held before breaks by it."""
        target, key = f.ref, record[f.name]
        assert target is not None
        other = env.db.find(target, key)
        spec = self.manifest.entities[target]
        if other is None:
            return False
        for g in spec.fields:
            if g.name in spec.key or _derived(g) or g.kind in ("ref", "json"):
                continue
            seen = probe(check, env.db, entity, record, g.name, (target, other))
            if not seen:
                continue
            options = candidates(rng, other.get(g.name), seen, g.kind, g.enum)
            for value in itertools.islice(options, REPAIR_CANDIDATES):
                changed = {**other, g.name: _as_kind(value, g.kind)}
                if (value is None and not g.nullable) or judge(
                    check, env.db, entity, record, (target, changed)
                ):
                    continue
                if self._rewrite(env, target, changed, g.name):
                    self.index[target][key] = env.db.find(target, key) or changed
                    return True
        return False

    def _rewrite(self, env: Any, entity: str, record: dict, name: str) -> bool:
        """Write one field of an accepted record, kept only when every invariant that held
        still holds."""
        before = set(self._violations(env, None))
        env.connection.execute("SAVEPOINT rewrite")
        try:
            env.db.update(entity, record, name, as_move=False)
            broken = [
                n for n, c in self.row_checks.get(entity, []) if judge(c, env.db, entity, record)
            ]
            ok = not broken and not set(self._violations(env, None)) - before
        except (apsw.ConstraintError, ToolError):
            ok = False
        if not ok:
            env.connection.execute("ROLLBACK TO rewrite")
        env.connection.execute("RELEASE rewrite")
        return ok

    def _try(
        self,
        env: Any,
        meta: Any,
        entity: str,
        record: dict,
        f: EntityField,
        value: Any,
        check: Check,
    ) -> dict | None:
        trial = {**record, f.name: value}
        if f.kind == "enum":  # a date named after a status follows the new status
            self._status_dates(entity, trial)
        if f.kind == "ref":  # what is copied from the referred record follows it
            for g in self.manifest.entities[entity].fields:
                copied = self._copied(entity, g, trial) if g is not f else None
                if copied is not None:
                    trial[g.name] = copied
        changed = [name for name in trial if trial[name] != record.get(name)]
        if judge(check, env.db, entity, trial) is not None:
            return None
        facts = self.facts.get(entity, {})
        if not all(meets(fact, trial) for name in changed for fact in facts.get(name, [])):
            return None
        env.connection.execute("SAVEPOINT repair")
        try:
            env.db.update(entity, trial, *changed, as_move=False)
        except (apsw.ConstraintError, ToolError):
            env.connection.execute("ROLLBACK TO repair")
            env.connection.execute("RELEASE repair")
            return None
        env.connection.execute("RELEASE repair")
        return env.db.find(entity, meta.key_of(trial)) or trial

    # ---- lists of references filled from the references back (a user's orders)

    def _fill_inverse_lists(self, env: Any) -> None:
        for entity, spec in self.manifest.entities.items():
            for f in spec.fields:
                back = self.links.inverse(entity, f)
                if back is None or f.kind != "json" or not f.type.startswith("list"):
                    continue
                target = self.links.element_ref(f)
                assert target is not None
                owned: dict[Any, list] = {}
                for key, other in self.index.get(target, {}).items():
                    owned.setdefault(other.get(back), []).append(key)
                own_key = spec.key[0]
                for record in self.index.get(entity, {}).values():
                    value = owned.get(record[own_key], [])
                    if record.get(f.name) != value:
                        record[f.name] = value
                        env.db.update(entity, record, f.name, as_move=False)

    # ---- one record

    def _record(self, entity: str, index: int, rng: random.Random, defaults: bool) -> dict | None:
        spec = self.manifest.entities[entity]
        fields = {f.name: f for f in spec.fields}
        record: dict[str, Any] = {}
        ctx = _Ctx(rng)
        for name in spec.key:
            value = self._key_value(entity, fields[name], index, rng, record, ctx)
            if value is None:
                self.failure[entity] = self._no_key_reason(entity)
                return None
            record[name] = value
            if fields[name].kind == "ref":
                self._know(ctx, fields[name].ref, value)
        rest = [f for f in spec.fields if f.name not in record]
        rest.sort(key=lambda f: _field_rank(f))
        schema = self.schemas.get(entity)
        if schema is None:
            schema = self.schemas[entity] = self.domain.models.ENTITIES[entity].model_json_schema()
        for f in rest:
            if _derived(f):  # the runtime computes it on insert
                record[f.name] = _placeholder(f, schema)
                continue
            record[f.name] = self._field_value(entity, f, record, rng, schema, defaults, ctx)
            if f.kind == "ref" and not f.nullable and record[f.name] is None:
                self.failure[entity] = f"'{f.name}' must refer to a {f.ref}, and there is none"
                return None
            if f.kind == "ref" and record[f.name] is not None:
                self._know(ctx, f.ref, record[f.name])
        self._from_lines(entity, record)
        self._status_dates(
            entity,
            record,
            lambda f: self._field_value(entity, f, record, rng, schema, False, ctx, fresh=True),
        )
        self._order_dates(entity, record, ctx)
        self._totals(entity, record)
        for f in rest:
            if not _derived(f):
                self._relate(entity, f, record, rng, schema, ctx)
        for f in rest:
            if f.unique and not _derived(f):
                record[f.name] = self._unique(entity, f, record, rng, schema, ctx)
                if record[f.name] is _USED_UP:
                    self.failure[entity] = f"every value of unique '{f.name}' is taken"
                    return None
        return {f.name: record[f.name] for f in spec.fields}

    def _know(self, ctx: _Ctx, target: str | None, key: Any) -> None:
        """Remember a chosen reference, and what the referred record refers to in turn."""
        other = self.index.get(target or "", {}).get(key)
        if target is None or other is None:
            return
        ctx.known.setdefault(target, (key, None))
        ctx.referred.append((target, other))
        for g in self.manifest.entities[target].fields:
            if g.kind == "ref" and other.get(g.name) is not None:
                ctx.known.setdefault(g.ref, (other[g.name], target))

    def _key_value(
        self,
        entity: str,
        f: EntityField,
        index: int,
        rng: random.Random,
        record: dict,
        ctx: _Ctx,
    ) -> Any:
        if f.kind == "ref":
            choices = self._agreeing(f.ref, ctx)
            if len(self.manifest.entities[entity].key) == 1:
                taken = self.index.get(entity, {})
                choices = [k for k in choices if k not in taken]
                if not choices:
                    choices = [k for k in self.index.get(f.ref, {}) if k not in taken]
            return rng.choice(choices) if choices else None
        if f.kind == "int":
            return index + 1
        if f.kind == "enum":  # one record per member
            return f.enum[index] if f.enum and index < len(f.enum) else None
        if f.kind in ("date", "datetime"):  # one record per day, counting from the clock
            day = fakes.shift_date(self.clock, index)
            return day if f.kind == "date" else day + self.clock[10:]
        fmt = self.formats.get(entity)
        if fmt is not None and fmt.username and f.kind == "str":
            return ctx.persona.username
        if fmt is not None and f.kind == "str":
            return fmt.make(index + 1)
        value = fakes.value_for(rng, f.name, f.kind, self.clock, entity, ctx.person_for(f.kind))
        return f"{value}-{index + 1}" if isinstance(value, str) else value

    def _agreeing(self, target: str | None, ctx: _Ctx) -> list:
        """Keys of the target's records that agree with what the record refers to: a cart's
        item is of the cart's restaurant, a redemption's order is the customer's own."""
        records = self.index.get(target or "", {})
        if target is None or not records:
            return []
        # What was learned through another record of the target's own entity does not bind:
        # a transfer's target account need not share its source account's owner.
        refs = [
            (g.name, ctx.known[g.ref][0])
            for g in self.manifest.entities[target].fields
            if g.kind == "ref"
            and g.ref in ctx.known
            and g.ref != target
            and ctx.known[g.ref][1] != target
        ]
        if not refs:
            return list(records)
        return [k for k, r in records.items() if all(r.get(n) == v for n, v in refs)]

    def _field_value(
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        defaults: bool,
        ctx: _Ctx,
        fresh: bool = False,
    ) -> Any:
        value = self._plain_value(entity, f, record, rng, schema, defaults, ctx, fresh)
        return self._aimed(entity, f, value, rng)

    def _plain_value(
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        defaults: bool,
        ctx: _Ctx,
        fresh: bool = False,
    ) -> Any:
        """A value for one field; `fresh`, never the default nor none."""
        has_default = "default" in f.model_fields_set
        if has_default and not fresh and (defaults or rng.random() < 0.3):
            return self._constant(f.default)
        if f.nullable and not fresh and (defaults or rng.random() < 0.3):
            return None
        copied = self._copied(entity, f, record)
        if copied is None and f.kind == "ref":
            return self._reference(entity, f, record, rng, ctx)
        if copied is not None:
            return copied
        if f.kind == "enum":
            return rng.choice(f.enum)
        prop = schema["properties"].get(f.name, {})
        doc = " ".join(d for d in (prop.get("description"), self._doc(entity)) if d)
        if f.kind == "json":
            target = self.links.element_ref(f)
            if target is not None:
                return self._ref_list(entity, f, rng, ctx, target)
            return self._from_schema(
                rng, prop, f.name, entity, schema.get("$defs", {}), has_default, ctx, record
            )
        if f.kind == "str" and (target := self.links.by_name(f.name, entity)) is not None:
            keys = self._agreeing(target, ctx) or list(self.index.get(target, {}))
            if keys:
                return rng.choice(keys)
        if f.kind in ("str", "json"):  # a key of a referred record's map, or an item's ids
            referred = [(False, r) for _, r in ctx.referred]
            linked = self._linked_value(rng, f.name, prop, referred, record)
            if linked is not _NOTHING:
                return linked
        if f.kind == "str" and "email" in fakes.words(f.name):
            first, last = _names_in(record)
            if first or last:
                return fakes.email(rng, first, last)
            return ctx.persona.email
        if f.kind == "str":
            formatted = self._formatted(rng, prop, f.name)
            if formatted is not None:
                return formatted
        seen = {k: v for _, r in ctx.referred for k, v in r.items() if isinstance(v, str)}
        return fakes.value_for(
            rng, f.name, f.kind, self.clock, entity, ctx.person_for(f.kind), doc, {**seen, **record}
        )

    def _doc(self, entity: str) -> str:
        return self.manifest.entities[entity].doc or ""

    def _ref_list(
        self, entity: str, f: EntityField, rng: random.Random, ctx: _Ctx, target: str
    ) -> Any:
        """A list (or map by key) of references; one that the references back decide is
        filled once every record exists."""
        is_map = f.type.startswith("map")
        if self.links.inverse(entity, f) is not None:
            return {} if is_map else []
        keys = self._agreeing(target, ctx) or list(self.index.get(target, {}))
        chosen = rng.sample(keys, min(len(keys), rng.randint(0, 3)))
        return {str(k): k for k in chosen} if is_map else chosen

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

    # ---- dates in order

    def _order_dates(self, entity: str, record: dict, ctx: _Ctx) -> None:
        """Dates named after events follow the events' order (created <= updated, start <
        end, departure < arrival), and none comes before the first event of a record it
        refers to (a delivery is not assigned before its order was placed)."""
        spec = self.manifest.entities[entity]
        ranked = []
        for f in spec.fields:
            if f.kind not in ("date", "datetime") or f.name in spec.key or _derived(f):
                continue
            ranks = [_DATE_RANK[w] for w in fakes.words(f.name) if w in _DATE_RANK]
            if ranks and isinstance(record.get(f.name), str):
                ranked.append((max(ranks), f))
        floor = max(
            (
                r[g.name][:10]
                for e, r in ctx.referred
                for g in self._event_fields(e)
                if isinstance(r.get(g.name), str)
            ),
            default=None,
        )
        for rank, f in ranked:
            value = record[f.name]
            if floor is not None and rank >= 0 and value[:10] < floor:
                shifted = fakes.shift_date(floor, (sum(map(ord, value)) % 3))
                record[f.name] = shifted + value[10:] if f.kind == "datetime" else shifted
        ranked.sort(key=lambda pair: pair[0])
        values = sorted(record[f.name] for _, f in ranked)
        for (_, f), value in zip(ranked, values, strict=True):
            record[f.name] = value if f.kind == "datetime" or len(value) == 10 else value[:10]
            if f.kind == "datetime" and len(value) == 10:
                record[f.name] = value + self.clock[10:]

    def _status_dates(
        self, entity: str, record: dict, make: Callable[[EntityField], Any] | None = None
    ) -> None:
        """An optional field named after a status is there exactly when the record is in that
        status: `delivered_at` on a delivered delivery (none on one still on its way), a
        `cancel_reason` on a cancelled visit, `return_items` on an order whose return was
        requested. `make` makes a value for one that should be there and is not."""
        spec = self.manifest.entities[entity]
        statuses = [
            f for f in spec.fields if f.kind == "enum" and isinstance(record.get(f.name), str)
        ]
        for f in spec.fields:
            if not f.nullable or _derived(f) or f.name in spec.key:
                continue
            event = fakes.words(f.name)[0]
            for status in [s for s in statuses if s.name != f.name]:
                member = next(
                    (
                        m
                        for m in status.enum or []
                        if m == event or (len(event) >= 4 and m.startswith(event))
                    ),
                    None,
                )
                if member is None:
                    continue
                if record[status.name] != member:
                    record[f.name] = None
                elif record.get(f.name) is None and f.kind in ("date", "datetime"):
                    seeded = random.Random(json.dumps(record, sort_keys=True, default=str))
                    record[f.name] = fakes.value_for(seeded, f.name, f.kind, self.clock)
                elif record.get(f.name) is None and make is not None:
                    record[f.name] = make(f)
                break

    def _from_lines(self, entity: str, record: dict) -> None:
        """A text field named like a field of the record's lines, lines that refer to other
        records, takes the first line's (or, for a destination, the last's): a trip starts
        where its first flight does."""
        spec = self.manifest.entities[entity]
        props = self.schemas[entity]["properties"]
        lines = []
        for f in spec.fields:
            value = record.get(f.name)
            struct = props.get(f.name, {}).get("items", {}).get("$ref", "").rsplit("/", 1)[-1]
            if not (isinstance(value, list) and value and isinstance(value[0], dict) and struct):
                continue
            if any(self.links.struct_ref(struct, p, {"type": "string"}) for p in value[0]):
                lines.append(value)
        for f in spec.fields:
            if f.kind != "str" or f.name in spec.key or _derived(f):
                continue
            for value in lines:
                line = value[-1] if f.name in ("destination", "to") else value[0]
                if isinstance(line.get(f.name), str):
                    record[f.name] = line[f.name]
                    break

    def _totals(self, entity: str, record: dict) -> None:
        """Counts and amounts of one thing agree with their total: `nonfree_baggages` is at
        most `total_baggages`; a field whose doc says it is the sum of a list's lines is."""
        spec = self.manifest.entities[entity]
        numbers = [f for f in spec.fields if f.kind in ("int", "float") and not _derived(f)]
        for whole in numbers:
            tokens = fakes.words(whole.name)
            if tokens[0] != "total" or not isinstance(record.get(whole.name), int | float):
                continue
            for part in numbers:
                if part is not whole and fakes.words(part.name)[-1:] == tokens[-1:]:
                    value = record.get(part.name)
                    if isinstance(value, int | float) and value > record[whole.name]:
                        record[part.name], record[whole.name] = record[whole.name], value
        schema = self.schemas[entity]["properties"]
        for f in numbers:
            match = _SUM_OF.search(schema.get(f.name, {}).get("description") or "")
            lines = record.get(match.group(1)) if match else None
            if isinstance(lines, list) and lines and all(isinstance(x, dict) for x in lines):
                amounts = [_line_amount(line) for line in lines]
                if all(a is not None for a in amounts):
                    total = round(sum(amounts), 2)  # type: ignore[arg-type]
                    record[f.name] = total if f.kind == "float" else int(total)
        # Fields that are each "part of the total" split it: covered plus due is the total.
        parts: dict[str, list[EntityField]] = {}
        for f in numbers:
            match = _PART_OF.search(schema.get(f.name, {}).get("description") or "")
            if match and match.group(1) in record and f.kind == "float":
                parts.setdefault(match.group(1), []).append(f)
        for whole, fields in parts.items():
            total = record[whole]
            if len(fields) < 2 or not isinstance(total, int | float) or total < 0:
                continue
            seeded = random.Random(json.dumps(record, sort_keys=True, default=str))
            left = float(total)
            for f in fields[:-1]:
                share = round(left * seeded.choice((0.0, seeded.uniform(0.3, 0.9))), 2)
                record[f.name], left = share, round(left - share, 2)
            record[fields[-1].name] = left

    def _event_fields(self, entity: str) -> list[EntityField]:
        """The date fields of an entity that name its first events."""
        return [
            f
            for f in self.manifest.entities[entity].fields
            if f.kind in ("date", "datetime")
            and any(0 <= _DATE_RANK.get(w, -1) <= 2 for w in fakes.words(f.name))
        ]

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
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        ctx: _Ctx,
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
                record[name] = self._field_value(entity, f, record, rng, schema, False, ctx)
                if meets(fact, record):
                    break

    def _reference(
        self, entity: str, f: EntityField, record: dict, rng: random.Random, ctx: _Ctx
    ) -> Any:
        target = f.ref
        candidates = list(self.index.get(target or "", {}))
        if target == entity and not f.nullable and (not candidates or rng.random() < 0.3):
            # A required reference to the entity itself: the first record refers to itself.
            return record.get(self.manifest.entities[entity].key[0])
        if not candidates:
            return None
        agreeing = self._agreeing(target, ctx)
        if f.unique:  # a record not taken yet: a delivery of an order that has none
            used = self.used.get((entity, f.name), set())
            agreeing = [k for k in agreeing if _hashable(k) not in used]
            candidates = [k for k in candidates if _hashable(k) not in used] or candidates
        if not agreeing:
            return None if f.nullable else rng.choice(candidates)
        # Two references to one entity point at two records: a transfer's two accounts.
        others = {
            record.get(g.name)
            for g in self.manifest.entities[entity].fields
            if g.ref == target and g.name != f.name
        }
        apart = [k for k in agreeing if k not in others]
        return rng.choice(apart or agreeing)

    def _copied(self, entity: str, f: EntityField, record: dict) -> Any:
        """A field named and typed like a field of a referred record takes its value: an
        appointment starts when its slot does, with the slot's clinician; an order goes to
        its customer's address and costs its restaurant's delivery fee."""
        spec = self.manifest.entities[entity]
        if f.kind in ("bool", "enum", "str") or f.name in spec.key or f.name in _TEXT_FIELDS:
            return None
        if f.kind == "json" and f.type not in self.manifest.structs:
            return None
        if f.kind in ("int", "float") and not fakes.MONEY_WORDS & set(fakes.words(f.name)):
            return None
        entities = self.manifest.entities
        for g in spec.fields:
            value = record.get(g.name)
            if g.kind != "ref" or value is None:
                continue
            other = self.index.get(g.ref, {}).get(value)
            types = {h.name: (h.type, h.ref) for h in entities[g.ref].fields}
            same = types.get(f.name) == (f.type, f.ref)
            if other is not None and same and other.get(f.name) is not None:
                return copy.deepcopy(other[f.name])
        return None

    def _unique(
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        ctx: _Ctx,
    ) -> Any:
        value = record[f.name]
        used = self.used.setdefault((entity, f.name), set())
        for _ in range(40):
            if value is None or _hashable(value) not in used:
                return value
            if f.kind == "ref":  # another record to refer to, when one is left
                free = [k for k in self.index.get(f.ref or "", {}) if _hashable(k) not in used]
                return rng.choice(free) if free else (None if f.nullable else _USED_UP)
            value = self._field_value(
                entity,
                f,
                record,
                rng,
                schema,
                False,
                _Ctx(rng, ctx.known, ctx.referred),
            )
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
                        else f"{value} {n}"
                    )
                )
                in used
            ):
                n += 1
            return candidate
        if isinstance(value, int) and not isinstance(value, bool):
            return max([v for v in used if isinstance(v, int)], default=0) + 1
        return value

    # ---- values of JSON fields: structs, lists and maps

    def _from_schema(
        self,
        rng: random.Random,
        schema: dict,
        name: str,
        entity: str,
        defs: dict,
        optional: bool,
        ctx: _Ctx,
        record: dict,
        struct: str | None = None,
    ) -> Any:
        if "$ref" in schema:
            struct = schema["$ref"].rsplit("/", 1)[-1]
            schema = defs[struct]
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            if not options or (len(options) < len(schema["anyOf"]) and rng.random() < 0.2):
                return None
            chosen = {
                **options[0],
                **(
                    {"description": schema["description"]}
                    if "description" in schema and "$ref" not in options[0]
                    else {}
                ),
            }
            return self._from_schema(rng, chosen, name, entity, defs, False, ctx, record)
        if "enum" in schema:
            return rng.choice(schema["enum"])
        if "const" in schema:  # an enum of one member
            return schema["const"]
        kind = schema.get("type")
        if kind == "string" and (formatted := self._formatted(rng, schema, name)) is not None:
            return formatted
        if kind == "array":
            item_schema = schema.get("items", {})
            struct_of = item_schema.get("$ref", "").rsplit("/", 1)[-1]
            items = [
                self._from_schema(rng, item_schema, name, entity, defs, False, each, record)
                for each in [
                    _Ctx(rng, ctx.known, ctx.referred) if struct_of else ctx
                    for _ in range(rng.randint(0 if optional else 1, 3))
                ]
            ]
            unique: list[Any] = []
            for item in items:  # and one line per referred record (a dish once per order)
                if item not in unique and not (
                    isinstance(item, dict)
                    and any(self._same_ref(item, u, struct_of) for u in unique)
                ):
                    unique.append(item)
            return unique
        if kind == "object" and "properties" in schema:
            return self._struct(rng, schema, struct or "", entity, defs, ctx, record)
        if kind == "object":
            return self._map(rng, schema, name, entity, defs, ctx, record)
        pattern = schema.get("pattern", "")
        if kind == "string" and "T" in pattern:
            return fakes.value_for(rng, name, "datetime", self.clock, entity)
        if kind == "string" and pattern:
            return fakes.value_for(rng, name, "date", self.clock, entity)
        plain = {"integer": "int", "number": "float", "boolean": "bool"}.get(kind, "str")
        if plain == "str" and name == "id" and isinstance(record.get("__source"), str):
            return f"{record['__source']}_{rng.randint(1_000_000, 9_999_999)}"
        doc = schema.get("description") or ""
        return fakes.value_for(
            rng, name, plain, self.clock, entity, ctx.person_for(plain), doc, record
        )

    def _sibling_ids(self, rng: random.Random, prop: str, sub: dict, record: dict) -> Any:
        """A list of ids named after the record's lines (`item_ids`, `return_items`): some of
        the ids its lines hold (`items[].item_id`), sorted."""
        items = sub.get("items") or _inner(sub).get("items") or {}
        if _schema_type(sub) != "array" or _schema_type(items) not in (
            "string",
            None,
        ):
            return _NOTHING
        last = fakes.words(prop)[-1]
        stems = {last[:-4] if last.endswith("_ids") else last.removesuffix("s")}
        if prop.endswith("_ids"):
            stems.add(prop[:-4])
        for value in record.values():
            if not isinstance(value, list) or not value or not isinstance(value[0], dict):
                continue
            for stem in stems:
                held = [v.get(f"{stem}_id") for v in value if isinstance(v, dict)]
                held = [h for h in held if isinstance(h, str)]
                if held:
                    return sorted(rng.sample(held, rng.randint(1, len(held))))
        return _NOTHING

    def _same_ref(self, a: dict, b: dict, struct: str) -> bool:
        """Whether two struct values refer to the same record."""
        return any(
            a.get(p) is not None and a.get(p) == b.get(p)
            for p in a
            if self.links.struct_ref(struct, p, {"type": "string"})
        )

    def _map(
        self,
        rng: random.Random,
        schema: dict,
        name: str,
        entity: str,
        defs: dict,
        ctx: _Ctx,
        record: dict,
    ) -> dict:
        sub = schema.get("additionalProperties") or {"type": "string"}
        keys = schema.get("propertyNames") or {}
        keys = defs.get(keys["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in keys else keys
        members = keys.get("enum") or ([keys["const"]] if "const" in keys else [])
        if members:  # a map keyed by an enum's members
            chosen = rng.sample(members, rng.randint(1, len(members)))
            return {
                key: self._from_schema(rng, sub, name, entity, defs, False, ctx, record)
                for key in sorted(chosen, key=members.index)
            }
        doc = schema.get("description") or ""
        strings = sub.get("items", {}).get("type") == "string"
        if "option" in name and (sub.get("type") == "string" or strings):
            if ctx.options is None:  # one option set per record: its variants share it
                ctx.options = fakes.option_sets(rng, entity, f"{doc} {self._doc(entity)}")
            if strings:
                return copy.deepcopy(ctx.options)
            return {option: rng.choice(choices) for option, choices in ctx.options.items()}
        values = [
            self._from_schema(rng, sub, name, entity, defs, False, ctx, record)
            for _ in range(rng.randint(1, 3))
        ]
        # A map of records that carry an id is keyed by that id (methods saved under their
        # own id); a map whose doc names a key format is keyed in it (by day, YYYY-MM-DD).
        return {
            _own_id(value) or self._formatted(rng, schema, name) or fakes.word(rng): value
            for value in values
        }

    def _struct(
        self,
        rng: random.Random,
        schema: dict,
        struct: str,
        entity: str,
        defs: dict,
        ctx: _Ctx,
        record: dict,
    ) -> dict:
        """A struct value whose references agree with the record, whose other fields copy
        what the referred records hold (a line's name and price are its item's), and whose
        optional fields are present when the doc ties them to a value present (a gift
        card's balance)."""
        required = set(schema.get("required", []))
        props = schema["properties"]
        out: dict[str, Any] = {}
        linked: list[tuple[bool, dict]] = []  # (the struct's own reference, its record)
        for prop, sub in props.items():  # references first: the rest follows them
            typed = self._typed_ref(struct, prop)
            if typed is not None and (typed[1] != "one" or not self.index.get(typed[0])):
                # Only records made so far can be named (none yet, for the first record of
                # an entity its struct refers to): a list or map of them, or none.
                keys = list(self.index.get(typed[0], {}))
                many = rng.sample(keys, min(len(keys), rng.randint(0, 2)))
                out[prop] = {"one": None, "list": many, "map": {}}[typed[1]]
                continue
            target = self.links.struct_ref(struct, prop, sub)
            if target is not None and self.index.get(target):
                keys = self._agreeing(target, ctx) or list(self.index[target])
                out[prop] = rng.choice(keys)
                linked.append((True, self.index[target][out[prop]]))
        linked += [(False, r) for _, r in ctx.referred]
        source = next(
            (sub for p, sub in props.items() if p == "source" or p.endswith("_type")), None
        )
        if source is not None:
            first = next(p for p in props if p == "source" or p.endswith("_type"))
            out[first] = self._from_schema(rng, source, first, entity, defs, False, ctx, record)
        present = {v for v in out.values() if isinstance(v, str)}
        for prop, sub in props.items():
            if prop in out:
                continue
            if prop not in required and not _tied(sub, present, rng):
                continue
            if prop not in required and "anyOf" in sub:  # tied to the struct: never none
                sub = {**_inner(sub), "description": sub.get("description", "")}
            value = self._linked_value(rng, prop, sub, linked, record)
            if value is _NOTHING:
                inner = {**record, "__source": out.get(first) if source is not None else None}
                value = self._from_schema(rng, sub, prop, entity, defs, False, ctx, inner)
            out[prop] = value
        return {p: out[p] for p in props if p in out}

    def _typed_ref(self, struct: str, prop: str) -> tuple[str, str] | None:
        """(entity, "one" | "list" | "map"): a struct field typed as references to it."""
        for g in self.manifest.structs.get(struct, []):
            if g.name != prop or g.shape is None:
                continue
            if (target := shape_ref(g.shape)) is not None:
                return target, "one"
            for kind in ("list", "map"):
                inner = getattr(g.shape, kind)
                if inner is not None and (target := shape_ref(inner)) is not None:
                    return target, kind
        return None

    def _linked_value(
        self,
        rng: random.Random,
        prop: str,
        sub: dict,
        linked: list[tuple[bool, dict]],
        record: dict | None = None,
    ) -> Any:
        """A struct field's value taken from a referred record: the field of the same name,
        a key of its map named like the field (a flight's dates, a user's payment methods),
        or an entry of a map whose entries carry the field (a product's variant)."""
        ids = self._sibling_ids(rng, prop, sub, record or {})
        if ids is not _NOTHING:
            return ids
        text = _schema_type(sub) == "string"
        stem = prop[:-3] if prop.endswith("_id") else prop
        for own, other in list(linked):
            value = other.get(prop) if own else None
            if value is not None and not isinstance(value, dict) and _alike(sub, value):
                return _fitted(sub, copy.deepcopy(value))
            if isinstance(value, dict) and sub.get("type") == "object":
                if all(isinstance(v, list) for v in value.values()):  # choose from option sets
                    return {k: rng.choice(v) for k, v in value.items() if v}
                if all(isinstance(v, str) for v in value.values()):
                    return dict(value)
            if not text:
                continue
            for name, held in other.items():
                if not isinstance(held, dict) or not held:
                    continue
                if name in (plural(stem), plural(prop)) or (name.startswith(stem) and name != prop):
                    return rng.choice(sorted(held))
                entries = [v for v in held.values() if isinstance(v, dict) and prop in v]
                if entries:
                    entry = rng.choice(entries)
                    linked.insert(0, (True, entry))
                    return entry[prop]
        return _NOTHING


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
    A condition that cannot be evaluated (a lookup that finds nothing, a division by zero, a
    none compared) is broken, with the reason."""
    if "every_row" in inspect.signature(check).parameters:
        return run_check(check, db)
    try:
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


def _schema_type(schema: dict) -> str | None:
    return schema.get("type") or _inner(schema).get("type")


def _inner(schema: dict) -> dict:
    """The non-null alternative of an optional schema."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return options[0] if options else {}


def _line_amount(line: dict) -> float | None:
    """What one line adds up to: its amount, or its price times its quantity."""
    for name in ("amount", "total", "price", "cost"):
        value = line.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            quantity = line.get("quantity", line.get("qty", 1))
            return value * quantity if isinstance(quantity, int) and name != "total" else value
    return None


def _derived(f: EntityField) -> bool:
    """Whether the runtime computes the field (a `derived` field record), so none is made."""
    # A declared field of the record lives in its __dict__, one it does not declare in extra.
    return f.__dict__.get("derived") is not None or (f.model_extra or {}).get("derived") is not None


def _placeholder(f: EntityField, schema: dict) -> Any:
    """A value of the field's type that the runtime replaces on insert."""
    if f.nullable:
        return None
    if f.kind == "json":
        return {} if schema["properties"].get(f.name, {}).get("type") == "object" else []
    zero: dict[str, Any] = {"int": 0, "float": 0.0, "bool": False, "str": ""}
    zero |= {"date": "2000-01-01", "datetime": "2000-01-01T00:00:00"}
    if f.kind in zero:
        return zero[f.kind]
    if f.kind == "enum" and f.enum:
        return f.enum[0]
    return None


def _field_rank(f: EntityField) -> int:
    """The order fields are made in: references first, then what text is made from."""
    tokens = set(fakes.words(f.name))
    if f.kind == "ref":
        return 0
    if "email" in tokens or tokens & {"username", "login"}:
        return 3
    if tokens & _TEXT_FIELDS or "description" in tokens:
        return 4
    return 2 if f.kind == "json" else 1


def _as_kind(value: Any, kind: str) -> Any:
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _alike(schema: dict, value: Any) -> bool:
    """Whether a value copied from another record fits the schema's type."""
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:
        return any(_alike(s, value) for s in schema["anyOf"] if s.get("type") != "null")
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, int):
        return kind in ("integer", "number")
    if isinstance(value, float):
        return kind == "number"
    if isinstance(value, str):
        return kind == "string" and "pattern" not in schema and "enum" not in schema
    if isinstance(value, list):
        return kind == "array"
    return False


def _fitted(schema: dict, value: Any) -> Any:
    kind = schema.get("type") or next(
        (s.get("type") for s in schema.get("anyOf", []) if s.get("type") != "null"), None
    )
    if kind == "number" and isinstance(value, int):
        return float(value)
    return value


def _tied(schema: dict, present: set[str], rng: random.Random) -> bool:
    """Whether an optional struct field is made: when its doc names a value the struct holds
    ("for credit cards" beside source credit_card) yes, when it names a condition the struct
    does not meet no, else at random."""
    doc = (schema.get("description") or "").lower()
    if any(v.replace("_", " ") in doc for v in present if v):
        return True
    if " only" in doc or "for " in doc:
        return False
    return rng.random() < 0.6
