"""Generated values that agree across records: lines that connect, prices their records list,
payments that add up and come from the payer, statuses that fit the clock, a record that
follows the record it refers to. Real generated data, loaded into a real environment."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import envscale
from envscale.tasks import fakes, reasons
from envscale.tasks.datagen import generate_data
from envscale.tasks.generation.lifecycle import phases
from envscale.tasks.generation.nested import NOTHING, listed
from envscale.tasks.generation.writes import tool_writes

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _load(name: str):
    return envscale.load(SPECS / f"{name}.domain")


@pytest.fixture(scope="module")
def airline():
    domain = _load("airline")
    data = generate_data(domain, 3, 40)
    domain.environment(data=data).close()  # every check and invariant holds
    return domain, data


@pytest.fixture(scope="module")
def retail():
    domain = _load("retail")
    data = generate_data(domain, 3, 30)
    domain.environment(data=data).close()
    return domain, data


def _compile(text: str):
    from envscale.api import compile_source
    from envscale.runtime.domain import Domain

    files, diagnostics, _ = compile_source(text, "own.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def test_legs_connect_in_date_order_and_make_the_trip(airline):
    _, data = airline
    flights = {f["flight_number"]: f for f in data["Flight"]}
    multi = 0
    for r in data["Reservation"]:
        legs = r["flights"]
        multi += len(legs) > 1
        for a, b in itertools.pairwise(legs):
            assert a["destination"] == b["origin"], r["reservation_id"]
            assert a["date"] <= b["date"], r["reservation_id"]
        for leg in legs:  # a leg is its flight's route, on a day the flight runs
            flight = flights[leg["flight_number"]]
            assert (leg["origin"], leg["destination"]) == (flight["origin"], flight["destination"])
            assert leg["date"] in flight["dates"]
        closed = len(legs) > 1 and legs[-1]["destination"] == legs[0]["origin"]
        assert r["flight_type"] == ("round_trip" if closed else "one_way")
        turn = legs[-2] if closed else legs[-1]  # a round trip's destination is where it turns
        assert (r["origin"], r["destination"]) == (legs[0]["origin"], turn["destination"])
    assert multi >= 3  # connections are made, not only single legs


def test_a_flights_days_fit_the_clock(airline):
    domain, data = airline
    today = domain.manifest.clock[:10]
    for f in data["Flight"]:
        days = sorted(f["dates"])
        assert len(days) >= 4 and all(  # a run of consecutive days
            fakes.shift_date(a, 1) == b for a, b in itertools.pairwise(days)
        )
        for day, entry in f["dates"].items():
            status = entry["status"]
            if day < today:
                assert status in ("landed", "cancelled"), (day, entry)
            elif day > today:
                assert status in ("available", "cancelled"), (day, entry)
            assert ("prices" in entry) == (status == "available"), (day, entry)
            assert ("actual_arrival_time_est" in entry) == (status == "landed"), (day, entry)


def test_a_path_of_lines_connects_in_a_domain_of_its_own():
    domain = _compile(
        'domain rail "Trains." clock "2024-03-01T10:00:00"\n'
        "entity Train { train_id: str @key  from_stop: str  to_stop: str }\n"
        "struct Hop { from_stop: str  to_stop: str  train: Train }\n"
        "entity Journey { journey_id: str @key  hops: list<Hop> }\n"
    )
    data = generate_data(domain, 1, 40)
    trains = {t["train_id"]: t for t in data["Train"]}
    pairs = 0
    for j in data["Journey"]:
        for hop in j["hops"]:
            train = trains[hop["train"]]
            assert (hop["from_stop"], hop["to_stop"]) == (train["from_stop"], train["to_stop"])
        for a, b in itertools.pairwise(j["hops"]):
            pairs += 1
            assert a["to_stop"] == b["from_stop"]
    assert pairs > 0


def test_a_fare_is_the_price_its_flight_lists_for_the_day_and_cabin(airline):
    _, data = airline
    flights = {f["flight_number"]: f for f in data["Flight"]}
    checked = 0
    for r in data["Reservation"]:
        for leg in r["flights"]:
            day = flights[leg["flight_number"]]["dates"][leg["date"]]
            price = (day.get("prices") or {}).get(r["cabin"])
            if price is not None:
                checked += 1
                assert leg["price"] == price
    assert checked >= len(data["Reservation"]) // 2


def test_listed_follows_maps_only_by_the_values_held():
    flight = {"dates": {"2024-05-01": {"prices": {"economy": 120, "business": 400}}}}
    assert listed(flight, "price", ["2024-05-01", "business"]) == 400
    assert listed(flight, "price", ["2024-05-02", "business"]) is NOTHING
    product = {"variants": {"I1": {"price": 9.5}, "I2": {"price": 12.0}}}
    assert listed(product, "price", ["I2"]) == 12.0


def test_payments_add_up_to_the_fares_and_use_the_members_methods(airline):
    _, data = airline
    users = {u["user_id"]: u for u in data["User"]}
    for r in data["Reservation"]:
        fares = sum(leg["price"] for leg in r["flights"]) * len(r["passengers"])
        insurance = 30 * len(r["passengers"]) if r["insurance"] == "yes" else 0  # as booked
        charged = [p["amount"] for p in r["payment_history"] if p["amount"] > 0]  # not refunds
        assert round(sum(charged), 2) == fares + insurance
        methods = users[r["user_id"]]["payment_methods"]
        assert all(p["payment_id"] in methods for p in r["payment_history"])
        for p in r["payment_history"]:  # a gift card or certificate held what it paid
            held = methods[p["payment_id"]].get("amount")
            assert held is None or held >= p["amount"], (p, methods)


def test_passengers_are_often_the_member_and_people_they_saved(airline):
    _, data = airline
    users = {u["user_id"]: u for u in data["User"]}
    member = kept = 0
    for r in data["Reservation"]:
        u = users[r["user_id"]]
        me = {"first_name": u["name"]["first_name"], "last_name": u["name"]["last_name"]}
        me["dob"] = u["dob"]
        member += r["passengers"][0] == me
        kept += all(p == me or p in u["saved_passengers"] for p in r["passengers"])
    assert member >= len(data["Reservation"]) // 2
    assert kept == len(data["Reservation"])


def test_an_orders_payment_is_the_sum_of_its_items(retail):
    _, data = retail
    users = {u["user_id"]: u for u in data["User"]}
    for o in data["Order"]:
        paid = [t for t in o["payment_history"] if t["transaction_type"] == "payment"]
        assert paid, o["order_id"]
        assert round(sum(t["amount"] for t in paid), 2) == round(
            sum(i["price"] for i in o["items"]), 2
        )
        methods = users[o["user_id"]]["payment_methods"]
        assert all(t["payment_method_id"] in methods for t in o["payment_history"])
        shipped = [i for f in o["fulfillments"] for i in f["item_ids"]]  # each item ships once
        assert len(shipped) == len(set(shipped)) and all(f["item_ids"] for f in o["fulfillments"])
        assert set(shipped) <= {i["item_id"] for i in o["items"]}


def test_a_products_options_are_those_of_its_kind(retail):
    _, data = retail
    kinds = 0
    for p in data["Product"]:
        kind = next((k for k in fakes.PRODUCT_KINDS if k.lower() in p["name"].lower()), None)
        if kind is None:
            continue
        kinds += 1
        for variant in p["variants"].values():
            assert set(variant["options"]) <= set(fakes.PRODUCT_KINDS[kind]), p["name"]
    assert kinds >= len(data["Product"]) // 2


def test_phases_of_declared_transitions():
    clinic = _load("clinic").manifest.transitions["Appointment.status"]
    assert phases(clinic) == {
        "scheduled": "start",
        "checked_in": "middle",
        "completed": "end",
        "cancelled": "side",
        "no_show": "end",
    }
    delivery = _load("delivery").manifest.transitions["Delivery.status"]
    assert phases(delivery)["failed"] == "side" and phases(delivery)["picked_up"] == "middle"


def test_appointment_statuses_fit_the_clock():
    domain = _load("clinic")
    clock = domain.manifest.clock
    data = generate_data(domain, 5, 50)
    domain.environment(data=data).close()
    seen = set()
    for a in data["Appointment"]:
        seen.add(a["status"])
        if a["status"] == "scheduled":
            assert a["start"] > clock, a
        if a["status"] in ("completed", "no_show"):
            assert a["start"] <= clock, a
        if a["status"] == "checked_in":
            assert a["start"][:10] == clock[:10] and a["start"] <= clock
        assert (a["cancel_reason"] is not None) == (a["status"] == "cancelled"), a
    assert {"scheduled", "completed", "cancelled"} <= seen
    for rx in data["Prescription"]:  # a status named after a date is the one once it passed
        assert (rx["status"] == "expired") == (rx["expires"] < clock[:10]) or (
            rx["status"] == "discontinued"
        ), rx
    for i in data["Invoice"]:  # and the bill agrees with itself
        assert round(sum(line["amount"] for line in i["lines"]), 2) == i["total"]
        assert round(i["insurance_covered"] + i["patient_due"], 2) == i["total"]
        assert i["status"] != "paid" or i["paid"] == i["patient_due"]
        assert i["issued"] <= clock[:10]


def test_orders_in_progress_were_placed_today_and_deliveries_follow_them():
    domain = _load("delivery")
    clock = domain.manifest.clock
    # Fewer deliveries than orders: an order with none may still be placed or preparing.
    data = generate_data(domain, 1, {"Rating": 4, "Delivery": 6, "Order": 20})
    domain.environment(data=data).close()
    orders = {o["order_id"]: o for o in data["Order"]}
    statuses = {o["status"] for o in orders.values()}
    assert len(statuses) >= 3
    for o in orders.values():
        if o["status"] in ("placed", "preparing", "out_for_delivery"):
            assert o["placed_at"][:10] == clock[:10] and o["placed_at"] <= clock, o
    for d in data["Delivery"]:
        order = orders[d["order"]]
        assert (d["status"] == "delivered") == (order["status"] == "delivered"), d
        assert d["status"] not in ("assigned", "picked_up") or order["status"] == "out_for_delivery"
        assert d["status"] != "failed" or order["status"] in ("out_for_delivery", "cancelled")
        if d["delivered_at"]:  # within the hours after it was assigned
            took = datetime.fromisoformat(d["delivered_at"]) - datetime.fromisoformat(
                d["assigned_at"]
            )
            assert timedelta(0) <= took < timedelta(hours=3), d
    for r in data["Refund"]:
        assert r["created_at"] <= clock


def test_ratings_asked_beyond_the_delivered_orders_deliver_more_with_their_deliveries():
    domain = _load("delivery")
    data = generate_data(domain, 2, 20)  # 20 ratings, one per order: every order delivered
    domain.environment(data=data).close()
    orders = {o["order_id"]: o for o in data["Order"]}
    assert len(data["Rating"]) == 20
    assert all(orders[r["order"]]["status"] == "delivered" for r in data["Rating"])
    assert all(d["status"] == "delivered" and d["delivered_at"] for d in data["Delivery"])


def test_records_made_later_settle_what_refers_to_them_in_the_clinic():
    # Invoices are made before payments, slots before visits: their invariants that read
    # the later records are met once those exist.
    domain = _load("clinic")
    data = generate_data(domain, 5, 30)
    domain.environment(data=data).close()
    paid: dict[str, float] = {}
    for p in data["Payment"]:
        paid[p["invoice"]] = round(paid.get(p["invoice"], 0.0) + p["amount"], 2)
    invoices = {i["invoice_id"]: i for i in data["Invoice"]}
    assert paid, "some invoices are paid"
    for key, invoice in invoices.items():
        assert invoice["paid"] == paid.get(key, 0.0)
        assert invoice["status"] != "void" or key not in paid
    for patient in data["Patient"]:
        owed = sum(
            i["patient_due"] - i["paid"]
            for i in data["Invoice"]
            if i["patient"] == patient["patient_id"] and i["status"] == "open"
        )
        assert patient["balance"] == round(owed, 2)
    for slot in data["Slot"]:
        held = [
            a
            for a in data["Appointment"]
            if a["slot"] == slot["slot_id"] and a["status"] != "cancelled"
        ]
        assert (slot["status"] == "booked") == bool(held) and len(held) <= 1
    for a in data["Appointment"]:
        assert (a["status"] == "completed") == bool(a["notes"]), a
    for rx in data["Prescription"]:
        assert rx["dosage"] in fakes.MEDICATION_DOSES[rx["medication"]]


def test_retail_pending_orders_are_unshipped_and_exchanges_ask_for_other_variants(retail):
    domain, data = retail
    other = generate_data(domain, 4, 30)  # a second state, for exchanges to be asked in
    assert sum(_pending_and_exchanges(state) for state in (data, other))


def _pending_and_exchanges(data: dict) -> int:
    products = {p["product_id"]: p for p in data["Product"]}
    users = {u["user_id"]: u for u in data["User"]}
    exchanges = 0
    for o in data["Order"]:
        if o["status"].startswith("pending"):
            assert o["fulfillments"] == []
        elif o["status"] != "cancelled":
            assert all(t["transaction_type"] == "payment" for t in o["payment_history"])
        if o["exchange_new_items"]:
            exchanges += 1
            assert not set(o["exchange_items"]) & set(o["exchange_new_items"])
            lines = {i["item_id"]: i for i in o["items"]}
            old = [lines[i] for i in o["exchange_items"]]
            kinds = {products[i["product_id"]]["product_id"] for i in old}
            for new in o["exchange_new_items"]:  # another variant of the same products
                assert any(new in products[k]["variants"] for k in kinds)
        methods = users[o["user_id"]]["payment_methods"]
        for t in o["payment_history"]:
            held = methods[t["payment_method_id"]].get("balance")
            if t["transaction_type"] == "payment" and held is not None:
                assert held >= t["amount"]
    return exchanges


def test_delivery_couriers_are_busy_only_on_a_trip_and_promos_discount_their_orders():
    domain = _load("delivery")
    data = generate_data(domain, 6, 20)
    domain.environment(data=data).close()
    for c in data["Courier"]:
        going = [
            d
            for d in data["Delivery"]
            if d["courier"] == c["courier_id"] and d["status"] in ("assigned", "picked_up")
        ]
        assert (c["status"] == "on_delivery") == bool(going) and len(going) <= 1
    orders = {o["order_id"]: o for o in data["Order"]}
    promos = {p["code"]: p for p in data["Promo"]}
    redeemed = {r["order"]: r for r in data["Redemption"]}
    assert redeemed
    for key, o in orders.items():
        subtotal = round(sum(line["price"] * line["quantity"] for line in o["lines"]), 2)
        percent = promos[redeemed[key]["promo"]]["percent_off"] if key in redeemed else 0
        assert o["discount"] == round(subtotal * percent / 100, 2)
    for r in data["Redemption"]:
        assert r["redeemed_at"] == orders[r["order"]]["placed_at"]


def test_cancelled_orders_are_refunded_and_give_a_reason_the_tool_offers():
    domain = _load("retail")
    offered = {"no longer needed", "ordered by mistake"}
    for seed in (0, 1):
        data = generate_data(domain, seed, 50)
        domain.environment(data=data).close()
        cancelled = [o for o in data["Order"] if o["status"] == "cancelled"]
        assert cancelled
        for o in cancelled:  # as cancel_pending_order does: each payment given back
            moves = [
                (t["transaction_type"], t["amount"], t["payment_method_id"])
                for t in o["payment_history"]
            ]
            paid = sorted(m[1:] for m in moves if m[0] == "payment")
            assert paid == sorted(m[1:] for m in moves if m[0] == "refund"), o
        assert {o["cancel_reason"] for o in data["Order"]} <= offered | {None}


def test_an_exchange_asks_for_another_variant_of_each_item():
    domain = _load("retail")
    data = generate_data(domain, 1, 50)
    exchanges = [o for o in data["Order"] if o.get("exchange_items")]
    assert exchanges
    for o in exchanges:
        assert not set(o["exchange_new_items"]) & set(o["exchange_items"]), o


def test_tool_writes_read_from_the_compiled_tools():
    writes = tool_writes(_load("retail"))
    assert writes.choices[("Order", "cancel_reason")] == ["no longer needed", "ordered by mistake"]
    assert "payment_history" in writes.extends[("Order", "status", "cancelled")]


def test_a_promo_code_names_the_percent_it_takes_off():
    data = generate_data(_load("delivery"), 0, 50)
    codes = {p["code"] for p in data["Promo"]}
    assert len(codes) == 50
    for p in data["Promo"]:
        assert p["code"].rstrip("BCDEFGHJKLMNPQRSTUVWXYZ") == f"SAVE{p['percent_off']:02d}", p


@pytest.mark.parametrize("seed", [0, 1])
def test_a_clinic_invoice_bills_what_its_visit_was(seed):
    # The spec says what an invoice for a visit holds (the tools that bill write the same):
    # the visit's fee, half for telehealth, or the late-cancellation fee of 25.
    domain = _load("clinic")
    data = generate_data(domain, seed, 40)
    domain.environment(data=data).close()
    visits = {a["appointment_id"]: a for a in data["Appointment"]}
    clinicians = {c["clinician_id"]: c for c in data["Clinician"]}
    billed = [i for i in data["Invoice"] if i["appointment"] is not None]
    assert billed, "some invoices bill a visit"
    assert len({i["appointment"] for i in billed}) == len(billed), "one invoice per visit"
    for invoice in billed:
        visit = visits[invoice["appointment"]]
        clinician = clinicians[visit["clinician"]]
        if visit["status"] == "completed":
            fee = clinician["visit_fee"]
            if visit["visit_type"] == "telehealth":
                fee = round(fee / 2, 2)
            text = f"{visit['visit_type']} visit with {clinician['name']}"
            assert invoice["lines"] == [{"description": text, "amount": fee}], invoice
        else:
            assert visit["status"] == "cancelled", invoice
            assert invoice["lines"] == [{"description": "Late cancellation fee", "amount": 25.0}]
            assert invoice["insurance_covered"] == 0.0
        assert invoice["total"] == round(sum(line["amount"] for line in invoice["lines"]), 2)
    for invoice in data["Invoice"]:
        for line in invoice["lines"]:
            if line["description"].endswith(" fee"):
                assert line["amount"] == 25.0, invoice


def test_a_list_an_invariant_names_whole_is_made_that_list_and_its_total_follows():
    domain = _compile(
        """
domain shop "A shop." clock "2024-06-10T09:00:00"
enum Kind { plain, express }
struct Line { description: str  amount: float }
entity Parcel { parcel_id: str @key  kind: Kind }
entity Bill {
  bill_id: str @key
  parcel: Parcel
  lines: list<Line>
  total: float "Sum of the lines, USD"
}
invariant bill_is_the_postage on Bill:
  (self.parcel.kind == plain and lines == [Line(description: "Postage", amount: 4.5)])
  or (self.parcel.kind == express and lines == [Line(description: "Postage", amount: 4.5),
      Line(description: "Express", amount: 10.0)])
  else "A bill is its parcel's postage"
invariant bill_total on Bill: total == round(sum([l.amount for l in lines]), 2) else "sum"
tool get_bill(bill_id: str) -> Bill { return Bill[bill_id] }
"""
    )
    data = generate_data(domain, 0, 12)
    domain.environment(data=data).close()
    kinds = {p["parcel_id"]: p["kind"] for p in data["Parcel"]}
    assert len(data["Bill"]) == 12
    for bill in data["Bill"]:
        express = kinds[bill["parcel"]] == "express"
        assert len(bill["lines"]) == 1 + express and bill["lines"][0]["amount"] == 4.5
        assert bill["total"] == (14.5 if express else 4.5)


def test_a_flight_takes_the_time_its_distance_does(airline):
    _, data = airline
    for f in data["Flight"]:
        minutes = fakes.flight_minutes(f["origin"], f["destination"])
        assert minutes is not None, f
        leaves, lands = f["scheduled_departure_time_est"], f["scheduled_arrival_time_est"]
        start = datetime.fromisoformat(f"2024-05-01T{leaves}")
        end = datetime.fromisoformat(f"2024-05-0{2 if lands.endswith('+1') else 1}T{lands[:8]}")
        assert end - start == timedelta(minutes=minutes), f
        for day in f["dates"].values():
            left, came = day.get("actual_departure_time_est"), day.get("actual_arrival_time_est")
            if left and came:
                took = datetime.fromisoformat(came) - datetime.fromisoformat(left)
                assert abs(took - timedelta(minutes=minutes)) <= timedelta(minutes=20), f
    assert fakes.flight_minutes("JFK", "PHL") < 90 < 300 < fakes.flight_minutes("JFK", "LAX")


def test_saved_balances_stay_as_made_and_pay_only_what_they_hold(airline):
    # A payer whose gift cards and certificates cannot pay a booking does not book it; the
    # balances keep the size they were made with.
    _, data = airline
    users = {u["user_id"]: u for u in data["User"]}
    held = [
        m["amount"]
        for u in data["User"]
        for m in u["payment_methods"].values()
        if m["source"] != "credit_card"
    ]
    assert held and max(held) <= 600
    for r in data["Reservation"]:
        methods = users[r["user_id"]]["payment_methods"]
        for p in r["payment_history"]:
            method = methods[p["payment_id"]]
            if method["source"] != "credit_card" and p["amount"] > 0:
                assert p["amount"] <= method["amount"], (r["reservation_id"], p)


def test_what_a_cancel_appends_is_read_from_the_tool_and_given_to_cancelled_records(airline):
    writes = tool_writes(_load("airline"))
    rules = writes.mirrors[("Reservation", "status", "cancelled")]["payment_history"]
    assert rules == {"payment_id": ("copy", "payment_id"), "amount": ("negate", "amount")}
    retail = tool_writes(_load("retail")).mirrors[("Order", "status", "cancelled")]
    assert retail["payment_history"]["transaction_type"] == ("const", "refund")
    _, data = airline
    cancelled = [r for r in data["Reservation"] if r.get("status") == "cancelled"]
    assert cancelled and len(cancelled) < len(data["Reservation"]) / 2
    for r in cancelled:
        paid = sorted(
            (p["payment_id"], p["amount"]) for p in r["payment_history"] if p["amount"] > 0
        )
        back = sorted(
            (p["payment_id"], -p["amount"]) for p in r["payment_history"] if p["amount"] < 0
        )
        assert paid and paid == back, r["reservation_id"]
    for r in data["Reservation"]:
        if r.get("status") != "cancelled":
            assert all(p["amount"] > 0 for p in r["payment_history"]), r["reservation_id"]


def test_refunds_follow_the_delivery():
    domain = _load("delivery")
    data = generate_data(domain, 4, 20)
    delivered = {d["order"]: d["delivered_at"] for d in data["Delivery"] if d["delivered_at"]}
    assert data["Refund"] and delivered
    for refund in data["Refund"]:
        if refund["order"] in delivered:
            assert refund["created_at"] >= delivered[refund["order"]], refund


def test_prescriptions_come_from_clinicians_who_may_prescribe_and_doctors_go_by_title():
    domain = _load("clinic")
    data = generate_data(domain, 4, 30)
    clinicians = {c["clinician_id"]: c for c in data["Clinician"]}
    assert any(c["specialty"] == "physiotherapy" for c in clinicians.values())
    for c in clinicians.values():
        assert not (c["specialty"] == "physiotherapy" and c["can_prescribe"]), c
        assert c["name"].startswith("Dr. ") and len(c["name"].split()) >= 3, c
    assert not any(p["first_name"].startswith("Dr") for p in data["Patient"])
    assert data["Prescription"]
    for rx in data["Prescription"]:
        assert clinicians[rx["clinician"]]["can_prescribe"], rx


def test_variants_of_a_product_differ_in_their_options(retail):
    _, data = retail
    several = [p for p in data["Product"] if len(p["variants"]) > 1]
    assert several
    for product in several:
        held = [sorted(v["options"].items()) for v in product["variants"].values()]
        assert all(a != b for a, b in itertools.combinations(held, 2)), product


def test_tracking_ids_are_carrier_numbers_not_item_ids(retail):
    _, data = retail
    shipped = [f for o in data["Order"] for f in o["fulfillments"]]
    assert shipped
    for fulfillment in shipped:
        for tracking in fulfillment["tracking_id"]:
            assert tracking.isdigit() and len(tracking) == 12, fulfillment
        # an item's id is ten digits, as an issuer hands them out, not a carrier's twelve
        assert all(item.isdigit() and len(item) == 10 for item in fulfillment["item_ids"])


def test_fares_rise_with_the_cabin_and_the_distance(airline):
    _, data = airline
    cabins = ["basic_economy", "economy", "business"]  # the Cabin enum's declared order
    lowest: list[tuple[float, float]] = []  # (km, the fare of the lowest cabin, as basic)
    for flight in data["Flight"]:
        km = fakes.route_km(flight["origin"], flight["destination"])
        for day in flight["dates"].values():
            prices = day.get("prices") or {}
            held = [prices[c] for c in cabins if c in prices]
            assert held == sorted(held) and len(set(held)) == len(held), flight["flight_number"]
            if prices:
                first = min(prices, key=cabins.index)
                lowest.append((km, prices[first] / fakes.CLASS_FACTORS[cabins.index(first)]))
    lowest.sort()
    short = [fare for _, fare in lowest[: len(lowest) // 3]]
    long = [fare for _, fare in lowest[-len(lowest) // 3 :]]
    assert sum(short) / len(short) < sum(long) / len(long)


def test_onward_legs_leave_after_the_one_before_lands_within_a_day(airline):
    _, data = airline
    flights = {f["flight_number"]: f for f in data["Flight"]}

    def moment(day: str, time_of_day: str) -> datetime:
        at = datetime.fromisoformat(f"{day}T{time_of_day[:8]}")
        return at + timedelta(days=1) if "+" in time_of_day else at

    connections = 0
    for r in data["Reservation"]:
        legs = r["flights"]
        onward = legs[:-1] if r["flight_type"] == "round_trip" else legs
        places = [leg["origin"] for leg in onward] + [onward[-1]["destination"]]
        assert len(set(places)) == len(places), r["reservation_id"]  # no place twice
        for a, b in itertools.pairwise(legs):
            landed = moment(a["date"], flights[a["flight_number"]]["scheduled_arrival_time_est"])
            leaves = moment(b["date"], flights[b["flight_number"]]["scheduled_departure_time_est"])
            wait = leaves - landed
            if b is legs[-1] and r["flight_type"] == "round_trip":
                assert wait >= timedelta(minutes=45), r["reservation_id"]
                continue
            connections += 1
            assert timedelta(minutes=45) <= wait <= timedelta(days=1), r["reservation_id"]
    assert connections >= 3


def test_a_trip_is_booked_days_before_its_first_leg(airline):
    _, data = airline
    for r in data["Reservation"]:
        first = min(leg["date"] for leg in r["flights"])
        assert r["created_at"][:10] < first, r["reservation_id"]
        assert (date.fromisoformat(first) - date.fromisoformat(r["created_at"][:10])).days < 200


def test_follow_ups_come_within_weeks_and_steps_take_a_while():
    clinic, delivery = _load("clinic"), _load("delivery")
    data = generate_data(clinic, 0, 40)
    clinic.environment(data=data).close()
    clock = clinic.manifest.clock
    issued = {i["invoice_id"]: date.fromisoformat(i["issued"]) for i in data["Invoice"]}
    for p in data["Payment"]:  # a payment of an invoice comes after it, within weeks
        days = (date.fromisoformat(p["paid_at"][:10]) - issued[p["invoice"]]).days
        assert 0 <= days <= 30 and p["paid_at"] <= clock, p
    data = generate_data(delivery, 0, 40)
    delivery.environment(data=data).close()
    placed = {o["order_id"]: datetime.fromisoformat(o["placed_at"]) for o in data["Order"]}
    at_once = 0  # assigned after the order is placed, delivered after that
    for d in data["Delivery"]:
        assigned = datetime.fromisoformat(d["assigned_at"])
        assert assigned >= placed[d["order"]], d
        at_once += assigned == placed[d["order"]]
        if d["delivered_at"]:
            assert datetime.fromisoformat(d["delivered_at"]) > assigned, d
    assert at_once <= len(data["Delivery"]) // 10  # one settled late may keep its moment
    for r in data["Refund"]:
        assert timedelta(0) < datetime.fromisoformat(r["created_at"]) - placed[r["order"]]
        assert datetime.fromisoformat(r["created_at"]) - placed[r["order"]] <= timedelta(days=31)


def test_a_moment_compared_is_tried_a_while_after_and_before_before_itself():
    import random

    from envscale.tasks.repair import candidates

    tried = list(candidates(random.Random(0), None, ["2024-05-01T10:00:00"], "datetime", None))
    assert tried[-1] == "2024-05-01T10:00:00"
    assert tried[0] > "2024-05-01T10:00:00" > tried[1]
    assert len(set(tried)) == 3


def test_a_bill_for_no_visit_names_no_visit_and_an_item_costs_one_price():
    domain = _load("clinic")
    data = generate_data(domain, 1, 40)
    domain.environment(data=data).close()
    visit_words = ("visit", "consultation", "telehealth", "physical", "cancel", "show")
    prices: dict[str, set[float]] = {}
    alone = 0
    for invoice in data["Invoice"]:
        for line in invoice["lines"]:
            prices.setdefault(line["description"], set()).add(line["amount"])
            if invoice["appointment"] is None:
                alone += 1
                assert not any(w in line["description"].lower() for w in visit_words), invoice
    assert alone >= 10
    listed = [p for d, p in prices.items() if "visit with" not in d]  # a visit's fee is its own
    assert all(len(p) == 1 for p in listed), prices


def test_one_to_one_referrers_get_their_records_and_statuses_spread():
    # 50 ratings, each of its own delivered order with a trip that delivered it, out of 150
    # orders whose other statuses stay spread
    domain = _load("delivery")
    size = {e: 50 for e in domain.manifest.entities} | {"Order": 150}
    data = generate_data(domain, 0, size, notes=[])
    domain.environment(data=data).close()
    assert {e: len(r) for e, r in data.items()} == size
    statuses = {o["status"] for o in data["Order"]}
    assert {"placed", "delivered", "cancelled"} <= statuses, statuses
    placed = {o["order_id"]: o["placed_at"] for o in data["Order"]}
    for d in data["Delivery"]:  # a courier is assigned a while after the order is placed
        assert d["assigned_at"] > placed[d["order"]], d


def test_saved_methods_of_a_plain_kind_appear_once_with_plausible_balances(airline, retail):
    for (_, data), field in ((retail, "balance"), (airline, "amount")):
        for user in data["User"]:
            kinds = [m["source"] for m in user["payment_methods"].values()]
            for kind in ("paypal", "gift_card", "certificate"):
                assert kinds.count(kind) <= 1, user["payment_methods"]
            for m in user["payment_methods"].values():
                if m["source"] == "certificate":  # issued in round values
                    assert m[field] % 50 == 0, m
                if m["source"] == "gift_card":
                    assert 0 < m[field] <= 400, m


def test_some_bills_are_paid_in_full_by_their_payments():
    # a payment beyond what is left on its invoice pays what is left (now and then), so
    # invoices reach paid
    domain = _load("clinic")
    data = generate_data(domain, 0, 50, notes=[])
    paid = [i for i in data["Invoice"] if i["status"] == "paid"]
    assert paid
    for invoice in paid:
        payments = [p["amount"] for p in data["Payment"] if p["invoice"] == invoice["invoice_id"]]
        assert payments and round(sum(payments), 2) == invoice["paid"] == invoice["patient_due"]


def test_a_repair_that_moves_a_dated_record_keeps_its_status_fitting_the_clock():
    domain = _load("clinic")
    data = generate_data(domain, 0, 50, notes=[])
    clock = domain.manifest.clock
    for a in data["Appointment"]:
        if a["start"] > clock:
            assert a["status"] in ("scheduled", "cancelled"), a
        elif a["start"][:10] < clock[:10]:
            assert a["status"] != "scheduled", a


def test_payments_once_per_method_refunds_only_on_cancels_and_cancels_never_shipped(retail):
    _, data = retail
    cancelled = 0
    for o in data["Order"]:
        paid = [
            t["payment_method_id"]
            for t in o["payment_history"]
            if t["transaction_type"] == "payment"
        ]
        assert len(paid) == len(set(paid)), o["payment_history"]
        if any(t["transaction_type"] == "refund" for t in o["payment_history"]):
            assert o["status"] == "cancelled", o  # only the cancel tool gives money back
        if o["status"] == "cancelled":  # cancelled while pending: never shipped
            cancelled += 1
            assert o["fulfillments"] == [], o
    assert cancelled


def test_the_state_a_tool_requires_is_read_from_its_code():
    from envscale.tasks.generation.writes import tool_writes

    writes = tool_writes(_load("retail"))
    assert writes.before[("Order", "status", "cancelled")] == {"pending"}
    assert writes.before[("Order", "status", "return requested")] == {"delivered"}
    assert "pending_orders_not_shipped" in writes.row_fields  # reads only its row
    clinic = tool_writes(_load("clinic"))
    assert "notes" in clinic.alongside[("Appointment", "status", "completed")]
    assert "one_held_visit_per_slot" not in clinic.row_fields  # it counts other records


def test_a_flight_day_offers_seats_and_prices_of_the_same_cabins(airline):
    _, data = airline
    both = 0
    for flight in data["Flight"]:
        cabins = set()
        for day in flight["dates"].values():
            for name in ("available_seats", "prices"):
                if day.get(name):
                    both += 1
                    cabins = cabins or set(day[name])
                    assert set(day[name]) == cabins, flight["flight_number"]
    assert both


def test_a_reason_naming_a_state_fits_the_record_it_refers_to():
    # a refund is of an order that is over (delivered or cancelled); its reason is
    # `cancelled_order` exactly when the order was cancelled
    domain = _load("delivery")
    size = {e: 30 for e in domain.manifest.entities} | {"Order": 90}
    data = generate_data(domain, 1, size, notes=[])
    orders = {o["order_id"]: o for o in data["Order"]}
    assert data["Refund"]
    for refund in data["Refund"]:
        status = orders[refund["order"]]["status"]
        assert status in ("delivered", "cancelled"), refund
        assert (refund["reason"] == "cancelled_order") == (status == "cancelled"), refund


def test_variants_of_a_product_cost_alike_and_what_their_kind_costs(retail):
    _, data = retail
    for product in data["Product"]:
        prices = [v["price"] for v in product["variants"].values()]
        assert max(prices) <= 1.36 * min(prices), product["name"]
        kind = fakes.product_kind(product["name"])
        if kind is not None:
            low, high = fakes.PRODUCT_PRICES[kind]
            assert all(0.85 * low <= p <= 1.15 * high for p in prices), product["name"]
        if kind == "Electric Kettle":  # made of what kettles are made of
            for v in product["variants"].values():
                assert v["options"].get("material", "steel") not in ("cotton", "leather")


def test_a_billed_item_costs_what_it_usually_does():
    data = generate_data(_load("clinic"), 0, 30)
    billed = [
        line
        for invoice in data["Invoice"]
        for line in invoice["lines"]
        if line["description"] in fakes.BILLED_PRICES
    ]
    assert billed
    for line in billed:
        low, high = fakes.BILLED_PRICES[line["description"]]
        assert low <= line["amount"] <= high, line


def test_an_enum_naming_a_referred_state_beside_struct_and_list_fields():
    # the fields that are no reference hold dicts and lists, which no index is keyed by
    domain = _compile(
        'domain desk "Refunds." clock "2024-03-01T10:00:00"\n'
        "enum OrderStatus { placed, cancelled, delivered }\n"
        "enum Reason { cancelled_order, late }\n"
        "struct Note { text: str }\n"
        "entity Order { order_id: str @key  status: OrderStatus }\n"
        "entity Refund { refund_id: str @key  order: Order  reason: Reason"
        "  note: Note  days: list<date>  extra: map<str, int> }\n"
    )
    data = generate_data(domain, 2, 30)
    orders = {o["order_id"]: o for o in data["Order"]}
    assert len(data["Refund"]) == 30
    for r in data["Refund"]:
        said_cancelled = r["reason"] == "cancelled_order"
        assert said_cancelled == (orders[r["order"]]["status"] == "cancelled"), r


def _places(node, found: list) -> None:
    """The (country, region) of every address struct in a value."""
    if isinstance(node, dict):
        if "zip" in node and "country" in node:
            found.append((node["country"], node.get("state")))
            return
        for value in node.values():
            _places(value, found)
    elif isinstance(node, list):
        for value in node:
            _places(value, found)


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_every_address_of_a_state_is_in_its_one_country(retail, seed):
    domain = retail[0]
    data = generate_data(domain, seed, 20)
    found: list = []
    for records in data.values():
        for record in records:
            _places(record, found)
    assert len(found) >= 30
    assert len({country for country, _ in found}) == 1, found


def test_a_local_business_has_its_people_in_one_region_with_phones_of_its_country():
    domain = _load("delivery")
    homes = set()
    for seed in (0, 3):
        data = generate_data(domain, seed, 12)
        found: list = []
        for entity in ("Customer", "Restaurant", "Order"):
            for record in data[entity]:
                _places(record, found)
        assert len(set(found)) == 1, found  # one country, one state of it
        country = found[0][0]
        locale = next(loc for loc, _, c in fakes.LOCALES if c == country)
        homes.add(country)
        for record in [*data["Customer"], *data["Courier"], *data["Restaurant"]]:
            assert fakes.phone_of(record["phone"], locale), (country, record["phone"])


def test_a_persona_of_a_home_is_of_its_country_and_region():
    import random

    homes = {}
    for seed in range(200):  # a home of every locale
        home = fakes.Home.draw(random.Random(seed), local=True)
        homes.setdefault(home.locale, home)
    assert len(homes) == len(fakes.LOCALES)
    for locale, _, country in fakes.LOCALES:
        home = homes[locale]
        assert home.region is not None
        for i in range(5):
            person = fakes.Persona.make(random.Random(i), home)
            assert (person.country, person.state) == (country, home.region)
            assert fakes.phone_of(person.phone, locale), person.phone
            assert person.currency == fakes.CURRENCIES[locale]


def test_a_shipment_has_one_tracking_id_and_the_shipments_hold_each_item_once(retail):
    _, data = retail
    shipped = 0
    seen: list[str] = []
    for order in data["Order"]:
        if not order["fulfillments"]:
            continue
        shipped += 1
        listed = []
        for shipment in order["fulfillments"]:
            assert len(shipment["tracking_id"]) == 1, order["order_id"]
            seen += shipment["tracking_id"]
            listed += shipment["item_ids"]
        assert sorted(listed) == sorted(i["item_id"] for i in order["items"]), order["order_id"]
    assert shipped >= 8
    assert len(seen) == len(set(seen))


def test_exit_states_are_drawn_as_a_minority():
    domain = _load("clinic")
    data = generate_data(domain, 0, 50)
    void = sum(i["status"] == "void" for i in data["Invoice"])
    archived = sum(p["status"] == "archived" for p in data["Patient"])
    assert void <= 6 and archived <= 6, (void, archived)
    off = sum(a["status"] in ("cancelled", "no_show") for a in data["Appointment"])
    assert off <= 10, off


def test_retail_orders_cancelled_stay_a_minority_at_every_seed():
    domain = _load("retail")
    for seed in (0, 1, 2):
        statuses = [o["status"] for o in generate_data(domain, seed, 50)["Order"]]
        off = sum(map(fakes.is_exit, statuses))
        assert 0 < off <= 0.15 * len(statuses), (seed, off)


def test_a_draw_beside_the_records_made_keeps_their_exits_to_their_share():
    import random

    rng = random.Random(0)
    held: list[str] = []
    for _ in range(400):
        held.append(fakes.exit_weighted(rng, ["open", "paid", "void"], held))
        assert held.count("void") <= 1 + fakes.EXIT_SHARE * len(held), len(held)
    assert held.count("void") >= 0.05 * len(held)  # a minority, not none


def test_a_draw_of_members_gives_exit_states_a_small_share():
    import random

    rng = random.Random(0)
    drawn = [fakes.exit_weighted(rng, ["open", "paid", "void"]) for _ in range(2000)]
    assert 0.05 < drawn.count("void") / 2000 < 0.11
    assert fakes.exit_weighted(rng, ["void"]) == "void"  # all exits: any of them
    assert fakes.is_exit("no_show") and fakes.is_exit("cancelled") and not fakes.is_exit("paid")


def test_a_repair_tries_exit_states_after_the_others():
    import random

    from envscale.tasks.repair import candidates

    members = ["open", "paid", "void"]
    tried = list(candidates(random.Random(1), "open", ["void", "open"], "enum", members))
    assert tried[-1] == "void", tried


def test_a_completed_visit_has_notes_rather_than_being_called_off():
    domain = _load("clinic")
    data = generate_data(domain, 0, 50)
    for a in data["Appointment"]:
        assert (a["status"] == "completed") == (a["notes"] != "")
    assert sum(a["status"] == "no_show" for a in data["Appointment"]) <= 4


def test_times_of_day_fall_in_waking_hours():
    import random

    rng = random.Random(0)
    hours = {int(fakes.time_of_day(rng)[:2]) for _ in range(500)}
    assert min(hours) >= fakes.WAKING_HOURS[0] and max(hours) < fakes.WAKING_HOURS[1]
    data = generate_data(_load("clinic"), 0, 50)
    for payment in data["Payment"]:  # paid between a bill's day and the clock: not at night
        assert 6 <= int(payment["paid_at"][11:13]) < 23, payment


def test_routes_are_long_enough_and_connections_not_far_out_of_the_way(airline):
    _, data = airline
    for flight in data["Flight"]:
        assert fakes.route_km(flight["origin"], flight["destination"]) >= fakes.MIN_ROUTE_KM
        for time in (flight["scheduled_departure_time_est"],):
            assert 6 <= int(time[:2]) < 23, flight["flight_number"]
    for r in data["Reservation"]:
        legs = r["flights"]
        turn = next(i for i, leg in enumerate(legs) if leg["destination"] == r["destination"])
        for way in (legs[: turn + 1], legs[turn + 1 :]):
            stops = [leg["origin"] for leg in way] + [way[-1]["destination"]] if way else []
            assert not stops or fakes.detour_fits(stops), r["reservation_id"]
        assert 0 <= r["total_baggages"] <= 3 * len(r["passengers"]), r["reservation_id"]
    assert not fakes.detour_fits(["BOS", "MIA", "JFK"])  # a long way round
    assert fakes.detour_fits(["SFO", "DEN", "JFK"])


def test_flags_follow_the_role_and_reasons_the_visit():
    data = generate_data(_load("clinic"), 0, 50)
    for c in data["Clinician"]:
        assert c["can_prescribe"] == (c["specialty"] != "physiotherapy"), c
    for a in data["Appointment"]:
        assert a["reason"] in reasons.VISIT_REASONS[a["visit_type"]], a
    for rx in data["Prescription"]:
        if rx["medication"] in fakes.SHORT_COURSES:
            assert rx["refills_left"] == 0, rx


def test_insurance_covers_its_plans_share_of_a_bill():
    data = generate_data(_load("clinic"), 0, 50)
    plans = {p["plan_id"]: p for p in data["InsurancePlan"]}
    patients = {p["patient_id"]: p for p in data["Patient"]}
    checked = 0
    for invoice in data["Invoice"]:
        if any(line["description"].endswith(" fee") for line in invoice["lines"]):
            continue
        plan = plans.get(patients[invoice["patient"]]["plan"] or "")
        share = plan["coverage_pct"] if plan else 0
        assert invoice["insurance_covered"] == round(invoice["total"] * share / 100, 2), invoice
        checked += 1
    assert checked >= 30


def test_ids_look_issued_and_round_values_stay_round(retail):
    import re

    _, data = retail
    ids = [p["product_id"] for p in data["Product"]] + [o["order_id"] for o in data["Order"]]
    numbers = sorted(int(re.sub(r"\D", "", i)) for i in ids[: len(data["Product"])])
    assert numbers[-1] > 100 * len(numbers)  # not a count 1, 2, 3…
    assert all(o["order_id"].startswith("#W") for o in data["Order"])
    for p in data["Product"]:
        for item in p["variants"]:
            assert re.fullmatch(r"\d{10}", item), item
    promos = generate_data(_load("delivery"), 0, 30)["Promo"]
    assert all(p["percent_off"] % 5 == 0 and p["min_subtotal"] % 5 == 0 for p in promos)


def test_a_bound_keeps_a_round_value_round():
    import random

    from envscale.records import Fact
    from envscale.tasks.generation.facts import bounded

    at_most = [Fact(field="pct", op="<=", value=50, check="pct <= 50")]
    rng = random.Random(0)
    assert all(bounded(70, at_most, rng) % 5 == 0 for _ in range(50))
    assert bounded(63, at_most, rng) <= 50
