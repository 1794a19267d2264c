"""Resource limits on a tool call: each one exceeded is a failed call that names the limit and
its value, with the database exactly as before; nothing an agent sends makes `call` raise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import apsw
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envscale
from envscale.api import Limits, compile_source
from envscale.conformance.taubench import environment
from envscale.runtime.domain import Domain
from envscale.runtime.errors import ToolError
from envscale.runtime.limits import DEFAULT_LIMITS, admit_arguments, check_shape

SPECS = Path(__file__).resolve().parents[2] / "specs"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "taubench"

SPEC = """
domain work "Tools whose work an agent chooses."
entity Note {
  id: str @key
  text: str
}

tool count_up(n: int) -> int {
  "Add up 0 .. n - 1 in a loop."
  let total = 0
  for i in range(n) {
    set total = total + i
  }
  return total
}

tool squares(n: int) -> list<int> {
  "The squares of 0 .. n - 1."
  return [i * i for i in range(n)]
}

tool pairs(xs: list<int>) -> int {
  "Count the ordered pairs of equal items: a loop in a loop."
  let found = 0
  for a in xs {
    for b in xs {
      if a == b {
        set found = found + 1
      }
    }
  }
  return found
}

tool write_and_echo(id: str, n: int) -> list<int> {
  "Store a note, then return 0 .. n - 1."
  insert Note(id: id, text: "written")
  return range(n)
}

tool later(day: date, n: int) -> date {
  "The day n days after day."
  return add_days(day, n)
}

tool scale(x: float, n: int) -> float {
  "x times n."
  return x * n
}

tool total(xs: list<int>? = none) -> int {
  "Add up xs, which may be missing."
  let t = 0
  for x in xs {
    set t = t + x
  }
  return t
}

tool store(id: str, text: str) -> Note {
  "Store a note."
  return insert Note(id: id, text: text)
}
"""


@pytest.fixture(scope="module")
def work() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "work.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def refused(env, tool: str, arguments, limit: str) -> str:
    """Call, and check the call failed on the named limit with the state as before."""
    before = (env.export(), env.state_hash(), env.diff())
    result = env.call(tool, arguments)
    assert not result.ok and not result.internal, result
    assert f"(limit {limit})" in result.error, result.error
    assert (env.export(), env.state_hash(), env.diff()) == before
    return result.error


def test_the_defaults_are_documented_and_positive() -> None:
    design = (Path(__file__).resolve().parents[2] / "docs" / "design.md").read_text()
    for name, value in DEFAULT_LIMITS.to_dict().items():
        assert value > 0
        assert f"`{name}` ({value:,})" in design, name


@pytest.mark.parametrize("as_text", [False, True], ids=["dict", "json-text"])
def test_a_100_mb_string_argument_is_refused_without_being_stored(as_text: bool) -> None:
    clinic = envscale.load(SPECS / "clinic.domain")
    env = clinic.environment(data=SPECS / "clinic.data.json")
    arguments = {"patient_id": "P001", "email": "a" * 100_000_000 + "@example.com"}
    limit = "argument_bytes=1000000" if as_text else "string_length=100000"
    refused(env, "update_contact", json.dumps(arguments) if as_text else arguments, limit)
    assert all(len(p["email"]) < 100 for p in env.export()["Patient"])


def test_a_long_string_is_refused_by_the_string_limit_alone() -> None:
    clinic = envscale.load(SPECS / "clinic.domain")
    env = clinic.environment(data=SPECS / "clinic.data.json")
    error = refused(
        env,
        "update_contact",
        {"patient_id": "P001", "email": "a" * 100_001},
        "string_length=100000",
    )
    assert error.startswith("argument 'email': a string of 100001 characters")


def _booking(flights: list[dict]) -> dict:
    return {
        "user_id": "mia_li_3668",
        "origin": "JFK",
        "destination": "SEA",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": flights,
        "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        "payment_methods": [{"payment_id": "credit_card_4421486", "amount": 1}],
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }


@pytest.fixture(scope="module")
def airline_env():
    if not (SHARED / "airline").is_dir():
        pytest.skip("the tau-bench airline data is not in ../shared")
    env, _ = environment(
        SPECS / "airline.domain", SPECS / "airline.layout.json", SHARED / "airline"
    )
    return env


def test_booking_20000_repeated_flights_is_refused_by_the_list_limit(airline_env) -> None:
    flights = [{"flight_number": "HAT136", "date": "2024-05-20"}] * 20_000
    error = refused(airline_env, "book_reservation", _booking(flights), "list_length=1000")
    assert error.startswith("argument 'flights': a list of 20000 items")


def test_with_the_list_limit_raised_the_step_budget_stops_the_booking(airline_env) -> None:
    airline_env.limits = Limits(list_length=100_000, argument_bytes=10**7, steps=5_000)
    try:
        flights = [{"flight_number": "HAT136", "date": "2024-05-20"}] * 20_000
        refused(airline_env, "book_reservation", _booking(flights), "steps=5000")
    finally:
        airline_env.limits = DEFAULT_LIMITS


@pytest.mark.parametrize("tool", ["count_up", "squares"])
@pytest.mark.parametrize("n", [10**18, 2**62, DEFAULT_LIMITS.steps + 1])
def test_range_of_an_agent_chosen_huge_n_fails_fast_without_allocating(work, tool, n) -> None:
    env = work.environment(data={})
    error = refused(env, tool, {"n": n}, f"steps={DEFAULT_LIMITS.steps}")
    assert error.startswith("the call needs more than")


def test_range_within_the_budget_runs(work) -> None:
    env = work.environment(data={}, limits=Limits(steps=100))
    assert env.call("count_up", {"n": 100}).content == sum(range(100))
    assert env.call("squares", {"n": 5}).content == [0, 1, 4, 9, 16]
    refused(env, "count_up", {"n": 101}, "steps=100")
    assert env.call("count_up", {"n": -5}).content == 0


def test_a_loop_in_a_loop_is_charged_every_iteration(work) -> None:
    # 40 outer iterations, each starting an inner loop of 40: 40 + 40 * 40 = 1640 steps.
    env = work.environment(data={}, limits=Limits(steps=1640))
    assert env.call("pairs", {"xs": list(range(40))}).content == 40
    env.limits = Limits(steps=1639)
    refused(env, "pairs", {"xs": list(range(40))}, "steps=1639")


def test_a_loop_over_a_missing_list_is_a_tool_error(work) -> None:
    env = work.environment(data={})
    assert env.call("total", {"xs": [1, 2]}).content == 3
    result = env.call("total", {})
    assert not result.ok and not result.internal
    assert result.error == "cannot iterate over a missing value"


def test_the_budget_is_per_call(work) -> None:
    env = work.environment(data={}, limits=Limits(steps=50))
    for _ in range(5):
        assert env.call("count_up", {"n": 50}).ok


def test_a_result_over_the_limit_is_refused_and_its_writes_rolled_back(work) -> None:
    env = work.environment(data={}, limits=Limits(result_bytes=100))
    assert env.call("write_and_echo", {"id": "a", "n": 10}).ok
    error = refused(env, "write_and_echo", {"id": "b", "n": 1000}, "result_bytes=100")
    assert error.startswith("the result is 4890 bytes of JSON")
    assert [n["id"] for n in env.export()["Note"]] == ["a"]


@pytest.mark.parametrize(
    ("arguments", "limit"),
    [
        ({"xs": list(range(1001))}, "list_length=1000"),
        ({"xs": [1], "y" * 100_001: 1}, "string_length=100000"),
        ({f"a{i}": 1 for i in range(1001)}, "list_length=1000"),
        ({"xs": [[[[1]]]]}, "depth=4"),
    ],
    ids=["list", "key", "object", "depth"],
)
def test_shape_limits(work, arguments, limit) -> None:
    env = work.environment(data={}, limits=Limits(depth=4))
    refused(env, "pairs", arguments, limit)


def test_arguments_that_are_many_small_values_count_against_the_size(work) -> None:
    # Lists of lists, each short enough, with more values than fit in the size limit.
    arguments = {"xs": [[list(range(10))] * 10] * 10}
    env = work.environment(data={}, limits=Limits(argument_bytes=500))
    refused(env, "pairs", arguments, "argument_bytes=500")
    refused(env, "pairs", json.dumps(arguments), "argument_bytes=500")


@pytest.mark.parametrize(
    ("day", "n"),
    [("2024-01-01", 10**15), ("2024-01-01", 2**62), ("9999-12-31", 1), ("0001-01-01", -1)],
)
def test_date_arithmetic_out_of_range_is_a_tool_error(work, day: str, n: int) -> None:
    env = work.environment(data={})
    result = env.call("later", {"day": day, "n": n})
    assert not result.ok and not result.internal
    assert result.error == f"'{day}' plus {n} days is not a date of the years 1 to 9999"


def test_running_out_of_a_resource_is_a_failed_call(work) -> None:
    env = work.environment(data={})
    result = env.call("scale", '{"x": 1.5, "n": 1' + "0" * 400 + "}")
    assert not result.ok and not result.internal
    # An int argument beyond 64 bits is refused before the tool runs.
    assert result.error == (
        "invalid arguments: argument 'n': a 1329-bit integer is out of range (integers are 64-bit)"
    )
    env.connection.limit(apsw.SQLITE_LIMIT_LENGTH, 1000)
    result = env.call("store", {"id": "a", "text": "x" * 2000})
    assert not result.ok and not result.internal and env.export() == {"Note": []}
    assert result.error == "a value is too big to store (string or blob too big)"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("count_up", '{"n": ' + "9" * 5000 + "}"),
        ("count_up", {"n": 10**5000}),
        ("store", '{"id": "a", "text": "\\ud800"}'),
        ("store", "[" * 100_000),
        ("store", "\x00"),
        ("store", {"id": "a", "text": "x", "extra": float("nan")}),
        ("store", {"id": "a", "text": b"bytes"}),
    ],
    ids=["long-int-text", "long-int", "surrogate", "unclosed", "nul", "nan", "bytes"],
)
def test_hostile_arguments_are_a_failed_call_never_an_exception(work, tool, arguments) -> None:
    env = work.environment(data={})
    result = env.call(tool, arguments)
    assert not result.internal, result
    assert result.ok or env.export() == {"Note": []}


@pytest.mark.parametrize(
    "arguments",
    [{"id": "a", "text": "ok \ud800"}, {"id": "a", "text": "x", "\udcff": 1}, '{"id": "\\udfff"}'],
)
def test_a_lone_surrogate_is_refused_before_it_reaches_the_database(work, arguments) -> None:
    env = work.environment(data={})
    result = env.call("store", arguments)
    assert not result.ok and "lone surrogate" in result.error and env.export() == {"Note": []}
    assert env.call("store", {"id": "a", "text": "\U0001f600 \u00e9"}).ok  # a pair is text


def test_an_unknown_tool_name_is_not_echoed_whole(work) -> None:
    env = work.environment(data={})
    result = env.call("x" * 10_000_000, {})
    assert not result.ok and not result.internal and len(result.error) < 300


def test_limits_from_settings() -> None:
    limits = DEFAULT_LIMITS.with_settings(["string_length=10", "steps=1_000", "list-length=3"])
    assert (limits.string_length, limits.steps, limits.list_length) == (10, 1000, 3)
    assert limits.changed() == {"string_length": 10, "list_length": 3, "steps": 1000}
    for bad in ["string_length", "strings=5", "steps=0", "steps=-1", "steps=many"]:
        with pytest.raises(ValueError, match="limit"):
            DEFAULT_LIMITS.with_settings([bad])


def test_a_domain_passes_its_limits_to_its_environments(work) -> None:
    tight = Domain(work.files, limits=Limits(steps=10))
    env = tight.environment(data={})
    refused(env, "count_up", {"n": 11}, "steps=10")
    assert tight.environment(data={}, limits=Limits(steps=11)).call("count_up", {"n": 11}).ok


# Numbers of the language: 64-bit ints and finite floats (others are refused, not measured).
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=6))
@settings(max_examples=300, deadline=None)
def test_the_quick_size_bound_is_never_below_the_json_size(arguments: dict) -> None:
    text = json.dumps(arguments, ensure_ascii=False)
    size = len(text.encode("utf-8", "surrogatepass"))
    try:
        bound = check_shape(arguments, Limits(list_length=10, string_length=100))
    except ToolError as error:  # a lone surrogate in a string or a key
        assert "lone surrogate" in error.message
        return
    assert bound >= size
    # So arguments of exactly their own size pass, and one byte less is refused.
    assert admit_arguments(arguments, Limits(argument_bytes=size)) is arguments
    if size > 1:
        with pytest.raises(ToolError, match=f"limit argument_bytes={size - 1}"):
            admit_arguments(arguments, Limits(argument_bytes=size - 1))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"a": [1, {"b": 2**63}]}, "argument 'a': 9223372036854775808 is out of range"),
        ({"a": 1, "b": {"c": [-(2**63) - 1]}}, "argument 'b': -9223372036854775809 is out"),
        ({"x": [0.5, float("nan")]}, "argument 'x': nan is not a finite number"),
        ({"x": {"y": float("-inf")}}, "argument 'x': -inf is not a finite number"),
    ],
)
def test_the_shape_pass_refuses_numbers_beyond_the_language_and_names_the_argument(
    arguments: dict, message: str
) -> None:
    with pytest.raises(ToolError, match=re.escape(f"invalid arguments: {message}")):
        check_shape(arguments, Limits())
    edge = {"low": -(2**63), "high": 2**63 - 1, "big": 1.7976931348623157e308}
    assert check_shape(edge, Limits()) > 0
