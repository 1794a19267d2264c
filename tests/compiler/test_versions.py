"""Spec versions: `extends` and `remove`; and the two attributes versions of other
implementations need, `@as_sent` parameters and `@as_written` fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envscale.api import compile_file
from envscale.dsl.diagnostics import render_all
from envscale.runtime.load import load

BASE = """domain shop "A shop." clock "2024-05-15T15:00:00" policy from "policy.md"

enum Status { open, closed }

entity Order {
  order_id: str @key
  status: Status
  count: int
}

tool get_order(order_id: str) -> Order {
  "Read an order."
  let o = Order.get(order_id)
  require o != none else "order not found"
  return o
}

tool close(order_id: str) -> Order {
  "Close an order."
  let o = Order[order_id]
  set o.status = closed
  return o
}

tool think(thought: str) -> str {
  "Think."
  return ""
}
"""

VERSION = """domain shop_v2 "A shop, second version." extends "base/shop.domain"

replace tool get_order(order_id: str @as_sent) -> Order {
  "Read an order."
  let o = Order.get(order_id)
  require o != none else "Order not found"
  return o
}

remove tool think

tool reopen(order_id: str) -> Order {
  "Open an order again."
  let o = Order[order_id]
  set o.status = open
  return o
}
"""


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "shop.domain").write_text(BASE)
    (tmp_path / "base" / "policy.md").write_text("Be kind.\n")
    (tmp_path / "shop_v2.domain").write_text(VERSION)
    return tmp_path


def tool_names(files: dict[str, str]) -> list[str]:
    return [t["function"]["name"] for t in json.loads(files["tools.json"])]


def test_a_version_replaces_in_place_adds_and_removes(specs: Path) -> None:
    files, diagnostics, _ = compile_file(specs / "shop_v2.domain")
    assert files is not None, diagnostics
    assert tool_names(files) == ["get_order", "close", "reopen"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["domain"] == "shop_v2" and manifest["description"] == "A shop, second version."
    # The clock and the policy (its file relative to the base) come from the base.
    assert manifest["clock"] == "2024-05-15T15:00:00" and manifest["policy"] == "Be kind."
    assert sorted(manifest["includes"]) == ["base/policy.md", "base/shop.domain"]
    env = load(specs / "shop_v2.domain").environment(
        data={"Order": [{"order_id": "A1", "status": "open", "count": 1}]}
    )
    assert env.call("get_order", {"order_id": "Z"}).error == "Order not found"
    assert env.call("think", {"thought": "x"}).error.startswith("unknown tool 'think'")
    assert env.call("reopen", {"order_id": "A1"}).ok


def test_a_version_of_a_version_and_its_own_clock(specs: Path) -> None:
    (specs / "shop_v3.domain").write_text(
        'domain shop_v3 "Third." extends "shop_v2.domain" clock "2025-01-01T00:00:00"\n'
        "remove tool reopen\n"
    )
    files, diagnostics, _ = compile_file(specs / "shop_v3.domain")
    assert files is not None, diagnostics
    assert tool_names(files) == ["get_order", "close"]
    assert json.loads(files["manifest.json"])["clock"] == "2025-01-01T00:00:00"


def test_editing_the_base_recompiles_the_version(specs: Path) -> None:
    first = load(specs / "shop_v2.domain")
    base = specs / "base" / "shop.domain"
    base.write_text(BASE.replace('"Close an order."', '"Close an order for good."'))
    second = load(specs / "shop_v2.domain")
    assert second is not first and second.spec_hash != first.spec_hash


def test_errors_in_the_base_point_into_the_base(specs: Path) -> None:
    base = specs / "base" / "shop.domain"
    base.write_text(BASE.replace("set o.status = closed", "set o.statu = closed"))
    files, diagnostics, sources = compile_file(specs / "shop_v2.domain")
    assert files is None
    (error,) = diagnostics
    assert error.code == "E103" and error.span.file.endswith("base/shop.domain")
    assert "set o.statu = closed" in render_all(diagnostics, sources)


def test_as_sent_arguments_reach_the_body_and_type_errors_fail_the_call(tmp_path: Path) -> None:
    spec = tmp_path / "bags.domain"
    spec.write_text(
        """domain bags "Bags."
entity Trip {
  trip_id: str @key
  bags: int @as_written
  paid: int
}
tool set_bags(trip_id: str, bags: int @as_sent, paid: int @as_sent) -> Trip {
  "Change the bags."
  let t = Trip[trip_id]
  let extra = paid - t.paid
  require extra >= 0 else "fewer paid bags"
  set t.bags = bags
  set t.paid = paid
  return t
}
tool set_paid(trip_id: str, paid: int @as_sent) -> Trip {
  "Change the paid bags."
  let t = Trip[trip_id]
  set t.paid = paid
  return t
}
"""
    )
    env = load(spec).environment(data={"Trip": [{"trip_id": "T", "bags": 1, "paid": 0}]})
    kept = env.call("set_bags", {"trip_id": "T", "bags": "2", "paid": 1})
    assert kept.ok and kept.content == {"trip_id": "T", "bags": "2", "paid": 1}
    before = env.state_hash()
    failed = env.call("set_bags", {"trip_id": "T", "bags": 3, "paid": "2"})
    assert not failed.ok and not failed.internal
    assert failed.error == "unsupported operand type(s) for -: 'str' and 'int'"
    assert env.state_hash() == before
    # A field that is not @as_written keeps its type: text for an int fails the call.
    refused = env.call("set_paid", {"trip_id": "T", "paid": "2"})
    assert not refused.ok and not refused.internal and env.state_hash() == before


def test_as_written_is_for_plain_fields(tmp_path: Path) -> None:
    spec = tmp_path / "bad.domain"
    spec.write_text('domain bad "Bad."\nentity E {\n  e_id: str @key @as_written\n}\n')
    files, diagnostics, _ = compile_file(spec)
    assert files is None and [d.code for d in diagnostics] == ["E302"]
