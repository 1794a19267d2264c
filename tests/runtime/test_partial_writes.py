"""Records that a call reads in part (a planned read of the fields it uses) or through more
than one read reach `db.update` safely: an update writes only the named fields, by the key,
so the fields left out of a partial record keep their stored values, and the checks after
the call judge the record as stored."""

from __future__ import annotations

import pytest

from envscale.api import compile_source
from envscale.runtime import lib
from envscale.runtime.domain import Domain

SPEC = """
domain wallet "Customers with saved payment methods, and their charges."

struct Method "A saved payment method" {
  id: str
  balance: float? @sparse
}

entity Customer {
  customer_id: str @key
  name: str
  email: str
  methods: map<str, Method>
  tags: list<str>
}

entity Charge {
  charge_id: str @key
  customer: Customer
  method_id: str
  amount: float
}

invariant methods_by_id on Customer: all([methods[k].id == k for k in methods])
  else "A method is saved under its own id"

invariant few_tags on Customer: len(tags) < 3 else "A customer has at most two tags"

tool refund(charge_id: str) -> Charge {
  "Give a charge back to the method it was paid with."
  let c = Charge[charge_id]
  let owner = Customer[c.customer]
  let balance = owner.methods[c.method_id].balance
  require balance != none else "the method has no balance"
  set owner.methods[c.method_id].balance = round(balance + c.amount, 2)
  return c
}

tool set_balance(customer_id: str, method_id: str, balance: float) -> bool {
  "Set a saved method's balance."
  let owner = Customer[customer_id]
  require method_id in owner.methods else "no such method"
  set owner.methods[method_id].balance = balance
  return true
}

tool tag_twice(customer_id: str, tag: str, name: str) -> list<Customer> {
  "Tag a customer through one read of the record and rename them through another."
  let a = Customer[customer_id]
  let b = Customer[customer_id]
  set a.tags = a.tags + [tag]
  set b.name = name
  return [a, b]
}

tool top_up(customer_id: str, method_id: str, amount: float) -> list<float?> {
  "A method's balance, read again after it is raised."
  let before = Customer[customer_id].methods[method_id].balance
  require before != none else "the method has no balance"
  let owner = Customer[customer_id]
  set owner.methods[method_id].balance = before + amount
  return [before, Customer[customer_id].methods[method_id].balance]
}

tool tag(customer_id: str, tag: str) -> Customer {
  "Tag a customer."
  let a = Customer[customer_id]
  set a.tags = a.tags + [tag]
  return a
}
"""
DATA = {
    "Customer": [
        {
            "customer_id": "C1",
            "name": "Ada",
            "email": "ada@example.com",
            "methods": {
                "gift_1": {"id": "gift_1", "balance": 10.0},
                "card_1": {"id": "card_1"},
            },
            "tags": ["early"],
        },
        {
            "customer_id": "C2",
            "name": "Bo",
            "email": "bo@example.com",
            "methods": {"gift_2": {"id": "gift_2", "balance": 1.0}},
            "tags": ["early", "loyal"],
        },
    ],
    "Charge": [{"charge_id": "X1", "customer": "C1", "method_id": "gift_1", "amount": 2.5}],
}


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "wallet.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def customer(env, key: str) -> dict:
    return next(c for c in env.export()["Customer"] if c["customer_id"] == key)


def test_the_written_records_are_read_in_part(domain):
    tools = domain.files["tools.py"]
    part = 'lib.get_part(db, "Customer", {}, ("customer_id", "methods"))'
    assert part.format('c["customer"]') in tools
    assert part.format("customer_id") in tools
    assert 'db.update("Customer", owner, "methods")' in tools


def test_a_partial_record_writes_its_fields_alone(domain):
    env = domain.environment(data=DATA)
    before = customer(env, "C1")
    assert env.call("refund", {"charge_id": "X1"}).ok
    after = customer(env, "C1")
    assert after["methods"]["gift_1"]["balance"] == 12.5
    # Every field the partial read left out, and the map's other entry, are as they were.
    assert {k: v for k, v in after.items() if k != "methods"} == {
        k: v for k, v in before.items() if k != "methods"
    }
    assert after["methods"]["card_1"] == before["methods"]["card_1"]
    [change] = env.diff()
    assert change["key"] == "C1" and change["before"] == before and change["after"] == after


def test_a_map_read_for_one_entry_is_written_whole(domain):
    env = domain.environment(data=DATA)
    assert env.call("set_balance", {"customer_id": "C1", "method_id": "gift_1", "balance": 4.0}).ok
    methods = customer(env, "C1")["methods"]
    assert methods == {"gift_1": {"id": "gift_1", "balance": 4.0}, "card_1": {"id": "card_1"}}
    failed = env.call("set_balance", {"customer_id": "C1", "method_id": "none", "balance": 1.0})
    assert failed.error == "no such method"


def test_checks_after_a_call_judge_the_record_as_stored(domain):
    env = domain.environment(data=DATA)
    # Through one read: the dict the call wrote is what is stored, and the check refuses it.
    state = env.export()
    refused = env.call("tag", {"customer_id": "C2", "tag": "new"})
    assert refused.error == "invariant 'few_tags' violated: A customer has at most two tags"
    assert env.export() == state
    assert env.call("tag", {"customer_id": "C1", "tag": "new"}).ok
    assert customer(env, "C1")["tags"] == ["early", "new"]


def test_checks_after_a_call_see_writes_made_through_two_reads(domain):
    env = domain.environment(data=DATA)
    state = env.export()
    # The last write goes through a read that still holds two tags; the stored record has three.
    refused = env.call("tag_twice", {"customer_id": "C2", "tag": "new", "name": "Bea"})
    assert refused.error == "invariant 'few_tags' violated: A customer has at most two tags"
    assert env.export() == state
    assert env.call("tag_twice", {"customer_id": "C1", "tag": "new", "name": "Ann"}).ok
    stored = customer(env, "C1")
    assert (stored["name"], stored["tags"]) == ("Ann", ["early", "new"])


def test_a_part_read_again_after_a_write_reads_what_is_stored(domain):
    tools = domain.files["tools.py"]
    assert tools.count('lib.entry_of(db, "Customer", customer_id, "methods", method_id)') == 2
    env = domain.environment(data=DATA)
    result = env.call("top_up", {"customer_id": "C1", "method_id": "gift_1", "amount": 2.0})
    assert result.content == [10.0, 12.0]


def test_a_part_read_twice_in_a_call_gives_copies_until_its_entity_is_written(domain):
    env = domain.environment(data=DATA)
    db = env.db
    db.begin_call()
    db.keep_rows(True)
    try:
        first = lib.entry_of(db, "Customer", "C1", "methods", "gift_1")
        first["gift_1"]["balance"] = 99.0
        assert lib.entry_of(db, "Customer", "C1", "methods", "gift_1") == {
            "gift_1": {"id": "gift_1", "balance": 10.0}
        }
        # A write of another entity keeps the answers; one of the entity's does not.
        charge = db.find("Charge", "X1")
        charge["amount"] = 3.0
        db.update("Charge", charge, "amount")
        assert lib.field_of(db, "Customer", "C1", "name") == "Ada"
        owner = db.find("Customer", "C1")
        owner["name"] = "Ann"
        db.update("Customer", owner, "name")
        assert lib.field_of(db, "Customer", "C1", "name") == "Ann"
        assert lib.existing(db, "Customer", "C1") == "C1"
    finally:
        db.keep_rows(False)
        db.begin_call()
