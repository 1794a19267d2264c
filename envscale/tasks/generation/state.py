"""The state one generator run shares between its parts, the context of one record, and small
helpers over fields and JSON schemas."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from envscale.records import EntityField, Fact
from envscale.runtime.rowview import RowView
from envscale.tasks import fakes
from envscale.tasks.generation.ids import id_formats
from envscale.tasks.generation.report import EntityReport
from envscale.tasks.generation.writes import tool_writes
from envscale.tasks.links import Links
from envscale.tasks.repair import Check

USED_UP = object()  # a unique field of few values (an enum, a bool) that has none left
REDRAW = object()  # a drawn record that cannot be kept as it is: draw another
NOTHING = object()  # no value to take from a referred record


class RecordContext:
    """What one record's values agree with: its person and address (drawn when a value first
    needs them), and the records it refers to (by entity, directly and one reference further)."""

    def __init__(
        self,
        rng: random.Random,
        known: dict[str, tuple[Any, str | None]] | None = None,
        referred: list[tuple[str, dict]] | None = None,
        home: fakes.Home | None = None,
    ):
        self._rng = random.Random(rng.getrandbits(64))
        self._persona: fakes.Persona | None = None
        self.home = home  # the state's locale and region, which every persona is of
        # entity -> (key, the entity of the reference it was learned through, or None)
        self.known: dict[str, tuple[Any, str | None]] = known if known is not None else {}
        self.referred: list[tuple[str, dict]] = referred if referred is not None else []
        self.options: dict[str, list[str]] | None = None  # the record's option sets
        self.picked: set[str] = set()  # the combinations of options its lines hold so far
        self.after: dict | None = None  # the line before, for a line of a list
        self.closing: dict | None = None  # the first line, for a line that comes back to it
        self.earlier: list[dict] = []  # the lines before the line before
        # enum members -> the keys the record's maps keyed by that enum hold (a flight's
        # cabins, in its seats and its prices of every day)
        self.enum_keys: dict[tuple[str, ...], list[str]] = {}

    @property
    def persona(self) -> fakes.Persona:
        if self._persona is None:
            self._persona = fakes.Persona.make(self._rng, self.home)
        return self._persona

    def person_for(self, kind: str) -> fakes.LazyPersona | None:
        """The persona for a value of this kind (only text is made from it), drawn when read."""
        return fakes.LazyPersona(lambda: self.persona) if kind == "str" else None


TEXT_FIELDS = frozenset({"description", "comment", "comments", "notes", "note", "reason"})


class State:
    """What every part of one run reads and writes: the domain, the records accepted so far
    (`index`), the unique values taken (`used`), and why an entity's latest attempt failed."""

    def __init__(self, domain: Any, seed: int, like: dict[str, list[dict]] | None):
        self.domain = domain
        self.manifest = domain.manifest
        self.seed = seed
        # one country for every person and place of the state, drawn once from the seed;
        # one region of it too where the business is local (a restaurant, a clinic)
        local = any(fakes.LOCAL_ENTITIES & set(fakes.words(e)) for e in self.manifest.entities)
        self.home = fakes.Home.draw(random.Random(f"envscale-datagen:{seed}:home"), local)
        self.clock = self.manifest.clock or "2024-01-01T09:00:00"
        self.formats = id_formats(domain, like)
        self.links = Links(self.manifest)
        self.writes = tool_writes(domain)
        # (struct, field, the line's text) -> the amount every line of that text costs
        self.price_list: dict[tuple[str, str, str], Any] = {}
        # entity -> field -> the check facts about that field
        self.facts: dict[str, dict[str, list[Fact]]] = {}
        for entity, spec in self.manifest.entities.items():
            for fact in spec.facts:
                self.facts.setdefault(entity, {}).setdefault(fact.field, []).append(fact)
        checks = domain.tools_module.INVARIANTS
        runtime = [inv for inv in self.manifest.invariants if inv.enforced_by == "runtime"]
        # invariant name -> the entities it reads
        self.invariant_reads: dict[str, frozenset[str]] = {
            inv.name: frozenset(inv.reads) for inv in self.manifest.invariants
        }
        # Invariants on one entity's rows are met record by record; the others (global ones,
        # or those on another entity that read this one) are judged over the whole table.
        self.row_checks: dict[str, list[tuple[str, Check]]] = {}
        for inv in runtime:
            if inv.entity is not None:
                self.row_checks.setdefault(inv.entity, []).append((inv.name, checks[inv.name]))
        for (entity, name, member), prior in sorted(self.writes.before.items()):
            # a record a tool moved into a state was, just before, in the state the tool
            # requires, with what it holds now but for what the tool set (a cancelled order
            # was pending: it never shipped); judged by the invariants on its own fields
            # that read none of those the tool set
            written = self.writes.alongside.get((entity, name, member), set())
            for inv_name, check in list(self.row_checks.get(entity, [])):
                fields = self.writes.row_fields.get(inv_name)
                if self.invariant_reads[inv_name] != {entity} or fields is None or fields & written:
                    continue
                if name not in fields:  # the same whatever the state
                    continue
                self.row_checks[entity].append(
                    (inv_name, _as_before(check, entity, name, member, sorted(prior)))
                )
        self.table_checks = [inv for inv in runtime if inv.entity is None]
        # entity -> key -> record, in the order the records were accepted
        self.index: dict[str, dict[Any, dict]] = {}
        self.used: dict[tuple[str, str], set] = {}
        self.schemas: dict[str, dict] = {}  # entity -> its model's JSON schema, made once
        self.notes: list[str] = []  # why an entity got fewer records than asked
        self.report: dict[str, EntityReport] = {}
        self._read_by: dict[tuple[str, str], int] = {}  # (entity, field) -> invariants reading it
        self._cascading = False  # a rewrite is repairing the records that refer to it
        self.failure: dict[str, str] = {}  # entity -> why its latest attempt failed
        # (entity, key) of accepted records rewritten while repairing another: read again
        # from the database when the attempt that rewrote them is rolled back
        self.env: Any = None  # the scratch environment the records are made in
        self.rewritten: list[tuple[str, Any]] = []
        self.short_paid = False  # the record's payment takes more than a saved balance holds
        # invariants on an entity's rows that read entities made later: met once all exist
        self.deferred: dict[str, list[tuple[str, Check]]] = {}
        self.deferred_names: set[str] = set()
        # entity -> the constant keys the tools look its records up by (generation/singles.py)
        self.fixed: dict[str, list[str]] = {}

    def _held(self, entity: str, name: str) -> Iterator[Any]:
        """The values of field `name` in the entity's records accepted so far, read lazily."""
        return (record.get(name) for record in self.index.get(entity, {}).values())


def hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def schema_type(schema: dict) -> str | None:
    return schema.get("type") or inner_schema(schema).get("type")


def inner_schema(schema: dict) -> dict:
    """The non-null alternative of an optional schema."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return options[0] if options else {}


def is_derived(f: EntityField) -> bool:
    """Whether the runtime computes the field (a `derived` field record), so none is made."""
    # A declared field of the record lives in its __dict__, one it does not declare in extra.
    return f.__dict__.get("derived") is not None or (f.model_extra or {}).get("derived") is not None


def as_kind(value: Any, kind: str) -> Any:
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _as_before(check: Check, entity: str, name: str, member: str, prior: list[str]) -> Check:
    """The check judged on a record in `member` as it was in the first of `prior`."""

    def judged(view: Any, every_row: bool = True) -> str | None:
        record = getattr(view, "_record", None)
        if not isinstance(record, dict) or not isinstance(record.get(name), str):
            return None  # a probe in the field: the check itself says what it compares
        if record[name] != member:
            return None
        if check(view, every_row=every_row) is not None:
            return None  # broken as it is: the check itself says so
        before = RowView(view._db, entity, {**record, name: prior[0]}, view._referred)
        return check(before, every_row=every_row)

    judged.__name__ = getattr(check, "__name__", "check")
    return judged
