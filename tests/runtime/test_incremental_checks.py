"""Invariants that read other records are judged, after a call, on the records the call wrote
and on the rows that those records reach: they refuse exactly the calls a check of every
record refuses, with the same message, and a refused call leaves the state as it was."""

from __future__ import annotations

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain
from envscale.runtime.rowview import run_check

SPEC = """
domain billing "Invoices paid by payments, and visits held in slots."
entity Invoice {
  invoice_id: str @key
  paid: float
}
entity Payment {
  payment_id: str @key
  invoice: Invoice
  amount: float
}
entity Slot {
  slot_id: str @key
  start: str
}
entity Visit {
  visit_id: str @key
  slot: Slot
  start: str
  notes: list<str>
}
invariant paid_by_payments on Invoice:
  paid == round(sum([p.amount for p in Payment.where(invoice: self.invoice_id)]), 2)
  else format("Invoice {} is not paid by its payments", self.invoice_id)
invariant at_its_slot on Visit: start == self.slot.start
  else format("Visit {} is not at its slot's time", self.visit_id)
invariant notes_kept on Visit: len(notes) < 3 else "too many notes"
invariant one_visit_per_slot on Visit: count(Visit.where(slot: self.slot)) == 1
  else format("Slot {} holds another visit besides {}", self.slot.slot_id, self.visit_id)
invariant slots_by_count on Slot: count(Slot.all()) < 100 else "too many slots"

tool set_paid(invoice_id: str, paid: float) -> Invoice {
  "Set what is paid on an invoice."
  let i = Invoice[invoice_id]
  set i.paid = paid
  return i
}

tool set_amount(payment_id: str, amount: float) -> Payment {
  "Change a payment's amount alone."
  let p = Payment[payment_id]
  set p.amount = amount
  return p
}

tool move_payment(payment_id: str, to: str, settle: bool) -> Payment {
  "Move a payment to another invoice, paying it there; with settle, taken off the old one."
  let p = Payment[payment_id]
  let old = Invoice[p.invoice]
  let target = Invoice[to]
  set p.invoice = target
  set target.paid = round(target.paid + p.amount, 2)
  if settle {
    set old.paid = round(old.paid - p.amount, 2)
  }
  return p
}

tool pay(invoice_id: str, amount: float) -> Payment {
  "Record a payment without paying the invoice."
  let i = Invoice[invoice_id]
  return insert Payment(payment_id: next_key(Payment, "PAY", 3), invoice: i, amount: amount)
}

tool refund(payment_id: str) -> bool {
  "Remove a payment without taking it off its invoice."
  let p = Payment[payment_id]
  delete p
  return true
}

tool move_slot(slot_id: str, start: str) -> Slot {
  "Move a slot to another time, leaving its visits where they were."
  let s = Slot[slot_id]
  set s.start = start
  return s
}

tool add_note(visit_id: str, note: str) -> Visit {
  "Add a note to a visit."
  let v = Visit[visit_id]
  set v.notes = v.notes + [note]
  return v
}

tool book(visit_id: str, slot_id: str) -> Visit {
  "Book a visit in a slot."
  let s = Slot[slot_id]
  return insert Visit(visit_id: visit_id, slot: s, start: s.start, notes: [])
}
"""
DATA = {
    "Invoice": [
        {"invoice_id": "I1", "paid": 5.0},
        {"invoice_id": "I2", "paid": 0.0},
        {"invoice_id": "I3", "paid": 0.0},
    ],
    "Payment": [{"payment_id": "PAY001", "invoice": "I1", "amount": 5.0}],
    "Slot": [
        {"slot_id": "S1", "start": "09:00"},
        {"slot_id": "S2", "start": "10:00"},
    ],
    "Visit": [{"visit_id": "V1", "slot": "S1", "start": "09:00", "notes": []}],
}


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "billing.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def snapshot(env) -> tuple:
    return env.export(), env.diff(), env.state_hash()


def refused(env, tool: str, arguments: dict) -> str:
    """The error of a call that must fail, after checking it left the state as it was."""
    before = snapshot(env)
    result = env.call(tool, arguments)
    assert not result.ok, result
    assert snapshot(env) == before
    return result.error


def whole_table_messages(domain: Domain, env) -> dict[str, str]:
    """Each invariant broken now, judged over every record."""
    checks = domain.tools_module.INVARIANTS
    return {name: m for name, check in checks.items() if (m := run_check(check, env.db))}


def test_the_links_of_each_invariant(domain):
    links = domain.tools_module.AFFECTED_BY
    assert links == {
        "paid_by_payments": (("Payment", "invoice", "invoice_id"),),
        "at_its_slot": (("Slot", "slot_id", "slot"),),
        "one_visit_per_slot": (("Visit", "slot", "slot"),),
    }
    source = domain.files["tools.py"]
    assert 'db.affected("Visit")' in source  # notes_kept reads its own row alone
    assert 'for row in db.all("Slot"):' in source  # Slot.all() links to no row


def test_an_invariant_fires_on_the_record_the_call_changed(domain):
    env = domain.environment(data=DATA)
    error = refused(env, "set_paid", {"invoice_id": "I1", "paid": 4.0})
    assert error == "invariant 'paid_by_payments' violated: Invoice I1 is not paid by its payments"
    assert env.call("set_paid", {"invoice_id": "I2", "paid": 0.0}).ok


def test_an_invariant_fires_on_the_record_referring_to_the_changed_one(domain):
    env = domain.environment(data=DATA)
    # Only the payment changes; the invoice it belongs to no longer adds up.
    error = refused(env, "set_amount", {"payment_id": "PAY001", "amount": 4.0})
    assert error == "invariant 'paid_by_payments' violated: Invoice I1 is not paid by its payments"
    # Only the slot changes; the visit that refers to it is no longer at its time.
    error = refused(env, "move_slot", {"slot_id": "S1", "start": "11:00"})
    assert error == "invariant 'at_its_slot' violated: Visit V1 is not at its slot's time"
    assert env.call("move_slot", {"slot_id": "S2", "start": "11:00"}).ok  # no visit there


def test_inserted_and_deleted_records_reach_the_rows_they_refer_to(domain):
    env = domain.environment(data=DATA)
    error = refused(env, "pay", {"invoice_id": "I2", "amount": 1.0})
    assert error == "invariant 'paid_by_payments' violated: Invoice I2 is not paid by its payments"
    error = refused(env, "refund", {"payment_id": "PAY001"})
    assert error == "invariant 'paid_by_payments' violated: Invoice I1 is not paid by its payments"
    error = refused(env, "book", {"visit_id": "V2", "slot_id": "S1"})
    assert (
        error == "invariant 'one_visit_per_slot' violated: Slot S1 holds another visit besides V1"
    )
    assert env.call("book", {"visit_id": "V2", "slot_id": "S2"}).ok


def test_a_moved_link_reaches_the_row_it_left(domain):
    """The payment leaves I1 without I1 being written: only the payment's invoice before the
    call leads to I1, and it must be the one before this call, not the one at reset."""
    env = domain.environment(data=DATA)
    error = refused(env, "move_payment", {"payment_id": "PAY001", "to": "I2", "settle": False})
    assert error == "invariant 'paid_by_payments' violated: Invoice I1 is not paid by its payments"
    assert env.call("move_payment", {"payment_id": "PAY001", "to": "I2", "settle": True}).ok
    error = refused(env, "move_payment", {"payment_id": "PAY001", "to": "I3", "settle": False})
    assert error == "invariant 'paid_by_payments' violated: Invoice I2 is not paid by its payments"
    assert env.call("move_payment", {"payment_id": "PAY001", "to": "I3", "settle": True}).ok
    assert whole_table_messages(domain, env) == {}


def test_the_calls_refused_are_those_a_check_of_every_record_refuses(domain):
    """Each call, on states reached by earlier calls: refused exactly when some invariant over
    every record is broken after it, with the message of the first one broken."""
    env = domain.environment(data=DATA)
    calls = [
        ("add_note", {"visit_id": "V1", "note": "a"}),
        ("set_amount", {"payment_id": "PAY001", "amount": 5.0}),
        ("move_slot", {"slot_id": "S2", "start": "12:00"}),
        ("book", {"visit_id": "V2", "slot_id": "S2"}),
        ("move_slot", {"slot_id": "S2", "start": "13:00"}),
        ("add_note", {"visit_id": "V1", "note": "b"}),
        ("add_note", {"visit_id": "V1", "note": "c"}),
        ("move_payment", {"payment_id": "PAY001", "to": "I3", "settle": True}),
        ("set_paid", {"invoice_id": "I1", "paid": 1.0}),
        ("pay", {"invoice_id": "I1", "amount": 2.0}),
        ("refund", {"payment_id": "PAY001"}),
    ]
    for tool, arguments in calls:
        before, journal = snapshot(env), dict(env.db.original)
        env.connection.execute("SAVEPOINT probe")
        env.tools[tool](env.db, *arguments.values())
        broken = whole_table_messages(domain, env)
        env.connection.execute("ROLLBACK TO probe")
        env.connection.execute("RELEASE probe")
        env.db.original = journal
        assert snapshot(env) == before
        result = env.call(tool, arguments)
        if broken:
            name, message = next(iter(broken.items()))
            assert result.error == f"invariant '{name}' violated: {message}", tool
            assert snapshot(env) == before
        else:
            assert result.ok, result
    assert not env.call("add_note", {"visit_id": "V1", "note": "d"}).ok  # the third: refused


@pytest.mark.parametrize(
    ("keys", "prefix", "width", "expected"),
    [
        ([], "PAY", 3, "PAY001"),
        (["PAY001", "PAY010", "PAY9", "PAYx", "PAY", "PAB99", "PAZ99"], "PAY", 3, "PAY011"),
        (["PAY0000000000000000000000041", "PAY7"], "PAY", 3, "PAY042"),
        (["PAY99999999999999999999"], "PAY", 0, "PAY100000000000000000000"),
        (["a%_*[1", "a%_*[2x", "a%_*"], "a%_*[", 0, "a%_*[2"),
        (["7", "12", "x3"], "", 0, "13"),
    ],
)
def test_next_key_finds_the_highest_number_after_the_prefix(domain, keys, prefix, width, expected):
    data = {
        **DATA,
        "Invoice": [{"invoice_id": "I1", "paid": 0.0}],
        "Payment": [{"payment_id": k, "invoice": "I1", "amount": 0.0} for k in keys],
    }
    env = domain.environment(data=data)
    assert env.db.next_key("Payment", prefix, width) == expected


UNBROKEN_SPEC = """
domain desk "Tickets with a status and a note."
entity Ticket {
  ticket_id: str @key
  status: str
  note: str
  tags: list<str>
}
invariant few_tags on Ticket: len(tags) <= 2 else "too many tags"
invariant known_status on Ticket: self.status in ["open", "closed"] else "unknown status"
tool set_note(ticket_id: str, note: str) -> Ticket {
  let t = Ticket[ticket_id]
  set t.note = note
  return t
}
tool tag(ticket_id: str, tag: str) -> Ticket {
  let t = Ticket[ticket_id]
  set t.tags = t.tags + [tag]
  return t
}
tool move(ticket_id: str, status: str) -> Ticket {
  let t = Ticket[ticket_id]
  set t.status = status
  return t
}
"""


def test_an_invariant_a_tool_cannot_break_is_not_checked_after_it():
    """`set_note` writes a field neither invariant reads: neither runs after it. `tag` and
    `move` write what one of them reads: that one runs, and refuses a call that breaks it."""
    files, diagnostics, _ = compile_source(UNBROKEN_SPEC, "desk.domain")
    assert files is not None, [d.message for d in diagnostics]
    domain = Domain(files)
    after = {tool: [name for name, _ in checks] for tool, checks in domain.invariants_after.items()}
    assert after["set_note"] == []
    assert after["tag"] == ["few_tags"]
    assert after["move"] == ["known_status"]
    data = {"Ticket": [{"ticket_id": "T1", "status": "open", "note": "", "tags": ["a", "b"]}]}
    env = domain.environment(data)
    assert env.call("set_note", {"ticket_id": "T1", "note": "hello"}).ok
    refused = env.call("tag", {"ticket_id": "T1", "tag": "c"})
    assert refused.error == "invariant 'few_tags' violated: too many tags"
    refused = env.call("move", {"ticket_id": "T1", "status": "lost"})
    assert refused.error == "invariant 'known_status' violated: unknown status"
    assert env.export()["Ticket"][0]["note"] == "hello"
