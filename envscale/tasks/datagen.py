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

The same seed and size give the same records, in any process. The parts of the generator
live in `envscale.tasks.generation`; this module runs them, entity by entity.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import apsw
import pydantic

from envscale.runtime.environment import Environment
from envscale.runtime.errors import DataError, ToolError
from envscale.tasks.generation.ids import IdFormat, id_formats
from envscale.tasks.generation.invariants import InvariantSearch, check_invariant
from envscale.tasks.generation.lifecycle import Lifecycle
from envscale.tasks.generation.lifecycle import own_method as _own_method
from envscale.tasks.generation.nested import NestedValues
from envscale.tasks.generation.plan import StatePlan
from envscale.tasks.generation.report import EntityReport
from envscale.tasks.generation.singles import Singles, fixed_keys
from envscale.tasks.generation.state import REDRAW, hashable
from envscale.tasks.generation.values import RecordValues
from envscale.tasks.links import entity_order
from envscale.tasks.repair import judge

__all__ = [
    "DEFAULT_SIZE",
    "EntityReport",
    "IdFormat",
    "check_invariant",
    "entity_order",
    "generate_data",
    "id_formats",
]

DEFAULT_SIZE = 10
ATTEMPTS = 30


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


class _Generator(RecordValues, NestedValues, Lifecycle, InvariantSearch, Singles, StatePlan):
    # ---- the run

    def run(self, size: int | dict[str, int]) -> dict[str, list[dict]]:
        self.fixed = fixed_keys(self.domain)
        env = self.env = Environment.create(self.domain, None, enforce_policies=False)
        order = entity_order(self.manifest)
        self._defer(order)
        try:
            counts = {}
            for entity in order:
                count = size.get(entity, DEFAULT_SIZE) if isinstance(size, dict) else size
                if entity in self.fixed:  # exactly the records the tools look up
                    count = len(self.fixed[entity])
                counts[entity] = max(0, int(count))
            for i, entity in enumerate(order):
                self._fill(env, entity, counts[entity])
                self._plan_states(env, entity, {e: counts[e] for e in order[i + 1 :]})
            self._fill_inverse_lists(env)
            self._settle(env, order)
            self._cover_balances(env)
            self._tie_singles(env, self.fixed)
            problems = [
                f"invariant '{name}' violated: {message}"
                for name, message in self._violations(env, None).items()
            ]
            if problems:
                raise DataError(problems)
        finally:
            env.close()
            self.env = None
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
        self.rewritten.clear()
        self.index[entity] = {}
        self.price_list.clear()  # as the records kept list them
        for other, records in self.index.items():
            for record in records.values():
                self._list_prices(other, record)
        report.dropped.clear()
        for slot in [s for s in self.used if s[0] == entity]:
            del self.used[slot]
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}:one-by-one")
        for i in range(count):
            self._insert(env, meta, entity, i, rng, before)
        self._note_shortfall(entity)

    # ---- invariants on a record that read records made after it

    def _defer(self, order: list[str]) -> None:
        """Set aside the invariants on an entity's rows that read entities made after it (an
        invoice's `paid` is the sum of its payments; a slot is booked when a visit holds it):
        they cannot be met while those records do not exist."""
        by_name = {inv.name: inv for inv in self.manifest.invariants}
        for i, entity in enumerate(order):
            later = set(order[i + 1 :])
            checks = self.row_checks.get(entity, [])
            held = [(n, c) for n, c in checks if later & set(by_name[n].reads)]
            if held:
                self.deferred[entity] = held
                self.row_checks[entity] = [pair for pair in checks if pair not in held]
        self.deferred_names = {n for held in self.deferred.values() for n, _ in held}

    def _settle(self, env: Any, order: list[str]) -> None:
        """Meet the set-aside invariants once every record exists, the entities made last
        first (an invoice's `paid` before the balance its patient owes on it): each record
        that breaks one is repaired, and the records referring to it that now break an
        invariant on their rows meet it again."""
        for entity in reversed(order):
            held = self.deferred.pop(entity, [])
            if not held:
                continue
            self.deferred_names -= {n for n, _ in held}
            self.row_checks[entity] = [*self.row_checks.get(entity, []), *held]
            # what reads which field is learned again, with these invariants
            self._read_by = {k: n for k, n in self._read_by.items() if k[0] != entity}
            meta = env.db.tables[entity]
            rng = random.Random(f"envscale-datagen:{self.seed}:{entity}:settle")
            for key, row in list(self.index.get(entity, {}).items()):
                if not any(judge(c, env.db, entity, row) for _, c in held):
                    continue
                before = self._broken_reading(env, {entity})
                env.connection.execute("SAVEPOINT settle")
                mark = len(self.rewritten)
                fixed = self._meet_row_invariants(env, meta, entity, row, rng)
                if fixed is None:  # reported as broken below
                    self._roll_back(env, "settle", mark)
                    continue
                env.connection.execute("RELEASE settle")
                self.index[entity][key] = fixed
                new = self._broken_reading(env, {entity}) - before
                if new:
                    self._follow(env, entity, fixed, new, [])
                    self._drop_unmet(env, entity, fixed, new)

    def _drop_unmet(self, env: Any, entity: str, record: dict, broken: set[str]) -> None:
        """The records referring to a settled one that still break an invariant on their
        rows by it (a rating of an order no trip delivered, made undelivered) are dropped,
        and reported with the invariant, when nothing refers to them in turn."""
        key = env.db.tables[entity].key_of(record)
        by_name = {inv.name: inv for inv in self.manifest.invariants}
        for name in sorted(broken):
            other = by_name[name].entity
            if other is None or other == entity or other not in self.index:
                continue
            refs = [f.name for f in self.manifest.entities[other].fields if f.ref == entity]
            check = self.domain.tools_module.INVARIANTS[name]
            for own, row in list(self.index[other].items()):
                if not any(row.get(r) == key for r in refs) or not judge(check, env.db, other, row):
                    continue
                try:
                    env.db.delete(other, row)
                except ToolError:
                    continue
                del self.index[other][own]
                report = self.report[other]
                report.made = len(self.index[other])
                report.dropped[f"breaks invariant {name} once its {entity} is settled"] += 1
        self.notes[:] = [r.line(e) for e, r in self.report.items() if r.made < r.asked]

    def _cover_balances(self, env: Any) -> None:
        """A saved method that holds a balance (a gift card, a certificate) still holds at
        least what any one payment of its owner took from it, when no other method of the
        owner could pay instead (`_within_balance`)."""
        needed: dict[tuple[str, Any, str, Any], float] = {}
        for entity, records in self.index.items():
            refs = [f for f in self.manifest.entities[entity].fields if f.kind == "ref"]
            for record in records.values():
                for f in refs:
                    payer = self.index.get(f.ref or "", {}).get(record.get(f.name))
                    if payer is None:
                        continue
                    for entry in _payment_entries(record):
                        for name, saved in payer.items():
                            method = _own_method(entry)
                            held = saved.get(method) if isinstance(saved, dict) else None
                            if isinstance(held, dict) and _balance_field(held):
                                slot = (f.ref or "", record[f.name], name, method)
                                needed[slot] = max(needed.get(slot, 0.0), entry["amount"])
        rng = random.Random(f"envscale-datagen:{self.seed}:balances")
        for (entity, key, name, method), amount in needed.items():
            payer = self.index[entity][key]
            held = payer[name][method]
            at = _balance_field(held)
            if at is not None and held[at] < amount:
                held[at] = round(amount + rng.uniform(0, 150), 2)
                env.db.update(entity, payer, name, as_move=False)

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
            if record is REDRAW:
                continue
            if not isinstance(record, dict):
                break
            try:
                model.model_validate(record)
            except pydantic.ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                self.failure[entity] = f"no made value of '{where}' is valid: {first['msg']}"
                continue
            env.connection.execute("SAVEPOINT row")
            mark = len(self.rewritten)
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
                self._roll_back(env, "row", mark)
                continue
            stored = self._on_the_clock(env, meta, entity, stored, rng)
            if judge_table is not None and (
                broken := set(self._violations(env, entity)) - judge_table
            ):
                self._roll_back(env, "row", mark)
                names = ", ".join(sorted(broken))
                self.failure[entity] = f"every further record breaks invariant {names}"
                continue
            env.connection.execute("RELEASE row")
            self._accept(entity, meta.key_of(stored), stored)
            return stored
        why = self.failure.get(entity, "no record could be made")
        self.report[entity].dropped[why] += 1
        return None

    def _on_the_clock(
        self, env: Any, meta: Any, entity: str, record: dict, rng: random.Random
    ) -> dict:
        """The record with its first date on the clock's day when its final status says it is
        still in progress, kept only when its invariants still hold."""
        moved = dict(record)
        changed = self._clock_dates(entity, moved, rng)
        if not changed:
            return record
        env.connection.execute("SAVEPOINT clock")
        try:
            env.db.update(entity, moved, *changed, as_move=False)
            ok = not any(
                judge(c, env.db, entity, moved) for _, c in self.row_checks.get(entity, [])
            )
        except (apsw.ConstraintError, ToolError):
            ok = False
        env.connection.execute("RELEASE clock" if ok else "ROLLBACK TO clock")
        if not ok:
            env.connection.execute("RELEASE clock")
            return record
        return env.db.find(entity, meta.key_of(moved)) or moved

    def _no_key_reason(self, entity: str) -> str:
        spec = self.manifest.entities[entity]
        refs = [f.ref for f in spec.fields if f.name in spec.key and f.kind == "ref"]
        if refs:
            return f"its key refers to {', '.join(refs)}, which has no record left to refer to"
        return "it has no key value left"

    def _accept(self, entity: str, key: Any, record: dict) -> None:
        self.index.setdefault(entity, {})[key] = record
        self._list_prices(entity, record)
        spec = self.manifest.entities[entity]
        for f in spec.fields:
            if f.unique and record.get(f.name) is not None:
                self.used.setdefault((entity, f.name), set()).add(hashable(record[f.name]))

    # ---- lists of references filled from the references back (a user's orders)

    def _deal_owned(self, env: Any, entity: str, f: Any, order: list[str]) -> None:
        """A list of references to T that T does not refer back to, on records made before
        any T (a customer's `line_ids`, made ahead of the lines in a cycle of references):
        the T records are dealt out, each to one owner, one to three an owner."""
        target = self.links.element_ref(f)
        if target is None or target == entity or target not in self.index:
            return
        if order.index(target) < order.index(entity):
            return  # the list was drawn from records that existed
        owners = [r for r in self.index.get(entity, {}).values() if not r.get(f.name)]
        if not owners:
            return
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}.{f.name}")
        keys = list(self.index[target])
        rng.shuffle(keys)
        for record in owners:
            if not keys:
                break
            take = rng.randint(1, 3)
            record[f.name], keys = keys[:take], keys[take:]
            env.db.update(entity, record, f.name, as_move=False)

    def _fill_inverse_lists(self, env: Any) -> None:
        order = entity_order(self.manifest)
        for entity, spec in self.manifest.entities.items():
            for f in spec.fields:
                back = self.links.inverse(entity, f)
                if f.kind != "json" or not f.type.startswith("list"):
                    continue
                if back is None:
                    self._deal_owned(env, entity, f, order)
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


def _payment_entries(record: dict) -> list[dict]:
    """The payments (not refunds) among a record's lines: structs with an amount and a method."""
    return [
        entry
        for value in record.values()
        if isinstance(value, list)
        for entry in value
        if isinstance(entry, dict)
        and isinstance(entry.get("amount"), int | float)
        and entry["amount"] > 0
        and not any("refund" in str(v) for v in entry.values())
        and _own_method(entry) is not None
    ]


def _balance_field(method: dict) -> str | None:
    for name in ("balance", "amount"):
        value = method.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return name
    return None
