"""One record's values: keys in the entity's format, references that agree with each other,
values copied from referred records, values aimed at the check facts, unique values."""

from __future__ import annotations

import copy
import random
import re
from typing import Any

from envscale.records import EntityField
from envscale.runtime.rowview import RowView
from envscale.tasks import fakes
from envscale.tasks.generation.facts import bounded, length_range, meets, shaped
from envscale.tasks.generation.lifecycle import phases
from envscale.tasks.generation.state import (
    NOTHING,
    REDRAW,
    TEXT_FIELDS,
    USED_UP,
    RecordContext,
    State,
    hashable,
    is_derived,
)
from envscale.tasks.repair import judge

_NUMBERED = re.compile(r"^([A-Z]+)(\d+)$")
_SUMMED = re.compile(r"\b(?:[Pp]art of the|[Ss]um of)\b")


class RecordValues(State):
    # ---- one record

    def _record(
        self, entity: str, index: int, rng: random.Random, defaults: bool
    ) -> dict | object | None:
        """A record, none when one cannot be made, REDRAW when this draw cannot be kept."""
        spec = self.manifest.entities[entity]
        fields = {f.name: f for f in spec.fields}
        record: dict[str, Any] = {}
        ctx = RecordContext(rng, home=self.home)
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
            if is_derived(f):  # the runtime computes it on insert
                record[f.name] = _placeholder(f, schema)
                continue
            record[f.name] = self._field_value(entity, f, record, rng, schema, defaults, ctx)
            if f.unique and f.kind == "str" and "name" in fakes.words(f.name):
                # unique now, so what follows the name (a product's options) keeps to it
                record[f.name] = self._unique(entity, f, record, rng, schema, ctx)
            if f.kind == "ref" and not f.nullable and record[f.name] is None:
                self.failure[entity] = f"'{f.name}' must refer to a {f.ref}, and there is none"
                return None
            if f.kind == "ref" and record[f.name] is not None:
                self._know(ctx, f.ref, record[f.name])
        self._from_lines(entity, record)
        self._order_times(entity, record)
        self._clock_status(entity, record, rng)
        self._status_dates(
            entity,
            record,
            lambda f: self._field_value(entity, f, record, rng, schema, False, ctx, fresh=True),
        )
        if not self._replacements(entity, record) and not defaults:
            self.failure[entity] = "no line has another kind of it to exchange for"
            return REDRAW
        self._redraw_absent(entity, record)  # a line drawn before its reference was emptied
        self._order_dates(entity, record, ctx)
        self._totals(entity, record)
        self.short_paid = False
        self._payments(entity, record)
        if self.short_paid and not defaults:  # a payer whose saved balances cannot pay it
            self.failure[entity] = "no saved method of the payer holds what the payment takes"
            return REDRAW
        for f in rest:
            if not is_derived(f):
                self._relate(entity, f, record, rng, schema, ctx)
        self._order_times(entity, record, again=True)  # an end related to another above
        for f in rest:
            if f.unique and not is_derived(f):
                record[f.name] = self._unique(entity, f, record, rng, schema, ctx)
                if record[f.name] is USED_UP:
                    self.failure[entity] = f"every value of unique '{f.name}' is taken"
                    return None
        self._key_names_percent(entity, record)
        return {f.name: record[f.name] for f in spec.fields}

    def _key_names_percent(self, entity: str, record: dict) -> None:
        """A key that ends in a number (a promo code SAVE10) on a record with a percent names
        that percent: SAVE35 takes 35% off; a second code of the same percent gets a letter."""
        spec = self.manifest.entities[entity]
        percent = next(
            (f.name for f in spec.fields if f.kind == "int" and "percent" in fakes.words(f.name)),
            None,
        )
        if len(spec.key) != 1 or percent is None or not isinstance(record.get(percent), int):
            return
        found = _NUMBERED.match(str(record[spec.key[0]]))
        if found is None:
            return
        taken = self.index.get(entity, {})
        for suffix in ["", *"BCDEFGHJKLMNPQRSTUVWXYZ"]:
            key = f"{found.group(1)}{record[percent]:0{len(found.group(2))}d}{suffix}"
            if key not in taken:
                record[spec.key[0]] = key
                return

    def _know(self, ctx: RecordContext, target: str | None, key: Any) -> None:
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
        ctx: RecordContext,
    ) -> Any:
        fixed = self.fixed.get(entity)
        if fixed is not None:  # a record the tools look up by a constant key
            return fixed[index] if index < len(fixed) else None
        if f.kind == "ref":
            choices = self._agreeing(f.ref, ctx)
            choices = self._matchable(entity, f, choices) or choices
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

    def _matchable(self, entity: str, f: EntityField, choices: list) -> list:
        """Of the records a key reference may name, those that another reference of the record
        can still agree with: a redemption's customer is one with an order no redemption
        names yet (the order must be the customer's own)."""
        spec = self.manifest.entities[entity]
        made = self.index.get(entity, {}).values()
        for g in spec.fields:
            if g.kind != "ref" or g.name in spec.key or g.ref in (None, entity, f.ref):
                continue
            owner = next(
                (h.name for h in self.manifest.entities[g.ref].fields if h.ref == f.ref), None
            )
            if owner is None:
                continue
            taken = {r.get(g.name) for r in made}
            free = {
                r.get(owner) for k, r in self.index.get(g.ref or "", {}).items() if k not in taken
            }
            choices = [c for c in choices if c in free]
        return choices

    def _agreeing(self, target: str | None, ctx: RecordContext) -> list:
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
        ctx: RecordContext,
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
        ctx: RecordContext,
        fresh: bool = False,
    ) -> Any:
        """A value for one field; `fresh`, never the default nor none."""
        has_default = "default" in f.model_fields_set
        if has_default and not fresh and (defaults or rng.random() < 0.3):
            return self._constant(f.default)
        # An optional status is set only once something befell the record (a cancellation):
        # most records have none.
        unset = 0.8 if f.kind == "enum" and "status" in fakes.words(f.name) else 0.3
        if f.nullable and not fresh and (defaults or rng.random() < unset):
            return None
        copied = self._copied(entity, f, record)
        if copied is None and f.kind == "ref":
            return self._reference(entity, f, record, rng, ctx)
        if copied is not None:
            return copied
        if f.kind == "enum":
            fitting = self._members_that_fit(entity, f, record)
            return fakes.exit_weighted(rng, fitting, self._held(entity, f.name))
        prop = schema["properties"].get(f.name, {})
        doc = " ".join(d for d in (prop.get("description"), self._doc(entity)) if d)
        if f.kind == "json":
            target = self.links.element_ref(f)
            if target is not None:
                return self._ref_list(entity, f, rng, ctx, target)
            ids = self._sibling_ids(rng, f.name, prop, record)
            if ids is not NOTHING:  # return_items: some of the ids the record's lines hold
                return ids
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
            if linked is not NOTHING:
                return linked
        if f.kind == "str" and "email" in fakes.words(f.name):
            first, last = _names_in(record)
            if first or last:
                return fakes.email(rng, first, last)
            return ctx.persona.email
        offered = self.writes.choices.get((entity, f.name))
        if f.kind == "str" and offered:  # what a tool sets it from a @choices parameter
            return rng.choice(offered)
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
        self, entity: str, f: EntityField, rng: random.Random, ctx: RecordContext, target: str
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
            value = shaped(value, low, high, rng, f.name)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = bounded(value, facts, rng)
        for _ in range(10):  # a value ruled out by `!=` or `not in`
            if all(meets(fact, {f.name: value}) for fact in facts):
                break
            if isinstance(value, str):
                value = shaped("", *length_range(facts), rng, f.name)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = bounded(value + rng.randint(1, 9), facts, rng)
        return value

    def _relate(
        self,
        entity: str,
        f: EntityField,
        record: dict,
        rng: random.Random,
        schema: dict,
        ctx: RecordContext,
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
                doc = schema["properties"].get(other, {}).get("description") or ""
                if _SUMMED.search(doc):  # a part or a sum of a total stays: the field moves
                    movable = False
                    value, bound = record[name], record[other]
                    if op in ("<", "<=") and isinstance(bound, float) and bound > 0:
                        record[name] = round(bound * rng.uniform(0.0, 1.0), 2)
                        if meets(fact, record):
                            continue
                    if isinstance(value, float) and value != record[name]:
                        record[name] = value
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
        self, entity: str, f: EntityField, record: dict, rng: random.Random, ctx: RecordContext
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
            agreeing = [k for k in agreeing if hashable(k) not in used]
            candidates = [k for k in candidates if hashable(k) not in used] or candidates
            agreeing = self._waiting_first(entity, target or "", agreeing)
            agreeing = self._fitting_first(entity, f, record, agreeing)
        if not agreeing:
            return None if f.nullable else rng.choice(candidates)
        # A record of something done refers to things that began before the clock: an
        # invoice is for a past visit.
        if self._done_dates(entity):
            begun = [k for k in agreeing if self._begun(target, k)]
            agreeing = begun or agreeing
            # and, of things that move through declared states, to ones that are over
            # (a refund is of an order delivered or cancelled, not of one being prepared)
            over = [k for k in agreeing if self._over(target, k)]
            agreeing = over or agreeing
        # Two references to one entity point at two records: a transfer's two accounts.
        others = {
            record.get(g.name)
            for g in self.manifest.entities[entity].fields
            if g.ref == target and g.name != f.name
        }
        apart = [k for k in agreeing if k not in others]
        return rng.choice(apart or agreeing)

    def _members_that_fit(self, entity: str, f: EntityField, record: dict) -> list:
        """The members of an enum field that fit the records it refers to: one naming a
        referred record's state when it is in it, none naming a state it is not in (a
        refund's reason is `cancelled_order` for an order cancelled, never for one
        delivered)."""
        members = list(f.enum or [])
        fitting, naming = [], []
        for member in members:
            said = set(fakes.words(str(member)))
            fits = True
            for g in self.manifest.entities[entity].fields:
                if g.kind != "ref":
                    continue
                key = record.get(g.name)
                # a ref inside a list or struct field is no single record's key
                if isinstance(key, (dict, list)):
                    continue
                other = self.index.get(g.ref or "", {}).get(key)
                if other is None:
                    continue
                if not set(fakes.words(g.ref or "")) <= said:
                    continue
                for h in self.manifest.entities[g.ref or ""].fields:
                    named = [s for s in h.enum or [] if s in said] if h.kind == "enum" else []
                    if named and other.get(h.name) not in named:
                        fits = False
                    elif named:
                        naming.append(member)
            if fits:
                fitting.append(member)
        # a member naming the state the referred record is in is the one (a refund of an
        # order cancelled is for the cancelled order)
        return naming or fitting or members

    def _waiting_first(self, entity: str, target: str, keys: list) -> list:
        """Of the records a one-to-one reference may take, those that wait for a record of
        this entity (an order delivered with no trip yet, for a delivery), else those whose
        set-aside invariants hold; never one that waits for a record of another entity (an
        order no trip delivered, for a rating)."""
        held = self.deferred.get(target, [])
        if not held or self.env is None:
            return keys
        reads = self.invariant_reads
        ready = [
            (n, c)
            for n, c in held
            if all(self.index.get(e) or e == entity for e in reads[n] if e != target)
        ]
        waiting, fine = [], []
        for key in keys:
            row = self.index[target].get(key)
            broken = [n for n, c in ready if row is not None and judge(c, self.env.db, target, row)]
            if not broken:
                fine.append(key)
            elif all(entity in reads[n] for n in broken):
                waiting.append(key)
        return waiting or fine or keys

    def _fitting_first(self, entity: str, f: EntityField, record: dict, keys: list) -> list:
        """Of the records a one-to-one reference may take, those on which the entity's own
        invariants that read them hold already with the values made so far (a rating takes
        an order delivered, while one is left): what each would need is kept for the
        records that need it. Checks that cannot be judged on a part-made record count for
        nothing."""
        if self.env is None or len(keys) < 2:
            return keys
        checks = [c for n, c in self.row_checks.get(entity, []) if f.ref in self.invariant_reads[n]]
        fitting = []
        for key in keys:
            row = {**record, f.name: key}
            try:
                fits = all(
                    c(RowView(self.env.db, entity, row), every_row=True) is None for c in checks
                )
            except Exception:  # a value not made yet: this check says nothing here
                fits = False
            if fits:
                fitting.append(key)
        return fitting or keys

    def _done_dates(self, entity: str) -> bool:
        """Whether the entity has a date of something done (issued, paid, created)."""
        return any(
            f.kind in ("date", "datetime") and fakes.PAST_WORDS & set(fakes.words(f.name))
            for f in self.manifest.entities[entity].fields
        )

    def _over(self, entity: str | None, key: Any) -> bool:
        """Whether the record is in a final or side state of a status field with declared
        transitions (delivered, cancelled); False when it has none."""
        record = self.index.get(entity or "", {}).get(key) or {}
        for name, moves in self.manifest.transitions.items():
            owner, _, field = name.partition(".")
            if owner == entity and record.get(field) in moves:
                return phases(moves)[record[field]] in ("final", "side")
        return False

    def _begun(self, entity: str | None, key: Any) -> bool:
        """Whether the record's first events are not after the clock."""
        record = self.index.get(entity or "", {}).get(key) or {}
        return all(
            not isinstance(record.get(g.name), str)
            or record[g.name] <= self.clock[: len(record[g.name])]
            for g in self._event_fields(entity or "")
        )

    def _copied(self, entity: str, f: EntityField, record: dict) -> Any:
        """A field named and typed like a field of a referred record takes its value: an
        appointment starts when its slot does, with the slot's clinician; an order goes to
        its customer's address and costs its restaurant's delivery fee."""
        spec = self.manifest.entities[entity]
        if f.kind in ("bool", "enum", "str") or f.name in spec.key or f.name in TEXT_FIELDS:
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
        ctx: RecordContext,
    ) -> Any:
        value = record[f.name]
        used = self.used.setdefault((entity, f.name), set())
        for _ in range(40):
            if value is None or hashable(value) not in used:
                return value
            if f.kind == "ref":  # another record to refer to, when one is left
                free = [k for k in self.index.get(f.ref or "", {}) if hashable(k) not in used]
                return rng.choice(free) if free else (None if f.nullable else USED_UP)
            value = self._field_value(
                entity,
                f,
                record,
                rng,
                schema,
                False,
                RecordContext(rng, ctx.known, ctx.referred, ctx.home),
            )
        if f.kind in ("enum", "bool"):
            return USED_UP
        if f.kind in ("date", "datetime"):  # the next day nobody has
            day = 0
            while hashable(value) in used:
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
                hashable(
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
    if tokens & TEXT_FIELDS or "description" in tokens:
        return 4
    return 2 if f.kind == "json" else 1
