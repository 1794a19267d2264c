"""Values of JSON fields: structs whose references agree with the record and whose other
fields copy the referred records, lists with one line per referred record, maps keyed by
enum members, ids or a documented format, option sets."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from envscale.tasks import fakes
from envscale.tasks.generation.state import NOTHING, RecordContext, State, inner_schema, schema_type
from envscale.tasks.links import plural, shape_ref


class NestedValues(State):
    # ---- values of JSON fields: structs, lists and maps

    def _from_schema(
        self,
        rng: random.Random,
        schema: dict,
        name: str,
        entity: str,
        defs: dict,
        optional: bool,
        ctx: RecordContext,
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
            count = rng.randint(0 if optional else 1, 3)
            if not struct_of and fakes.words(name)[-1:] in (["id"], ["number"]):
                count = 1  # a list named for one id (a shipment's `tracking_id`) holds one
            if struct_of and (kept := self._kept_list(rng, struct_of, name, count, ctx)):
                return kept
            contexts = [
                RecordContext(rng, ctx.known, ctx.referred, ctx.home) if struct_of else ctx
                for _ in range(count)
            ]
            items: list[Any] = []
            for each in contexts:
                if struct_of:
                    each.after = items[-1] if items else None
                    each.earlier = list(items[:-1])
                item = self._from_schema(rng, item_schema, name, entity, defs, False, each, record)
                if item is NOTHING:  # no record continues the path of the lines before
                    break
                items.append(item)
            if struct_of:
                items = _shared_once(items, record)
            if struct_of and items and _round(record):  # a round trip comes back
                back = RecordContext(rng, ctx.known, ctx.referred, ctx.home)
                back.after, back.closing, back.earlier = items[-1], items[0], list(items[:-1])
                item = self._from_schema(rng, item_schema, name, entity, defs, False, back, record)
                if item is not NOTHING:
                    items.append(item)
            unique: list[Any] = []
            for item in items:  # and one line per referred record (a dish once per order)
                if item not in unique and not (
                    isinstance(item, dict)
                    and any(
                        self._same_ref(item, u, struct_of) or _same_naming(item, u) for u in unique
                    )
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
        items = sub.get("items") or inner_schema(sub).get("items") or {}
        if schema_type(sub) != "array" or schema_type(items) not in (
            "string",
            None,
        ):
            return NOTHING
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
        return NOTHING

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
        ctx: RecordContext,
        record: dict,
    ) -> dict:
        sub = schema.get("additionalProperties") or {"type": "string"}
        keys = schema.get("propertyNames") or {}
        keys = defs.get(keys["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in keys else keys
        members = keys.get("enum") or ([keys["const"]] if "const" in keys else [])
        if members:  # a map keyed by an enum's members: the same ones across the record
            held = tuple(str(m) for m in members)
            if held not in ctx.enum_keys:
                ctx.enum_keys[held] = rng.sample(members, rng.randint(1, len(members)))
            chosen = list(ctx.enum_keys[held])
            if _is_fare(name, sub):
                # fares by class: in the enum's order (the lowest class first), each dearer
                # than the one before, and all of them after the route's distance
                base = fakes.route_fare(rng, self._route_km(record))
                return {
                    key: fakes.class_fare(base, members.index(key))
                    for key in sorted(chosen, key=members.index)
                }
            return {
                key: self._from_schema(rng, sub, name, entity, defs, False, ctx, record)
                for key in sorted(chosen, key=members.index)
            }
        doc = schema.get("description") or ""
        strings = sub.get("items", {}).get("type") == "string"
        if "option" in name and (sub.get("type") == "string" or strings):
            if ctx.options is None:  # one option set per record: its variants share it
                named = next(
                    (
                        v
                        for k, v in record.items()
                        if "name" in fakes.words(k) and isinstance(v, str)
                    ),
                    "",
                )
                ctx.options = fakes.option_sets(rng, entity, f"{doc} {self._doc(entity)}", named)
            if strings:
                return copy.deepcopy(ctx.options)
            # the variants of one record differ in their options while combinations are left
            for _ in range(20):
                picked = {option: rng.choice(choices) for option, choices in ctx.options.items()}
                if repr(sorted(picked.items())) not in ctx.picked:
                    break
            ctx.picked.add(repr(sorted(picked.items())))
            return picked
        if "YYYY-MM-DD" in doc and "HH:MM" not in doc:  # by day: a run of days near the clock
            start = rng.randint(-12, 8)
            days = [fakes.shift_date(self.clock, start + i) for i in range(rng.randint(4, 12))]
            by_day = {}
            for day in days:
                entry = self._from_schema(rng, sub, name, entity, defs, False, ctx, record)
                by_day[day] = self._day_entry(rng, entry, day, sub, defs, record, ctx)
            return by_day
        values = [
            self._from_schema(rng, sub, name, entity, defs, False, ctx, record)
            for _ in range(rng.randint(1, 3))
        ]
        values = _one_of_a_plain_kind(_distinct_options(values))
        _priced_alike(rng, values, record)
        # A map of records that carry an id is keyed by that id (methods saved under their
        # own id); a map whose doc names a key format is keyed in it (by day, YYYY-MM-DD).
        return {
            _own_id(value) or self._formatted(rng, schema, name) or fakes.word(rng): value
            for value in values
        }

    def _route_km(self, record: dict) -> float | None:
        """The distance between the two known places a record (or the record it is a part
        of) runs between: a flight's origin and destination."""
        for start, end in endpoints(list(record)):
            km = fakes.route_km(record.get(start), record.get(end))
            if km is not None:
                return km
        return None

    def _struct(
        self,
        rng: random.Random,
        schema: dict,
        struct: str,
        entity: str,
        defs: dict,
        ctx: RecordContext,
        record: dict,
    ) -> Any:
        """A struct value whose references agree with the record, whose other fields copy
        what the referred records hold (a line's name and price are its item's), and whose
        optional fields are present when the doc ties them to a value present (a gift
        card's balance). A line after another (`ctx.after`) continues its path: it refers to
        a record that starts where the line before ends, on the same day or later; NOTHING
        when none does."""
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
                if ctx.after is not None:
                    keys = self._continuing(
                        props, target, keys, ctx.after, ctx.closing, ctx.earlier
                    )
                    if not keys:
                        return NOTHING
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
                sub = {**inner_schema(sub), "description": sub.get("description", "")}
            value = self._listed_value(prop, sub, linked, out, record)
            if value is NOTHING:
                wanted = [p for p, s in props.items() if schema_type(s) in ("integer", "number")]
                value = self._linked_value(
                    rng, prop, sub, linked, record, ctx.after, wanted, ctx.closing is not None
                )
            if value is NOTHING:
                inner = {**record, "__source": out.get(first) if source is not None else None}
                value = self._from_schema(rng, sub, prop, entity, defs, False, ctx, inner)
                absent = self._absent_words(entity, record)
                for _ in range(REDRAWS):  # a bill for no visit names no visit
                    if not isinstance(value, str) or not _names_any(value, absent):
                        break
                    value = self._from_schema(rng, sub, prop, entity, defs, False, ctx, inner)
                value = self._price_listed(struct, prop, sub, out, value)
            out[prop] = value
        return {p: out[p] for p in props if p in out}

    def _redraw_absent(self, entity: str, record: dict) -> bool:
        """Draw again the lines of a record that name what an optional reference it no longer
        holds was about (an invoice's "Telehealth consultation", once it bills no visit);
        whether any was drawn again."""
        absent = self._absent_words(entity, record)
        schema = self.schemas.get(entity)
        if not absent or schema is None:
            return False
        defs = schema.get("$defs", {})
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}:{sorted(record.items())!r}")
        changed = False
        for name, lines in record.items():
            struct = (
                schema["properties"].get(name, {}).get("items", {}).get("$ref", "").rsplit("/")[-1]
            )
            if not struct or not isinstance(lines, list):
                continue
            for i, line in enumerate(lines):
                if not isinstance(line, dict) or not _names_line(line, absent):
                    continue
                for _ in range(REDRAWS):
                    ctx = RecordContext(rng, home=self.home)
                    drawn = self._struct(rng, defs[struct], struct, entity, defs, ctx, record)
                    if not _names_line(drawn, absent):
                        lines[i], changed = drawn, True
                        break
        return changed

    def _absent_words(self, entity: str, record: dict) -> set[str]:
        """Stems of what the record's optional references left empty are about: the
        referred entity's name and doc, and its enums' members (a visit, its types and
        statuses, for an invoice of no visit)."""
        words: set[str] = set()
        for f in self.manifest.entities.get(entity, _NO_SPEC).fields:
            if f.kind != "ref" or not f.nullable or record.get(f.name) is not None:
                continue
            spec = self.manifest.entities.get(f.ref or "")
            if spec is None:
                continue
            text = [re.sub(r"(?<!^)(?=[A-Z])", " ", f.ref or ""), spec.doc or ""]
            text += [m.replace("_", " ") for g in spec.fields for m in (g.enum or [])]
            words |= {_stem(w) for w in re.findall(r"[a-z]+", " ".join(text).lower())}
        return {w for w in words if len(w) >= 4 and w not in _COMMON}

    def _price_listed(self, struct: str, prop: str, sub: dict, out: dict, value: Any) -> Any:
        """A line's money amount for what its one naming text (NAMING) says is the same on
        every record (a flu vaccination costs what it costs): the first one drawn, kept."""
        texts = [v for p, v in out.items() if isinstance(v, str) and set(fakes.words(p)) & NAMING]
        money = set(fakes.words(prop)) & fakes.MONEY_WORDS
        if len(texts) != 1 or not money or schema_type(sub) not in ("integer", "number"):
            return value
        usual = fakes.BILLED_PRICES.get(texts[0])  # a flu shot costs what flu shots do
        if usual is not None and isinstance(value, float):
            low, high = usual
            seeded = random.Random(f"{struct}.{prop}:{texts[0]}:{value}")
            value = round(seeded.uniform(low, high), 2)
        return self.price_list.get((struct, prop, texts[0]), value)

    def _list_prices(self, entity: str, record: dict) -> None:
        """Keep the amounts an accepted record's lines hold for what they name, for the
        lines of later records (`_price_listed`)."""
        props = self.schemas.get(entity, {}).get("properties", {})
        for name, items in record.items():
            struct = props.get(name, {}).get("items", {}).get("$ref", "").rsplit("/", 1)[-1]
            if not struct or not isinstance(items, list):
                continue
            for line in items:
                if not isinstance(line, dict):
                    continue
                texts = [
                    v
                    for p, v in line.items()
                    if isinstance(v, str) and set(fakes.words(p)) & NAMING
                ]
                if len(texts) != 1:
                    continue
                for prop, amount in line.items():
                    money = set(fakes.words(prop)) & fakes.MONEY_WORDS
                    if money and isinstance(amount, int | float) and not isinstance(amount, bool):
                        self.price_list.setdefault((struct, prop, texts[0]), amount)

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
        after: dict | None = None,
        wanted: Sequence[str] = (),
        closing: bool = False,
    ) -> Any:
        """A struct field's value taken from a referred record: the field of the same name,
        a key of its map named like the field (a flight's dates, a user's payment methods),
        or an entry of a map whose entries carry the field (a product's variant). A key is
        one whose entry lists the `wanted` fields for the record's values (a day the flight
        has a fare in the reservation's cabin), and not before the line `after`'s."""
        ids = self._sibling_ids(rng, prop, sub, record or {})
        if ids is not NOTHING:
            return ids
        text = schema_type(sub) == "string"
        stem = prop[:-3] if prop.endswith("_id") else prop
        for own, other in list(linked):
            value = other.get(prop) if own else None
            if value is not None and not isinstance(value, dict) and alike(sub, value):
                return fitted(sub, copy.deepcopy(value))
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
                if (
                    name in (plural(stem), plural(prop))
                    or (name.startswith(stem) and name != prop)
                    or plural(stem).endswith(f"_{name}")  # return_payment_method_id
                ):
                    fitting = self._fitting_keys(prop, held, other, record, after, wanted, closing)
                    return rng.choice(fitting)
                entries = [v for v in held.values() if isinstance(v, dict) and prop in v]
                if entries:
                    entry = rng.choice(entries)
                    linked.insert(0, (True, entry))
                    return entry[prop]
        return NOTHING

    def _fitting_keys(
        self,
        prop: str,
        held: dict,
        other: dict,
        record: dict | None,
        after: dict | None,
        wanted: Sequence[str],
        closing: bool = False,
    ) -> list:
        """The keys of a referred record's map (its days) a line may take: after the line
        before, a day the connection fits (`_fitting_days`), and one whose entry lists the
        `wanted` values (a fare in the reservation's cabin)."""
        keys = sorted(held)
        previous = after.get(prop) if after is not None else None
        if isinstance(previous, str):
            keys = self._fitting_days(after or {}, other, keys, closing)
        values = [v for v in (record or {}).values() if isinstance(v, str)]
        listing = [
            k for k in keys if all(listed(held[k], w, values) is not NOTHING for w in wanted)
        ]
        return listing or keys

    def _fitting_days(self, before: dict, other: dict, days: list, closing: bool) -> list:
        """The days a line continuing `before` may be on. Where both records keep times of
        day (a departure, an arrival), an onward line leaves between MIN_LAYOVER and a day
        after the one before lands, and a line coming back leaves a day or more after it
        (at least MIN_LAYOVER when no later day runs); else the day of the line before,
        or the first day after it."""
        gaps = {day: self._layover(before, other, str(day)) for day in days}
        if all(gap is not None for gap in gaps.values()):
            if closing:
                later = [d for d, g in gaps.items() if g is not None and g >= 12 * 60]
                return later[:7] or [d for d, g in gaps.items() if g and g >= MIN_LAYOVER]
            return [d for d, g in gaps.items() if g is not None and MIN_LAYOVER <= g <= MAX_LAYOVER]
        on = next((v for v in before.values() if isinstance(v, str) and _ISO_DAY.match(v)), "")
        same = [k for k in days if k == on]
        later = [k for k in days if str(k) > on]
        return same or later[:1] or days[-1:]

    def _continuing(
        self,
        props: dict,
        target: str,
        keys: list,
        after: dict,
        closing: dict | None = None,
        earlier: Sequence[dict] = (),
    ) -> list:
        """The records a line may refer to when it continues the line before: those that
        start where the earlier one ends (its origin is the other's destination), that do
        not go back to a place an onward line has left, and that run on a day the
        connection fits."""
        records = self.index[target]
        for start, end in endpoints(props):
            if isinstance(after.get(end), str):
                keys = [k for k in keys if records[k].get(start) == after[end]]
                keys = [k for k in keys if not any(v == k for v in after.values())]
            if closing is not None and isinstance(closing.get(start), str):
                keys = [k for k in keys if records[k].get(end) == closing[start]]
            elif closing is None:
                left = {line.get(start) for line in [*earlier, after]}
                keys = [k for k in keys if records[k].get(end) not in left]
                # and the trip so far with it goes not far out of its way
                stops = [*(line.get(start) for line in [*earlier, after]), after.get(end)]
                keys = [k for k in keys if fakes.detour_fits([*stops, records[k].get(end)])]
        for prop, value in after.items():
            if prop not in props or not isinstance(value, str) or not _ISO_DAY.match(value):
                continue
            keys = [
                k
                for k in keys
                if any(
                    isinstance(days, dict)
                    and self._fitting_days(
                        after,
                        records[k],
                        [d for d in sorted(days) if str(d) >= value],
                        bool(closing),
                    )
                    for name, days in records[k].items()
                    if name in (plural(prop), f"{prop}s") or name.startswith(prop)
                )
            ]
        return keys

    def _layover(self, before: dict, other: dict, day: str) -> int | None:
        """Minutes from when the line `before` lands (its record's arrival time on its day,
        `+1` the next) to when `other` leaves on `day`; None when either time is unknown."""
        earlier = next(
            (
                self.index[e][k]
                for e, records in self.index.items()
                for k in [v for v in before.values() if isinstance(v, str)]
                if k in records and e in self.manifest.entities
            ),
            None,
        )
        on = next((v for v in before.values() if isinstance(v, str) and _ISO_DAY.match(v)), None)
        if earlier is None or on is None or not _ISO_DAY.match(day):
            return None
        arrives = _time_named(earlier, "arrival")
        leaves = _time_named(other, "departure")
        if arrives is None or leaves is None:
            return None
        landed = _minutes_of(on, arrives)
        return _minutes_of(day, leaves) - landed

    def _listed_value(
        self, prop: str, sub: dict, linked: list[tuple[bool, dict]], out: dict, record: dict
    ) -> Any:
        """A number the struct's own referred record lists for the values the struct and the
        record hold: a segment's fare is its flight's price on the segment's day in the
        reservation's cabin (`dates[day].prices[cabin]`)."""
        if schema_type(sub) not in ("integer", "number"):
            return NOTHING
        values = [v for v in out.values() if isinstance(v, str)]
        values += [v for v in record.values() if isinstance(v, str)]
        for own, other in linked:
            if own and (found := listed(other, prop, values)) is not NOTHING:
                return fitted(sub, found)
        return NOTHING

    def _kept_list(
        self, rng: random.Random, struct: str, name: str, count: int, ctx: RecordContext
    ) -> list[dict]:
        """Items of a list drawn from the person the record refers to, when that record keeps
        a list of the same struct under another name: a reservation's passengers are the
        member (usually first) and people the member saved."""
        fields = [g.name for g in self.manifest.structs.get(struct, [])]
        for entity, other in ctx.referred:
            props = self.schemas.get(entity, {}).get("properties", {})
            kept = [
                item
                for field_name, prop in props.items()
                if field_name != name
                and prop.get("items", {}).get("$ref", "").rsplit("/", 1)[-1] == struct
                for item in other.get(field_name) or []
            ]
            person = _as_struct(other, fields)
            if not kept and person is None:
                continue
            pool = [copy.deepcopy(k) for k in kept]
            rng.shuffle(pool)
            items = [person] if person is not None and rng.random() < 0.8 else []
            items += [k for k in pool if k not in items][: max(0, count - len(items))]
            return items or pool[:1]
        return []


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# How long a connection takes at the least (minutes) and at the most: a day.
MIN_LAYOVER = 45
MAX_LAYOVER = 24 * 60


def _minutes_of(day: str, time_of_day: str) -> int:
    """Minutes since 2000-01-01 of a time of day (HH:MM, `+1` the next day) on a day."""
    days = (date.fromisoformat(day) - date(2000, 1, 1)).days + ("+" in time_of_day)
    return days * 1440 + int(time_of_day[:2]) * 60 + int(time_of_day[3:5])


# Words of a field where a line starts, and of the field where it ends.
ENDPOINTS = {"origin": "destination", "source": "destination", "from": "to", "pickup": "dropoff"}


def endpoints(props: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of fields naming where a line starts and ends: origin and destination,
    from_stop and to_stop."""
    pairs = []
    for start in props:
        tokens = fakes.words(start)
        for i, word in enumerate(tokens):
            if word in ENDPOINTS:
                end = "_".join([*tokens[:i], ENDPOINTS[word], *tokens[i + 1 :]])
                if end in props:
                    pairs.append((start, end))
    return pairs


def listed(node: Any, name: str, values: Sequence[Any], depth: int = 0) -> Any:
    """The number a record lists under `name` (or in a map named its plural, keyed by one of
    `values`), following maps of entries only by keys among `values`: a product's variant's
    price, a flight's price on a day in a cabin. NOTHING when it lists none."""
    if not isinstance(node, dict) or depth > 4:
        return NOTHING
    direct = node.get(name)
    if isinstance(direct, int | float) and not isinstance(direct, bool):
        return direct
    table = node.get(plural(name))
    if isinstance(table, dict):
        for value in values:
            found = table.get(value) if isinstance(value, str) else None
            if isinstance(found, int | float) and not isinstance(found, bool):
                return found
    for inner in node.values():
        if isinstance(inner, dict) and inner and all(isinstance(v, dict) for v in inner.values()):
            for value in values:
                if isinstance(value, str) and value in inner:
                    found = listed(inner[value], name, values, depth + 1)
                    if found is not NOTHING:
                        return found
    return NOTHING


def _shared_once(items: list, record: dict) -> list:
    """Lines that list ids of the record's other lines (shipments listing the order's items)
    each list an id once among them; a line left with none is dropped."""
    held = {
        v
        for value in record.values()
        if isinstance(value, list)
        for line in value
        if isinstance(line, dict)
        for k, v in line.items()
        if k.endswith("_id") and isinstance(v, str)
    }
    if not held:
        return items
    seen: set[str] = set()
    kept = []
    for item in items:
        if not isinstance(item, dict):
            return items
        lists = [
            k
            for k, v in item.items()
            if isinstance(v, list) and v and all(isinstance(x, str) and x in held for x in v)
        ]
        for k in lists:
            item[k] = [x for x in item[k] if x not in seen]
            seen.update(item[k])
        if all(item[k] for k in lists):
            kept.append(item)
    if kept:  # and every line is listed: what no line took goes with the last
        for k, v in kept[-1].items():
            source = _listed_field(record, v) if isinstance(v, list) and v else None
            if source is not None:
                kept[-1][k] = sorted([*v, *(x for x in source if x not in seen)])
    return kept


def _listed_field(record: dict, ids: list) -> list[str] | None:
    """The ids of the record's lines that a list of ids takes from (the item ids of an
    order's items, for a shipment's `item_ids`), in line order."""
    for value in record.values():
        if not isinstance(value, list) or not value or not isinstance(value[0], dict):
            continue
        for k in value[0]:
            held = [line.get(k) for line in value if isinstance(line, dict)]
            if k.endswith("_id") and all(isinstance(h, str) for h in held) and ids[0] in held:
                return list(dict.fromkeys(held))
    return None


# Words of a line's field that names what is billed or sold (not its kind, nor an id).
NAMING = frozenset({"description", "name", "title", "service", "item"})
REDRAWS = 12  # draws of a text before one that fits is given up on
_COMMON = frozenset({"with", "from", "that", "this", "what", "when", "each", "their", "they"})
_NO_SPEC = type("NoSpec", (), {"fields": ()})()


def _stem(word: str) -> str:
    """A word's first six letters: cancelled and cancellation, booked and booking meet."""
    return word[:6]


def _same_naming(a: dict, b: dict) -> bool:
    """Whether two lines name the same thing by their one naming text (NAMING) and refer
    to no record: a lab panel billed once per bill."""

    def naming(line: dict) -> list:
        return [v for p, v in line.items() if isinstance(v, str) and set(fakes.words(p)) & NAMING]

    texts = naming(a)
    return len(texts) == 1 and len(a) == 2 and texts == naming(b)


def _names_line(line: dict, stems: set[str]) -> bool:
    """Whether a line's naming text (NAMING) names one of the stems."""
    return any(
        isinstance(v, str) and set(fakes.words(k)) & NAMING and _names_any(v, stems)
        for k, v in line.items()
    )


def _names_any(text: str, stems: set[str]) -> bool:
    return any(_stem(w) in stems for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4)


def _is_fare(name: str, schema: dict) -> bool:
    """Whether a map's values are fares or prices (numbers under a name saying so)."""
    return schema_type(schema) in ("integer", "number") and bool(
        {"price", "prices", "fare", "fares"} & set(fakes.words(name))
    )


def fare_maps(node: Any) -> list[dict]:
    """The maps of fares (numbers under a name saying price or fare) a value holds, at any
    depth."""
    found: list[dict] = []
    if not isinstance(node, dict):
        return found
    for name, value in node.items():
        if not isinstance(value, dict) or not value:
            continue
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        )
        if numbers and {"price", "prices", "fare", "fares"} & set(fakes.words(name)):
            found.append(value)
        else:
            found += [m for v in value.values() for m in fare_maps(v)]
    return found


def enum_orders(schema: Any) -> list[list]:
    """Every enum's members a schema holds, in their declared order."""
    orders: list[list] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            members = node.get("enum")
            if isinstance(members, list) and members not in orders:
                orders.append(members)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return orders


def _round(record: dict) -> bool:
    """Whether the record says its lines come back where they start (a round trip)."""
    return any(isinstance(v, str) and "round" in fakes.words(v) for v in record.values())


def _time_named(record: dict, word: str) -> str | None:
    for name, value in record.items():
        if word in fakes.words(name) and isinstance(value, str) and value[:2].isdigit():
            return value
    return None


def _as_struct(record: dict, fields: list[str]) -> dict | None:
    """The record as a struct of these fields, reading one level into its own structs (a
    member as a passenger: their name's first and last name, their birth date)."""
    flat = {
        name: value
        for inner in record.values()
        if isinstance(inner, dict)
        for name, value in inner.items()
    }
    flat.update({k: v for k, v in record.items() if not isinstance(v, dict | list)})
    if not fields or not all(isinstance(flat.get(f), str) for f in fields):
        return None
    return {f: flat[f] for f in fields}


def _own_id(value: Any) -> str | None:
    if isinstance(value, dict):
        for name, inner in value.items():
            if (name == "id" or name.endswith("_id")) and isinstance(inner, str):
                return inner
    return None


def alike(schema: dict, value: Any) -> bool:
    """Whether a value copied from another record fits the schema's type."""
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:
        return any(alike(s, value) for s in schema["anyOf"] if s.get("type") != "null")
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


def fitted(schema: dict, value: Any) -> Any:
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


def _distinct_options(values: list) -> list:
    """The entries of a map that differ in their options (variants of one product): one whose
    options repeat an earlier one's is left out, for want of combinations left."""
    seen: set[str] = set()
    kept = []
    for value in values:
        held = [
            repr(sorted(v.items()))
            for k, v in (value.items() if isinstance(value, dict) else [])
            if "option" in k and isinstance(v, dict) and v
        ]
        if held and held[0] in seen:
            continue
        seen.update(held)
        kept.append(value)
    return kept


def _one_of_a_plain_kind(values: list) -> list:
    """Saved methods of one kind appear once unless the kind carries details of its own: two
    cards differ by their number, two PayPal accounts or gift cards of one person do not."""
    kept, seen = [], set()
    for value in values:
        kind = value.get("source") if isinstance(value, dict) else None
        details = isinstance(value, dict) and any(
            isinstance(v, str) and k not in ("source", "id") for k, v in value.items()
        )
        if isinstance(kind, str) and kind in seen and not details:
            continue
        if isinstance(kind, str):
            seen.add(kind)
        kept.append(value)
    return kept


def _priced_alike(rng: random.Random, values: list, record: dict) -> None:
    """Entries of one map that each carry a price (variants of one product) cost about the
    same: within 15% of one price, what a product of the record's kind usually costs when
    its name names a known kind (a water bottle is not 200 USD)."""
    priced = [v for v in values if isinstance(v, dict) and isinstance(v.get("price"), float)]
    if not priced:
        return
    name = next(
        (v for k, v in record.items() if "name" in fakes.words(k) and isinstance(v, str)), ""
    )
    kind = fakes.product_kind(name)
    low, high = fakes.PRODUCT_PRICES.get(kind or "", (0.0, 0.0))
    base = rng.uniform(low, high) if kind else priced[0]["price"]
    for entry in priced:
        entry["price"] = round(base * rng.uniform(0.85, 1.15), 2)
