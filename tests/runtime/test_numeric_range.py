"""Numbers as data: an int beyond 64 bits, a NaN or an infinity, and text with a NUL, whether
an agent sends them or a tool computes them, are an ordinary failed call that leaves the
database as it was; never an internal error, never an exception out of env.call."""

from __future__ import annotations

import math

import pytest

from envscale.compiler.build import compile_source
from envscale.runtime import lib
from envscale.runtime.domain import Domain
from envscale.runtime.errors import DataError, ToolError

SPEC = """domain ranges "Numbers at the edges"

entity Account {
  id: str @key
  count: int @check(abs(count) >= 0)
  rate: float?
  tags: list<int>
  note: str @default("")
}

tool open(id: str, count: int, rate: float? = none) {
  "Open an account."
  insert Account(id: id, count: count, rate: rate, tags: [count])
}

tool square(id: str) {
  "Square the count."
  let a = Account[id]
  set a.count = a.count * a.count
}

tool halve(id: str) -> float {
  "Half the count, as a float."
  return Account[id].count / 2
}

tool tag(id: str, extra: int) {
  "Append count times extra to the tags."
  let a = Account[id]
  set a.tags = a.tags + [a.count * extra]
}

tool name(id: str, note: str) {
  "Set the note."
  let a = Account[id]
  set a.note = note
}

tool by_rate(rate: float?) -> list<Account> {
  "Accounts with this rate."
  return Account.where(rate: rate)
}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "ranges.domain")
    assert files is not None, diagnostics
    return Domain(files)


@pytest.fixture
def env(domain: Domain):
    env = domain.environment()
    assert env.call("open", {"id": "a", "count": 2**62, "rate": 0.5}).ok
    assert env.call("open", {"id": "b", "count": -(2**63)}).ok  # abs() is exact: a check holds
    assert env.call("open", {"id": "c", "count": 3}).ok
    return env


def failed_cleanly(env, tool: str, arguments: dict | str, *words: str) -> None:
    before = env.state_hash()
    result = env.call(tool, arguments)
    assert not result.ok and not result.internal, result
    for word in words:
        assert word in (result.error or ""), result.error
    assert env.state_hash() == before


@pytest.mark.parametrize("count", [2**63, -(2**63) - 1, 10**400])
def test_an_int_argument_beyond_64_bits_is_refused(env, count: int) -> None:
    failed_cleanly(env, "open", {"id": "d", "count": count}, "argument 'count'", "out of range")


@pytest.mark.parametrize(
    "text", ['{"id": "d", "count": 1, "rate": NaN}', '{"id": "d", "count": 1, "rate": Infinity}']
)
def test_nan_and_infinity_arguments_are_refused(env, text: str) -> None:
    failed_cleanly(env, "open", text, "argument 'rate'", "not a finite number")
    failed_cleanly(env, "by_rate", {"rate": float("-inf")}, "not a finite number")


def test_a_computed_int_beyond_64_bits_is_not_stored(env) -> None:
    failed_cleanly(env, "square", {"id": "a"}, "Account.count", "is out of range")
    failed_cleanly(env, "tag", {"id": "a", "extra": 4}, "Account.tags", "is out of range")
    assert env.call("square", {"id": "c"}).ok  # within range it is an ordinary write
    assert env.db.get("Account", "c")["count"] == 9


def test_text_with_a_nul_is_not_stored(env) -> None:
    failed_cleanly(env, "name", {"id": "c", "note": "a\0b"}, "NUL")
    assert env.call("name", {"id": "c", "note": "a b"}).ok


def test_integer_division_is_exact_where_it_fits(env) -> None:
    assert env.call("halve", {"id": "b"}).content == -(2**62)


def test_where_with_none_finds_only_none(env) -> None:
    found = env.call("by_rate", {"rate": None}).content
    assert sorted(r["id"] for r in found) == ["b", "c"]
    assert [r["id"] for r in env.call("by_rate", {"rate": 0.5}).content] == ["a"]


def test_data_that_cannot_be_stored_is_a_data_error(domain: Domain) -> None:
    with pytest.raises(DataError, match="out of range"):
        domain.environment({"Account": [{"id": "a", "count": 2**64, "tags": []}]})
    with pytest.raises(DataError, match="not a finite number"):
        domain.environment({"Account": [{"id": "a", "count": 1, "rate": math.nan, "tags": []}]})


def test_conversions_refuse_what_is_no_number_of_the_language() -> None:
    for bad in ("nan", "inf", "-Infinity", "1e999"):
        with pytest.raises(ToolError):
            lib.float(bad)
    with pytest.raises(ToolError, match="out of range"):
        lib.int(math.inf)
    with pytest.raises(ToolError, match="out of range"):
        lib.divide(10**400, 1)
    with pytest.raises(ToolError, match="missing value"):
        lib.compare(None, "<", 1)
    with pytest.raises(ToolError, match="missing value"):
        lib.len(None)
    assert lib.modulo(-7, 2) == 1 and lib.modulo(7.5, -2) == -0.5
    assert lib.round(2.5) == 2 and lib.round(-0.5) == 0 and lib.round(0.125, 2) == 0.12
    assert lib.upper("ß") == "SS" and lib.lower("İ") == "i̇" and lib.len("a\0b") == 3
