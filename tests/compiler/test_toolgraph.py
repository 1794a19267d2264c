"""The compiler's tool graph: states read off tool bodies, and the flows the manifest lists."""

from __future__ import annotations

import json

from envscale.api import compile_source
from envscale.compiler.toolgraph import Edge, edges_of
from envscale.records import Manifest

SPEC = """
domain d "A test domain."
enum Status { open, held, closed }
struct Line { sku: str  quantity: int }
entity Customer {
  customer_id: str @key
  name: str
}
entity Order {
  order_id: str @key
  customer: Customer
  status: Status @default(open)
  lines: list<Line>
}
tool find_customer(name: str) -> Customer {
  "Find a customer by name."
  let found = Customer.where(name: name)
  require len(found) > 0 else "no such customer"
  return found[0]
}
tool get_customer(customer_id: str) -> Customer {
  "Show a customer."
  return Customer[customer_id]
}
tool list_orders(customer_id: str) -> list<Order> {
  "A customer's orders."
  return Order.where(customer: customer_id)
}
tool get_order(order_id: str) -> Order {
  "Show an order."
  return Order[order_id]
}
tool hold_order(order_id: str) -> Order {
  "Hold an open order."
  let o = Order.get(order_id)
  require o != none else "no such order"
  require o.status == open else "only an open order can be held"
  set o.status = held
  return o
}
tool drop_line(order_id: str, sku: str) -> Order {
  "Drop a line of an open or held order; dropping the last closes it."
  let o = Order[order_id]
  require o.status in [open, held] else "only an open or held order can change"
  if len(o.lines) == 1 {
    set o.status = closed
  }
  set o.lines = [l for l in o.lines if l.sku != sku]
  return o
}
tool close_order(order_id: str) -> Order {
  "Close an order."
  let o = Order[order_id]
  require o.status in [open, held] else "only an open or held order can be closed"
  set o.status = closed
  return o
}
tool reopen_order(order_id: str, new_sku: str) -> Order {
  "Open a closed order again with a new line."
  let o = Order[order_id]
  require o.status == closed else "only a closed order can be opened again"
  set o.status = open
  set o.lines = [Line(sku: new_sku, quantity: 1)]
  return o
}
"""


def _manifest() -> Manifest:
    files, diagnostics, _ = compile_source(SPEC, "d.domain")
    assert files is not None, [str(d) for d in diagnostics]
    return Manifest.from_dict(json.loads(files["manifest.json"]))


def _edges() -> dict[tuple[str, str], Edge]:
    edges = edges_of(_manifest().tool_graph)
    assert edges is not None
    return {(e.source, e.target): e for e in edges}


def test_states_a_tool_needs_and_leaves_are_read_off_its_body():
    tools = {t.name: t for t in _manifest().tools}
    assert tools["hold_order"].needs == {"Order.status": ["open"]}
    assert tools["hold_order"].leaves == {"Order.status": ["held"]}
    # A set under an `if` may leave the state as it was.
    assert tools["drop_line"].needs == {"Order.status": ["open", "held"]}
    assert tools["drop_line"].leaves == {"Order.status": ["open", "held", "closed"]}
    # Tools without such conditions write neither key.
    assert "needs" not in tools["get_order"].to_dict()
    assert "leaves" not in tools["get_order"].to_dict()


def test_keys_flow_where_a_tool_introduces_them():
    edges = _edges()
    assert edges[("find_customer", "list_orders")].flows[0].kind == "key"
    assert edges[("get_order", "get_customer")].flows[0].via == "Order.customer"
    # The lookup returned the customer's record: reading it again adds nothing.
    assert ("find_customer", "get_customer") not in edges
    # A write hands back the order it changed: its customer was in it before.
    assert ("hold_order", "get_customer") not in edges
    assert ("close_order", "list_orders") not in edges


def test_a_record_handed_back_in_a_state_the_target_refuses_feeds_no_part_of_the_target():
    edges = _edges()
    # A held order's lines feed dropping one of them (a held order may change) ...
    held = edges[("hold_order", "drop_line")].flows
    assert [(f.param, f.kind, f.via) for f in held] == [("sku", "value", "Order.lines[].sku")]
    # ... a closed one's do not: drop_line needs it open or held, so the closed order is
    # another one, and drop_line only matches the sku against its own order's lines.
    assert ("close_order", "drop_line") not in edges
    # A new value may come from any order, closed or not.
    assert edges[("close_order", "reopen_order")].flows[0].param == "new_sku"
    # A read says nothing of the state: its order may be open.
    assert ("get_order", "drop_line") in edges


TRIPS = """
domain d "A test domain."
enum OrderStatus { placed, shipped, arrived }
enum TripStatus { driving, done }
entity Order {
  order_id: str @key
  status: OrderStatus @default(placed)
}
entity Trip {
  trip_id: str @key
  order: Order
  status: TripStatus @default(driving)
}
tool finish_trip(trip_id: str) -> Trip {
  "Mark a trip done: its order has arrived."
  let t = Trip[trip_id]
  require t.status == driving else "only a trip under way can finish"
  let o = Order[t.order]
  set o.status = arrived
  set t.status = done
  return t
}
tool review_order(order_id: str, stars: int) -> Order {
  "Review an order that arrived."
  let o = Order[order_id]
  require o.status == arrived else "only an order that arrived can be reviewed"
  return o
}
tool ship_order(order_id: str) -> Order {
  "Ship a placed order."
  let o = Order[order_id]
  require o.status == placed else "only a placed order can ship"
  set o.status = shipped
  return o
}
"""


def test_a_write_that_moves_a_referred_record_into_a_state_feeds_the_tool_needing_it():
    files, diagnostics, _ = compile_source(TRIPS, "d.domain")
    assert files is not None, [str(d) for d in diagnostics]
    manifest = Manifest.from_dict(json.loads(files["manifest.json"]))
    tools = {t.name: t for t in manifest.tools}
    # What a tool writes into the record a named one refers to is a state it leaves.
    assert tools["finish_trip"].leaves == {"Order.status": ["arrived"], "Trip.status": ["done"]}
    assert tools["finish_trip"].needs == {"Trip.status": ["driving"]}
    edges = {(e.source, e.target): e for e in edges_of(manifest.tool_graph) or []}
    # The trip names its order, now arrived: the order can be reviewed ...
    flows = edges[("finish_trip", "review_order")].flows
    assert [(f.param, f.via) for f in flows] == [("order_id", "Trip.order")]
    # ... but not shipped: the trip left it in no state shipping takes.
    assert ("finish_trip", "ship_order") not in edges


def test_a_key_moved_into_the_state_the_target_needs_goes_straight_past_its_read():
    lookup = """
tool get_order(order_id: str) -> Order {
  "Show an order."
  return Order[order_id]
}
"""
    files, diagnostics, _ = compile_source(TRIPS + lookup, "d.domain")
    assert files is not None, [str(d) for d in diagnostics]
    manifest = Manifest.from_dict(json.loads(files["manifest.json"]))
    edges = {(e.source, e.target): e for e in edges_of(manifest.tool_graph) or []}
    assert [f.param for f in edges[("finish_trip", "review_order")].flows] == ["order_id"]
    assert [f.param for f in edges[("get_order", "review_order")].flows] == ["order_id"]


ACCOUNTS = """
domain d "A test domain."
enum Status { open, held, closed }
struct Place { city: str }
struct Item { sku: str }
entity Account {
  account_id: str @key
  email: str @unique
  city: str
  orders: list<Order>
}
entity Order {
  order_id: str @key
  account: Account
  status: Status @default(open)
  place: Place
  items: list<Item>
  note: str
}
tool find_account_id(email: str) -> str {
  "The id of the account with this email."
  let found = Account.where(email: email)
  require len(found) > 0 else "no such account"
  return found[0].account_id
}
tool get_account(account_id: str) -> Account {
  "Show an account."
  return Account[account_id]
}
tool rename_city(account_id: str, city: str) -> Account {
  "Change an account's city."
  let a = Account[account_id]
  set a.city = city
  return a
}
tool get_order(order_id: str) -> Order {
  "Show an order."
  return Order[order_id]
}
tool note_order(order_id: str, note: str) -> Order {
  "Note something on an order, whatever its state."
  let o = Order[order_id]
  set o.note = note
  return o
}
tool close_order(order_id: str) -> Order {
  "Close an open order."
  let o = Order[order_id]
  require o.status == open else "only an open order can be closed"
  set o.status = closed
  return o
}
tool ship_to(order_id: str, city: str, sku: str) -> Order {
  "Send an open order to a city, without one of its skus."
  let o = Order[order_id]
  require o.status == open else "only an open order can be sent"
  let kept = [i for i in o.items if i.sku != sku]
  set o.place = Place(city: city)
  set o.items = kept
  return o
}
"""


def _accounts() -> tuple[Manifest, dict[tuple[str, str], Edge]]:
    files, diagnostics, _ = compile_source(ACCOUNTS, "d.domain")
    assert files is not None, [str(d) for d in diagnostics]
    manifest = Manifest.from_dict(json.loads(files["manifest.json"]))
    edges = {(e.source, e.target): e for e in edges_of(manifest.tool_graph) or []}
    return manifest, edges


def _params(edges: dict[tuple[str, str], Edge], source: str, target: str) -> list[str]:
    edge = edges.get((source, target))
    return sorted(f.param for f in edge.flows) if edge else []


def test_the_parameters_a_tool_stores_are_read_off_its_body():
    tools = {t.name: t for t in _accounts()[0].tools}
    # Written into a field, also through a local; a key that only picks the record is not.
    assert tools["ship_to"].stores == ["city"]
    assert tools["note_order"].stores == ["note"]
    assert "stores" not in tools["close_order"].to_dict()


def test_a_read_finding_a_record_by_its_key_hands_the_key_on():
    edges = _accounts()[1]
    assert _params(edges, "get_order", "close_order") == ["order_id"]
    assert _params(edges, "get_account", "rename_city") == ["account_id"]


def test_a_bare_key_goes_through_the_read_that_finds_its_record():
    edges = _accounts()[1]
    # A found id and an order's account are lone keys: they go to get_account ...
    assert _params(edges, "find_account_id", "get_account") == ["account_id"]
    assert _params(edges, "get_order", "get_account") == ["account_id"]
    # ... which hands them on, so they feed the account's change only through it.
    assert ("find_account_id", "rename_city") not in edges
    assert ("get_order", "rename_city") not in edges
    # An account's list of order ids feeds a change needing no state of the order straight,
    # but one that needs the order open only through get_order, which shows its state.
    assert _params(edges, "get_account", "note_order") == ["order_id"]
    assert ("get_account", "close_order") not in edges
    assert "order_id" in _params(edges, "get_order", "ship_to")


def test_a_record_in_a_state_the_target_refuses_feeds_the_values_it_stores():
    edges = _accounts()[1]
    # A closed order is not the open one ship_to sends: its city may be copied into it,
    # but its skus are not the ones ship_to matches against its own order.
    assert _params(edges, "close_order", "ship_to") == ["city"]
    # An order note_order handed back may be open, maybe the very order: its skus feed too.
    assert _params(edges, "note_order", "ship_to") == ["city", "sku"]


RETURNS = """
tool return_sku(order_id: str, sku: str) -> Order {
  "Return one of a closed order's skus."
  let o = Order[order_id]
  require o.status == closed else "only a closed order's skus can be returned"
  require sku in [i.sku for i in o.items] else "no such sku in this order"
  set o.note = sku
  return o
}
tool find_sku(order_id: str, sku: str) -> Item {
  "Show a line of an order."
  let o = Order[order_id]
  return [i for i in o.items if i.sku == sku][0]
}
"""


def test_a_value_that_must_be_part_of_the_named_record_comes_from_that_record():
    files, diagnostics, _ = compile_source(ACCOUNTS + RETURNS, "d.domain")
    assert files is not None, [str(d) for d in diagnostics]
    manifest = Manifest.from_dict(json.loads(files["manifest.json"]))
    tools = {t.name: t for t in manifest.tools}
    # Read off a required membership and off a pick that only the value finds; ship_to's
    # sku only filters its order's items, which holds whatever sku it is given.
    assert tools["return_sku"].parts == {"sku": "Order"}
    assert tools["find_sku"].parts == {"sku": "Order"}
    assert "parts" not in tools["ship_to"].to_dict()
    edges = {(e.source, e.target): e for e in edges_of(manifest.tool_graph) or []}
    # return_sku stores the sku, but an order ship_to left open is not the closed one it
    # returns from: that order's skus are no flow, as they would be for a value it copies.
    assert "sku" in tools["return_sku"].stores
    assert "sku" not in _params(edges, "ship_to", "return_sku")
    assert _params(edges, "get_order", "return_sku") == ["order_id", "sku"]
    assert "sku" in _params(edges, "note_order", "return_sku")
