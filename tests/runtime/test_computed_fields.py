"""Derived fields, declared transitions, hidden fields, struct defaults and float fields, through
real compiled code and a real SQLite environment."""

from __future__ import annotations

import json

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain
from envscale.runtime.errors import DataError, ToolError

SPEC = """
domain shop "A shop whose orders know their totals." clock "2024-05-15T15:00:00"

enum OrderStatus { placed, preparing, out_for_delivery, delivered, cancelled, lost }

struct Line {
  sku: str
  price: float
  quantity: int @default(1)
  required: bool @default(true)
  note: str @default("") @hidden
}

entity Customer {
  customer_id: str @key
  email: str
  password_hash: str @hidden "Never shown to the agent"
}

entity Order {
  order_id: str @key
  customer: Customer
  status: OrderStatus @default(placed)
  total: float @derived(subtotal + tip)
  lines: list<Line>
  tip: float @default(0.0)
  subtotal: float @derived(sum([x.price * x.quantity for x in lines]))
  lines_count: int @derived(len(lines))
  per_line: float @derived(subtotal / lines_count)
  internal_note: str @default("") @hidden
}

transitions Order.status {
  placed -> preparing -> out_for_delivery -> delivered
  placed, preparing -> cancelled
  lost
}

tool get_order(order_id: str) -> Order {
  "Look an order up."
  return Order[order_id]
}

tool get_customer(customer_id: str) -> Customer {
  "Look a customer up."
  return Customer[customer_id]
}

tool check_password(customer_id: str, password_hash: str) -> bool {
  "Whether the hash matches."
  return Customer[customer_id].password_hash == password_hash
}

tool set_tip(order_id: str, tip: float) -> Order {
  "Set the tip."
  let o = Order[order_id]
  set o.tip = tip
  return o
}

tool add_line(order_id: str, line: Line) -> Order {
  "Add a line, and make the tip a tenth of the new total."
  let o = Order[order_id]
  set o.lines = o.lines + [line]
  set o.tip = o.total / 10
  return o
}

tool required_skus(lines: list<Line>) -> list<str> {
  "The skus of the required lines."
  return [x.sku for x in lines if x.required]
}

tool stored_required_skus(order_id: str) -> list<str> {
  "The skus of an order's required lines."
  return [x.sku for x in Order[order_id].lines if x.required]
}

tool move(order_id: str, status: OrderStatus, note: str = "") -> Order {
  "Move an order to another status."
  let o = Order[order_id]
  set o.status = status
  set o.internal_note = note
  return o
}

tool place(order_id: str, customer_id: str, lines: list<Line>, status: OrderStatus) -> Order {
  "Place an order."
  return insert Order(order_id: order_id, customer: Customer[customer_id], lines: lines,
                      status: status)
}
"""


def _data() -> dict:
    return {
        "Customer": [{"customer_id": "C1", "email": "a@example.com", "password_hash": "h1"}],
        "Order": [
            {
                "order_id": "O1",
                "customer": "C1",
                "lines": [{"sku": "a", "price": 2.5, "quantity": 2}, {"sku": "b", "price": 1}],
                "tip": 3,
            }
        ],
    }


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "shop.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


@pytest.fixture()
def env(domain: Domain):
    return domain.environment(data=_data())


def _order(env) -> dict:
    return env.export()["Order"][0]


# ---- derived fields


def test_loaded_data_gets_its_derived_fields_computed_in_dependency_order(env) -> None:
    order = _order(env)
    # per_line reads subtotal and lines_count, total reads subtotal: declared before them all.
    assert order["subtotal"] == 6.0 and order["lines_count"] == 2
    assert order["total"] == 9.0 and order["per_line"] == 3.0


def test_a_write_recomputes_derived_fields_in_the_result_and_the_store(env) -> None:
    result = env.call("set_tip", {"order_id": "O1", "tip": 1.5})
    assert result.ok and result.content["total"] == 7.5
    assert _order(env)["total"] == 7.5


def test_a_derived_field_read_after_a_change_in_the_same_tool_sees_the_change(env) -> None:
    result = env.call("add_line", {"order_id": "O1", "line": {"sku": "c", "price": 4}})
    assert result.ok, result.error
    # subtotal 10 + old tip 3 = 13 when the tip is computed; then total = 10 + 1.3.
    assert result.content["tip"] == pytest.approx(1.3)
    assert result.content["total"] == pytest.approx(11.3)
    assert _order(env)["total"] == result.content["total"]


def test_an_insert_computes_derived_fields(env) -> None:
    lines = [{"sku": "z", "price": 1.5, "quantity": 4}]
    result = env.call(
        "place", {"order_id": "O2", "customer_id": "C1", "lines": lines, "status": "placed"}
    )
    assert result.ok, result.error
    assert result.content["total"] == 6.0 and result.content["lines_count"] == 1
    stored = {o["order_id"]: o for o in env.export()["Order"]}["O2"]
    assert stored["total"] == 6.0 and stored["per_line"] == 6.0


def test_a_derived_value_that_cannot_be_computed_fails_the_call_and_changes_nothing(env) -> None:
    before = env.state_hash()
    result = env.call(
        "place", {"order_id": "O3", "customer_id": "C1", "lines": [], "status": "placed"}
    )
    assert not result.ok and not result.internal
    assert result.error.startswith("Order.per_line cannot be computed: ")
    assert env.state_hash() == before


def test_data_may_state_a_derived_value_only_as_it_is_computed(domain: Domain) -> None:
    data = _data()
    data["Order"][0]["total"] = 9  # 6.0 + 3.0, as an int: the same number
    assert domain.environment(data=data).export()["Order"][0]["total"] == 9.0
    data["Order"][0]["total"] = 12.0
    with pytest.raises(DataError) as error:
        domain.environment(data=data)
    assert "Order[0].total: the data gives 12.0, but total is derived and computes to 9.0" in str(
        error.value
    )


def test_domain_derive_gives_the_record_as_it_would_be_stored(domain: Domain) -> None:
    record = {"order_id": "O9", "lines": [{"sku": "a", "price": 1, "quantity": 3}], "tip": 1}
    derived = domain.derive("Order", record)
    assert derived["total"] == 4.0 and derived["tip"] == 1.0 and isinstance(derived["tip"], float)
    assert "total" not in record  # a copy
    with pytest.raises(ToolError):
        domain.derive("Order", {**record, "lines": []})


# ---- transitions


def test_a_declared_move_is_allowed_and_an_undeclared_one_fails_naming_both_states(env) -> None:
    assert env.call("move", {"order_id": "O1", "status": "preparing"}).ok
    before = env.state_hash()
    result = env.call("move", {"order_id": "O1", "status": "delivered", "note": "x"})
    assert not result.ok and not result.internal
    assert result.error == (
        "Order 'O1': status cannot change from 'preparing' to 'delivered'; from 'preparing' it "
        "can change to 'out_for_delivery' or 'cancelled'"
    )
    assert env.state_hash() == before
    assert env.call("move", {"order_id": "O1", "status": "cancelled"}).ok
    final = env.call("move", {"order_id": "O1", "status": "placed"})
    assert final.error.endswith("'cancelled' is final")


def test_keeping_the_state_is_no_move(env) -> None:
    assert env.call("move", {"order_id": "O1", "status": "placed", "note": "same"}).ok


def test_inserts_and_seed_data_may_hold_any_state(domain: Domain, env) -> None:
    data = _data()
    data["Order"][0]["status"] = "lost"
    assert domain.environment(data=data).export()["Order"][0]["status"] == "lost"
    result = env.call(
        "place",
        {
            "order_id": "O5",
            "customer_id": "C1",
            "lines": [{"sku": "a", "price": 1}],
            "status": "lost",
        },
    )
    assert result.ok, result.error


def test_the_manifest_carries_derived_hidden_and_transitions(domain: Domain) -> None:
    manifest = json.loads(domain.files["manifest.json"])
    assert manifest["format"] == 3
    fields = {f["name"]: f for f in manifest["entities"]["Order"]["fields"]}
    assert fields["total"]["derived"] == "subtotal + tip"
    assert fields["subtotal"]["derived"] == "sum([x.price * x.quantity for x in lines])"
    assert fields["tip"]["derived"] is None and fields["internal_note"]["hidden"] is True
    assert manifest["transitions"] == {
        "Order.status": {
            "placed": ["preparing", "cancelled"],
            "preparing": ["out_for_delivery", "cancelled"],
            "out_for_delivery": ["delivered"],
            "delivered": [],
            "cancelled": [],
            "lost": [],
        }
    }
    line = {f["name"]: f for f in manifest["structs"]["Line"]}
    assert line["note"]["hidden"] is True and line["quantity"]["default"] == 1


# ---- hidden fields


def test_hidden_fields_are_left_out_of_results_but_stored_and_readable(env) -> None:
    customer = env.call("get_customer", {"customer_id": "C1"}).content
    assert customer == {"customer_id": "C1", "email": "a@example.com"}
    assert env.call("check_password", {"customer_id": "C1", "password_hash": "h1"}).content is True
    assert env.export()["Customer"][0]["password_hash"] == "h1"
    order = env.call("get_order", {"order_id": "O1"}).content
    assert "internal_note" not in order
    assert all("note" not in line for line in order["lines"])
    assert all("note" in line for line in env.export()["Order"][0]["lines"])


def test_hidden_fields_feed_no_edge_of_the_tool_graph(domain: Domain) -> None:
    vias = {flow.via for edge in domain.manifest.tool_graph for flow in edge.flows}
    assert vias
    assert "Customer.password_hash" not in vias


# ---- struct defaults


def test_struct_defaults_are_filled_in_arguments(env) -> None:
    lines = [{"sku": "a", "price": 1}, {"sku": "b", "price": 1, "required": False}]
    result = env.call("required_skus", {"lines": lines})
    assert result.ok, result.error
    assert result.content == ["a"]


def test_struct_defaults_are_filled_in_loaded_data(env) -> None:
    result = env.call("stored_required_skus", {"order_id": "O1"})
    assert result.ok, result.error
    assert result.content == ["a", "b"]
    lines = env.export()["Order"][0]["lines"]
    assert lines[1] == {"sku": "b", "price": 1, "quantity": 1, "required": True, "note": ""}


def test_struct_defaults_are_filled_in_inserted_values(env) -> None:
    env.call(
        "place",
        {
            "order_id": "O6",
            "customer_id": "C1",
            "lines": [{"sku": "q", "price": 2}],
            "status": "placed",
        },
    )
    stored = {o["order_id"]: o for o in env.export()["Order"]}["O6"]
    assert stored["lines"] == [
        {"sku": "q", "price": 2, "quantity": 1, "required": True, "note": ""}
    ]


# ---- float fields


def test_an_int_written_to_a_float_field_is_the_stored_float_in_the_result(env) -> None:
    result = env.call("set_tip", {"order_id": "O1", "tip": 3})
    assert result.ok
    assert result.content["tip"] == 3.0 and isinstance(result.content["tip"], float)
    assert json.loads(result.text)["tip"] == _order(env)["tip"]
    assert isinstance(_order(env)["tip"], float)
    assert '"tip": 3.0' in result.text
