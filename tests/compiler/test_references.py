"""Lists, maps and struct fields of an entity type: references stored as keys and checked."""

from __future__ import annotations

import json

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain
from envscale.runtime.errors import DataError

SPEC = """
domain shop "A test shop." clock "2024-05-15T12:00:00"
struct Line { product: Product  qty: int }
entity Product { product_id: str @key  name: str }
entity Order { order_id: str @key  lines: list<Line> }
entity User {
  user_id: str @key
  orders: list<Order> "Ids of the user's orders"
  by_name: map<str, Order> @default({})
  favourite: Line? @sparse
}
tool add_order(user_id: str, order_id: str) -> User {
  let u = User[user_id]
  set u.orders = u.orders + [order_id]
  return u
}
tool add_record(user_id: str, order_id: str, name: str) -> User {
  let u = User[user_id]
  let o = Order[order_id]
  require o not in u.orders else "already there"
  set u.orders = u.orders + [o]
  set u.by_name[name] = o
  return u
}
tool set_orders(user_id: str, order_ids: list<str>) -> User {
  let u = User[user_id]
  set u.orders = order_ids
  return u
}
tool favour(user_id: str, product_id: str) -> User {
  let u = User[user_id]
  set u.favourite = Line(product: product_id, qty: 1)
  return u
}
tool line_count(user_id: str) -> int {
  let u = User[user_id]
  let n = 0
  for o in u.orders {
    set n = n + len(o.lines)
  }
  return n
}
tool first_product(user_id: str) -> str {
  let u = User[user_id]
  require len(u.orders) > 0 else "no orders"
  let o = Order[u.orders[0]]
  require "O1" in u.orders else "O1 is not among them"
  return Product[o.lines[0].product].name
}
tool line_total(order_ids: list<Order>) -> int {
  return sum([len(o.lines) for o in order_ids]) + len(Order[order_ids[0]].lines)
}
tool drop(order_id: str) -> str {
  let o = Order[order_id]
  delete o
  return order_id
}
"""

DATA = {
    "Product": [{"product_id": "P1", "name": "pen"}],
    "Order": [
        {"order_id": "O1", "lines": [{"product": "P1", "qty": 2}]},
        {"order_id": "O2", "lines": []},
    ],
    "User": [{"user_id": "U1", "orders": ["O1"]}],
}


def compile_spec(text: str) -> tuple[dict[str, str] | None, list[str]]:
    files, diagnostics, _ = compile_source(text, "shop.domain")
    return files, [f"{d.code} {d.message}" for d in diagnostics if d.severity == "error"]


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, found = compile_spec(SPEC)
    assert files is not None, found
    return Domain(files)


def test_the_compiler_types_them_as_references_and_the_manifest_shows_where(domain):
    fields = {f.name: f for f in domain.manifest.entities["User"].fields}
    assert fields["orders"].type == "list<ref Order>"
    assert fields["orders"].ref is None and fields["orders"].kind == "json"
    manifest = json.loads(domain.files["manifest.json"])
    shapes = {f["name"]: f["shape"] for f in manifest["entities"]["User"]["fields"]}
    assert shapes["orders"] == {"list": {"ref": "Order"}}
    assert shapes["by_name"] == {"map": {"ref": "Order"}}
    assert shapes["favourite"] == {"struct": "Line"}
    assert manifest["structs"]["Line"][0] == {
        "name": "product",
        "sparse": False,
        "shape": {"ref": "Product"},
        "hidden": False,
    }


def test_they_are_stored_as_keys_and_tool_schemas_take_strings(domain):
    schemas = {s["function"]["name"]: s for s in domain.tool_schemas}
    params = schemas["set_orders"]["function"]["parameters"]["properties"]
    assert params["order_ids"] == {"type": "array", "items": {"type": "string"}}
    env = domain.environment(DATA)
    assert env.call("add_order", {"user_id": "U1", "order_id": "O2"}).content["orders"] == [
        "O1",
        "O2",
    ]
    env.reset()
    added = env.call("add_record", {"user_id": "U1", "order_id": "O2", "name": "second"})
    assert added.ok, added.error
    assert added.content["orders"] == ["O1", "O2"]  # the record went in as its key
    assert added.content["by_name"] == {"second": "O2"}
    assert env.export()["User"][0]["orders"] == ["O1", "O2"]
    again = env.call("add_record", {"user_id": "U1", "order_id": "O1", "name": "x"})
    assert again.error == "already there"


def test_tool_bodies_follow_them(domain):
    env = domain.environment(DATA)
    assert env.call("line_count", {"user_id": "U1"}).content == 1
    assert env.call("first_product", {"user_id": "U1"}).content == "pen"


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("add_order", {"user_id": "U1", "order_id": "O9"}, "User.orders[1]: Order 'O9' not found"),
        (
            "set_orders",
            {"user_id": "U1", "order_ids": ["O2", "nope"]},
            "User.orders[1]: Order 'nope' not found",
        ),
        (
            "favour",
            {"user_id": "U1", "product_id": "P7"},
            "User.favourite.product: Product 'P7' not found",
        ),
        ("drop", {"order_id": "O1"}, "Order 'O1' is still referred to by User 'U1': orders[0]"),
    ],
)
def test_a_dangling_key_written_by_a_tool_fails_the_call_and_changes_nothing(
    domain, tool, arguments, message
):
    env = domain.environment(DATA)
    before = env.state_hash()
    result = env.call(tool, arguments)
    assert (result.ok, result.error, result.internal) == (False, message, False)
    assert env.state_hash() == before and env.diff() == []


def test_a_parameter_listing_an_entity_takes_its_keys(domain):
    schemas = {s["function"]["name"]: s for s in domain.tool_schemas}
    params = schemas["line_total"]["function"]["parameters"]["properties"]
    assert params["order_ids"] == {"type": "array", "items": {"type": "string"}}
    env = domain.environment(DATA)
    assert env.call("line_total", {"order_ids": ["O1", "O2"]}).content == 2
    missing = env.call("line_total", {"order_ids": ["O2", "O5"]})
    assert (missing.ok, missing.error, missing.internal) == (False, "Order 'O5' not found", False)


def test_a_record_nothing_refers_to_can_be_deleted(domain):
    env = domain.environment(DATA)
    assert env.call("drop", {"order_id": "O2"}).ok


def test_a_dangling_key_in_seed_data_is_a_data_error(domain):
    data = {
        "Product": DATA["Product"],
        "Order": [{"order_id": "O1", "lines": [{"product": "P9", "qty": 1}]}],
        "User": [{"user_id": "U1", "orders": ["O1", "O7"], "by_name": {"a": "O8"}}],
    }
    with pytest.raises(DataError) as raised:
        domain.environment(data)
    assert raised.value.problems == [
        "Order 'O1': lines[0].product refers to a missing Product \"P9\"",
        "User 'U1': orders[1] refers to a missing Order \"O7\"",
        'User \'U1\': by_name["a"] refers to a missing Order "O8"',
    ]


def test_a_list_of_references_takes_keys_but_is_not_a_list_of_text():
    body = """
tool ids(user_id: str) -> list<str> {
  let u = User[user_id]
  return u.orders
}
"""
    _, found = compile_spec(SPEC + body)
    assert found == ["E201 returned value: expected list<str>, found list<ref Order>"]
    fixed = body.replace("return u.orders", "return [str(o) for o in u.orders]")
    _, found = compile_spec(SPEC + fixed)
    assert found == []


def test_references_to_an_entity_with_a_composite_key_are_refused():
    text = """
domain d "d." clock "2024-05-15T12:00:00"
entity Seat { row: int @key  letter: str @key }
struct Pick { seat: Seat }
entity Booking { booking_id: str @key  seats: list<Seat>  pick: Pick }
"""
    _, found = compile_spec(text)
    assert found == [
        "E305 'seat' refers to 'Seat', whose key has 2 fields",
        "E305 'seats' refers to 'Seat', whose key has 2 fields",
    ]


def test_references_sort_as_keys_but_not_by_a_field():
    plain = "tool s(user_id: str) -> int { return len(sorted(User[user_id].orders, desc: true)) }\n"
    assert compile_spec(SPEC + plain)[1] == []
    by = 'tool s(user_id: str) -> int { return len(sorted(User[user_id].orders, by: "lines")) }\n'
    assert compile_spec(SPEC + by)[1] == [
        "E202 sorted(by: ...) needs a list of records, found list<ref Order>"
    ]


KEPT_SPEC = (
    SPEC
    + """
tool bump(order_id: str) -> Order {
  let o = Order[order_id]
  require len(o.lines) > 0 else "no lines"
  set o.lines[0].qty = o.lines[0].qty + 1
  return o
}
tool swap(order_id: str, product_id: str) -> Order {
  let o = Order[order_id]
  require len(o.lines) > 0 else "no lines"
  set o.lines[0].product = product_id
  return o
}
tool relink(order_id: str, product_id: str) -> Order {
  let o = Order[order_id]
  for line in o.lines {
    set line.product = product_id
  }
  set o.lines[0].qty = 5
  return o
}
"""
)


@pytest.fixture(scope="module")
def kept() -> Domain:
    files, found = compile_spec(KEPT_SPEC)
    assert files is not None, found
    return Domain(files)


def test_an_update_of_references_the_tool_read_and_kept_looks_none_up(kept):
    """`bump` changes only a count in a line: the line's product is the one stored, so the
    write asks for no Product. `swap` sets the product, and `relink` may through its loop's
    item: theirs are looked up, and a missing one fails the call."""
    source = kept.files["tools.py"]
    bodies = {
        name: source.split(f"def {name}(", 1)[1].split("\ndef ", 1)[0]
        for name in ("bump", "swap", "relink")
    }
    assert 'refs_kept=("lines",)' in bodies["bump"]
    assert "refs_kept" not in bodies["swap"] and "refs_kept" not in bodies["relink"]
    env = kept.environment(DATA)
    statements: list[str] = []

    def traced(cursor, sql, bindings):
        statements.append(sql)
        return True

    env.connection.exec_trace = traced
    bumped = env.call("bump", {"order_id": "O1"})
    env.connection.exec_trace = None
    assert bumped.ok and bumped.content["lines"] == [{"product": "P1", "qty": 3}]
    assert not [sql for sql in statements if '"Product"' in sql]
    before = env.state_hash()
    for tool in ("swap", "relink"):
        refused = env.call(tool, {"order_id": "O1", "product_id": "P9"})
        assert (refused.ok, refused.error) == (
            False,
            "Order.lines[0].product: Product 'P9' not found",
        )
        assert env.state_hash() == before
    assert env.call("swap", {"order_id": "O1", "product_id": "P1"}).ok
