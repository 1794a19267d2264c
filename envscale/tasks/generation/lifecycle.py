"""Values of one record that follow each other: dates in the order of their events, fields
named after a status present exactly in that status, text taken from the record's lines,
totals that are the sum of their lines or split into their parts."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from envscale.records import EntityField
from envscale.tasks import fakes
from envscale.tasks.generation.nested import endpoints, enum_orders, fare_maps, listed
from envscale.tasks.generation.state import NOTHING, RecordContext, State, inner_schema, is_derived
from envscale.tasks.generation.writes import apply_mirror
from envscale.tasks.links import plural

# Date fields that say when the thing itself happens (a visit's start), not when it was made.
_HAPPENS = frozenset({"start", "starts", "begins", "departure", "departs", "scheduled"})
_PER = re.compile(r"\bper (\w+)")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PART_OF = re.compile(r"\b[Pp]art of the (\w+)")
_SUM_OF = re.compile(r"\b[Ss]um of (?:the |its |all )?(\w+)")

# How many days after a thing begun (an invoice issued, an order placed) what follows it
# up (its payment, a refund) comes at the most.
FOLLOW_UP_DAYS = 30
# Ranks of DATE_RANK whose events take a while after what they follow (assigned, paid,
# delivered), unlike those that happen with it (a promo redeemed as the order is placed).
_STEPS_THAT_TAKE_TIME = frozenset({2, 4, 5})
DATE_RANK = {
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


# Words of statuses, for entries by day that have no declared transitions: what is over,
# what is under way today, what can still be booked, what was called off.
_OVER = frozenset({"landed", "arrived", "completed", "delivered", "done", "finished", "departed"})
_UNDER_WAY = frozenset({"flying", "boarding", "in_progress", "in progress", "delayed"})
_AHEAD = frozenset({"available", "scheduled", "open", "upcoming", "planned", "on time"})
_OFF = frozenset({"cancelled", "canceled"})


def phases(moves: dict[str, list[str]]) -> dict[str, str]:
    """Where each state of declared transitions lies in time: "start" (the states nothing
    moves into), "middle" and "end" along the longest chain from a start (scheduled ->
    checked_in -> completed), "end" for a state with no move in or out (a no-show), and
    "side" for the rest (cancelled), which may be at any time."""
    entered = {b for nexts in moves.values() for b in nexts}
    starts = [s for s in moves if s not in entered and moves[s]]
    best: list[str] = []

    def walk(path: list[str]) -> None:
        nonlocal best
        if len(path) > len(best):
            best = list(path)
        for b in moves.get(path[-1], []):
            if b not in path:
                walk([*path, b])

    for s in starts:
        walk([s])
    out = {s: "side" for s in moves}
    for s in moves:
        if not moves[s] and s not in entered:
            out[s] = "end"
    for s in best[1:-1]:
        out[s] = "middle"
    if len(best) > 1:
        out[best[-1]] = "end"
    for s in starts:
        out[s] = "start"
    return out


def _fits(phase: str, ahead: bool, today: bool) -> bool:
    """Whether a state of this phase fits a thing that happens ahead of the clock or not."""
    if phase == "start":
        return ahead
    if phase == "middle":
        return not ahead and today
    return phase == "side" or not ahead


class Lifecycle(State):
    # ---- an entry of a map by day fits its day

    def _day_entry(
        self,
        rng: random.Random,
        entry: Any,
        day: str,
        schema: dict,
        defs: dict,
        record: dict,
        ctx: RecordContext | None = None,
    ) -> Any:
        """A struct entry of a map by day whose status and optional fields fit the day against
        the clock: past days are over (landed) or called off, the clock's day is under way,
        later days can be booked. Fields named `actual_...` are there once it happened,
        `estimated_...` while it is under way, those whose doc says "while" only while it can
        be booked; their times are the record's own (`scheduled_...`) moved a little."""
        if "$ref" in schema:
            schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        props = schema.get("properties", {})
        if not isinstance(entry, dict) or "status" not in props:
            return entry
        status_schema = props["status"]
        if "$ref" in status_schema:
            status_schema = defs.get(status_schema["$ref"].rsplit("/", 1)[-1], {})
        members = status_schema.get("enum") or []
        today = self.clock[:10]
        if day < today:
            allowed = [m for m in members if m in _OVER] * 8 + [m for m in members if m in _OFF]
        elif day == today:
            allowed = [m for m in members if m in _UNDER_WAY or m == "on time"]
        else:
            allowed = [m for m in members if m in _AHEAD and m != "on time"] * 8
            allowed += [m for m in members if m in _OFF]
        if not allowed:
            return entry
        status = entry["status"] = rng.choice(allowed)
        over, under_way = status in _OVER, status in _UNDER_WAY or status == "on time"
        bookable = status in _AHEAD and status != "on time"
        for name, prop in props.items():
            words = set(fakes.words(name))
            doc = (prop.get("description") or "").lower()
            if "actual" in words:
                gone = under_way and status not in ("on time", "delayed")  # in the air
                wanted = over or (gone and "departure" in words)
            elif "estimated" in words:
                wanted = under_way
            elif "while" in doc:
                wanted = bookable
            else:
                continue
            if not wanted:
                entry.pop(name, None)
                continue
            rest = name.split("_", 1)[1] if "_" in name and words & {"actual", "estimated"} else ""
            base = next(
                (
                    v
                    for k, v in record.items()
                    if rest and isinstance(v, str) and k != name and k.endswith(rest)
                ),
                None,
            )
            if base is not None and base[:2].isdigit():
                # a moment of that day (the next one for an arrival marked '+1'), as a
                # date-time: what happened on a day is dated
                late = rng.randint(30, 180) if status == "delayed" else rng.randint(-15, 20)
                on = day  # an arrival the next day moves there with its schedule
                entry[name] = f"{on}T{_later_time(base[:8], late)}"
            elif name not in entry or entry[name] is None:
                inner = {**inner_schema(prop), **({} if "anyOf" in prop else prop)}
                entry[name] = self._from_schema(  # the record's own context: its cabins
                    rng,
                    inner,
                    name,
                    "",
                    defs,
                    False,
                    ctx or RecordContext(rng, home=self.home),
                    record,
                )
        return {k: entry[k] for k in props if k in entry}

    # ---- times of day in order

    def _order_times(self, entity: str, record: dict, again: bool = False) -> None:
        """Times of day named after departure and arrival keep their order: an arrival
        before its departure lands the next day, marked `+1` where the field's doc says so,
        else the two swap. Between known airports the arrival is the departure plus the
        flight's time; `again` (an end repaired) sets that time only."""
        props = self._route_fares(entity, record)["properties"]
        for name, value in list(record.items()):
            words = fakes.words(name)
            if "departure" not in words or not isinstance(value, str) or not value[:2].isdigit():
                continue
            other = "_".join("arrival" if w == "departure" else w for w in words)
            arrival = record.get(other)
            if not isinstance(arrival, str) or not arrival[:2].isdigit():
                continue
            marks = "'+1'" in (props.get(other, {}).get("description") or "")
            if self._flight_time(record, name, other, marks) or again:
                continue
            if arrival >= value:
                continue
            if marks:
                record[other] = f"{arrival}+1"
                self._next_day_arrivals(record, other)
            else:
                record[name], record[other] = arrival, value

    def _route_fares(self, entity: str, record: dict) -> dict:
        """The fares a record between two known places holds at any depth (maps keyed by an
        enum's members, named after prices or fares) follow its route as it now is, an end
        repaired since they were drawn; the entity's schema, returned."""
        schema = self.schemas[entity]
        km = self._route_km(record)
        if km is None:
            return schema
        orders = enum_orders(schema)
        seeded = random.Random(json.dumps([record.get(e) for e in sorted(record)], default=str))
        for fares in fare_maps(record):
            members = next((m for m in orders if set(fares) <= set(m)), None)
            if members is not None:
                base = fakes.route_fare(seeded, km)
                fares.update({k: fakes.class_fare(base, members.index(k)) for k in fares})
        return schema

    def _flight_time(self, record: dict, departure: str, arrival: str, marks: bool) -> bool:
        """Between two airports it knows the places of, a flight takes the time its distance
        does: the arrival is the departure plus that time (marked `+1` the next day, where
        the field's doc says so, else the departure is earlier), and each day's actual or
        estimated arrival follows that day's departure by about as long."""
        ends = next(((a, b) for a, b in _ENDS if a in record and b in record), None)
        minutes = fakes.flight_minutes(record[ends[0]], record[ends[1]]) if ends else None
        if minutes is None:
            return False
        leaves = int(record[departure][:2]) * 60 + int(record[departure][3:5])
        if leaves + minutes >= 24 * 60 and not marks:
            leaves = max(0, 24 * 60 - 15 - minutes)
            record[departure] = f"{leaves // 60:02d}:{leaves % 60:02d}:00"
        lands = leaves + minutes
        clock = f"{lands % 1440 // 60:02d}:{lands % 60:02d}:00"
        record[arrival] = f"{clock}+1" if lands >= 24 * 60 else clock
        seeded = random.Random(json.dumps(record, sort_keys=True, default=str))
        rest = arrival.split("_", 1)[1] if "_" in arrival else arrival
        for value in record.values():
            if not isinstance(value, dict):
                continue
            for day, entry in value.items():
                if not isinstance(entry, dict) or not _ISO_DAY.match(str(day)):
                    continue
                for name, moment in list(entry.items()):
                    if not (name.endswith(rest) and isinstance(moment, str) and moment[:4]):
                        continue
                    left = entry.get(name.replace("arrival", "departure"))
                    start = left if isinstance(left, str) and left[:4].isdigit() else None
                    start = start or f"{day}T{record[departure]}"
                    moment = fakes.shift_minutes(start, minutes + seeded.randrange(-10, 20, 5))
                    # on the day its schedule lands: the next one for an arrival marked '+1'
                    on = fakes.shift_date(str(day), 1) if lands >= 24 * 60 else str(day)
                    low, high = f"{on}T00:00:00", f"{on}T23:55:00"
                    entry[name] = min(max(moment, low), high)
        return True

    def _next_day_arrivals(self, record: dict, scheduled: str) -> None:
        """The dated arrivals of the days of a record that lands the day after it leaves
        (actual and estimated ones, in a map by day) fall on the next day."""
        rest = scheduled.split("_", 1)[1] if "_" in scheduled else scheduled
        for value in record.values():
            if not isinstance(value, dict):
                continue
            for day, entry in value.items():
                if not isinstance(entry, dict) or not _ISO_DAY.match(str(day)):
                    continue
                for name, moment in entry.items():
                    if name.endswith(rest) and isinstance(moment, str) and moment[:10] == day:
                        entry[name] = fakes.shift_date(day, 1) + moment[10:]

    # ---- statuses that fit the clock

    def _clock_status(self, entity: str, record: dict, rng: random.Random) -> None:
        """A status with declared transitions fits the domain's clock. When the record has a
        date of when it happens (a visit's start), the status follows it: a visit ahead is
        still in its first state (or a side one, cancelled), one in the past has moved on (a
        state of the middle only on the clock's day). Records without such a date are put on
        the clock's day once their status is final (`_clock_dates`)."""
        spec = self.manifest.entities[entity]
        dated = [
            f
            for f in spec.fields
            if f.kind in ("date", "datetime")
            and f.name not in spec.key
            and not is_derived(f)
            and isinstance(record.get(f.name), str)
        ]
        for f in spec.fields:
            if f.kind == "enum" and f.enum and isinstance(record.get(f.name), str):
                self._dated_member(f, record, dated)
            moves = self.manifest.transitions.get(f"{entity}.{f.name}")
            if not moves or record.get(f.name) not in moves:
                continue
            phase = phases(moves)
            happens = next((g for g in dated if set(fakes.words(g.name)) & _HAPPENS), None)
            if happens is not None:
                when = record[happens.name]
                ahead = when > self.clock[: len(when)]
                today = when[:10] == self.clock[:10]
                allowed = [s for s in moves if _fits(phase[s], ahead, today)]
                if allowed and record[f.name] not in allowed:
                    # mostly a state of the main chain; an exit (cancelled) now and then
                    record[f.name] = fakes.exit_weighted(rng, allowed, self._held(entity, f.name))
                continue

    def _dated_member(self, f: EntityField, record: dict, dated: list[EntityField]) -> None:
        """A status named after a date of the record (expired, `expires`) is the status once
        that date is past: a record in the enum's first state (active) past it takes it, one
        in it whose date is ahead goes back to the first state."""
        assert f.enum is not None
        for member in f.enum[1:]:
            date_field = next((g for g in dated if len(_shared_stem(g.name, member)) >= 5), None)
            if date_field is None:
                continue
            when = record[date_field.name]
            past = when < self.clock[: len(when)]
            if past and record[f.name] == f.enum[0]:
                record[f.name] = member
            elif not past and record[f.name] == member:
                record[f.name] = f.enum[0]

    def _clock_dates(self, entity: str, record: dict, rng: random.Random) -> list[str]:
        """A record without a date of when it happens that is still in the first or a middle
        state of its transitions was made on the clock's day (an order being prepared was
        placed today): its first date moves there. The fields moved."""
        spec = self.manifest.entities[entity]
        if any(set(fakes.words(f.name)) & _HAPPENS for f in spec.fields):
            return []
        for f in spec.fields:
            moves = self.manifest.transitions.get(f"{entity}.{f.name}")
            if not moves or phases(moves).get(record.get(f.name)) not in ("start", "middle"):
                continue
            events = [
                (min(DATE_RANK[w] for w in fakes.words(g.name) if w in DATE_RANK), g)
                for g in spec.fields
                if g.kind in ("date", "datetime")
                and g.name not in spec.key
                and not is_derived(g)
                and isinstance(record.get(g.name), str)
                and any(w in DATE_RANK for w in fakes.words(g.name))
            ]
            events = [(rank, g) for rank, g in events if rank >= 0]
            if not events:
                return []
            first = min(events, key=lambda pair: pair[0])[1]
            if record[first.name][:10] == self.clock[:10]:
                return []
            earlier = fakes.shift_minutes(self.clock, -rng.randrange(15, 6 * 60, 15))
            record[first.name] = earlier if first.kind == "datetime" else earlier[:10]
            return [first.name]
        return []

    def _order_dates(
        self, entity: str, record: dict, ctx: RecordContext, follow_only: bool = False
    ) -> None:
        """Dates named after events follow the events' order (created <= updated, start <
        end, departure < arrival), none comes before the first event of a record it
        refers to (a delivery is not assigned before its order was placed), and what
        follows a thing begun comes within FOLLOW_UP_DAYS of it; `follow_only`: that last
        rule alone (a reference repaired)."""
        spec = self.manifest.entities[entity]
        ranked = []
        for f in spec.fields:
            if f.kind not in ("date", "datetime") or f.name in spec.key or is_derived(f):
                continue
            ranks = [DATE_RANK[w] for w in fakes.words(f.name) if w in DATE_RANK]
            if ranks and isinstance(record.get(f.name), str):
                ranked.append((max(ranks), f))
        floor = max(
            (
                r[g.name]
                for e, r in ctx.referred
                for g in self._event_fields(e)
                if isinstance(r.get(g.name), str)
            ),
            default=None,
        )
        # the latest start of a thing that the record follows up (issued, placed, booked)
        opened = max(
            (
                r[g.name]
                for e, r in ctx.referred
                for g in self._event_fields(e)
                if isinstance(r.get(g.name), str)
                and any(DATE_RANK.get(w) == 1 for w in fakes.words(g.name))
            ),
            default=None,
        )
        for rank, f in ranked:
            value = record[f.name]
            if floor is None or rank < 0 or follow_only:
                pass
            elif len(value) > 10 and len(floor) > 10 and value < floor:  # later that day
                record[f.name] = fakes.shift_minutes(floor, 15 * (1 + sum(map(ord, value)) % 12))
            elif value[:10] < floor[:10]:
                shifted = fakes.shift_date(floor, (sum(map(ord, value)) % 3))
                record[f.name] = shifted + value[10:] if f.kind == "datetime" else shifted
            value = record[f.name]
            if (
                opened is not None
                and rank >= 0
                and not opened[:10] <= value[:10] <= fakes.shift_date(opened, FOLLOW_UP_DAYS)
            ):
                # what follows a thing begun (a payment of an invoice issued, a refund of an
                # order placed) comes within weeks of it, not months
                later = fakes.shift_date(opened, sum(map(ord, value)) % FOLLOW_UP_DAYS)
                later = later + value[10:] if f.kind == "datetime" else later
                if later > self.clock[: len(later)] >= opened[: len(later)]:  # not ahead
                    # between the two, a day begun in working hours (not at midnight)
                    begun = opened if len(opened) > 10 else min(opened + "T09:00:00", self.clock)
                    gap = _moment(self.clock) - _moment(begun)
                    later = fakes.shift_minutes(
                        _moment(begun).isoformat(), int(gap.total_seconds() // 120)
                    )
                    later = later if f.kind == "datetime" else later[:10]
                record[f.name] = later
                if len(record[f.name]) > 10 and record[f.name] < opened:
                    record[f.name] = fakes.shift_minutes(
                        opened, 15 * (1 + sum(map(ord, value)) % 12)
                    )
            value = record[f.name]
            done = fakes.PAST_WORDS & set(fakes.words(f.name))
            if follow_only:
                continue
            if done and record[f.name] > self.clock[: len(record[f.name])]:
                # what is done is not ahead of the clock: a refund asked for today
                earlier = fakes.shift_minutes(self.clock, -(sum(map(ord, value)) % 8) * 15)
                if floor is not None and len(floor) > 10 and earlier < floor <= self.clock:
                    # nor before what it follows: at it, or between the two for a step
                    # that takes a while (assigned, paid, delivered)
                    earlier = floor
                    if rank in _STEPS_THAT_TAKE_TIME:
                        gap = datetime.fromisoformat(self.clock) - datetime.fromisoformat(floor)
                        earlier = fakes.shift_minutes(floor, int(gap.total_seconds() // 120))
                record[f.name] = earlier if f.kind == "datetime" else earlier[:10]
        first = _first_line_day(record)
        if follow_only:
            return
        for rank, f in ranked:  # a trip is booked before its first leg: days or weeks
            value = record[f.name]
            if first is not None and 0 <= rank <= 1 and value[:10] >= first:
                ahead = 1 + sum(map(ord, value)) % 45
                record[f.name] = fakes.shift_date(first, -ahead) + value[10:]
        ranked.sort(key=lambda pair: pair[0])
        values = sorted(record[f.name] for _, f in ranked)
        before = None
        for (rank, f), value in zip(ranked, values, strict=True):
            record[f.name] = value if f.kind == "datetime" or len(value) == 10 else value[:10]
            if f.kind == "datetime" and len(value) == 10:
                record[f.name] = value + self.clock[10:]
            if before is not None and before[0] < rank and record[f.name] == before[1]:
                # two events of one record do not happen at the same instant (assigned,
                # then delivered)
                record[f.name] = fakes.shift_minutes(
                    before[1], 15 * (1 + sum(map(ord, f.name)) % 4)
                )
            if f.kind == "datetime":
                before = (rank, record[f.name])
        self._after_what_it_follows(ranked, record, floor)

    def _after_what_it_follows(
        self, ranked: list[tuple[int, EntityField]], record: dict, floor: str | None
    ) -> None:
        """A step that takes a while (assigned, paid, delivered) is not at the instant of the
        referred record's event it follows (a delivery assigned as its order is placed): it
        moves to between that event and the record's next one, or the clock."""
        if floor is None or len(floor) <= 10:
            return
        moments = sorted(
            (record[f.name], rank)
            for rank, f in ranked
            if f.kind == "datetime" and record.get(f.name)
        )
        for rank, f in ranked:
            if f.kind != "datetime" or record.get(f.name) != floor:
                continue
            if rank not in _STEPS_THAT_TAKE_TIME:
                continue
            later = [m for m, _ in moments if m > floor]
            end = min([*later, self.clock]) if floor < self.clock else None
            if end is None:
                continue
            gap = datetime.fromisoformat(end) - datetime.fromisoformat(floor)
            minutes = min(int(gap.total_seconds() // 60) // 2, 15 * (1 + sum(map(ord, floor)) % 4))
            if minutes >= 1:  # apart, if only by minutes when the next one is close
                record[f.name] = fakes.shift_minutes(floor, minutes)

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
            if not f.nullable or is_derived(f) or f.name in spec.key:
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
                    record[f.name] = self._soon_after(entity, f, record, seeded)
                elif record.get(f.name) is None and make is not None:
                    record[f.name] = make(f)
                break

    def _soon_after(self, entity: str, f: EntityField, record: dict, rng: random.Random) -> str:
        """A date for the event a field names that follows the record's earlier events by a
        little (delivered within the hours after it was assigned), not after the clock; a
        date of its own when the record has no earlier event."""
        rank = max((DATE_RANK[w] for w in fakes.words(f.name) if w in DATE_RANK), default=None)
        earlier = [
            record[g.name]
            for g in self.manifest.entities[entity].fields
            if g is not f
            and g.kind in ("date", "datetime")
            and isinstance(record.get(g.name), str)
            and rank is not None
            and any(0 <= DATE_RANK.get(w, 99) < rank for w in fakes.words(g.name))
        ]
        if not earlier:
            return str(fakes.value_for(rng, f.name, f.kind, self.clock))
        start = max(earlier)
        if len(start) == 10:
            start += self.clock[10:]
        if self.clock[: len(start)] >= start > fakes.shift_minutes(self.clock, -15)[: len(start)]:
            # begun just before the clock: it began earlier, so that what follows takes time
            fields = self.manifest.entities[entity].fields
            begun = next((g for g in fields if record.get(g.name) == start), None)
            if begun is not None and begun.kind == "datetime":
                record[begun.name] = start = fakes.shift_minutes(
                    self.clock, -rng.randrange(15, 60, 5)
                )
        when = fakes.shift_minutes(start, rng.randrange(15, 120, 5))
        when = min(when, self.clock) if start <= self.clock else when
        return when if f.kind == "datetime" else when[:10]

    def _replacements(self, entity: str, record: dict) -> bool:
        """A list of ids named `new` beside a list of the record's line ids (exchange_items
        and exchange_new_items) holds, for each of those, another id of the same kind of
        thing: another key of the map, in the record the line refers to, that holds the old
        one (another variant of the same product). A number named after the difference of
        the two (exchange_price_difference) is what the new ones cost more. False when no
        line has another kind of it (every product of one variant): nothing to exchange."""
        possible = True
        lines = [
            line
            for value in record.values()
            if isinstance(value, list)
            for line in value
            if isinstance(line, dict)
        ]
        for name, new in list(record.items()):
            words = fakes.words(name)
            if "new" not in words or not isinstance(new, list):
                continue
            old = record.get("_".join(w for w in words if w != "new"))
            if not isinstance(old, list) or not old:
                continue
            kept: list[str] = []
            chosen: list[str] = []
            cost = 0.0
            for item in old:  # an item with no other kind of it (one variant) stays out
                line = next((x for x in lines if item in x.values()), None)
                found = self._other_key(line or {}, item, str(name), set(old))
                if found is not None:
                    kept.append(item)
                    chosen.append(found[0])
                    cost += found[1] - found[2]
            if not chosen:
                possible = False
                continue
            record["_".join(w for w in words if w != "new")] = sorted(kept)
            record[name] = sorted(chosen)
            prefix = words[0]
            for other, value in list(record.items()):
                parts = fakes.words(other)
                if parts[:1] == [prefix] and "difference" in parts and value is not None:
                    record[other] = round(cost, 2)
        return possible

    def _other_key(
        self, line: dict, item: Any, salt: str, avoid: set
    ) -> tuple[str, float, float] | None:
        """Another key of the map holding `item` in a record the line refers to, with the
        price of each (an available variant first): (key, its price, the old one's)."""
        for value in line.values():
            for records in self.index.values():
                referred = records.get(value) if isinstance(value, str) else None
                if not isinstance(referred, dict):
                    continue
                for held in referred.values():
                    if not isinstance(held, dict) or item not in held:
                        continue
                    others = [k for k, v in held.items() if k not in avoid and isinstance(v, dict)]
                    ready = [k for k in others if held[k].get("available") is not False]
                    pool = sorted(ready or others)
                    if not pool:
                        return None
                    key = pool[sum(map(ord, f"{salt}{item}")) % len(pool)]
                    price = listed(held[key], "price", [])
                    was = listed(held[item], "price", [])
                    if price is NOTHING or was is NOTHING:
                        return key, 0.0, 0.0
                    return key, float(price), float(was)
        return None

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
        closed = False
        for value in lines:  # a path back to its start: where it turns is its destination
            for start, end in endpoints(list(value[0])):
                closed = len(value) > 1 and value[-1].get(end) == value[0].get(start)
        for f in spec.fields:
            if f.kind != "str" or f.name in spec.key or is_derived(f):
                continue
            for value in lines:
                line = value[0]
                if f.name in ("destination", "to"):
                    line = value[-2] if closed else value[-1]
                if isinstance(line.get(f.name), str):
                    record[f.name] = line[f.name]
                    break
        if not lines:
            return
        for f in spec.fields:  # and a trip type says whether it comes back (round, one way)
            members = f.enum or []
            shape = [m for m in members if ("round" in fakes.words(m)) == closed]
            two = f.kind == "enum" and len(members) == 2 and len(shape) == 1
            if two and any("round" in fakes.words(m) for m in members):
                record[f.name] = shape[0]

    def _payments(self, entity: str, record: dict) -> None:
        """A record's payments (a list of structs with an amount and no price) add up to what
        its lines (a list of structs with a price) cost: the prices times their quantities,
        times the length of the list a price is "per" (a fare per passenger). One payment per
        method; a refund (an entry naming one) gives back one line's cost."""
        props = self.schemas[entity]["properties"]
        defs = self.schemas[entity].get("$defs", {})
        lines = payments = None
        for name, prop in props.items():
            struct = prop.get("items", {}).get("$ref", "").rsplit("/", 1)[-1]
            fields = defs.get(struct, {}).get("properties", {})
            value = record.get(name)
            if not struct or not isinstance(value, list) or not value:
                continue
            if "price" in fields and lines is None:
                lines = (value, fields)
            elif "amount" in fields and "price" not in fields and payments is None:
                payments = (name, value, fields)
        if lines is None or payments is None:
            return
        amounts = [_line_amount(line) for line in lines[0]]
        if any(a is None for a in amounts):
            return
        per = _PER.search(lines[1]["price"].get("description") or "")
        counted = record.get(plural(per.group(1))) if per else None
        times = len(counted) if isinstance(counted, list) and counted else 1
        cost = round(sum(amounts) * times + self._fees(entity, record), 2)  # type: ignore[arg-type]
        name, entries, fields = payments
        whole = fields["amount"].get("type") == "integer"
        refunds = [e for e in entries if any("refund" in str(v) for v in e.values())]
        paid: list[dict] = []
        for entry in entries:  # one payment per method
            method = own_method(entry)
            if entry not in refunds and all(own_method(e) != method for e in paid):
                paid.append(entry)
        if not paid:
            return
        seeded = random.Random(json.dumps(record, sort_keys=True, default=str))
        left = cost
        for entry in paid[:-1]:
            share = round(left * seeded.uniform(0.2, 0.6), 2)
            entry["amount"], left = share, round(left - share, 2)
        paid[-1]["amount"] = left
        for entry in refunds:
            entry["amount"] = round(seeded.choice(amounts) * times, 2)  # type: ignore[operator]
        for entry in paid + refunds:
            entry["amount"] = round(entry["amount"]) if whole else float(entry["amount"])
        for entry in paid:
            self._within_balance(entity, record, entry)
        paid = self._spread(entity, record, paid, whole)
        self.short_paid = any(
            (held := _balance(methods.get(own_method(e)) or {})) is not None and e["amount"] > held
            for methods in [self._payer_methods(entity, record)]
            for e in paid
        )
        paid = _one_per_method(paid, whole)
        if self._refunds_all(entity, record, name):  # as the tool that cancels it does
            refunds = self._mirrored(entity, record, name, paid, fields, defs) or refunds
        else:  # money goes back only as a tool gives it back (a pending order keeps it)
            refunds = []
        added = [e for e in paid if e not in entries]  # what other methods pay of a payment
        record[name] = [e for e in entries if e in paid] + added + refunds

    def _refunds_all(self, entity: str, record: dict, name: str) -> bool:
        """Whether a tool that moved the record into its status appended to list `name`."""
        return any(
            e == entity and record.get(f) == member and name in extended
            for (e, f, member), extended in self.writes.extends.items()
        )

    def _mirrored(
        self, entity: str, record: dict, name: str, paid: list[dict], fields: dict, defs: dict
    ) -> list[dict]:
        """One refund per payment, as the tool that moved the record into its status appends
        it (the amount negated, a kind `refund`); for a tool whose code does not say, one of
        its amount to its method, whose field with an enum member naming a refund takes it."""
        for (e, f, member), lists in self.writes.mirrors.items():
            if e == entity and record.get(f) == member and name in lists:
                made = [apply_mirror(lists[name], entry) for entry in paid]
                if all(m is not None for m in made):
                    return [m for m in made if m is not None]
        for prop, schema in fields.items():
            enum = defs.get(schema.get("$ref", "").rsplit("/", 1)[-1], schema).get("enum", [])
            member = next((m for m in enum if "refund" in str(m)), None)
            if member is not None:
                return [{**entry, prop: member} for entry in paid]
        return []

    def _fees(self, entity: str, record: dict) -> float:
        """What the tools that write the entity charge on top of its lines, as their docs say
        it: "30 per passenger for insurance" adds 30 for each of the record's passengers when
        its `insurance` is taken (yes, true)."""
        fees = 0.0
        for tool in self.manifest.tools:
            if tool.kind != "write" or entity not in tool.writes:
                continue
            doc = next(
                (
                    s["function"].get("description") or ""
                    for s in self.domain.tool_schemas
                    if s["function"]["name"] == tool.name
                ),
                "",
            )
            for amount, word, field in _FEE.findall(" ".join(doc.split())):
                taken = record.get(field)
                if taken is True or (isinstance(taken, str) and taken.lower() in ("yes", "true")):
                    counted = record.get(plural(word))
                    fees += float(amount) * (len(counted) if isinstance(counted, list) else 1)
            if fees:
                return fees
        return fees

    def _spread(self, entity: str, record: dict, paid: list[dict], whole: bool) -> list[dict]:
        """A payment beyond what its saved method holds (a gift card, a certificate of the
        payer who has no card to pay with instead) takes that balance, and the payer's other
        methods that hold one pay the rest, each what it holds, so that balances stay what
        they were made; what they cannot cover stays on the first."""
        payer = self._payer_methods(entity, record)
        if not payer:
            return paid
        out = list(paid)
        for entry in paid:
            method = own_method(entry)
            held = _balance(payer.get(method) or {}) if method in payer else None
            if held is None or entry["amount"] <= held:
                continue
            field = next(k for k, v in entry.items() if v == method)
            taken = {own_method(e) for e in out}
            excess = moved = round(entry["amount"] - held, 2)
            for other in sorted(k for k in payer if k not in taken):
                has = _balance(payer[other])
                if has is None or has <= 0 or excess <= 0:
                    continue
                share = round(min(has, excess), 2)
                share = float(int(share)) if whole else share
                if share <= 0:
                    continue
                out.append({**entry, field: other, "amount": int(share) if whole else share})
                excess = round(excess - share, 2)
            entry["amount"] = round(entry["amount"] - (moved - excess), 2)  # the rest stays
        return out

    def _payer_methods(self, entity: str, record: dict) -> dict[str, dict]:
        """The saved payment methods of the record's payer: id -> method."""
        for f in self.manifest.entities[entity].fields:
            if f.kind != "ref" or record.get(f.name) is None:
                continue
            payer = self.index.get(f.ref or "", {}).get(record[f.name]) or {}
            for saved in payer.values():
                if (
                    isinstance(saved, dict)
                    and saved
                    and all(isinstance(m, dict) for m in saved.values())
                ):
                    return saved
        return {}

    def _within_balance(self, entity: str, record: dict, entry: dict) -> None:
        """A payment from a saved method that holds a balance (a gift card, a certificate) is
        no more than that balance: else another saved method of the payer pays, one without
        a balance or with enough of it."""
        method = own_method(entry)
        amount = entry.get("amount")
        if method is None or not isinstance(amount, int | float):
            return
        for f in self.manifest.entities[entity].fields:
            if f.kind != "ref" or record.get(f.name) is None:
                continue
            payer = self.index.get(f.ref or "", {}).get(record[f.name]) or {}
            for saved in payer.values():
                if not isinstance(saved, dict) or not isinstance(saved.get(method), dict):
                    continue
                left = _balance(saved[method])
                if left is None or left >= amount:
                    return
                fits = [
                    k
                    for k, m in saved.items()
                    if isinstance(m, dict) and (_balance(m) is None or _balance(m) >= amount)
                ]
                if fits:
                    field = next(k for k, v in entry.items() if v == method)
                    entry[field] = sorted(fits)[len(str(amount)) % len(fits)]
                return

    def _totals(self, entity: str, record: dict) -> None:
        """Counts and amounts of one thing agree with their total: `nonfree_baggages` is at
        most `total_baggages`; a field whose doc says it is the sum of a list's lines is."""
        spec = self.manifest.entities[entity]
        numbers = [f for f in spec.fields if f.kind in ("int", "float") and not is_derived(f)]
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
                doc = schema.get(f.name, {}).get("description") or ""
                pct = self._payer_percent(entity, record, doc)
                if pct is NOTHING:
                    share = round(left * seeded.choice((0.0, seeded.uniform(0.3, 0.9))), 2)
                else:  # what the payer's plan covers of it (none without a plan)
                    share = round(float(total) * (pct or 0) / 100, 2)
                record[f.name], left = share, round(left - share, 2)
            record[fields[-1].name] = left

    def _payer_percent(self, entity: str, record: dict, doc: str) -> Any:
        """The percent a part's payer covers, where the doc names an entity (the insurance
        plan) the record reaches through one or two references (its patient's plan) and that
        entity has a percent field: its value, None when the way there is empty (a patient
        with no plan), NOTHING when the doc names no such entity."""
        said = set(re.findall(r"[a-z]+", doc.lower()))
        for target, spec in self.manifest.entities.items():
            percent = next(
                (
                    f.name
                    for f in spec.fields
                    if f.kind in ("int", "float")
                    and {"pct", "percent", "percentage"} & set(fakes.words(f.name))
                ),
                None,
            )
            if percent is None or target == entity or not set(fakes.words(target)) <= said:
                continue
            for f in self.manifest.entities[entity].fields:
                via = self.index.get(f.ref or "", {}).get(record.get(f.name)) if f.ref else None
                if f.ref == target:
                    return via.get(percent) if via is not None else None
                if via is None:
                    continue
                for g in self.manifest.entities[f.ref or ""].fields:
                    if g.ref == target:
                        held = self.index.get(target, {}).get(via.get(g.name))
                        return held.get(percent) if held is not None else None
        return NOTHING

    def _event_fields(self, entity: str) -> list[EntityField]:
        """The date fields of an entity that name its first events."""
        return [
            f
            for f in self.manifest.entities[entity].fields
            if f.kind in ("date", "datetime")
            and any(0 <= DATE_RANK.get(w, -1) <= 2 for w in fakes.words(f.name))
        ]


def _shared_stem(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _later_time(clock_time: str, minutes: int) -> str:
    """A time of day HH:MM:SS moved by some minutes, within the day, on a quarter hour."""
    hours, mins = int(clock_time[:2]), int(clock_time[3:5])
    total = max(0, min(23 * 60 + 45, hours * 60 + mins + minutes))
    total -= total % 15
    return f"{total // 60:02d}:{total % 60:02d}:00"


_ENDS = (("origin", "destination"), ("source", "destination"), ("from", "to"))
_FEE = re.compile(r"\b(\d+(?:\.\d+)?) per (\w+) for (\w+)")
_BALANCE_NAMES = ("balance", "amount")


def _one_per_method(paid: list[dict], whole: bool) -> list[dict]:
    """Payments moved to a method another payment uses (a gift card short of the amount,
    paid by the card) are one payment of that method."""
    merged: list[dict] = []
    for entry in paid:
        same = next((m for m in merged if own_method(m) == own_method(entry)), None)
        if same is None:
            merged.append(entry)
            continue
        total = same["amount"] + entry["amount"]
        same["amount"] = round(total) if whole else round(float(total), 2)
    return merged


def _balance(method: dict) -> float | None:
    """What a saved payment method holds (a gift card's balance), None when it holds none."""
    for name in _BALANCE_NAMES:
        value = method.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def own_method(entry: dict) -> Any:
    """The payment method an entry names (its `..._id` text field)."""
    return next((v for k, v in entry.items() if k.endswith("_id") and isinstance(v, str)), None)


def _line_amount(line: dict) -> float | None:
    """What one line adds up to: its amount, or its price times its quantity."""
    for name in ("amount", "total", "price", "cost"):
        value = line.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            quantity = line.get("quantity", line.get("qty", 1))
            return value * quantity if isinstance(quantity, int) and name != "total" else value
    return None


_LINE_DAY = frozenset({"date", "day", "departure", "start", "on"})  # not a birth date


def _first_line_day(record: dict) -> str | None:
    """The earliest day (YYYY-MM-DD) the record's lines are on: a trip's first leg."""
    days = [
        value
        for items in record.values()
        if isinstance(items, list)
        for line in items
        if isinstance(line, dict)
        for name, value in line.items()
        if isinstance(value, str) and _ISO_DAY.match(value) and _LINE_DAY & set(fakes.words(name))
    ]
    return min(days, default=None)


def _moment(value: str) -> datetime:
    """A date or a date-time as a date-time (a date at its midnight)."""
    return datetime.fromisoformat(value if len(value) > 10 else f"{value}T00:00:00")
