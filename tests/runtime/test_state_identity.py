"""The state hash and the diff see what the stored JSON sees: 9 and 9.0 differ, 0.0 and -0.0
differ, and a state hashes as the same state reloaded from its export."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from envscale.api import Domain, compile_source

SPEC = """
domain wallet "Cards with balances."
struct Info { balance: float }
entity Card {
  id: str @key
  info: Info
}
tool scale(id: str, by: float) -> Card {
  "Multiply a card's balance."
  let c = Card[id]
  set c.info.balance = c.info.balance * by
  return c
}
"""


def wallet() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "wallet.domain", Path("wallet.domain"))
    assert files is not None, diagnostics
    return Domain(files)


DOMAIN = wallet()


def cards(*balances: float) -> dict:
    return {"Card": [{"id": f"c{i}", "info": {"balance": b}} for i, b in enumerate(balances)]}


def reloaded_hash(env) -> str:
    return DOMAIN.environment(data=env.export()).state_hash()


def test_an_int_that_becomes_a_float_is_a_change() -> None:
    env = DOMAIN.environment(data=cards(9))
    before = env.state_hash()
    assert env.call("scale", {"id": "c0", "by": 1.0}).ok
    assert env.export()["Card"][0]["info"]["balance"] == 9.0
    assert json.dumps(env.export()) != json.dumps(cards(9))
    assert [c["kind"] for c in env.diff()] == ["update"]
    assert env.state_hash() != before
    assert env.state_hash() == reloaded_hash(env)


def test_negative_zero_is_not_zero() -> None:
    env = DOMAIN.environment(data=cards(0.0))
    before = env.state_hash()
    assert env.call("scale", {"id": "c0", "by": -1.0}).ok
    assert json.dumps(env.export()["Card"][0]["info"]["balance"]) == "-0.0"
    assert env.diff() and env.state_hash() != before
    assert env.state_hash() == reloaded_hash(env)


def test_a_change_undone_by_a_later_call_is_no_change() -> None:
    env = DOMAIN.environment(data=cards(2.0))
    before = env.state_hash()
    assert env.call("scale", {"id": "c0", "by": 2.0}).ok
    assert env.call("scale", {"id": "c0", "by": 0.5}).ok
    assert env.diff() == [] and env.state_hash() == before


BALANCES = st.sampled_from([0, 0.0, -0.0, 9, 9.0, 1.5, -2, 2**53, float(2**53)])


@settings(max_examples=60, deadline=None)
@given(st.lists(BALANCES, min_size=1, max_size=4), st.lists(BALANCES, min_size=1, max_size=4))
def test_hashes_are_equal_exactly_when_exports_are(a: list, b: list) -> None:
    left, right = DOMAIN.environment(data=cards(*a)), DOMAIN.environment(data=cards(*b))
    same_export = json.dumps(left.export(), sort_keys=True) == json.dumps(
        right.export(), sort_keys=True
    )
    assert (left.state_hash() == right.state_hash()) == same_export


@settings(max_examples=40, deadline=None)
@given(st.lists(BALANCES, min_size=2, max_size=3), st.lists(st.sampled_from([1, 1.0, -1.0, 2])))
def test_a_state_reached_by_calls_hashes_as_its_reloaded_export(start: list, factors: list) -> None:
    env = DOMAIN.environment(data=cards(*start))
    for i, by in enumerate(factors):
        assert env.call("scale", {"id": f"c{i % len(start)}", "by": by}).ok
    assert env.state_hash() == reloaded_hash(env)
