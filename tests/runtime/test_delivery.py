"""The shipped food delivery domain, end to end: real compiled tools on a real SQLite database
filled with generated data, from a cart to a refund, and the rules that refuse what breaks the
domain's invariants."""

from __future__ import annotations

from pathlib import Path

import pytest

import envscale
from envscale.api import compile_file
from envscale.runtime.errors import DataError
from envscale.tasks.datagen import generate_data

SPEC = Path(__file__).resolve().parents[2] / "specs" / "delivery.domain"


@pytest.fixture(scope="module")
def domain():
    return envscale.load(SPEC)


@pytest.fixture(scope="module")
def data(domain):
    return generate_data(domain, 11, 12)


@pytest.fixture()
def env(domain, data):
    environment = domain.environment(data=data, enforce_policies=False)
    yield environment
    environment.close()


def test_it_compiles_with_its_entities_tools_and_invariants():
    files, diagnostics, _ = compile_file(SPEC)
    assert files is not None, diagnostics
    domain = envscale.load(SPEC)
    assert len(domain.manifest.entities) == 11
    assert len(domain.manifest.tools) >= 25
    names = {inv.name for inv in domain.manifest.invariants}
    assert {"order_total", "cart_from_one_restaurant", "refund_within_total"} <= names
    assert {"rating_after_delivery", "redemption_by_orderer"} <= names
    assert domain.manifest.key_formats["Order"].prefix == "OR"


def _open_menu(env):
    """An open restaurant with two available items, one of them with options."""
    for restaurant in env.db.all("Restaurant"):
        if not restaurant["open"]:
            continue
        items = [
            i
            for i in env.db.where("MenuItem", {"restaurant": restaurant["restaurant_id"]})
            if i["available"]
        ]
        if len(items) >= 1:
            return restaurant, items
    raise AssertionError("no open restaurant with items")


def _ok(env, tool, **arguments):
    result = env.call(tool, arguments)
    assert result.ok, (tool, result.text)
    return result.content


def test_a_cart_becomes_an_order_that_is_delivered_rated_and_refunded(env):
    customer = env.db.all("Customer")[0]
    found = _ok(env, "find_customer_by_email", email=customer["email"].upper())
    assert found["customer_id"] == customer["customer_id"]
    restaurant, items = _open_menu(env)
    cart = _ok(
        env,
        "start_cart",
        customer_id=customer["customer_id"],
        restaurant_id=restaurant["restaurant_id"],
    )
    item = items[0]
    options = {name: choices[0] for name, choices in item["options"].items()}
    _ok(
        env,
        "add_to_cart",
        cart_id=cart["cart_id"],
        item_id=item["item_id"],
        quantity=2,
        options=options,
    )
    # a promo no order was discounted by, so that no other order's discount rests on it
    promos = sorted(
        env.db.all("Promo"), key=lambda p: bool(env.db.where("Redemption", {"promo": p["code"]}))
    )
    promo = next(p for p in promos if p["min_subtotal"] <= item["price"] * 2)
    env.db.update("Promo", {**promo, "active": True, "expires": "2030-01-01"}, "active", "expires")
    for r in env.db.where("Redemption", {"promo": promo["code"]}):
        env.db.delete("Redemption", r)
    order = _ok(env, "place_order", cart_id=cart["cart_id"], promo_code=promo["code"].lower())
    subtotal = round(item["price"] * 2, 2)
    assert order["tax"] == round(subtotal * 0.08, 2)
    assert order["discount"] == round(subtotal * promo["percent_off"] / 100, 2)
    assert order["total"] == round(
        subtotal + order["tax"] + restaurant["delivery_fee"] - order["discount"], 2
    )
    assert _ok(env, "get_cart", cart_id=cart["cart_id"])["items"] == []
    again = env.call("place_order", {"cart_id": cart["cart_id"]})
    assert not again.ok and "The cart is empty" in again.text
    _ok(env, "start_preparing", order_id=order["order_id"])
    courier = next(c for c in env.db.all("Courier") if c["status"] == "available")
    delivery = _ok(
        env, "assign_courier", order_id=order["order_id"], courier_id=courier["courier_id"]
    )
    assert _ok(env, "get_order", order_id=order["order_id"])["status"] == "out_for_delivery"
    early = env.call("rate_order", {"order_id": order["order_id"], "stars": 5})
    assert not early.ok and "Only a delivered order can be rated" in early.text
    _ok(env, "mark_picked_up", delivery_id=delivery["delivery_id"])
    done = _ok(env, "mark_delivered", delivery_id=delivery["delivery_id"])
    assert done["status"] == "delivered" and done["delivered_at"] == "2024-09-14T18:30:00"
    assert _ok(env, "get_courier", courier_id=courier["courier_id"])["status"] == "available"
    _ok(env, "rate_order", order_id=order["order_id"], stars=4, comment="Hot and on time")
    twice = env.call("rate_order", {"order_id": order["order_id"], "stars": 1})
    assert not twice.ok and "already rated" in twice.text
    _ok(env, "request_refund", order_id=order["order_id"], amount=1.0, reason="quality")
    too_much = env.call(
        "request_refund",
        {"order_id": order["order_id"], "amount": order["total"], "reason": "quality"},
    )
    assert not too_much.ok and "can still be refunded" in too_much.text
    assert len(_ok(env, "list_refunds", order_id=order["order_id"])) == 1


def test_what_breaks_the_domain_is_refused_and_changes_nothing(env):
    restaurant, items = _open_menu(env)
    other = next(
        i for i in env.db.all("MenuItem") if i["restaurant"] != restaurant["restaurant_id"]
    )
    customer = env.db.all("Customer")[1]
    cart = _ok(
        env,
        "start_cart",
        customer_id=customer["customer_id"],
        restaurant_id=restaurant["restaurant_id"],
    )
    before = env.state_hash()
    wrong = env.call("add_to_cart", {"cart_id": cart["cart_id"], "item_id": other["item_id"]})
    assert not wrong.ok and "A cart holds items of one restaurant" in wrong.text
    bad = env.call(
        "add_to_cart",
        {"cart_id": cart["cart_id"], "item_id": items[0]["item_id"], "options": {"colour": "x"}},
    )
    assert not bad.ok and "has no option 'colour'" in bad.text
    assert env.state_hash() == before
    placed = next(o for o in env.db.all("Order") if o["status"] != "placed")
    refused = env.call("cancel_order", {"order_id": placed["order_id"], "reason": "late"})
    assert not refused.ok and "Only a placed order can be cancelled" in refused.text
    missing = env.call("get_order", {"order_id": "OR9999"})
    assert not missing.ok and "Order 'OR9999' not found" in missing.text
    assert env.state_hash() == before


def test_loading_data_that_breaks_an_invariant_names_it(domain, data):
    broken = {**data, "Order": [dict(o) for o in data["Order"]]}
    broken["Order"][0]["total"] = broken["Order"][0]["total"] + 5
    with pytest.raises(DataError) as raised:
        domain.environment(data=broken)
    assert (
        f"invariant 'order_total' does not hold for Order '{broken['Order'][0]['order_id']}'"
        in (str(raised.value))
    )


def test_the_customer_is_identified_before_a_change(domain, data):
    env = domain.environment(data=data)
    customer = env.db.all("Customer")[0]
    restaurant = env.db.all("Restaurant")[0]
    arguments = {
        "customer_id": customer["customer_id"],
        "restaurant_id": restaurant["restaurant_id"],
    }
    refused = env.call("start_cart", arguments)
    assert not refused.ok and "policy 'identify_first'" in refused.text
    assert env.call("get_customer", {"customer_id": customer["customer_id"]}).ok
    started = env.call("start_cart", arguments)
    assert started.ok or f"{restaurant['name']} is closed" in started.text
    env.close()
