"""Generated initial states: deterministic for a seed, and every constraint of the spec holds."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import pytest

import envscale
from envscale.runtime.errors import DataError
from envscale.tasks import fakes
from envscale.tasks.datagen import check_invariant, entity_order, generate_data, id_formats
from envscale.tasks.generation.ids import counted, spread
from envscale.tasks.sampling import sample_tasks, verify_task
from envscale.tasks.states import EnvFactory

from .shop_spec import SHOP

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="module")
def clinic():
    return envscale.load(SPECS / "clinic.domain")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("shop") / "shop.domain"
    path.write_text(SHOP, encoding="utf-8")
    return envscale.load(path)


def assert_valid(domain, data: dict) -> None:
    """Keys, references, unique fields, SQL checks and runtime invariants all hold."""
    manifest = domain.manifest
    for entity, spec in manifest.entities.items():
        records = data[entity]
        keys = [tuple(r[k] for k in spec.key) for r in records]
        assert len(keys) == len(set(keys)), f"{entity}: repeated key"
        for f in spec.fields:
            values = [r[f.name] for r in records]
            if f.unique:
                present = [json.dumps(v, sort_keys=True) for v in values if v is not None]
                assert len(present) == len(set(present)), f"{entity}.{f.name} repeats"
            if f.ref:
                target = manifest.entities[f.ref]
                existing = {r[target.key[0]] for r in data[f.ref]}
                assert all(v is None or v in existing for v in values), f"{entity}.{f.name} dangles"
            if not f.nullable:
                assert all(v is not None for v in values), f"{entity}.{f.name} is missing"
            if f.enum:
                assert all(v is None or v in f.enum for v in values)
    # Loading runs the pydantic models, the STRICT schema with its CHECKs and foreign keys.
    env = domain.environment(data=data)
    for inv in manifest.invariants:
        if inv.enforced_by == "runtime":
            assert check_invariant(domain.tools_module.INVARIANTS[inv.name], env.db) is None, (
                inv.name
            )
    env.close()


def test_same_seed_same_data_byte_for_byte(clinic):
    first = json.dumps(generate_data(clinic, 7, 15))
    second = json.dumps(generate_data(clinic, 7, 15))
    assert first == second
    assert json.dumps(generate_data(clinic, 8, 15)) != first


def test_clinic_data_respects_every_constraint(clinic):
    data = generate_data(clinic, 3, 25)
    assert {name: len(records) for name, records in data.items()} == {
        name: 25 for name in clinic.manifest.entities
    }
    assert_valid(clinic, data)


def test_size_per_entity(clinic):
    data = generate_data(clinic, 1, {"Patient": 4, "Clinician": 2, "Slot": 0})
    assert len(data["Patient"]) == 4 and len(data["Clinician"]) == 2 and data["Slot"] == []
    assert data["Appointment"] == []  # nothing to refer to
    assert_valid(clinic, data)


def test_values_look_real(clinic):
    data = generate_data(clinic, 5, 10)
    patient = data["Patient"][0]
    assert re.fullmatch(r"[a-z.]+\d+@[a-z.]+", patient["email"])
    assert patient["email"].startswith(
        f"{patient['first_name'].lower()}.{patient['last_name'].lower()}"
    )
    assert re.fullmatch(r"\d{10}", patient["phone"])
    assert all(p["date_of_birth"] < "2010-01-01" for p in data["Patient"])
    assert all(
        c["visit_fee"] > 0 and round(c["visit_fee"], 2) == c["visit_fee"] for c in data["Clinician"]
    )
    slots = {s["slot_id"]: s for s in data["Slot"]}
    for a in data["Appointment"]:  # denormalised fields agree with the referred slot
        assert a["start"] == slots[a["slot"]]["start"]
        assert a["clinician"] == slots[a["slot"]]["clinician"]


def test_ids_follow_the_domains_formats(clinic):
    like = json.loads((SPECS / "clinic.data.json").read_text(encoding="utf-8"))
    data = generate_data(clinic, 2, 12, like=like)
    assert all(re.fullmatch(r"P\d{3}", p["patient_id"]) for p in data["Patient"])
    assert all(re.fullmatch(r"INS\d{2}", p["plan_id"]) for p in data["InsurancePlan"])
    formats = id_formats(clinic)  # without sample data: the prefixes the tools give next_key
    assert formats["Appointment"].make(3) == "A0003" and formats["Invoice"].make(12) == "INV0012"


def test_environment_on_generated_data(clinic):
    env = clinic.environment(data=generate_data(clinic, 7, 8))
    assert env.export() == clinic.environment(data=generate_data(clinic, 7, 8)).export()
    assert env.db.count("Patient") == 8


def test_own_spec_respects_every_constraint(shop):
    for seed in range(3):
        data = generate_data(shop, seed, 12)
        assert_valid(shop, data)
        orders = data["Order"]
        assert sum(o["status"] == "pending" for o in orders) <= 3  # the global invariant
        assert all(
            o["status"] != "shipped" or o["quantity"] <= 3 for o in orders
        )  # the single-row one
        assert all(0 < p["price"] < 1000 and 0 <= p["stock"] <= 50 for p in data["Product"])
        assert all(set(c["address"]) == {"street", "city", "zip"} for c in data["Customer"])
        assert len(orders) == 12  # rows breaking the invariant were made again, not dropped


def test_entity_order_puts_referred_entities_first(clinic, shop):
    order = entity_order(clinic.manifest)
    assert (
        order.index("Patient")
        < order.index("Appointment")
        < order.index("Invoice")
        < order.index("Payment")
    )
    assert entity_order(shop.manifest) == ["Customer", "Product", "Order"]


@pytest.fixture(scope="module")
def airline():
    return envscale.load(SPECS / "airline.domain")


@pytest.fixture(scope="module")
def retail():
    return envscale.load(SPECS / "retail.domain")


def test_airline_data_meets_the_field_checks(airline):
    sizes = {"User": 12, "Flight": 30, "Reservation": 20}
    data = generate_data(airline, 4, sizes)
    assert {name: len(records) for name, records in data.items()} == sizes
    assert_valid(airline, data)
    for flight in data["Flight"]:
        assert re.fullmatch(r"HAT\d{3}", flight["flight_number"])  # the docs' example, 'HAT001'
        assert len(flight["origin"]) == 3 and len(flight["destination"]) == 3
        assert flight["origin"] != flight["destination"]
        assert all(
            re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for day in flight["dates"]
        )  # "By day, YYYY-MM-DD"
    ids = [r["reservation_id"] for r in data["Reservation"]]
    # free_key's first key, HATHAT, gives the shape: six capitals, spread, not counted up
    assert all(re.fullmatch(r"[A-Z]{6}", i) for i in ids) and len(set(ids)) == len(ids)
    assert not any(counted(a, 1) == b for a, b in itertools.pairwise(ids))


def test_spread_keys_are_distinct_and_keep_the_shape():
    keys = [spread("HAT-A9z", i) for i in range(26 * 10 * 26)]
    assert len(set(keys)) == len(keys)  # every key of the shape once
    assert all(re.fullmatch(r"HAT-[A-Z][0-9][a-z]", k) for k in keys)
    assert sum(counted(a, 1) == b for a, b in itertools.pairwise(keys)) < 10


def test_tasks_on_generated_airline_and_retail_data_verify(airline, retail):
    for domain in (airline, retail):
        factory = EnvFactory(domain, {"generated": {"seed": 7, "size": 8}})
        env = factory()
        assert all(env.db.count(name) == 8 for name in domain.manifest.entities)
        env.close()
        tasks = sample_tasks(domain, factory, 6, seed=2)
        assert len(tasks) == 6
        assert all(verify_task(domain, task) for task in tasks)
        assert any(task.kind == "write" for task in tasks)


def test_retail_data_respects_every_constraint(retail):
    data = generate_data(retail, 5, 15)
    assert {name: len(records) for name, records in data.items()} == {
        "User": 15,
        "Product": 15,
        "Order": 15,
    }
    assert_valid(retail, data)


def test_values_aim_at_check_facts(shop):
    order = shop.manifest.entities["Order"]
    assert {"field": "quantity", "op": "<=", "value": 5} in [
        {k: v for k, v in fact.to_dict().items() if k != "check"} for fact in order.facts
    ]
    data = generate_data(shop, 11, 20)
    assert all(1 <= o["quantity"] <= 5 for o in data["Order"])


# ---- odd but valid specs: generated data is valid, or says why there is less of it


def _domain(text: str):
    from envscale.api import compile_source
    from envscale.runtime.domain import Domain

    files, diagnostics, _ = compile_source(text, "odd.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def test_an_invariant_that_caps_the_count_gives_fewer_records_and_says_why(capsys):
    domain = _domain(
        'domain d "x"\n'
        "entity A { a_id: str @key  n: int }\n"
        'invariant few: count(A.all()) <= 2 else "too many"\n'
    )
    notes: list[str] = []
    data = generate_data(domain, 1, 5, notes=notes)
    assert len(data["A"]) == 2
    assert notes == ["A: 2 of 5 records: every further record breaks invariant few"]
    assert_valid(domain, data)
    generate_data(domain, 1, 5)  # without a list, the note goes to stderr
    assert "warning: generated data: A: 2 of 5 records" in capsys.readouterr().err


def test_clock_defaults_self_references_and_keys_of_every_kind():
    domain = _domain(
        'domain d "x" clock "2024-05-15T15:00:00"\n'
        "enum Color { red }\n"
        "enum Size { s, m }\n"
        "entity Day { day: date @key  at: datetime @default(now())  on: date @default(today()) }\n"
        "entity Node { n_id: str @key  parent: Node  colors: map<Color, int> }\n"
        "entity Kind { size: Size @key  unique_color: Color @unique }\n"
        "entity Moment { at: datetime @key }\n"
        "entity Profile { node: Node @key }\n"
        "entity Badge { b_id: int @key  owner: Profile  yes: bool @unique }\n"
    )
    notes: list[str] = []
    data = generate_data(domain, 3, 4, notes=notes)
    assert_valid(domain, data)
    assert [len(data[e]) for e in ("Day", "Node", "Moment", "Profile")] == [4, 4, 4, 4]
    assert data["Node"][0]["parent"] == data["Node"][0]["n_id"]  # the first refers to itself
    assert all(set(r["colors"]) <= {"red"} for r in data["Node"])
    assert len(data["Kind"]) == 1 and len(data["Badge"]) == 2
    assert sorted(n.split(":")[0] for n in notes) == ["Badge", "Kind"]
    assert any("every value of unique 'unique_color' is taken" in n for n in notes)
    assert all(isinstance(r["owner"], str) for r in data["Badge"])  # a Profile's key is a Node id


def test_a_required_reference_to_an_empty_entity_is_explained():
    domain = _domain(
        'domain d "x"\nentity A { a_id: str @key }\nentity B { b_id: str @key  a: A }\n'
    )
    notes: list[str] = []
    data = generate_data(domain, 0, {"A": 0, "B": 3}, notes=notes)
    assert data == {"A": [], "B": []}
    assert notes == ["B: 0 of 3 records: 'a' must refer to a A, and there is none"]


# ---- coherent records and invariants met by construction


@pytest.fixture(scope="module")
def delivery():
    return envscale.load(SPECS / "delivery.domain")


@pytest.mark.parametrize("name", ["clinic", "retail", "airline", "delivery"])
def test_every_shipped_spec_gets_the_count_asked_for(name):
    domain = envscale.load(SPECS / f"{name}.domain")
    notes: list[str] = []
    report: dict = {}
    data = generate_data(domain, 4, 12, notes=notes, report=report)
    assert notes == []
    assert {e: len(r) for e, r in data.items()} == {e: 12 for e in domain.manifest.entities}
    assert all(r.asked == r.made == 12 and not r.dropped for r in report.values())
    assert_valid(domain, data)


def test_a_person_and_an_address_agree_within_a_record(delivery):
    data = generate_data(delivery, 2, 25)
    for c in data["Customer"]:
        local = c["email"].split("@")[0]
        assert local.startswith(f"{fakes.ascii_slug(c['first_name'])}.")
        assert fakes.ascii_slug(c["last_name"]) in local
        a = c["address"]
        if a["country"] == "USA":  # a US zip code lies in its state's range
            assert re.fullmatch(r"\d{5}", a["zip"]) and re.fullmatch(r"[A-Z]{2}", a["state"])
        elif a["country"] == "Canada":  # a Canadian postcode starts with its province's letter
            assert re.fullmatch(r"[A-Z]\d[A-Z] ?\d[A-Z]\d", a["zip"])
        assert a["country"] in {"USA", "United Kingdom", "Canada", "Australia"}
    us = [c["address"] for c in data["Customer"] if c["address"]["country"] == "USA"]
    assert us and all(len(a["state"]) == 2 for a in us)


def test_the_order_total_invariant_is_met_by_repair_not_by_dropping(delivery):
    report: dict = {}
    data = generate_data(delivery, 5, 20, report=report)
    items = {i["item_id"]: i for i in data["MenuItem"]}
    for o in data["Order"]:
        lines = sum(line["price"] * line["quantity"] for line in o["lines"])
        assert o["total"] == round(lines + o["tax"] + o["delivery_fee"] - o["discount"], 2)
        assert o["tax"] == round(lines * 0.08, 2) and o["discount"] <= lines
        for line in o["lines"]:  # a line is priced and named as its menu item
            item = items[line["menu_item"]]
            assert item["restaurant"] == o["restaurant"]
            assert (line["name"], line["price"]) == (item["name"], item["price"])
            assert all(item["options"][k].count(v) == 1 for k, v in line["options"].items())
    assert report["Order"].made == 20 and not report["Order"].dropped


def test_cross_entity_invariants_hold_with_every_record_made(delivery):
    data = generate_data(delivery, 6, 20)
    orders = {o["order_id"]: o for o in data["Order"]}
    items = {i["item_id"]: i for i in data["MenuItem"]}
    restaurants = {r["restaurant_id"]: r for r in data["Restaurant"]}
    assert all(len(data[e]) == 20 for e in delivery.manifest.entities)
    for cart in data["Cart"]:  # a cart holds items of its own restaurant, with their options
        for line in cart["items"]:
            item = items[line["menu_item"]]
            assert item["restaurant"] == cart["restaurant"]
            assert all(v in item["options"][k] for k, v in line["options"].items())
    assert all(r["amount"] <= orders[r["order"]]["total"] for r in data["Refund"])
    assert all(orders[r["order"]]["status"] == "delivered" for r in data["Rating"])
    assert all(orders[r["order"]]["customer"] == r["customer"] for r in data["Redemption"])
    for o in data["Order"]:  # the fee is the restaurant's; it is not placed before signing up
        assert o["delivery_fee"] == restaurants[o["restaurant"]]["delivery_fee"]
    for d in data["Delivery"]:  # a delivery time is there exactly when it was delivered
        assert (d["delivered_at"] is not None) == (d["status"] == "delivered")
        assert d["assigned_at"][:10] >= orders[d["order"]]["placed_at"][:10]
    for m in data["MenuItem"]:  # a dish of the restaurant's cuisine
        cuisine = restaurants[m["restaurant"]]["cuisine"]
        assert m["name"] in fakes.CUISINE_DISHES[cuisine]
    assert all(re.fullmatch(r"SAVE\d{2}[A-Z]?", p["code"]) for p in data["Promo"])  # 'SAVE10'


def test_lists_of_ids_hold_the_records_that_refer_back(retail, airline):
    data = generate_data(retail, 3, 15)
    for user in data["User"]:
        mine = [o["order_id"] for o in data["Order"] if o["user_id"] == user["user_id"]]
        assert user["orders"] == mine
        assert user["email"].startswith(user["name"]["first_name"].lower()[:3])
    products = {p["product_id"]: p for p in data["Product"]}
    for order in data["Order"]:
        user = next(u for u in data["User"] if u["user_id"] == order["user_id"])
        assert order["address"] == user["address"]
        for item in order["items"]:  # the variant's own price and options
            variant = products[item["product_id"]]["variants"][item["item_id"]]
            assert (item["price"], item["options"]) == (variant["price"], variant["options"])
            assert item["name"] == products[item["product_id"]]["name"]
        for paid in order["payment_history"]:
            assert paid["payment_method_id"] in user["payment_methods"]
        ids = {i["item_id"] for i in order["items"]}
        assert all(set(f["item_ids"]) <= ids for f in order["fulfillments"])
    for product in data["Product"]:  # variants share one option set
        assert len({tuple(sorted(v["options"])) for v in product["variants"].values()}) == 1
    data = generate_data(airline, 3, 15)
    flights = {f["flight_number"]: f for f in data["Flight"]}
    for r in data["Reservation"]:
        for leg in r["flights"]:
            flight = flights[leg["flight_number"]]
            assert (leg["origin"], leg["destination"]) == (flight["origin"], flight["destination"])
            assert leg["date"] in flight["dates"]
        assert r["origin"] == r["flights"][0]["origin"]
    for user in data["User"]:
        assert re.fullmatch(r"[a-z]+_[a-z]+_\d+", user["user_id"])
        for method in user["payment_methods"].values():
            assert method["id"].startswith(method["source"] + "_")
            if method["source"] == "credit_card":
                assert re.fullmatch(r"\d{4}", method["last_four"])
                assert method["brand"] in fakes.CARD_BRANDS


def test_dates_follow_the_order_of_events():
    domain = _domain(
        'domain d "x" clock "2024-05-15T15:00:00"\n'
        "entity T { t_id: str @key  updated_at: datetime  created_at: datetime\n"
        "  end: date  start: date  arrival: datetime  departure: datetime }\n"
    )
    for t in generate_data(domain, 1, 30)["T"]:
        assert t["created_at"] <= t["updated_at"]
        assert t["start"] <= t["end"] and t["departure"] <= t["arrival"]


def test_a_lookup_that_finds_nothing_is_a_reason_not_a_traceback(capsys):
    domain = _domain(
        'domain d "x"\n'
        "entity A { a_id: str @key  n: int }\n"
        "entity B { b_id: str @key  a_key: str  m: int }\n"
        'invariant b_has_a on B: A[self.a_key].n >= 0 else "no a"\n'
    )
    notes: list[str] = []
    data = generate_data(domain, 1, {"A": 0, "B": 2}, notes=notes)
    assert data["B"] == []
    assert notes == ["B: 0 of 2 records: breaks invariant b_has_a (A 'A0001' not found)"] or (
        notes[0].startswith("B: 0 of 2 records: breaks invariant b_has_a (")
        and "not found" in notes[0]
    )
    assert "warning: generated data: no B at all" in capsys.readouterr().err
    with pytest.raises(DataError) as raised:  # loading names the invariant and the record
        domain.environment(data={"A": [], "B": [{"b_id": "B1", "a_key": "zz", "m": 1}]})
    assert "invariant 'b_has_a' does not hold for B 'B1': A 'zz' not found" in str(raised.value)


def test_a_check_that_crashes_on_a_record_is_a_data_error():
    domain = _domain(
        'domain d "x"\nstruct S { x: int }\n'
        "entity A { a_id: str @key  s: S }\n"
        'invariant small on A: s.x < 10 else "big"\n'
    )
    from envscale.runtime.rowview import run_check

    def crashing(db, every_row=False):
        raise KeyError("x")

    assert run_check(crashing, None) == "the condition cannot be evaluated (KeyError: 'x')"
    assert check_invariant(domain.tools_module.INVARIANTS["small"], _FakeDb()) is not None


class _FakeDb:
    """A database whose one record lacks a struct member, as a check may meet it."""

    step_limit = 10**6

    def all(self, entity):
        return [{"a_id": "a", "s": {}}]


def test_derived_fields_are_left_to_the_runtime(monkeypatch):
    domain = _domain('domain d "x"\nentity A { a_id: str @key  n: int  twice: int }\n')
    twice = next(f for f in domain.manifest.entities["A"].fields if f.name == "twice")
    object.__setattr__(twice, "derived", "n * 2")
    assert all(r["twice"] == 0 for r in generate_data(domain, 1, 5)["A"])


def test_zero_of_an_entity_asked_for_warns_on_stderr_even_with_notes(capsys):
    domain = _domain(
        'domain d "x"\nentity A { a_id: str @key }\nentity B { b_id: str @key  a: A }\n'
    )
    generate_data(domain, 0, {"A": 0, "B": 3}, notes=[])
    assert "warning: generated data: no B at all" in capsys.readouterr().err


def test_plan_names_do_not_repeat_the_insurers_word():
    seen = set()
    for seed in range(300):
        rng = random.Random(seed)
        persona = fakes.Persona.make(rng)
        name = fakes.name_for(rng, "InsurancePlan", "", persona, {})
        insurer, tier, kind = name.rsplit(" ", 2)
        assert not insurer.split(" ")[-1].lower().startswith(tier.lower()[:4]), name
        assert kind in {"PPO", "HMO", "EPO", "POS"}
        seen.add(tier)
    assert len(seen) >= 5


def test_a_text_field_named_after_its_own_entity_is_text_not_a_key():
    domain = _domain(
        'domain d "x"\n'
        'entity Player { entry_id: int @key  player: str "The player found" }\n'
        'entity Team { team_id: str @key  player: str "Its captain" }\n'
        "entity Result { result_id: str @key  team: str  hits: int }\n"
    )
    notes: list[str] = []
    data = generate_data(domain, 2, 20, notes=notes)
    assert notes == [] and len(data["Player"]) == 20
    assert all(isinstance(p["player"], str) for p in data["Player"] + data["Team"])
    # An int key is no value of a text field; a text key of another entity is.
    assert not {p["player"] for p in data["Team"]} & {str(p["entry_id"]) for p in data["Player"]}
    teams = {t["team_id"] for t in data["Team"]}
    assert all(r["team"] in teams for r in data["Result"])
    assert_valid(domain, data)
