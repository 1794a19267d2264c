"""Meeting the runtime invariants on a record's own row: probe the failing check for the values
it compares with, repair that field, else refer to another record, else change the referred
record when no invariant that held breaks by it."""

from __future__ import annotations

import inspect
import itertools
import json
import random
from collections.abc import Callable
from typing import Any

import apsw

from envscale.records import EntityField
from envscale.runtime.errors import ToolError
from envscale.runtime.rowview import run_check
from envscale.tasks import fakes
from envscale.tasks.generation.facts import meets
from envscale.tasks.generation.lifecycle import phases
from envscale.tasks.generation.state import RecordContext, State, as_kind, hashable, is_derived
from envscale.tasks.repair import Check, candidates, judge, probe, reads

REPAIR_CANDIDATES = 24  # values tried per field, records per reference, in a repair


class InvariantSearch(State):
    def _broken_reading(self, env: Any, entities: set[str]) -> set[str]:
        """The broken runtime invariants that read any of the entities."""
        return {
            inv.name
            for inv in self.manifest.invariants
            if inv.enforced_by == "runtime"
            and inv.name not in self.deferred_names
            and entities & set(inv.reads)
            and check_invariant(self.domain.tools_module.INVARIANTS[inv.name], env.db)
        }

    def _violations(self, env: Any, entity: str | None) -> dict[str, str]:
        """Broken runtime invariants that read the entity (all of them for None), except those
        on the entity's own rows, which each record meets as it is made."""
        out = {}
        for inv in self.manifest.invariants:
            if inv.enforced_by != "runtime" or (entity is not None and entity not in inv.reads):
                continue
            if (entity is not None and inv.entity == entity) or inv.name in self.deferred_names:
                continue
            message = check_invariant(self.domain.tools_module.INVARIANTS[inv.name], env.db)
            if message is not None:
                out[inv.name] = message
        return out

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
            if f.name not in spec.key and not is_derived(f) and f.kind not in ("ref", "json")
        ]
        # The fields fewest invariants read first: an overpaid invoice has its payment cut,
        # not what the patient owes, which the invoice's sum reads too.
        # A list the check reads may lose entries (a pending order has no shipments yet).
        plain += [
            f
            for f in spec.fields
            if f.kind == "json"
            and f.name not in spec.key
            and not is_derived(f)
            and isinstance(record.get(f.name), list)
            and record[f.name]
            and reads(check, env.db, entity, record, f.name)
        ]
        # Of fields read as often, a list before a status before a number: what a status
        # holds follows it, and a bill whose payments fall short of its due is open again,
        # rather than due less.
        rank = {"json": 0, "enum": 1}
        plain.sort(key=lambda f: (self._readers(env, entity, record, f.name), rank.get(f.kind, 2)))
        later: list[tuple[EntityField, Any]] = []  # side states of transitions, tried last
        for f in plain:
            if f.kind == "json":  # a whole list the check names, else one entry left out
                held = record[f.name]  # (a refund), else none at all
                seen = probe(check, env.db, entity, record, f.name)
                named = [v for v in seen if isinstance(v, list)]
                options = [held[:i] + held[i + 1 :] for i in reversed(range(len(held)))]
                for value in [*named, *options[:REPAIR_CANDIDATES], []]:
                    fixed = self._try(env, meta, entity, record, f, value, check)
                    if fixed is not None:
                        return fixed
                continue
            seen = probe(check, env.db, entity, record, f.name)
            if seen:
                options = candidates(rng, record.get(f.name), seen, f.kind, f.enum)
                if f.kind == "str" and all(v == "" for v in seen):  # a text there, not none
                    options = itertools.chain(options, [self._fresh_text(entity, f, record)])
            elif f.kind in ("int", "float"):
                options = iter(self._most_allowed(env, entity, record, f, check, rng))
            else:
                continue
            moves = self.manifest.transitions.get(f"{entity}.{f.name}")
            aside = {s for s, p in phases(moves).items() if p == "side"} if moves else set()
            for value in itertools.islice(options, REPAIR_CANDIDATES):
                if value is None and not f.nullable:
                    continue
                if self._ahead_of_clock(f, value):  # what is done is not ahead of the clock
                    continue
                if value in aside:  # a visit is called off only when no other slot will do
                    later.append((f, value))
                    continue
                fixed = self._try(env, meta, entity, record, f, as_kind(value, f.kind), check)
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
            # records no other record of this entity names yet first (an order not redeemed)
            taken = {hashable(r.get(f.name)) for r in self.index.get(entity, {}).values()}
            keys.sort(key=lambda k: hashable(k) in taken)
            for key in keys[:REPAIR_CANDIDATES]:
                if key != record.get(f.name):
                    fixed = self._try(env, meta, entity, record, f, key, check)
                    if fixed is None:
                        fixed = self._try(env, meta, entity, record, f, key, check, True)
                    if fixed is not None:
                        return fixed
        for f, value in later:
            fixed = self._try(env, meta, entity, record, f, value, check)
            if fixed is not None:
                return fixed
        for f in refs:  # the referred record changed: a rated order is a delivered one
            if self._repair_referred(env, entity, record, f, check, rng):
                return env.db.find(entity, meta.key_of(record)) or record
        return None

    def _most_allowed(
        self, env: Any, entity: str, record: dict, f: EntityField, check: Check, rng: random.Random
    ) -> list[Any]:
        """For a number the check reads only inside arithmetic (a payment inside the sum of
        an invoice's payments, which must not pass what is due), the most it may be, found
        by halving between nothing and its value: what is left to pay. Candidates are then
        shares of it and it; a third of the time it comes first (the rest paid in full)."""
        value = record.get(f.name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            return []

        def holds(x: float) -> bool:  # written, as the check may read it through a query
            trial = {**record, f.name: round(x, 2) if f.kind == "float" else int(x)}
            env.connection.execute("SAVEPOINT most")
            try:
                env.db.update(entity, trial, f.name, as_move=False)
                return judge(check, env.db, entity, trial) is None
            except (apsw.ConstraintError, ToolError):
                return False
            finally:
                env.connection.execute("ROLLBACK TO most")
                env.connection.execute("RELEASE most")

        low, high = 0.0, float(value)
        if holds(high) or not holds(0.01 if f.kind == "float" else 1):
            return []
        for _ in range(24):
            middle = (low + high) / 2
            low, high = (middle, high) if holds(middle) else (low, middle)
        most = round(low, 2) if f.kind == "float" else int(low)
        while most > 0 and not holds(most):  # rounding may have stepped past the bound
            most = round(most - 0.01, 2) if f.kind == "float" else most - 1
        if most <= 0:
            return []
        share = round(most * rng.uniform(0.3, 0.9), 2 if f.kind == "float" else None)
        return [most, share] if rng.random() < 1 / 3 else [share, most]

    def _under_way_today(self, entity: str, name: str, record: dict) -> bool:
        """Whether a record whose status is in its first or a middle state, and that has no
        date of when it happens, was made on the clock's day (an order still preparing was
        placed today): what began on an earlier day has moved on."""
        moves = self.manifest.transitions.get(f"{entity}.{name}")
        if not moves or record.get(name) not in moves:
            return True
        if phases(moves)[record[name]] not in ("start", "middle"):
            return True
        events = self._event_fields(entity)  # type: ignore[attr-defined]
        happens = [g for g in events if set(g.name.split("_")) & {"start", "departure"}]
        made = [record[g.name] for g in events if isinstance(record.get(g.name), str)]
        return bool(happens) or not made or min(made)[:10] == self.clock[:10]

    def _roll_back(self, env: Any, savepoint: str, mark: int) -> None:
        """Undo an attempt: the database back to the savepoint, and the accepted records it
        rewrote (a visit made completed for an invoice that was then dropped) as stored."""
        env.connection.execute(f"ROLLBACK TO {savepoint}")
        env.connection.execute(f"RELEASE {savepoint}")
        for entity, key in self.rewritten[mark:]:
            if key in self.index.get(entity, {}):
                self.index[entity][key] = env.db.find(entity, key) or self.index[entity][key]
        del self.rewritten[mark:]

    def _readers(self, env: Any, entity: str, record: dict, name: str) -> int:
        """How many invariants on the entity's rows read the field (learned on the first
        record that needs a repair, then kept)."""
        known = self._read_by.get((entity, name))
        if known is None:
            checks = dict(reversed(self.row_checks.get(entity, [])))  # each invariant once
            known = sum(reads(c, env.db, entity, record, name) for c in checks.values())
            self._read_by[entity, name] = known
        return known

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
        before: set[str] | None = None  # what is broken before any change, learned once
        for g in spec.fields:
            if g.name in spec.key or is_derived(g) or g.kind in ("ref", "json"):
                continue
            seen = probe(check, env.db, entity, record, g.name, (target, other))
            if not seen:
                continue
            options = candidates(rng, other.get(g.name), seen, g.kind, g.enum)
            for value in itertools.islice(options, REPAIR_CANDIDATES):
                changed = {**other, g.name: as_kind(value, g.kind)}
                if g.kind == "enum":  # a status the clock rules out (a visit ahead, done)
                    clocked = dict(changed)
                    self._clock_status(target, clocked, random.Random(0))
                    if clocked[g.name] != changed[g.name]:
                        continue
                    self._with_status_fields(target, changed)
                if (value is None and not g.nullable) or judge(
                    check, env.db, entity, record, (target, changed)
                ):
                    continue
                if before is None:
                    before = self._broken_reading(env, {target})
                if self._rewrite(env, target, changed, g.name, before):
                    self.index[target][key] = env.db.find(target, key) or changed
                    self.rewritten.append((target, key))
                    return True
        return False

    def _fresh_text(self, entity: str, f: EntityField, record: dict) -> Any:
        """A text drawn anew for a field a check wants not empty (a completed visit's notes)."""
        seeded = random.Random(json.dumps(record, sort_keys=True, default=str))
        schema = self.schemas[entity]
        ctx = self._referred_context(entity, record, seeded)
        return self._field_value(entity, f, record, seeded, schema, False, ctx, fresh=True)

    def _with_status_fields(self, entity: str, record: dict) -> None:
        """What a status brings (a cancelled visit's cancel reason, a delivered trip's time),
        made for a record given that status."""
        seeded = random.Random(json.dumps(record, sort_keys=True, default=str))
        schema = self.schemas[entity]
        self._status_dates(
            entity,
            record,
            lambda h: self._field_value(
                entity,
                h,
                record,
                seeded,
                schema,
                False,
                RecordContext(seeded, home=self.home),
                fresh=True,
            ),
        )

    def _rewrite(
        self, env: Any, entity: str, record: dict, name: str, before: set[str] | None = None
    ) -> bool:
        """Write one field of an accepted record, kept only when every invariant that held
        still holds, once the records that refer to it have met their own invariants again
        (the delivery of an order made delivered is delivered too)."""
        if before is None:
            before = self._broken_reading(env, {entity})
        # The set-aside invariants whose records exist by now, that held on it (an order is
        # not made delivered while no trip delivered it) are kept too.
        ready = self._ready_deferred(env, entity, record)
        env.connection.execute("SAVEPOINT rewrite")
        undo: list[tuple[str, Any, dict]] = []
        try:
            stored = env.db.find(entity, env.db.tables[entity].key_of(record)) or {}
            names = [n for n in record if n == name or record[n] != stored.get(n, record[n])]
            env.db.update(entity, record, *names, as_move=False)  # with what the status brings
            broken = [
                n for n, c in self.row_checks.get(entity, []) if judge(c, env.db, entity, record)
            ]
            new = self._broken_reading(env, {entity}) - before
            if new and not broken and not self._cascading:
                self._cascading = True
                try:
                    self._follow(env, entity, record, new, undo)
                finally:
                    self._cascading = False
                if undo:
                    followed = {entity} | {other for other, _, _ in undo}
                    new = self._broken_reading(env, followed) - before
            ok = not broken and not new
            ok = ok and not any(judge(c, env.db, entity, record) for _, c in ready)
        except (apsw.ConstraintError, ToolError):
            ok = False
        if not ok:
            env.connection.execute("ROLLBACK TO rewrite")
            for other, key, kept in reversed(undo):
                self.index[other][key] = kept
        env.connection.execute("RELEASE rewrite")
        return ok

    def _ready_deferred(self, env: Any, entity: str, record: dict) -> list[tuple[str, Check]]:
        """The set-aside invariants on the entity's rows whose other entities have records
        already, that the stored record meets."""
        stored = env.db.find(entity, env.db.tables[entity].key_of(record))
        if stored is None:
            return []
        return [
            (n, c)
            for n, c in self.deferred.get(entity, [])
            if all(self.index.get(e) for e in self.invariant_reads[n] if e != entity)
            and judge(c, env.db, entity, stored) is None
        ]

    def _follow(self, env: Any, entity: str, record: dict, broken: set[str], undo: list) -> None:
        """The records that refer to a changed record and now break an invariant on their
        own rows meet it again, each by a repair of its own fields."""
        key = env.db.tables[entity].key_of(record)
        by_name = {inv.name: inv for inv in self.manifest.invariants}
        for name in sorted(broken):
            other = by_name[name].entity
            if other is None or other == entity or other not in self.index:
                continue
            refs = [f.name for f in self.manifest.entities[other].fields if f.ref == entity]
            check = self.domain.tools_module.INVARIANTS[name]
            meta = env.db.tables[other]
            rng = random.Random(f"{name}:{key}")
            for own, row in list(self.index[other].items()):
                if not any(row.get(r) == key for r in refs):
                    continue
                if judge(check, env.db, other, row) is None:
                    continue
                fixed = self._meet_row_invariants(env, meta, other, row, rng)
                if fixed is None:
                    return
                undo.append((other, own, row))
                self.index[other][own] = fixed
                self.rewritten.append((other, own))

    def _ahead_of_clock(self, f: EntityField, value: Any) -> bool:
        """Whether a date of something done (created, paid) would be after the clock."""
        done = f.kind in ("date", "datetime") and fakes.PAST_WORDS & set(fakes.words(f.name))
        return bool(done) and isinstance(value, str) and value > self.clock[: len(value)]

    def _referred_context(
        self, entity: str, record: dict, rng: random.Random | None = None
    ) -> RecordContext:
        """A context that knows the records a record refers to."""
        ctx = RecordContext(rng or random.Random(json.dumps(record, default=str)), home=self.home)
        for g in self.manifest.entities[entity].fields:
            if g.kind == "ref" and record.get(g.name) is not None:
                self._know(ctx, g.ref, record[g.name])
        return ctx

    def _try(
        self,
        env: Any,
        meta: Any,
        entity: str,
        record: dict,
        f: EntityField,
        value: Any,
        check: Check,
        moments: bool = False,
    ) -> dict | None:
        """The record with `f` set to `value` and what follows from it, written when the
        check holds; `moments`: for a reference, its moments taken from the record referred
        to (redeemed when the order was placed) are the new one's."""
        trial = {**record, f.name: value}
        if f.kind == "enum":  # a date named after a status follows the new status
            self._clock_status(entity, trial, random.Random(json.dumps(trial, default=str)))
            if trial[f.name] != value:  # a status the clock rules out (a visit ahead, done)
                return None
            if not self._under_way_today(entity, f.name, trial):
                return None
            seeded = random.Random(json.dumps(trial, default=str))
            schema = self.schemas[entity]
            self._status_dates(  # a cancelled visit gets its cancel reason
                entity,
                trial,
                lambda g: self._field_value(
                    entity,
                    g,
                    trial,
                    seeded,
                    schema,
                    False,
                    RecordContext(seeded, home=self.home),
                    fresh=True,
                ),
            )
            # a delivered_at made now follows the other dates
            self._order_dates(entity, trial, self._referred_context(entity, trial, seeded))
        # a total of the lines, and its parts, follow the lines, which for a bill of no
        # visit (its reference emptied) name no visit
        if f.kind == "json" or (
            f.kind == "ref" and value is None and self._redraw_absent(entity, trial)
        ):
            self._totals(entity, trial)
        if f.kind == "str":  # a flight's times follow the airport it now flies to
            self._order_times(entity, trial, again=True)
        if f.kind == "ref":  # what is copied from the referred record follows it
            kept = {}
            old = self.index.get(f.ref or "", {}).get(record.get(f.name)) or {}
            new = self.index.get(f.ref or "", {}).get(value) or {}
            for g in self.manifest.entities[entity].fields:
                copied = self._copied(entity, g, trial) if g is not f else None
                if copied is not None:
                    trial[g.name] = kept[g.name] = copied
                elif moments and g.kind in ("date", "datetime") and record.get(g.name):
                    # a moment taken from the record referred to (redeemed when the order
                    # was placed) is the new one's
                    same = next((h for h, v in old.items() if v == record[g.name]), None)
                    if same is not None and isinstance(new.get(same), str):
                        trial[g.name] = kept[g.name] = new[same]
            # and so do its other dates (a payment of the invoice it now pays follows that one)
            self._order_dates(
                entity, trial, self._referred_context(entity, trial), follow_only=True
            )
            trial.update(kept)
        if f.kind != "enum":  # a visit moved (to another slot) keeps a status its time allows
            clocked = dict(trial)
            self._clock_status(entity, clocked, random.Random(0))
            if clocked != trial:
                return None
        changed = [name for name in trial if trial[name] != record.get(name)]
        if not changed:
            return None  # the record as it is breaks the check
        facts = self.facts.get(entity, {})
        if not all(meets(fact, trial) for name in changed for fact in facts.get(name, [])):
            return None
        env.connection.execute("SAVEPOINT repair")
        try:
            env.db.update(entity, trial, *changed, as_move=False)
            # judged as written: the check may read the record through a query (the sum of
            # an invoice's payments holds the new amount only once it is stored)
            held = judge(check, env.db, entity, trial) is None
        except (apsw.ConstraintError, ToolError):
            held = False
        if not held:
            env.connection.execute("ROLLBACK TO repair")
            env.connection.execute("RELEASE repair")
            return None
        env.connection.execute("RELEASE repair")
        return env.db.find(entity, meta.key_of(trial)) or trial


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
