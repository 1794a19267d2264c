"""Generated initial states: deterministic for a seed, and every constraint of the spec holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import envscale
from envscale.tasks.datagen import check_invariant, entity_order, generate_data, id_formats
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
    assert ids[:3] == ["HATHAT", "HATHAU", "HATHAV"]  # counting up from free_key's first key
    assert all(len(i) == 6 for i in ids)


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
