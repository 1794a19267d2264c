"""The shipped clinic domain, end to end: real compiled tools on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import envscale

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC = SPECS / "clinic.domain"
DATA = SPECS / "clinic.data.json"

HOSTILE = [
    '\'); DROP TABLE "Patient"; --',
    '" OR 1=1 --',
    "Robert'); DELETE FROM Invoice; --",
    "\\x00 %s {} \\n",
]

# One call per line that succeeds on the seed data, each from a fresh state.
SUCCEEDS = [
    ("find_patient", {"last_name": "Smith", "date_of_birth": "1972-11-02"}),
    ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}),
    ("get_patient", {"patient_id": "P004"}),
    ("list_clinicians", {"specialty": "cardiology"}),
    ("find_open_slots", {"clinician_id": "C01", "day": "2024-06-11"}),
    ("list_appointments", {"patient_id": "P001", "include_past": True}),
    ("list_prescriptions", {"patient_id": "P001"}),
    ("list_invoices", {"patient_id": "P002", "status": "open"}),
    ("get_insurance_plan", {"plan_id": "INS01"}),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S006", "visit_type": "follow_up", "reason": "Cough"},
    ),
    ("cancel_appointment", {"appointment_id": "A0004", "reason": "schedule_conflict"}),
    ("reschedule_appointment", {"appointment_id": "A0004", "new_slot_id": "S006"}),
    ("check_in", {"appointment_id": "A0015"}),
    ("complete_visit", {"appointment_id": "A0002", "notes": "Improving; continue stretches."}),
    ("refill_prescription", {"rx_id": "RX001"}),
    ("discontinue_prescription", {"rx_id": "RX003", "clinician_id": "C02"}),
    ("update_contact", {"patient_id": "P003", "phone": "5559990000", "address": "1 New Rd"}),
    ("add_allergy", {"patient_id": "P003", "allergy": " Aspirin "}),
    ("update_insurance", {"patient_id": "P003", "plan_id": "INS03", "member_id": "03-123"}),
    ("archive_patient", {"patient_id": "P007"}),
    ("pay_invoice", {"invoice_id": "INV0005", "amount": 40, "method": "card"}),
    ("void_invoice", {"invoice_id": "INV0014", "reason": "Billed in error"}),
]

# Calls that must fail, and a piece of the message the agent gets.
FAILS = [
    ("find_patient", {"last_name": "Smith"}, "missing argument 'date_of_birth'"),
    (
        "find_patient",
        {"last_name": "Smith", "date_of_birth": "11/02/1972"},
        "argument 'date_of_birth'",
    ),
    ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-15"}, "does not match"),
    ("verify_patient", {"patient_id": "P017", "date_of_birth": "1966-09-30"}, "archived"),
    ("get_patient", {"patient_id": "P999"}, "Patient 'P999' not found"),
    ("get_patient", {"patient_id": 1}, "argument 'patient_id'"),
    ("list_clinicians", {"specialty": "neurology"}, "argument 'specialty'"),
    ("find_open_slots", {"clinician_id": "C99", "day": "2024-06-11"}, "Clinician 'C99' not found"),
    ("list_appointments", {"patient_id": "P001", "include_past": "yes"}, "argument 'include_past'"),
    ("list_prescriptions", {}, "missing argument 'patient_id'"),
    ("list_invoices", {"patient_id": "P002", "status": "overdue"}, "argument 'status'"),
    ("get_insurance_plan", {"plan_id": "INS99"}, "not found"),
    ("get_insurance_plan", {"plan_id": "INS01", "extra": 1}, "unexpected argument 'extra'"),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S003", "visit_type": "follow_up", "reason": "x"},
        "Slot S003 is not available",
    ),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S009", "visit_type": "new_patient", "reason": "x"},
        "not accepting new patients",
    ),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S024", "visit_type": "telehealth", "reason": "x"},
        "Physiotherapy visits cannot be done by telehealth",
    ),
    (
        "book_appointment",
        {"patient_id": "P017", "slot_id": "S006", "visit_type": "follow_up", "reason": "x"},
        "archived",
    ),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S006", "visit_type": "follow_up", "reason": "  "},
        "Give a reason",
    ),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S006", "visit_type": "house_call", "reason": "x"},
        "argument 'visit_type'",
    ),
    (
        "cancel_appointment",
        {"appointment_id": "A0001", "reason": "patient_request"},
        "this one is completed",
    ),
    ("cancel_appointment", {"appointment_id": "A0004", "reason": "bored"}, "argument 'reason'"),
    (
        "reschedule_appointment",
        {"appointment_id": "A0004", "new_slot_id": "S008"},
        "same clinician",
    ),
    ("reschedule_appointment", {"appointment_id": "A0004", "new_slot_id": "S002"}, "not available"),
    (
        "reschedule_appointment",
        {"appointment_id": "A0004", "new_slot_id": "S005"},
        "already in that slot",
    ),
    ("check_in", {"appointment_id": "A0004"}, "Only today's appointments"),
    ("check_in", {"appointment_id": "A9999"}, "Appointment 'A9999' not found"),
    ("complete_visit", {"appointment_id": "A0003", "notes": "x"}, "Only a checked-in appointment"),
    ("refill_prescription", {"rx_id": "RX002"}, "No refills left"),
    ("refill_prescription", {"rx_id": "RX005"}, "expired"),
    ("refill_prescription", {"rx_id": "RX003"}, "less than 7 days ago"),
    ("refill_prescription", {"rx_id": "RX010"}, "discontinued, not active"),
    (
        "discontinue_prescription",
        {"rx_id": "RX009", "clinician_id": "C07"},
        "cannot change prescriptions",
    ),
    ("update_contact", {"patient_id": "P003"}, "at least one of phone, email or address"),
    ("update_contact", {"patient_id": "P003", "email": "not-an-email"}, "not an email address"),
    (
        "update_contact",
        {"patient_id": "P003", "phone": "5550100001"},
        "Patient.phone must be unique",
    ),
    (
        "add_allergy",
        {"patient_id": "P003", "allergy": "Penicillin"},
        "penicillin is already recorded",
    ),
    (
        "update_insurance",
        {"patient_id": "P003", "plan_id": "INS05", "member_id": "05-1"},
        "no longer accepts",
    ),
    ("archive_patient", {"patient_id": "P002"}, "still owes 25.0 USD"),
    (
        "pay_invoice",
        {"invoice_id": "INV0005", "amount": 100.01, "method": "card"},
        "Only 100.0 USD is due",
    ),
    ("pay_invoice", {"invoice_id": "INV0001", "amount": 1, "method": "card"}, "is paid, not open"),
    (
        "pay_invoice",
        {"invoice_id": "INV0005", "amount": "ten", "method": "card"},
        "argument 'amount'",
    ),
    (
        "void_invoice",
        {"invoice_id": "INV0007", "reason": "x"},
        "Invoices with payments cannot be voided",
    ),
    ("no_such_tool", {}, "unknown tool"),
]


@pytest.fixture(scope="module")
def domain():
    return envscale.load(SPEC)


@pytest.fixture
def env(domain):
    environment = domain.environment(data=DATA, enforce_policies=False)
    yield environment
    environment.close()


def snapshot(env) -> tuple[str, dict]:
    return env.state_hash(), env.export()


def call_ok(env, tool: str, args: dict):
    result = env.call(tool, args)
    assert result.ok, f"{tool}: {result.error}"
    return result.content


def test_seed_data_loads_with_every_entity_populated(env):
    state = env.export()
    assert set(state) == {
        "InsurancePlan",
        "Patient",
        "Clinician",
        "Slot",
        "Appointment",
        "Prescription",
        "Invoice",
        "Payment",
    }
    assert all(len(rows) >= 6 for rows in state.values())


def test_every_tool_is_exercised_both_ways(domain):
    tools = {t.name for t in domain.manifest.tools}
    assert {name for name, _ in SUCCEEDS} == tools
    assert {name for name, _, _ in FAILS} >= tools


@pytest.mark.parametrize(
    ("tool", "args"), SUCCEEDS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(SUCCEEDS)]
)
def test_tool_succeeds(env, tool, args):
    kind = env.domain.tool_kinds[tool]
    before = snapshot(env)
    call_ok(env, tool, args)
    if kind == "read":
        assert snapshot(env) == before
        assert env.diff() == []
    else:
        assert env.diff(), f"{tool} changed nothing"


@pytest.mark.parametrize(
    ("tool", "args", "message"), FAILS, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(FAILS)]
)
def test_failed_call_leaves_the_database_exactly_unchanged(env, tool, args, message):
    before = snapshot(env)
    result = env.call(tool, args)
    assert not result.ok
    assert message in result.error
    assert result.text.startswith("Error: ")
    assert snapshot(env) == before
    assert env.diff() == []


def test_arguments_as_broken_json_text_are_an_error(env):
    before = snapshot(env)
    result = env.call("get_patient", '{"patient_id": ')
    assert not result.ok and "not valid JSON" in result.error
    assert snapshot(env) == before


def test_booking_books_the_slot_and_numbers_the_appointment(env):
    appointment = call_ok(
        env,
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S006", "visit_type": "follow_up", "reason": "Cough"},
    )
    assert appointment["appointment_id"] == "A0019"
    assert appointment["start"] == "2024-06-11T09:30:00" and appointment["clinician"] == "C01"
    assert call_ok(env, "find_open_slots", {"clinician_id": "C01", "day": "2024-06-11"}) == []
    again = env.call(
        "book_appointment",
        {"patient_id": "P002", "slot_id": "S006", "visit_type": "follow_up", "reason": "x"},
    )
    assert not again.ok and "not available" in again.error


def test_booking_limits_upcoming_appointments(env):
    # P002 holds A0015 already; two more fill the quota of three.
    for slot in ("S006", "S019"):
        call_ok(
            env,
            "book_appointment",
            {"patient_id": "P002", "slot_id": slot, "visit_type": "follow_up", "reason": "x"},
        )
    before = snapshot(env)
    result = env.call(
        "book_appointment",
        {"patient_id": "P002", "slot_id": "S014", "visit_type": "follow_up", "reason": "x"},
    )
    assert not result.ok and "at most 3 upcoming" in result.error
    assert snapshot(env) == before


def test_same_day_cancellation_bills_a_late_fee(env):
    call_ok(env, "cancel_appointment", {"appointment_id": "A0003", "reason": "patient_request"})
    changes = {(c["entity"], c["key"], c["kind"]) for c in env.diff()}
    assert changes == {
        ("Appointment", "A0003", "update"),
        ("Slot", "S003", "update"),
        ("Invoice", "INV0015", "insert"),
        ("Patient", "P001", "update"),
    }
    assert call_ok(env, "get_patient", {"patient_id": "P001"})["balance"] == 25.0


def test_same_day_cancellation_by_the_clinic_is_free(env):
    call_ok(
        env, "cancel_appointment", {"appointment_id": "A0003", "reason": "clinician_unavailable"}
    )
    assert {c["entity"] for c in env.diff()} == {"Appointment", "Slot"}


def test_complete_visit_splits_the_fee_with_insurance(env):
    invoice = call_ok(env, "complete_visit", {"appointment_id": "A0002", "notes": "ok"})
    # Dr. Park's 150 USD fee; P002's Aetna plan covers 70 %.
    assert (invoice["total"], invoice["insurance_covered"], invoice["patient_due"]) == (
        150.0,
        105.0,
        45.0,
    )
    assert call_ok(env, "get_patient", {"patient_id": "P002"})["balance"] == 70.0


def test_paying_in_full_closes_the_invoice_and_the_balance(env):
    payment = call_ok(env, "pay_invoice", {"invoice_id": "INV0005", "amount": 100, "method": "hsa"})
    assert payment == {
        "payment_id": "PAY0008",
        "invoice": "INV0005",
        "amount": 100.0,
        "method": "hsa",
        "paid_at": "2024-06-10T09:00:00",
    }
    invoices = call_ok(env, "list_invoices", {"patient_id": "P010"})
    assert invoices[0]["status"] == "paid" and invoices[0]["paid"] == 150.0
    assert call_ok(env, "get_patient", {"patient_id": "P010"})["balance"] == 0.0
    call_ok(env, "archive_patient", {"patient_id": "P010"})


def test_sql_check_violation_is_an_error_and_rolls_back_earlier_writes(env):
    # A negative payment passes the tool's own checks, updates the invoice and the balance,
    # then the payment_positive CHECK rejects the payment row: all of it must roll back.
    before = snapshot(env)
    result = env.call("pay_invoice", {"invoice_id": "INV0005", "amount": -10, "method": "cash"})
    assert not result.ok
    assert result.error == "constraint failed: A payment amount must be greater than zero"
    assert snapshot(env) == before and env.diff() == []


def test_runtime_invariant_violation_rolls_the_call_back(env):
    # P001 owes nothing but still holds scheduled appointment A0003.
    before = snapshot(env)
    result = env.call("archive_patient", {"patient_id": "P001"})
    assert not result.ok
    assert result.error.startswith("invariant 'archived_patients_have_no_visits' violated: ")
    assert "A0003" in result.error
    assert snapshot(env) == before and env.diff() == []
    call_ok(
        env, "cancel_appointment", {"appointment_id": "A0003", "reason": "clinician_unavailable"}
    )
    assert call_ok(env, "archive_patient", {"patient_id": "P001"})["status"] == "archived"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_stored_verbatim_and_harmless(env, text):
    counts = {name: len(rows) for name, rows in env.export().items()}
    call_ok(
        env,
        "update_contact",
        {"patient_id": "P003", "address": text, "email": text + "@example.com"},
    )
    call_ok(
        env,
        "book_appointment",
        {"patient_id": "P003", "slot_id": "S006", "visit_type": "follow_up", "reason": text},
    )
    patient = call_ok(env, "get_patient", {"patient_id": "P003"})
    assert patient["address"] == text and patient["email"] == text + "@example.com"
    booked = call_ok(env, "list_appointments", {"patient_id": "P003"})
    assert [a["reason"] for a in booked if a["slot"] == "S006"] == [text]
    assert call_ok(env, "find_patient", {"last_name": text, "date_of_birth": "1990-07-21"}) == []
    assert env.call("get_patient", {"patient_id": text}).error == f"Patient '{text}' not found"
    after = {name: len(rows) for name, rows in env.export().items()}
    assert after == {**counts, "Appointment": counts["Appointment"] + 1}


def test_reset_restores_exactly(env):
    initial = snapshot(env)
    for tool, args in SUCCEEDS:
        env.call(tool, args)
    assert env.diff()
    assert snapshot(env) != initial
    env.reset()
    assert snapshot(env) == initial
    assert env.diff() == [] and env.history == []


def test_state_hash_ignores_the_order_of_independent_changes(domain):
    calls = [
        ("refill_prescription", {"rx_id": "RX001"}),
        ("add_allergy", {"patient_id": "P003", "allergy": "latex"}),
        ("update_contact", {"patient_id": "P005", "address": "9 Elm St"}),
    ]
    a = domain.environment(data=DATA, enforce_policies=False)
    b = domain.environment(data=DATA, enforce_policies=False)
    for tool, args in calls:
        call_ok(a, tool, args)
    for tool, args in reversed(calls):
        call_ok(b, tool, args)
    assert a.export() == b.export()
    assert a.state_hash() == b.state_hash()
    call_ok(b, "refill_prescription", {"rx_id": "RX007"})
    assert a.export() != b.export()
    assert a.state_hash() != b.state_hash()


def test_different_changes_give_different_hashes(env):
    initial = env.state_hash()
    call_ok(env, "update_contact", {"patient_id": "P005", "address": "A"})
    first = env.state_hash()
    env.reset()
    call_ok(env, "update_contact", {"patient_id": "P005", "address": "B"})
    assert len({initial, first, env.state_hash()}) == 3


def test_a_change_undone_by_a_second_call_hashes_as_the_initial_state(env):
    initial = snapshot(env)
    original = call_ok(env, "get_patient", {"patient_id": "P005"})["address"]
    call_ok(env, "update_contact", {"patient_id": "P005", "address": "Somewhere else"})
    assert env.state_hash() != initial[0]
    call_ok(env, "update_contact", {"patient_id": "P005", "address": original})
    assert snapshot(env) == initial
    assert env.diff() == []


def test_diff_lists_exactly_the_changed_records(env):
    call_ok(env, "reschedule_appointment", {"appointment_id": "A0004", "new_slot_id": "S006"})
    call_ok(env, "get_patient", {"patient_id": "P004"})
    diff = {(c["entity"], c["key"]): c for c in env.diff()}
    assert set(diff) == {("Appointment", "A0004"), ("Slot", "S005"), ("Slot", "S006")}
    assert diff[("Slot", "S005")]["before"]["status"] == "booked"
    assert diff[("Slot", "S005")]["after"]["status"] == "open"
    moved = diff[("Appointment", "A0004")]
    assert moved["kind"] == "update"
    assert (moved["after"]["slot"], moved["after"]["start"]) == ("S006", "2024-06-11T09:30:00")
    assert json.loads(json.dumps(env.diff())) == env.diff()


def test_policy_requires_verification_before_writes(domain):
    env = domain.environment(data=DATA)
    args = {"patient_id": "P001", "slot_id": "S006", "visit_type": "follow_up", "reason": "Cough"}
    before = snapshot(env)
    refused = env.call("book_appointment", args)
    assert not refused.ok and "policy 'identify_first'" in refused.error
    assert snapshot(env) == before
    assert env.call("get_patient", {"patient_id": "P001"}).ok  # reads are not restricted
    assert not env.call("verify_patient", {"patient_id": "P001", "date_of_birth": "2000-01-01"}).ok
    assert not env.call("book_appointment", args).ok  # a failed verification does not count
    call_ok(env, "verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"})
    call_ok(env, "book_appointment", args)
    env.reset()
    assert not env.call("book_appointment", args).ok  # reset forgets the verification


def test_policy_limits_archiving_to_one_per_episode(domain):
    env = domain.environment(data=DATA)
    call_ok(env, "verify_patient", {"patient_id": "P007", "date_of_birth": "2019-12-03"})
    call_ok(env, "archive_patient", {"patient_id": "P007"})
    call_ok(env, "verify_patient", {"patient_id": "P015", "date_of_birth": "1999-01-15"})
    second = env.call("archive_patient", {"patient_id": "P015"})
    assert not second.ok and "policy 'limited_changes'" in second.error


def refused_unchanged(env, tool: str, arguments: dict) -> str:
    before = snapshot(env)
    result = env.call(tool, arguments)
    assert not result.ok and not result.internal
    assert snapshot(env) == before
    return result.error


def test_verifying_one_patient_allows_changes_to_that_patient_only(domain):
    env = domain.environment(data=DATA)
    call_ok(env, "verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"})
    error = refused_unchanged(env, "update_contact", {"patient_id": "P002", "email": "m@x.org"})
    assert error == (
        "policy 'identify_first': update_contact may only run after "
        "verify_patient(patient_id) for each Patient it concerns (through patient_id)"
    )
    changed = call_ok(env, "update_contact", {"patient_id": "P001", "email": "m@x.org"})
    assert changed["email"] == "m@x.org"
    # A failed verification of P002 meets nothing; a successful one does.
    assert not env.call("verify_patient", {"patient_id": "P002", "date_of_birth": "1999-01-01"}).ok
    refused_unchanged(env, "update_contact", {"patient_id": "P002", "email": "n@x.org"})
    call_ok(env, "verify_patient", {"patient_id": "P002", "date_of_birth": "1972-11-02"})
    call_ok(env, "update_contact", {"patient_id": "P002", "email": "n@x.org"})
    env.reset()
    refused_unchanged(env, "update_contact", {"patient_id": "P001", "email": "m@x.org"})


def test_writes_reach_their_patient_through_the_records_they_name(domain):
    env = domain.environment(data=DATA)
    call_ok(env, "verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"})
    cancel = {"appointment_id": "A0015", "reason": "patient_request"}  # P002's appointment
    error = refused_unchanged(env, "cancel_appointment", cancel)
    assert "P002" not in error and "(through appointment_id)" in error
    refused_unchanged(env, "refill_prescription", {"rx_id": "RX003"})  # P002's
    payment = {"invoice_id": "INV0004", "amount": 5.0, "method": "card"}  # P002's invoice
    refused_unchanged(env, "pay_invoice", payment)
    call_ok(env, "refill_prescription", {"rx_id": "RX001"})  # P001's own
    call_ok(env, "cancel_appointment", {"appointment_id": "A0003", "reason": "patient_request"})
    call_ok(env, "verify_patient", {"patient_id": "P002", "date_of_birth": "1972-11-02"})
    assert call_ok(env, "cancel_appointment", cancel)["status"] == "cancelled"


def test_a_write_that_names_no_existing_patient_needs_some_verification(domain):
    env = domain.environment(data=DATA)
    unknown = {"appointment_id": "A9999", "reason": "patient_request"}
    assert "policy 'identify_first'" in refused_unchanged(env, "cancel_appointment", unknown)
    call_ok(env, "verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"})
    # Now the tool itself answers: the record does not exist.
    assert refused_unchanged(env, "cancel_appointment", unknown) == "Appointment 'A9999' not found"
    assert refused_unchanged(env, "update_contact", {"patient_id": "P999", "email": "a@b.c"}) == (
        "Patient 'P999' not found"
    )


def test_policies_can_be_switched_off(domain):
    env = domain.environment(data=DATA, enforce_policies=False)
    call_ok(
        env,
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S006", "visit_type": "follow_up", "reason": "Cough"},
    )
    call_ok(env, "archive_patient", {"patient_id": "P007"})
    call_ok(env, "archive_patient", {"patient_id": "P015"})
