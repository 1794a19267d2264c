"""A none check narrows paths of fields as it narrows names; lookups by a composite key take
references as single-key lookups do."""

from __future__ import annotations

from envscale.api import compile_source
from envscale.runtime.domain import Domain

HEADER = """
domain d "A test domain." clock "2024-05-15T12:00:00"
entity Restaurant { restaurant_id: str @key  name: str }
entity Promo { code: str @key  pct: int }
entity Customer { customer_id: str @key }
entity Redemption { promo: Promo @key  customer: Customer @key  uses: int }
entity Order { order_id: str @key  promo: Promo  customer: Customer }
entity Cart { cart_id: str @key  restaurant: Restaurant?  note: str? }
"""

DATA = {
    "Restaurant": [{"restaurant_id": "R1", "name": "Luigi's"}],
    "Promo": [{"code": "TEN", "pct": 10}, {"code": "FIVE", "pct": 5}],
    "Customer": [{"customer_id": "C1"}],
    "Redemption": [{"promo": "TEN", "customer": "C1", "uses": 2}],
    "Order": [
        {"order_id": "O1", "promo": "TEN", "customer": "C1"},
        {"order_id": "O2", "promo": "FIVE", "customer": "C1"},
    ],
    "Cart": [{"cart_id": "K1", "restaurant": "R1", "note": "ring"}, {"cart_id": "K2"}],
}


def errors(body: str) -> list[str]:
    _, diagnostics, _ = compile_source(HEADER + body, "d.domain")
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity == "error"]


def environment(body: str):
    files, diagnostics, _ = compile_source(HEADER + body, "d.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files).environment(DATA)


def test_require_narrows_a_path_for_the_rest_of_the_block():
    env = environment("""
tool restaurant_name(cart_id: str) -> str {
  let cart = Cart[cart_id]
  require cart.restaurant != none else "the cart is empty"
  let r = Restaurant[cart.restaurant]
  return r.name + " / " + cart.restaurant.name
}
tool note_length(cart_id: str) -> int {
  let cart = Cart[cart_id]
  if cart.note == none { fail "no note" }
  return len(cart.note)
}
""")
    assert env.call("restaurant_name", {"cart_id": "K1"}).content == "Luigi's / Luigi's"
    assert env.call("restaurant_name", {"cart_id": "K2"}).error == "the cart is empty"
    assert env.call("note_length", {"cart_id": "K1"}).content == 4
    assert env.call("note_length", {"cart_id": "K2"}).error == "no note"


def test_without_the_check_the_hint_names_it():
    found = errors(
        "tool t(cart_id: str) -> str { return Restaurant[Cart[cart_id].restaurant].name }"
    )
    assert found == [
        "E201 key 'restaurant_id' of Restaurant: expected ref Restaurant, found ref Restaurant?"
    ]


def test_a_write_to_the_path_ends_the_narrowing():
    found = errors("""
tool t(cart_id: str) -> str {
  let cart = Cart[cart_id]
  require cart.restaurant != none else "empty"
  set cart.restaurant = none
  return Restaurant[cart.restaurant].name
}
""")
    assert found == [
        "E201 key 'restaurant_id' of Restaurant: expected ref Restaurant, found ref Restaurant?"
    ]


def test_a_write_through_another_name_or_in_a_branch_ends_it_too():
    found = errors("""
tool t(cart_id: str, other: str, clear: bool) -> str {
  let cart = Cart[cart_id]
  let same = Cart[other]
  require cart.note != none else "empty"
  if clear { set same.note = none }
  return cart.note
}
""")
    assert found == ["E201 returned value: expected str, found str?"]


def test_a_write_later_in_a_loop_ends_it_inside_the_loop():
    found = errors("""
tool t(cart_id: str) -> str {
  let cart = Cart[cart_id]
  require cart.note != none else "empty"
  let out = ""
  for i in range(2) {
    set out = out + cart.note
    set cart.note = none
  }
  return out
}
""")
    assert found == ["E203 cannot apply '+' to str and str?"]


def test_a_narrowed_path_inside_a_branch_stays_in_it():
    found = errors("""
tool t(cart_id: str) -> str {
  let cart = Cart[cart_id]
  if cart.note != none { return cart.note }
  return cart.note
}
""")
    assert found == ["E201 returned value: expected str, found str?"]


def test_a_composite_key_takes_references_to_its_key_entities():
    env = environment("""
tool uses(order_id: str) -> int {
  let o = Order[order_id]
  let r = Redemption.get(o.promo, o.customer)
  require r != none else "never used"
  return r.uses + Redemption[o.promo, o.customer].uses
}
""")
    assert env.call("uses", {"order_id": "O1"}).content == 4
    assert env.call("uses", {"order_id": "O2"}).error == "never used"


def test_a_composite_key_still_refuses_a_reference_to_another_entity():
    found = errors(
        "tool t(order_id: str) -> int { let o = Order[order_id]\n"
        "return Redemption[o.customer, o.customer].uses }"
    )
    assert found == ["E201 key 'promo' of Redemption: expected str, found ref Customer"]
