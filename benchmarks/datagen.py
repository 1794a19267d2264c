"""Generated data of the shipped specs: does every entity get the count asked for, does every
invariant hold, and what do the records look like?

    python benchmarks/datagen.py                 # size 50, every shipped spec
    python benchmarks/datagen.py --size 20 --show 20 --spec delivery
    python benchmarks/datagen.py --quick         # size 8: the check the test suite runs
    python benchmarks/datagen.py --spec delivery --count Order=150   # more of one entity

Prints per spec and entity `asked / made`, the reasons of any shortfall, whether the data
loads (models, schema, CHECKs, foreign keys, every invariant), the coherence checks it can
count mechanically (below), and, with --show N, the first N records of each entity as JSON
lines for reading. Exits 1 when an entity falls short or the data does not load.

Every run without --spec also makes delivery with `Order=150` (the other entities at the
size): 50 ratings and 50 deliveries, each of its own order, need 50 orders delivered by a
trip, and the other orders keep a spread of statuses (the line `statuses of Order`). With
`--count E=N` the count of E is N and the spread of each status enum is printed.

Coherence checks, each `held / applicable` over the whole generated state, read from field
names and the spec alone:
- legs connect: consecutive lines with an origin and a destination meet (a -> b, b -> c);
- legs in date order: consecutive dated lines do not go back in time;
- trip is its legs: a record's origin and destination are its first line's and last line's;
- lines copy their record: a line's field equals the same field of the record it refers to;
- prices listed: a line's price is the one its record lists for the values the line and its
  owner hold (a flight's `dates[day].prices[cabin]`, a product's `variants[item].price`);
- payments own methods: a payment's method id is a key of the payer's `payment_methods`;
- payments add up: the payments (not refunds) sum to the lines' prices times their
  quantities, times the length of the list the price is "per" (a fare per passenger);
- statuses fit clock: a status with declared transitions against the record's dates: in
  its first state a thing that happens (a start) is ahead, in a final state of the main chain
  behind; a record without such a date is in its first or a middle state only when made on
  the clock's day;
- past dates not ahead: a date named after something done (created, placed, paid, issued)
  is not after the clock;
- after what it refers to: a record's first event (created, placed, issued, assigned, start)
  is not before the first event of a record it refers to;
- days fit clock: in a map by day (YYYY-MM-DD keys), a past day's status is over (landed,
  cancelled), the clock's day's under way, a later day's still ahead (available);
- options of kind: a product named after a known kind offers only that kind's options;
- notes once done: a record with declared transitions has `notes` only in its final state;
- payments make up paid: a `paid` amount is the sum of the amounts of what refers to it;
- bills for visits held: an `issued` record bills a referred record that was held (final or
  cancelled) on the day it was issued, not after the clock;
- dosage fits medication: a dosage is one its medication is prescribed in;
- booked once held: a record with a `booked` status is booked exactly when one record that
  refers to it, not cancelled, holds it;
- busy only on a trip: a record with an `on_delivery` status is in it exactly when a record
  that refers to it is under way (assigned, picked up);
- pending not shipped: a record in a `pending…` status has no shipments (lines with a
  tracking id);
- exchanges ask for others: a `…new…` list of ids shares none with its sibling list;
- balances cover payments: a saved method holding a balance held what a payment took;
- promos discount: a record a promo is redeemed on has a discount;
- done within hours: `delivered_at`/`completed_at` is within three hours after `assigned_at`;
- cancels refund: a cancelled record's payments (entries typed `payment`, or of a positive
  amount) are each given back by a refund of its amount to its method (typed `refund`, or
  the amount negated);
- values a tool offers: a field named after a tool's parameter that offers choices
  (`cancel_reason` after `reason`), on an entity the tool writes, holds one of them or none;
- delivered by a trip: a `delivered` record that records with a `delivered` status refer to
  (an order and its deliveries) has one of them delivered;
- codes name their percent: a key ending in a number (SAVE35) on a record with a percent
  field names that percent (a letter may follow);
- flight times fit distance: a record between two known airports takes, from its scheduled
  departure to its arrival, between the great-circle distance at 900 km/h plus 15 minutes
  and the distance at 500 km/h plus 90 minutes;
- fees as stated: a line whose text a tool writes with constants only (a late-cancellation
  fee of 25) has the tool's numbers;
- lines fit the visit: a line of a record that refers to a record in the final state of its
  transitions (a visit completed) names it: its type or the name of what it refers to;
- times on their day: an actual or estimated time in a map by day is a date-time of that
  day (the next for an arrival scheduled `+1`).

Third list, of records that refer to the same record and of who may do what:
- asked after done: a record created or requested about a record (a refund of an order) is
  dated at or after the end of every trip of that record (its delivery's `delivered_at`);
- done by who may: a record named after what a `can_…` flag allows (a prescription, after
  `can_prescribe`) refers to a record with that flag set;
- tracking ids their own: no value of a tracking id has the shape of another id field's;
- variants differ: the entries of a map (a product's variants) differ in their options;
- doctors by title: the name of a clinician, doctor or physician begins with "Dr.";
- no therapist prescribes: a record with `can_prescribe` and a therapy role has it unset.

Fourth list, of routes between known airports:
- fares rise with class: in a map of fares keyed by an enum's members, each class costs more
  than the one before it in the enum's declared order;
- fares fit distance: the lowest class's fare, as the lowest class, is within a quarter of
  `FARE_BASE + FARE_PER_KM * km` of the record's route;
- connections within a day: consecutive dated lines naming records with times of departure
  and arrival leave 45 minutes to a day after the line before lands;
- return after landing: the leg that brings a round trip back leaves after the one before
  lands, by 45 minutes or more;
- booked before it starts: a date named after something done (created, booked) is a day or
  more before the first of the record's dated lines.

Fifth list, of times between the events of one thing (event words as the generator ranks
them, `DATE_RANK`):
- follow-ups within weeks: a date of a record that refers to a thing begun (an invoice
  issued, an order placed, a trip booked) is on or after that day and within 30 days of it
  (a payment of the invoice, a refund or a delivery of the order);
- events apart: two moments of one record (assigned, delivered) differ, and a record's
  moment of a step that takes time (assigned, paid, delivered, completed) is after the
  moment the thing it refers to began.

Seventh list, of saved payment methods:
- one method of a kind: an owner's methods of a kind with no details of its own (a PayPal
  account, a gift card, a certificate) are one of that kind;
- balances plausible: a certificate holds a round value (a multiple of 50), a gift card
  more than nothing and less than 400.

- one payment per method: a record's payments (not refunds) name each method once;
- refunds only on cancels: a record with a refund among its payments is cancelled;
- cancels never shipped: a cancelled record's fulfillments or shipments are empty;
- variants priced alike: the prices of one map's entries (variants of one product) are
  within a third of each other; priced as its kind: a product of a known kind costs what
  that kind does (`fakes.PRODUCT_PRICES`, 15% either side);
- billed as usual: a line billing a known item costs what it usually does
  (`fakes.BILLED_PRICES`);
- reasons fit the state: an enum member naming a referred entity and one of its states (a
  refund's `cancelled_order`) is held exactly when the referred record is in that state;
- enum maps agree: maps keyed by one enum's members side by side (a flight day's seats and
  prices by cabin) hold the same members.

Sixth list, of lines:
- lines name no absent: a line of a record whose optional reference is empty (an invoice
  of no visit) names nothing of what that entity is about (its name, doc and enum members:
  a visit, a telehealth consultation, a cancellation);
- one price per item: lines that name a thing by one text (not a record, nor who did it)
  cost the same wherever it is named.

Tenth list, of the state's home, its shipments and its exit states:
- places in one country: every address (a struct with a zip or a country, or one written on
  a line) is in the state's most common country; places in one region: for a local business
  (`fakes.LOCAL_ENTITIES`: a restaurant, a clinic) in its most common state or province;
- phones of the country: a phone number has the shape of its record's country (its own
  address's, else the state's): `fakes.phone_of`;
- one tracking id a shipment: a line with a tracking id holds one; tracking ids unique: no
  two shipments share one; shipments hold every item: a record's shipments list each of its
  items exactly once;
- exit states a minority: of a status field with states off the normal path (`fakes.is_exit`:
  void, cancelled, no_show), at most 15% of the records are in one; records on the normal
  path counts the records of those fields that are not.

Eleventh list, of what spot-reading finds:
- times in waking hours: a time of day or a date-time of a record (not an arrival or an end)
  is between 06:00 and 23:00 (`fakes.WAKING_HOURS`);
- routes 250 km or more: a record between two known airports (a flight) is `MIN_ROUTE_KM`
  long or more; detours within 1.5: each way of a trip of several legs covers at most 1.5
  times the direct distance;
- bags 1 to 3 a passenger: checked bags are at most three a passenger;
- flags by role: a `can_…` flag is set exactly when the record's role is not a limited one
  (`fakes.LIMITED_ROLES`: a physiotherapist does not prescribe);
- long keys look issued: a key of seven digits or more is not a count (1, 2, 3…);
- no paired-digit ids: no value is shaped `30-385956`;
- reasons fit the visit: a visit's reason is one of its type's (`reasons.VISIT_REASONS`);
- short courses no refills: a short course (amoxicillin) has no refills;
- round values stay round: a percent, a duration or a minimum is a multiple of five;
- insurance pays its share: a bill's `insurance_covered` (but on a fee) is its total times the
  plan's `coverage_pct` of the patient's plan.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
import re
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import envscale  # noqa: E402
from envscale.runtime.errors import DataError  # noqa: E402
from envscale.tasks import fakes, reasons  # noqa: E402
from envscale.tasks.datagen import generate_data  # noqa: E402
from envscale.tasks.generation.lifecycle import DATE_RANK  # noqa: E402
from envscale.tasks.generation.nested import NAMING, enum_orders, fare_maps  # noqa: E402

SPECS = ("clinic", "retail", "airline", "delivery")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", action="append", choices=SPECS)
    parser.add_argument("--show", type=int, default=0, help="records of each entity to print")
    parser.add_argument("--quick", action="store_true", help="size 8")
    parser.add_argument(
        "--count", action="append", default=[], metavar="ENTITY=N", help="count of one entity"
    )
    args = parser.parse_args()
    size = 8 if args.quick else args.size
    counts = _counts(parser, args.count)
    runs = [(name, counts) for name in args.spec or SPECS]
    if not args.spec and not counts:
        runs.append(("delivery", {"Order": 3 * size}))
    failed = False
    for name, extra in runs:
        domain = envscale.load(ROOT / "specs" / f"{name}.domain")
        unknown = set(extra) - set(domain.manifest.entities)
        if unknown:
            parser.error(f"{name} has no entity {', '.join(sorted(unknown))}")
        asked = {e: extra.get(e, size) for e in domain.manifest.entities}
        notes: list[str] = []
        started = time.perf_counter()
        data = generate_data(domain, args.seed, asked, notes=notes)
        seconds = time.perf_counter() - started
        more = "".join(f", {e} {n}" for e, n in extra.items())
        print(f"{name}.domain  size {size}{more}  seed {args.seed}  {seconds:.1f}s")
        for entity, records in data.items():
            mark = "" if len(records) == asked[entity] else "   SHORT"
            print(f"  {entity:<16} asked {asked[entity]:>4}  made {len(records):>4}{mark}")
            failed |= len(records) != asked[entity]
        for entity in extra:
            for f in domain.manifest.entities[entity].fields:
                if f.kind == "enum":
                    spread = Counter(r.get(f.name) for r in data.get(entity, []))
                    shown = ", ".join(f"{k} {v}" for k, v in spread.most_common())
                    print(f"  statuses of {entity}.{f.name}: {shown}")
        for note in notes:
            print(f"  note: {note}")
        for check, (held, total) in coherence(domain, data).items():
            print(f"  coherence: {check:<24} {held:>5} / {total:<5}")
        try:
            domain.environment(data=data).close()
            print("  loads: yes (models, schema, checks, references, every invariant)")
        except DataError as error:
            print(f"  loads: NO: {error}")
            failed = True
        for entity, records in data.items():
            for record in records[: args.show]:
                print(f"  {entity} {json.dumps(record, ensure_ascii=False)}")
    print("datagen: every entity made as asked" if not failed else "datagen: SHORTFALLS")
    return 1 if failed else 0


def _counts(parser: argparse.ArgumentParser, given: list[str]) -> dict[str, int]:
    counts = {}
    for item in given:
        entity, _, number = item.partition("=")
        if not entity or not number.isdigit():
            parser.error(f"--count takes ENTITY=N, not {item!r}")
        counts[entity] = int(number)
    return counts


ENDS = (("origin", "destination"), ("source", "destination"), ("from", "to"))
DONE_WORDS = ("created", "placed", "paid", "issued", "ordered", "registered", "booked")
DAY_STATUSES = {
    "past": {"landed", "cancelled", "completed", "delivered", "closed"},
    "today": {"flying", "delayed", "on time", "boarding", "landed", "cancelled"},
    "later": {"available", "scheduled", "open", "on time", "delayed", "cancelled"},
}
FIRST_WORDS = ("created", "placed", "issued", "ordered", "booked", "assigned", "start", "joined")
HAPPENS = ("start", "starts", "begins", "departure", "departs", "scheduled")


def coherence(domain, data: dict[str, list[dict]]) -> dict[str, tuple[int, int]]:
    """Coherence checks over one generated state: name -> (held, applicable)."""
    manifest = domain.manifest
    clock = manifest.clock or "2024-01-01T09:00:00"
    keyed = {
        e: {r[s.key[0]]: r for r in data.get(e, [])}
        for e, s in manifest.entities.items()
        if len(s.key) == 1
    }
    counts: dict[str, list[int]] = {}

    def count(name: str, ok: bool) -> None:
        tally = counts.setdefault(name, [0, 0])
        tally[0] += bool(ok)
        tally[1] += 1

    def referred(line: dict) -> dict | None:
        for value in line.values():
            for records in keyed.values():
                if isinstance(value, str) and value in records:
                    return records[value]
        return None

    for entity, records in data.items():
        spec = manifest.entities[entity]
        for record in records:
            lines = [
                v for v in record.values() if isinstance(v, list) and v and isinstance(v[0], dict)
            ]
            for items in lines:
                for start, end in ENDS:
                    if start in items[0] and end in items[0]:
                        for a, b in itertools.pairwise(items):
                            count("legs connect", a[end] == b[start])
                        if start in record and end in record:
                            closed = len(items) > 1 and items[-1][end] == items[0][start]
                            turn = items[-2] if closed else items[-1]  # a round trip turns
                            count(
                                "trip is its legs",
                                record[start] == items[0][start] and record[end] == turn[end],
                            )
                if "date" in items[0]:
                    for a, b in itertools.pairwise(items):
                        count("legs in date order", str(a["date"]) <= str(b["date"]))
                for line in items:
                    other = referred(line)
                    if other is None:
                        continue
                    for name, value in line.items():
                        if name in other and not isinstance(value, dict | list):
                            if referred({name: value}) is other:
                                continue
                            count("lines copy their record", other[name] == value)
                    if "price" in line:
                        held = [v for v in [*line.values(), *record.values()] if isinstance(v, str)]
                        listed = _listed(other, held)
                        if listed is not None:
                            count("prices listed", listed == line["price"])
            payer = next(
                (
                    keyed[f.ref][record[f.name]]
                    for f in spec.fields
                    if f.ref
                    and record.get(f.name) in keyed.get(f.ref, {})
                    and isinstance(keyed[f.ref][record[f.name]].get("payment_methods"), dict)
                ),
                None,
            )
            priced = next((items for items in lines if "price" in items[0]), None)
            for items in lines:
                if "amount" not in items[0] or "price" in items[0]:
                    continue
                for entry in items:
                    method = next(
                        (v for k, v in entry.items() if k.endswith("_id") and isinstance(v, str)),
                        None,
                    )
                    if payer is not None and method is not None:
                        count("payments own methods", method in payer["payment_methods"])
                if priced is not None:
                    paid = sum(  # a refund is typed so, or a negative amount
                        e["amount"]
                        for e in items
                        if not any("refund" in str(v) for v in e.values()) and e["amount"] >= 0
                    )
                    cost = sum(line["price"] * line.get("quantity", 1) for line in priced)
                    times = _per(domain, entity, record)
                    fees = _fees(domain, entity, record)
                    count("payments add up", abs(paid - cost * times - fees) < 0.01)
            ends = next(((a, b) for a, b in ENDS if a in record and b in record), None)
            places = [fakes.AIRPORT_PLACES.get(str(record[e])) for e in ends] if ends else []
            times = [record.get(n) for n in _leg_times(record)]
            if len(places) == 2 and all(places) and len(times) == 2:
                km = _great_circle(*places)
                took = _minutes(times[1]) - _minutes(times[0])
                count("flight times fit distance", km / 900 * 60 + 15 <= took <= km / 500 * 60 + 90)
            for name, moves in manifest.transitions.items():
                owner, field = name.split(".")
                if owner == entity and record.get(field) in moves:
                    count(
                        "statuses fit clock", _fits_clock(spec, record, moves, record[field], clock)
                    )
            for value in record.values():  # a map by day: each day's status fits the clock
                if not isinstance(value, dict) or not value:
                    continue
                if not all(isinstance(k, str) and len(k) == 10 and k[4] == "-" for k in value):
                    continue
                for day, entry in value.items():
                    status = entry.get("status") if isinstance(entry, dict) else None
                    if isinstance(status, str):
                        fits = DAY_STATUSES["past" if day < clock[:10] else "later"]
                        if day == clock[:10]:
                            fits = DAY_STATUSES["today"]
                        count("days fit clock", status in fits)
            for f in spec.fields:  # nothing of a record happens before what it refers to
                key = record.get(f.name) if f.kind == "ref" else None
                other = keyed.get(f.ref or "", {}).get(key) if key is not None else None
                first = _first_event(manifest.entities[f.ref], other) if other else None
                mine = _first_event(spec, record)
                if first is not None and mine is not None and len(first) == len(mine):
                    count("after what it refers to", mine >= first)
            for f in spec.fields:
                value = record.get(f.name)
                done = any(w in fakes.words(f.name) for w in DONE_WORDS)
                if f.kind in ("date", "datetime") and isinstance(value, str) and done:
                    count("past dates not ahead", value <= clock[: len(value)])
            name = record.get("name")
            kind = next(
                (
                    k
                    for k in fakes.PRODUCT_KINDS
                    if isinstance(name, str) and k.lower() in name.lower()
                ),
                None,
            )
            if kind is not None:
                for value in record.values():
                    if isinstance(value, dict):
                        for entry in value.values():
                            if isinstance(entry, dict) and isinstance(entry.get("options"), dict):
                                count(
                                    "options of kind",
                                    set(entry["options"]) <= set(fakes.PRODUCT_KINDS[kind]),
                                )
    _more_checks(domain, data, keyed, count, clock)
    _sibling_checks(domain, data, keyed, count)
    _route_checks(domain, data, keyed, count)
    _gap_checks(domain, data, keyed, count)
    _absent_checks(domain, data, count)
    _method_checks(data, count)
    _history_checks(data, count)
    _enum_map_checks(domain, data, count)
    _reason_checks(domain, data, keyed, count)
    _variant_price_checks(data, count)
    _billed_checks(data, count)
    _home_checks(domain, data, count)
    _shipment_checks(data, count)
    _exit_checks(domain, data, count)
    _spot_checks(domain, data, keyed, count)
    return {name: (held, total) for name, (held, total) in counts.items()}


def _billed_checks(data: dict[str, list[dict]], count) -> None:
    """A line billing a known item (`fakes.BILLED_PRICES`: a flu vaccination) costs what
    that item usually does; the fee the policy states (25) is its own."""
    for records in data.values():
        for record in records:
            for value in record.values():
                for line in value if isinstance(value, list) else []:
                    if not isinstance(line, dict):
                        continue
                    usual = fakes.BILLED_PRICES.get(str(line.get("description")))
                    amount = line.get("amount")
                    if usual is not None and isinstance(amount, int | float):
                        count("billed as usual", usual[0] <= amount <= usual[1])


def _variant_price_checks(data: dict[str, list[dict]], count) -> None:
    """Entries of one map that each carry a price (variants of one product) cost within a
    third of each other, and a product of a known kind costs about what that kind does."""
    for records in data.values():
        for record in records:
            name = next((v for k, v in record.items() if k == "name" and isinstance(v, str)), "")
            kind = fakes.product_kind(name)
            for value in record.values():
                if not isinstance(value, dict):
                    continue
                prices = [
                    v["price"]
                    for v in value.values()
                    if isinstance(v, dict) and isinstance(v.get("price"), int | float)
                ]
                if not prices:
                    continue
                count("variants priced alike", max(prices) <= 1.36 * min(prices))
                if kind is not None:
                    low, high = fakes.PRODUCT_PRICES[kind]
                    count("priced as its kind", all(0.85 * low <= p <= 1.15 * high for p in prices))


def _reason_checks(domain, data: dict[str, list[dict]], keyed: dict, count) -> None:
    """An enum member that names a referred entity and one of its states (a refund's
    `cancelled_order`) is held exactly when the referred record is in that state."""
    entities = domain.manifest.entities
    for entity, spec in entities.items():
        for f in spec.fields:
            if f.kind != "enum":
                continue
            for g in spec.fields:
                if g.kind != "ref" or g.ref not in keyed:
                    continue
                stem = set(fakes.words(g.ref))
                for h in entities[g.ref].fields:
                    pairs = [
                        (m, s)
                        for m in f.enum or []
                        for s in h.enum or []
                        if h.kind == "enum" and stem | {s} <= set(fakes.words(str(m)))
                    ]
                    for member, state in pairs:
                        for record in data.get(entity, []):
                            other = keyed[g.ref].get(record.get(g.name))
                            if other is not None:
                                count(
                                    "reasons fit the state",
                                    (record.get(f.name) == member) == (other.get(h.name) == state),
                                )


def _enum_map_checks(domain, data: dict[str, list[dict]], count) -> None:
    """Maps keyed by one enum's members that sit side by side (a flight day's seats and
    prices by cabin) hold the same members."""
    enums: list[set[str]] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            members = node.get("enum")
            if isinstance(members, list) and members and set(map(str, members)) not in enums:
                enums.append(set(map(str, members)))
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    for model in domain.models.ENTITIES.values():
        collect(model.model_json_schema())

    def visit(value: dict) -> None:
        maps = [v for v in value.values() if isinstance(v, dict) and v]
        for members in enums:
            keyed = [set(m) for m in maps if set(m) <= members]
            if len(keyed) > 1:
                count("enum maps agree", all(k == keyed[0] for k in keyed))
        for v in value.values():
            if isinstance(v, dict):
                visit(v)
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, dict):
                        visit(item)

    for records in data.values():
        for record in records:
            visit(record)


def _history_checks(data: dict[str, list[dict]], count) -> None:
    """A record's payments: one per method; money given back only on a record cancelled;
    a cancelled record never shipped (its fulfillments or shipments are empty)."""
    for records in data.values():
        for record in records:
            status = record.get("status")
            for name, value in record.items():
                if not (isinstance(value, list) and value and isinstance(value[0], dict)):
                    continue
                if "fulfillment" in name or "shipment" in name:
                    continue
                kinds = [  # a refund by its kind, or a negative amount
                    "refund"
                    if isinstance(e.get("amount"), int | float) and e["amount"] < 0
                    else str(e.get("transaction_type", ""))
                    for e in value
                ]
                methods = [e.get("payment_method_id") or e.get("payment_id") for e in value]
                if not any(methods) or "amount" not in value[0]:
                    continue
                paid = [m for m, k in zip(methods, kinds, strict=True) if "refund" not in k]
                count("one payment per method", len(paid) == len(set(paid)))
                if any("refund" in k for k in kinds):
                    count("refunds only on cancels", status == "cancelled")
            if status == "cancelled" and any("fulfillment" in n or "shipment" in n for n in record):
                count(
                    "cancels never shipped",
                    not any(record[n] for n in record if "fulfillment" in n or "shipment" in n),
                )


def _method_checks(data: dict[str, list[dict]], count) -> None:
    """Saved payment methods: one of a kind without details of its own (a PayPal account,
    a gift card, a certificate) per owner; a certificate in a round value; a gift card's
    balance above nothing and below 400."""
    for records in data.values():
        for record in records:
            for value in record.values():
                if not isinstance(value, dict):
                    continue
                methods = [m for m in value.values() if isinstance(m, dict) and "source" in m]
                plain = [
                    m["source"]
                    for m in methods
                    if not any(
                        isinstance(v, str) for k, v in m.items() if k not in ("source", "id")
                    )
                ]
                if methods:
                    count("one method of a kind", len(plain) == len(set(plain)))
                for m in methods:
                    held = m.get("balance", m.get("amount"))
                    if not isinstance(held, int | float):
                        continue
                    if m["source"] == "certificate":
                        count("balances plausible", held % 50 == 0)
                    elif m["source"] == "gift_card":
                        count("balances plausible", 0 < held < 400)


def _more_checks(domain, data, keyed, count, clock: str) -> None:
    """Checks of what refers to a record agreeing with it, and of values that must fit each
    other within a record (see the module doc, second list)."""
    manifest = domain.manifest
    referrers: dict[tuple[str, object], list[tuple[str, dict]]] = {}
    for entity, records in data.items():
        for f in manifest.entities[entity].fields:
            if f.kind == "ref":
                for r in records:
                    referrers.setdefault((f.ref, r.get(f.name)), []).append((entity, r))
    chains = {name.split(".")[0]: moves for name, moves in manifest.transitions.items()}
    constants = _constant_lines(domain)
    for entity, records in data.items():
        spec = manifest.entities[entity]
        fields = {f.name: f for f in spec.fields}
        moves = chains.get(entity)
        ends = _chain_end(moves) if moves else None
        for r in records:
            key = r.get(spec.key[0])
            mine = referrers.get((entity, key), [])
            if moves and isinstance(r.get("notes"), str) and r["notes"]:
                count("notes once done", r.get("status") == ends)
            if "paid" in fields and fields["paid"].kind == "float":
                amounts = [o["amount"] for _, o in mine if isinstance(o.get("amount"), float)]
                if any(e != entity and "amount" in o for e, o in mine) or r["paid"]:
                    count("payments make up paid", abs(sum(amounts) - r["paid"]) < 0.01)
            for items in _line_lists(r):  # what a tool writes as a constant line, it costs
                for line in items:
                    text = next((v for v in line.values() if isinstance(v, str)), "")
                    fixed = constants.get(text)
                    if fixed is not None:
                        count("fees as stated", all(line.get(k) == v for k, v in fixed.items()))
            for f in spec.fields:  # a line on a bill for a visit done names that visit
                other = keyed.get(f.ref or "", {}).get(r.get(f.name)) if f.ref else None
                other_moves = chains.get(f.ref or "")
                if (
                    other is None
                    or not other_moves
                    or other.get("status") != _chain_end(other_moves)
                ):
                    continue
                names = _names_of(manifest, keyed, f.ref, other)
                for items in _line_lists(r):
                    for line in items:
                        text = " ".join(v for v in line.values() if isinstance(v, str))
                        count("lines fit the visit", any(n in text for n in names))
            if "issued" in fields:
                for f in spec.fields:
                    other = keyed.get(f.ref or "", {}).get(r.get(f.name)) if f.ref else None
                    other_moves = chains.get(f.ref or "")
                    if other is not None and other_moves and isinstance(other.get("start"), str):
                        held = other.get("status") in (_chain_end(other_moves), "cancelled")
                        day = other["start"][:10] == r["issued"] <= clock[:10]
                        count("bills for visits held", held and day)
            if isinstance(r.get("dosage"), str) and r.get("medication") in fakes.MEDICATION_DOSES:
                count(
                    "dosage fits medication", r["dosage"] in fakes.MEDICATION_DOSES[r["medication"]]
                )
            status = r.get("status")
            members = fields["status"].enum if "status" in fields else None
            if members and "booked" in members:
                held = [o for _, o in mine if o.get("status") != "cancelled"]
                count("booked once held", (status == "booked") == bool(held) and len(held) <= 1)
            if members and "on_delivery" in members:
                going = [o for _, o in mine if o.get("status") in ("assigned", "picked_up")]
                count("busy only on a trip", (status == "on_delivery") == bool(going))
            if isinstance(status, str) and status.startswith("pending"):
                for value in r.values():
                    lines = isinstance(value, list) and value and isinstance(value[0], dict)
                    if lines and any("tracking" in k for k in value[0]):
                        count("pending not shipped", False)
                        break
                else:
                    count("pending not shipped", True)
            for name, value in r.items():
                words = fakes.words(name)
                old = r.get("_".join(w for w in words if w != "new"))
                if "new" in words and isinstance(value, list) and isinstance(old, list) and old:
                    count("exchanges ask for others", not set(value) & set(old))
            if "discount" in fields and any(e != entity and "promo" in o for e, o in mine):
                count("promos discount", r["discount"] > 0)
            done = next((r[n] for n in ("delivered_at", "completed_at") if r.get(n)), None)
            begun = r.get("assigned_at")
            if isinstance(done, str) and isinstance(begun, str):
                took = datetime.fromisoformat(done) - datetime.fromisoformat(begun)
                count("done within hours", timedelta(0) <= took < timedelta(hours=3))
            for f in spec.fields:  # what a saved method holding a balance pays, it holds
                payer = keyed.get(f.ref or "", {}).get(r.get(f.name)) if f.ref else None
                methods = (payer or {}).get("payment_methods")
                if not isinstance(methods, dict):
                    continue
                for value in r.values():
                    for entry in value if isinstance(value, list) else []:
                        if not isinstance(entry, dict) or "amount" not in entry:
                            continue
                        if any("refund" in str(v) for v in entry.values()):
                            continue
                        method = next(
                            (
                                methods[v]
                                for v in entry.values()
                                if isinstance(v, str) and v in methods
                            ),
                            None,
                        )
                        left = _held(method) if isinstance(method, dict) else None
                        if left is not None and entry["amount"] > 0:
                            count("balances cover payments", left >= entry["amount"])
            for value in r.values():  # a cancel gives every payment back
                entries = value if isinstance(value, list) else []
                if status != "cancelled" or not all(isinstance(e, dict) for e in entries):
                    continue
                kinds = [
                    next((v for v in e.values() if v in ("payment", "refund")), None)
                    for e in entries
                ]
                if "payment" not in kinds:  # refunds as negative amounts of the same method
                    signed = [e for e in entries if isinstance(e.get("amount"), int | float)]
                    if signed and any(e["amount"] > 0 for e in signed):
                        given = sorted(
                            (str(_own(e)), e["amount"]) for e in signed if e["amount"] > 0
                        )
                        back = sorted(
                            (str(_own(e)), -e["amount"]) for e in signed if e["amount"] < 0
                        )
                        count("cancels refund", given == back)
                    continue
                given = [
                    sorted(map(str, e.values()))
                    for e, k in zip(entries, kinds, strict=True)
                    if k == "payment"
                ]
                back = [
                    sorted(str("payment" if v == "refund" else v) for v in e.values())
                    for e, k in zip(entries, kinds, strict=True)
                    if k == "refund"
                ]
                count("cancels refund", sorted(given) == sorted(back))
            percent = next((n for n in fields if "percent" in fakes.words(n)), None)
            numbered = re.match(r"^[A-Z]+(\d+)[A-Z]?$", str(key)) if len(spec.key) == 1 else None
            if percent is not None and numbered is not None:
                count("codes name their percent", int(numbered.group(1)) == r.get(percent))
            if status == "delivered":
                trips = [
                    e
                    for e, s in manifest.entities.items()
                    if e != entity
                    and any(f.ref == entity for f in s.fields)
                    and "delivered"
                    in next((f.enum or [] for f in s.fields if f.name == "status"), [])
                ]
                for trip in trips:
                    done = [o for e, o in mine if e == trip and o.get("status") == "delivered"]
                    count("delivered by a trip", bool(done))
            for name, offered in _offered(domain, entity).items():
                if name in r:
                    count("values a tool offers", r[name] is None or r[name] in offered)
            for value in r.values():  # what happened on a day is dated that day
                if not isinstance(value, dict):
                    continue
                for day, entry in value.items():
                    if not (isinstance(day, str) and len(day) == 10 and day[4] == "-"):
                        continue
                    for name, moment in entry.items() if isinstance(entry, dict) else []:
                        words = fakes.words(name)
                        if ("actual" in words or "estimated" in words) and isinstance(moment, str):
                            # the next day for an arrival whose schedule says '+1'
                            rest = name.split("_", 1)[1]
                            late = any(
                                k.endswith(rest) and str(v).endswith("+1") for k, v in r.items()
                            )
                            nxt = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
                            count("times on their day", moment[:10] == (nxt if late else day))


_DONE = ("delivered_at", "completed_at")


def _id_shapes(value, shapes: dict[str, set[str]], name: str = "") -> None:
    """The shapes (digits as 9, letters as a) of the string values of fields named `…_id`."""
    if isinstance(value, dict):
        for k, v in value.items():
            _id_shapes(v, shapes, str(k))
    elif isinstance(value, list):
        for v in value:
            _id_shapes(v, shapes, name)
    elif isinstance(value, str) and name.endswith("_id"):
        shape = re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", value))
        shapes.setdefault(name, set()).add(shape)


def _stem(a: str, b: str) -> int:
    """How many leading letters two words share (prescribe, prescription: 7)."""
    pairs = zip(a, b, strict=False)
    return sum(1 for _ in itertools.takewhile(lambda pair: pair[0] == pair[1], pairs))


def _sibling_checks(domain, data, keyed, count) -> None:
    """Checks of records that refer to the same record (a refund and the trip of one order), of
    how long a trip takes, and of who may do what (see the module doc, third list)."""
    manifest = domain.manifest
    done_of: dict[tuple[str, object], list[str]] = {}  # (entity, key) -> when its trips ended
    for entity, records in data.items():
        refs = [f for f in manifest.entities[entity].fields if f.kind == "ref"]
        for r in records:
            ended = next((r[n] for n in _DONE if isinstance(r.get(n), str)), None)
            for f in refs if ended is not None else []:
                done_of.setdefault((f.ref, r.get(f.name)), []).append(ended)
    shapes: dict[str, set[str]] = {}  # id field name -> the shapes of its values
    _id_shapes(data, shapes)
    for name, held in shapes.items():
        if "tracking" in name:
            others = set().union(*(v for k, v in shapes.items() if k != name))
            count("tracking ids their own", not held & others)
    for entity, records in data.items():
        spec = manifest.entities[entity]
        asked = [
            f.name
            for f in spec.fields
            if f.kind == "datetime" and {"created", "requested"} & set(fakes.words(f.name))
        ]
        refs = [f for f in spec.fields if f.kind == "ref"]
        titled = {"clinician", "doctor", "physician"} & set(fakes.words(entity))
        for r in records:
            for f in refs:
                for when in asked:
                    for ended in done_of.get((f.ref, r.get(f.name)), []):
                        count("asked after done", r[when] >= ended)
                target = keyed.get(f.ref, {}).get(r.get(f.name))
                for name, value in (target or {}).items():
                    verb = name[4:] if name.startswith("can_") else ""
                    if _stem(verb, entity.lower()) >= 5:
                        count("done by who may", value is True)
            for value in r.values():  # variants of one product differ in their options
                entries = list(value.values()) if isinstance(value, dict) else []
                held = [
                    json.dumps(e["options"], sort_keys=True)
                    for e in entries
                    if isinstance(e, dict) and isinstance(e.get("options"), dict)
                ]
                if len(held) > 1:
                    count("variants differ", len(set(held)) == len(held))
            if titled and isinstance(r.get("name"), str):
                count("doctors by title", r["name"].startswith("Dr. "))
            if isinstance(r.get("can_prescribe"), bool):
                roles = [v for v in r.values() if isinstance(v, str) and "therap" in v]
                if roles:
                    count("no therapist prescribes", not r["can_prescribe"])


def _offered(domain, entity: str) -> dict[str, list]:
    """Fields of `entity` named after (ending in) a parameter that offers choices, of a tool
    that writes the entity: field -> the choices."""
    writers = {t.name for t in domain.manifest.tools if entity in t.writes}
    fields = [f.name for f in domain.manifest.entities[entity].fields]
    found: dict[str, list] = {}
    for schema in domain.tool_schemas:
        if schema["function"]["name"] not in writers:
            continue
        props = schema["function"].get("parameters", {}).get("properties", {})
        for param, prop in props.items():
            for name in fields:
                if prop.get("enum") and name.endswith("_" + param):
                    found.setdefault(name, prop["enum"])
    return found


def _own(entry: dict):
    """The payment method an entry names (its `..._id` text)."""
    return next((v for k, v in entry.items() if k.endswith("_id") and isinstance(v, str)), None)


def _absent_checks(domain, data, count) -> None:
    """Lines of records whose optional reference is empty, and prices of what lines name
    (see the module doc, sixth list)."""
    manifest = domain.manifest
    prices: dict[tuple[str, str], set] = {}
    held_strings = keyed_values(data)
    for entity, records in data.items():
        spec = manifest.entities[entity]
        optional = [f for f in spec.fields if f.kind == "ref" and f.nullable]
        for record in records:
            for items in _line_lists(record):
                for line in items:
                    texts = [
                        (k, v)
                        for k, v in line.items()
                        if isinstance(v, str) and set(fakes.words(k)) & NAMING
                    ]
                    money = [k for k in line if set(fakes.words(k)) & fakes.MONEY_WORDS]
                    if (
                        len(texts) == 1
                        and money
                        and not any(isinstance(v, str) and v in held_strings for v in line.values())
                    ):
                        prices.setdefault((entity, texts[0][1]), set()).add(line[money[0]])
                    for f in optional:
                        if record.get(f.name) is not None or not texts:
                            continue
                        about = _vocabulary(manifest, f.ref)
                        words = re.findall(r"[a-z]+", texts[0][1].lower())
                        count(
                            "lines name no absent",
                            not any(w[:6] in about for w in words if len(w) >= 4),
                        )
    for (_, text), held in prices.items():
        if " with " not in text:  # a line naming who did it is priced by them
            count("one price per item", len(held) == 1)


def keyed_values(data) -> set:
    """Every string a record holds at its top level (ids and names), to tell lines that
    refer to a record from lines that name a thing."""
    return {
        v for records in data.values() for r in records for v in r.values() if isinstance(v, str)
    } - {"", None}


def _vocabulary(manifest, entity: str | None) -> set[str]:
    """Stems of what an entity is about: its name, its doc, its enums' members."""
    spec = manifest.entities.get(entity or "")
    if spec is None:
        return set()
    text = [re.sub(r"(?<!^)(?=[A-Z])", " ", entity or ""), spec.doc or ""]
    text += [m.replace("_", " ") for g in spec.fields for m in (g.enum or [])]
    stems = {w[:6] for w in re.findall(r"[a-z]+", " ".join(text).lower()) if len(w) >= 4}
    return stems - {"with", "from", "that", "this", "what", "when", "each", "their", "they"}


def _gap_checks(domain, data, keyed, count) -> None:
    """Times between the events of one thing (see the module doc, fifth list)."""
    manifest = domain.manifest

    def rank(name: str) -> int | None:
        ranks = [DATE_RANK[w] for w in fakes.words(name) if w in DATE_RANK]
        return max(ranks) if ranks else None

    for entity, records in data.items():
        spec = manifest.entities[entity]
        dated = [f.name for f in spec.fields if f.kind in ("date", "datetime")]
        for record in records:
            moments = [record[n] for n in dated if rank(n) is not None and rank(n) >= 0]
            moments = [m for m in moments if isinstance(m, str) and len(m) > 10]
            if len(moments) > 1:
                count("events apart", len(set(moments)) == len(moments))
            for f in spec.fields:
                other = (
                    keyed.get(f.ref or "", {}).get(record.get(f.name)) if f.kind == "ref" else None
                )
                if other is None:
                    continue
                begun = [
                    other[g.name]
                    for g in manifest.entities[f.ref].fields
                    if g.kind in ("date", "datetime")
                    and isinstance(other.get(g.name), str)
                    and any(DATE_RANK.get(w) == 1 for w in fakes.words(g.name))
                ]
                for name in dated:
                    mine, step = record.get(name), rank(name)
                    if not begun or not isinstance(mine, str) or step is None or step < 0:
                        continue
                    start = _moment(begun[0])
                    took = _moment(mine) - start
                    if len(mine) == 10 or len(begun[0]) == 10:  # a day: the same day or later
                        took = _moment(mine[:10]) - _moment(begun[0][:10])
                    count("follow-ups within weeks", timedelta(0) <= took <= timedelta(days=30))
                    if step in (2, 4, 5) and len(mine) > 10 and len(begun[0]) > 10:
                        count("events apart", took > timedelta(0))


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value if len(value) > 10 else f"{value}T00:00:00")


def _route_checks(domain, data, keyed, count) -> None:
    """Fares and connections of records between known airports (see the module doc, fourth
    list)."""
    orders = _enum_orders(domain)
    for records in data.values():
        for record in records:
            ends = next(((a, b) for a, b in ENDS if a in record and b in record), None)
            km = (
                _great_circle(*places)
                if ends and all(places := [fakes.AIRPORT_PLACES.get(str(record[e])) for e in ends])
                else None
            )
            for fares in fare_maps(record):
                members = next((m for m in orders if set(fares) <= set(m)), None)
                if members is None:
                    continue
                held = [fares[m] for m in members if m in fares]
                count("fares rise with class", all(a < b for a, b in itertools.pairwise(held)))
                if km is not None:
                    lowest = min(fares, key=members.index)
                    per_class = fares[lowest] / fakes.CLASS_FACTORS[members.index(lowest)]
                    expected = fakes.FARE_BASE + fakes.FARE_PER_KM * km
                    count("fares fit distance", 0.75 * expected <= per_class <= 1.25 * expected)
            for items in _line_lists(record):
                _connection_checks(record, items, keyed, count)
            days = [
                str(line["date"])
                for items in _line_lists(record)
                for line in items
                if "date" in line
            ]
            for name, value in record.items():
                done = any(w in fakes.words(name) for w in DONE_WORDS)
                if days and done and isinstance(value, str) and value[:4].isdigit():
                    count("booked before it starts", value[:10] < min(days))


def _connection_checks(record: dict, items: list[dict], keyed, count) -> None:
    """Consecutive dated lines naming records with departure and arrival times: an onward
    one leaves 45 minutes to a day after the one before lands, a return leg after it."""
    if not items or "date" not in items[0]:
        return
    ends = next(((a, b) for a, b in ENDS if a in items[0] and b in items[0]), None)
    closed = ends is not None and len(items) > 1 and items[-1][ends[1]] == items[0][ends[0]]
    moments = []
    for line in items:
        other = next(
            (
                rs[v]
                for v in line.values()
                for rs in keyed.values()
                if isinstance(v, str) and v in rs
            ),
            None,
        )
        times = _leg_times(other) if other else []
        if not times or not isinstance(line.get("date"), str):
            return
        day = date.fromisoformat(line["date"]).toordinal() * 24 * 60
        moments.append((day + _minutes(other[times[0]]), day + _minutes(other[times[1]])))
    for i, ((_, landed), (leaves, _)) in enumerate(itertools.pairwise(moments)):
        wait = leaves - landed
        if closed and i == len(moments) - 2:
            count("return after landing", wait >= 45)
        else:
            count("connections within a day", 45 <= wait <= 24 * 60)


def _enum_orders(domain) -> list[list[str]]:
    """Every enum's members in their declared order, read off the entities' schemas."""
    orders: list[list[str]] = []
    for model in domain.models.ENTITIES.values():
        orders += [m for m in enum_orders(model.model_json_schema()) if m not in orders]
    return orders


def _leg_times(record: dict) -> list[str]:
    """A record's scheduled departure and arrival times of day (HH:MM:SS), by field name."""
    for name, value in record.items():
        words = fakes.words(name)
        other = "_".join("arrival" if w == "departure" else w for w in words)
        arrival = record.get(other)
        timed = isinstance(arrival, str) and arrival[:2].isdigit()
        if "departure" in words and isinstance(value, str) and value[:2].isdigit() and timed:
            return [name, other]
    return []


def _minutes(clock: str) -> int:
    """Minutes after the day's midnight of HH:MM:SS, a day later when marked '+1'."""
    return int(clock[:2]) * 60 + int(clock[3:5]) + (24 * 60 if clock.endswith("+1") else 0)


def _great_circle(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _line_lists(record: dict) -> list[list[dict]]:
    return [
        v
        for v in record.values()
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
    ]


def _constant_lines(domain) -> dict[str, dict]:
    """Struct values the compiled tools write with constants only, a text and a number (a
    late-cancellation fee of 25): the text -> the numbers."""
    found: dict[str, dict] = {}
    for node in ast.walk(ast.parse(domain.files["tools.py"])):
        if not isinstance(node, ast.Dict) or not node.keys:
            continue
        pairs = [
            (k.value, v.value)
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
        ]
        if len(pairs) != len(node.keys):
            continue
        texts = [v for _, v in pairs if isinstance(v, str)]
        numbers = {k: v for k, v in pairs if isinstance(v, int | float) and v is not True}
        if len(texts) == 1 and numbers:
            found[texts[0]] = numbers
    return found


def _names_of(manifest, keyed, entity: str, record: dict) -> set[str]:
    """How a line may name a record: its enum values (a visit's type), and the names of the
    records it refers to (its clinician)."""
    names: set[str] = set()
    for f in manifest.entities[entity].fields:
        value = record.get(f.name)
        if f.kind == "enum" and isinstance(value, str) and f.name != "status":
            names.add(value)
        other = keyed.get(f.ref or "", {}).get(value) if f.kind == "ref" else None
        if other is not None and isinstance(other.get("name"), str):
            names.add(other["name"])
    return names


def _chain_end(moves: dict) -> str | None:
    entered = {b for nexts in moves.values() for b in nexts}
    starts = [s for s in moves if s not in entered and moves[s]]
    best: list[str] = []
    stack = [[s] for s in starts]
    while stack:
        path = stack.pop()
        best = path if len(path) > len(best) else best
        stack.extend([*path, b] for b in moves.get(path[-1], []) if b not in path)
    return best[-1] if best else None


def _held(method: dict) -> float | None:
    for name in ("balance", "amount"):
        if isinstance(method.get(name), int | float) and not isinstance(method[name], bool):
            return float(method[name])
    return None


def _first_event(spec, record: dict) -> str | None:
    """The date of a record's first event (its creation, placing, start), if it has one."""
    dates = [
        record[f.name]
        for f in spec.fields
        if f.kind in ("date", "datetime")
        and isinstance(record.get(f.name), str)
        and set(fakes.words(f.name)) & set(FIRST_WORDS)
    ]
    return min(dates) if dates else None


def _listed(node, held: list[str], depth: int = 0):
    if not isinstance(node, dict) or depth > 4:
        return None
    if isinstance(node.get("price"), int | float):
        return node["price"]
    if isinstance(node.get("prices"), dict):
        for h in held:
            if h in node["prices"]:
                return node["prices"][h]
    for inner in node.values():
        if isinstance(inner, dict):
            for h in held:
                if isinstance(inner.get(h), dict):
                    found = _listed(inner[h], held, depth + 1)
                    if found is not None:
                        return found
    return None


def _per(domain, entity: str, record: dict) -> int:
    """How many times a line's price counts: the length of the list its doc says it is per."""
    defs = domain.models.ENTITIES[entity].model_json_schema().get("$defs", {})
    for struct in defs.values():
        doc = struct.get("properties", {}).get("price", {}).get("description") or ""
        if " per " in doc:
            word = doc.split(" per ", 1)[1].split()[0].strip(".,")
            counted = record.get(word + "s")
            if isinstance(counted, list) and counted:
                return len(counted)
    return 1


def _fees(domain, entity: str, record: dict) -> float:
    """Fees the tools that write the entity charge, as their docs say: "30 per passenger for
    insurance" when the record's insurance is taken."""
    for tool in domain.manifest.tools:
        if tool.kind != "write" or entity not in tool.writes:
            continue
        doc = next(
            s["function"].get("description") or ""
            for s in domain.tool_schemas
            if s["function"]["name"] == tool.name
        )
        total = 0.0
        for amount, word, field in re.findall(r"(\d+) per (\w+) for (\w+)", " ".join(doc.split())):
            if str(record.get(field)).lower() in ("yes", "true"):
                counted = record.get(word + "s")
                total += float(amount) * (len(counted) if isinstance(counted, list) else 1)
        if total:
            return total
    return 0.0


def _fits_clock(spec, record: dict, moves: dict, state: str, clock: str) -> bool:
    entered = {b for nexts in moves.values() for b in nexts}
    starts = {s for s in moves if s not in entered and moves[s]}
    chain: list[str] = []
    for s in starts:  # the main chain: the longest from a first state
        stack = [[s]]
        while stack:
            path = stack.pop()
            if len(path) > len(chain):
                chain = path
            stack.extend([*path, b] for b in moves.get(path[-1], []) if b not in path)
    finals = {chain[-1]} if len(chain) > 1 else set()
    finals |= {s for s in moves if not moves[s] and s not in entered}
    middle = set(chain[1:-1])
    dates = [
        (f.name, record[f.name])
        for f in spec.fields
        if f.kind in ("date", "datetime") and isinstance(record.get(f.name), str)
    ]
    happens = next((v for n, v in dates if set(fakes.words(n)) & set(HAPPENS)), None)
    if happens is not None:
        ahead = happens > clock[: len(happens)]
        if state in starts:
            return ahead
        if state in middle:
            return not ahead and happens[:10] == clock[:10]
        return not ahead if state in finals else True
    if state in starts or state in middle:
        return any(v[:10] == clock[:10] for _, v in dates)
    return True


_POSTCODES = (
    ("USA", re.compile(r"\d{5}")),
    ("Canada", re.compile(r"[A-Z]\d[A-Z] ?\d[A-Z]\d")),
    ("Australia", re.compile(r"\d{4}")),
)
_COUNTRY_LOCALES = {c: loc for loc, _, c in fakes.LOCALES}


def _places(node, out: list[tuple[str, str | None]], key: str = "") -> None:
    """Every place in a value, as (country, region): an address struct (its country, or its
    postcode's), or an address written out on one line ("1 Main St, Springfield, IL 62701")."""
    if isinstance(node, dict):
        if "zip" in node or "postcode" in node or "country" in node:
            code = str(node.get("zip") or node.get("postcode") or "")
            country = node.get("country") or _postcode_country(code)
            out.append((str(country), node.get("state")))
            return
        for k, v in node.items():
            _places(v, out, k)
    elif isinstance(node, list):
        for v in node:
            _places(v, out, key)
    elif isinstance(node, str) and "address" in fakes.words(key) and "," in node:
        tail = node.rsplit(",", 1)[-1].split()
        if tail:
            out.append((_postcode_country(" ".join(tail[1:])), tail[0]))


def _postcode_country(code: str) -> str:
    return next((c for c, shape in _POSTCODES if shape.fullmatch(code)), "United Kingdom")


def _phones(node, out: list[str], key: str = "") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _phones(v, out, k)
    elif isinstance(node, list):
        for v in node:
            _phones(v, out, key)
    elif isinstance(node, str) and {"phone", "mobile"} & set(fakes.words(key)) and node:
        out.append(node)


def _home_checks(domain, data, count) -> None:
    """One home per state (tenth list): its places in one country, for a local business in one
    region of it, and its phones in that country's format."""
    places: list[tuple[str, str | None]] = []
    phones: list[tuple[str, str | None]] = []  # a number, and the country of its record
    for records in data.values():
        for r in records:
            own: list[tuple[str, str | None]] = []
            _places(r, own)
            places += own
            numbers: list[str] = []
            _phones(r, numbers)
            phones += [(n, own[0][0] if own else None) for n in numbers]
    if not places:
        return
    country, _ = Counter(c for c, _ in places).most_common(1)[0]
    for c, _ in places:
        count("places in one country", c == country)
    if any(fakes.LOCAL_ENTITIES & set(fakes.words(e)) for e in domain.manifest.entities):
        region, _ = Counter(r for _, r in places).most_common(1)[0]
        for _, r in places:
            count("places in one region", r == region)
    for number, where in phones:
        locale = _COUNTRY_LOCALES.get(where or country, "en_US")
        count("phones of the country", fakes.phone_of(number, locale))


def _shipment_checks(data, count) -> None:
    """A shipment (a line with a tracking id) has one tracking id of its own, and a record's
    shipments list each of its items exactly once."""
    seen: Counter = Counter()
    for records in data.values():
        for r in records:
            for items in _line_lists(r):
                if not any("tracking" in k for k in items[0]):
                    continue
                listed: list[str] = []
                for line in items:
                    ids = next((v for k, v in line.items() if "tracking" in k), None)
                    ids = ids if isinstance(ids, list) else [ids]
                    count("one tracking id a shipment", len(ids) == 1)
                    seen.update(str(i) for i in ids)
                    listed += next(
                        (v for k, v in line.items() if k.endswith("_ids") and isinstance(v, list)),
                        [],
                    )
                held = [
                    line.get("item_id")
                    for lines in _line_lists(r)
                    if "tracking" not in " ".join(lines[0])
                    for line in lines
                    if isinstance(line.get("item_id"), str)
                ]
                if held:
                    count("shipments hold every item", sorted(listed) == sorted(held))
    for n in seen.values():
        count("tracking ids unique", n == 1)


def _exit_checks(domain, data, count) -> None:
    """Records in an exit state (void, cancelled, no_show: `fakes.is_exit`) are a minority:
    per status field with both kinds of member, the share in one is at most 15%."""
    for entity, records in data.items():
        for f in domain.manifest.entities[entity].fields:
            members = f.enum or []
            status = {"status", "state"} & set(fakes.words(f.name))
            if f.kind != "enum" or not status or not any(map(fakes.is_exit, members)):
                continue
            if all(map(fakes.is_exit, members)) or f.name in domain.manifest.entities[entity].key:
                continue
            held = [r.get(f.name) for r in records if r.get(f.name) is not None]
            if held:
                share = sum(map(fakes.is_exit, held)) / len(held)
                count("exit states a minority", share <= 0.15)
            for member in held:
                count("records on the normal path", not fakes.is_exit(member))


_TIME = re.compile(r"(?:\d{4}-\d{2}-\d{2}T)?(\d{2}):\d{2}(?::\d{2})?")
_PAIRED = re.compile(r"\d{2}-\d{6}")


def _all_strings(node, out: list[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _all_strings(k, out)
            _all_strings(v, out)
    elif isinstance(node, list):
        for v in node:
            _all_strings(v, out)
    elif isinstance(node, str):
        out.append(node)


def _spot_checks(domain, data, keyed, count) -> None:
    """What spot-reading found (eleventh list): see the module doc."""
    manifest = domain.manifest
    low, high = fakes.WAKING_HOURS
    for entity, records in data.items():
        spec = manifest.entities[entity]
        timed = [
            f.name
            for f in spec.fields
            if (f.kind == "datetime" or "time" in fakes.words(f.name))
            and not {"arrival", "arrives", "end", "ends"} & set(fakes.words(f.name))
        ]
        flags = [f.name for f in spec.fields if f.kind == "bool" and f.name.startswith("can_")]
        key = spec.key[0] if len(spec.key) == 1 else None
        for r in records:
            for name in timed:
                hour = _TIME.fullmatch(str(r.get(name) or ""))
                if hour:
                    count("times in waking hours", low <= int(hour.group(1)) < high)
            places = [fakes.AIRPORT_PLACES.get(str(r.get(e))) for e in ("origin", "destination")]
            if all(places) and not _line_lists(r):
                count("routes 250 km or more", _great_circle(*places) >= fakes.MIN_ROUTE_KM)
            for items in _line_lists(r):
                if {"origin", "destination"} <= set(items[0]) and "destination" in r:
                    turn = next(
                        (i for i, a in enumerate(items) if a["destination"] == r["destination"]),
                        len(items) - 1,
                    )
                    for part in (items[: turn + 1], items[turn + 1 :]):
                        if len(part) > 1:
                            stops = [a["origin"] for a in part] + [part[-1]["destination"]]
                            count("detours within 1.5", fakes.detour_fits(stops))
            if isinstance(r.get("total_baggages"), int) and isinstance(r.get("passengers"), list):
                bags, people = r["total_baggages"], max(1, len(r["passengers"]))
                count("bags 1 to 3 a passenger", bags <= 3 * people)
            for name in flags:
                said = {
                    w
                    for v in r.values()
                    if isinstance(v, str)
                    for w in fakes.words(v.replace(" ", "_"))
                }
                count("flags by role", r[name] != bool(said & fakes.LIMITED_ROLES))
            if key is not None and isinstance(r.get(key), str):
                digits = re.sub(r"\D", "", r[key])
                if len(digits) >= 7:
                    count("long keys look issued", int(digits) > 10 * len(records))
            texts: list[str] = []
            _all_strings(r, texts)
            count("no paired-digit ids", not any(_PAIRED.fullmatch(t) for t in texts))
            kind = r.get("visit_type")
            if isinstance(r.get("reason"), str) and kind in reasons.VISIT_REASONS:
                count("reasons fit the visit", r["reason"] in reasons.VISIT_REASONS[kind])
            if r.get("medication") in fakes.SHORT_COURSES:
                count("short courses no refills", r.get("refills_left") == 0)
            for f in spec.fields:
                value = r.get(f.name)
                words = set(fakes.words(f.name))
                if f.kind == "int" and {"pct", "percent", "duration", "min"} & words:
                    count("round values stay round", value is None or value % 5 == 0)
                if f.kind == "float" and {"min", "minimum"} & words and value is not None:
                    count("round values stay round", value % 5 == 0)
            covered = r.get("insurance_covered")
            owner = keyed.get("Patient", {}).get(r.get("patient"))
            plan = keyed.get("InsurancePlan", {}).get(owner.get("plan")) if owner else None
            fees = any("fee" in str(line) for line in r.get("lines") or [])
            if isinstance(covered, float) and not fees and isinstance(r.get("total"), float):
                share = plan["coverage_pct"] if plan else 0
                count("insurance pays its share", covered == round(r["total"] * share / 100, 2))


if __name__ == "__main__":
    raise SystemExit(main())
