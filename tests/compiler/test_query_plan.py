"""Planned queries give the answers of the conditions they come from: the same tools compiled
with and without planning, on the same generated records (none, text that folds beyond
ASCII, negative numbers, floats, JSON paths), answer every call alike."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envscale.compiler.codegen import generate
from envscale.compiler.pipeline import analyze
from envscale.runtime.domain import Domain

SPEC = Path(__file__).with_name("planned_queries.domain")
# Letters whose case SQLite folds as the language does (ASCII) and some it does not.
TEXT = st.text(alphabet="aAkKsS zİıßÉé\u212a\u0130", max_size=4)
# Arguments may hold a NUL, which no stored text does (and SQLite text functions stop at).
ARGUMENT = st.one_of(TEXT, st.text(alphabet="aK\0", min_size=1, max_size=3))
SMALL = st.integers(-3, 3)
FLOATS = st.one_of(
    st.sampled_from([-0.0, 0.0, -1.5, 1.0, 2.0, 2.5]),
    st.floats(-4, 4, allow_nan=False, allow_infinity=False),
)


def _domain(plan: bool) -> Domain:
    source = SPEC.read_text(encoding="utf-8")
    c = analyze(source, str(SPEC), SPEC)
    assert c.ir is not None and not c.diagnostics.has_errors, list(c.diagnostics)
    c.ir.plan_queries = plan
    return Domain(generate(c.ir))


@pytest.fixture(scope="module")
def domains() -> tuple[Domain, Domain]:
    return _domain(True), _domain(False)


def test_planning_is_on_and_the_switch_turns_it_off(domains):
    planned, unplanned = domains
    assert "db.query(" in planned.files["tools.py"]
    assert "db.query(" not in unplanned.files["tools.py"]
    assert '"R.c query index"' in planned.files["schema.sql"]
    assert 'db.query("R", ("id", "n", "x"), by={"b": True})' in planned.files["tools.py"]
    assert '"R.lower(s) query index"' in planned.files["schema.sql"]


@st.composite
def records(draw) -> list[dict]:
    count = draw(st.integers(1, 6))
    out = []
    for i in range(count):
        out.append(
            {
                "id": f"r{i}",
                "s": draw(TEXT),
                "u": draw(st.one_of(st.none(), TEXT)),
                "n": draw(SMALL),
                "m": draw(st.one_of(st.none(), SMALL)),
                "x": draw(FLOATS),
                "b": draw(st.booleans()),
                "c": draw(st.sampled_from(["red", "green"])),
                "box": {
                    "a": draw(TEXT),
                    "z": draw(st.one_of(st.none(), TEXT)),
                    "k": draw(SMALL),
                },
                "other": draw(st.sampled_from([None, "r0"])),
            }
        )
    return out


def calls(draw_text, draw_int, draw_float, draw_colour) -> list[tuple[str, dict]]:
    return [
        ("by_lower", {"v": draw_text}),
        ("by_upper_path", {"v": draw_text}),
        ("by_optional", {"v": None}),
        ("by_optional", {"v": draw_text}),
        ("by_order", {"k": draw_int, "x": draw_float}),
        ("by_optional_order", {"k": draw_int}),
        ("by_not_equal", {"k": None, "v": draw_text}),
        ("by_not_equal", {"k": draw_int, "v": draw_text}),
        ("counted", {"c": draw_colour, "k": draw_int}),
        ("summed", {"v": draw_text}),
        ("first_other", {"v": "r0"}),
        ("within", {"n": draw_int, "v": draw_text}),
        ("any_all", {"k": draw_int}),
        ("loop_read", {"k": draw_int}),
        ("by_big", {"k": draw_int}),
    ]


def _answer(domain: Domain, data: list[dict], name: str, args: dict) -> tuple:
    env = domain.environment(data={"R": data})
    result = env.call(name, args)
    content = result.content
    if isinstance(content, float) and math.isnan(content):
        content = "nan"
    return result.ok, content, result.error, result.internal


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=records(),
    v=ARGUMENT,
    k=st.one_of(SMALL, st.sampled_from([2**70, -(2**70), 2**63 - 1])),
    x=FLOATS,
    colour=st.sampled_from(["red", "green"]),
)
def test_planned_and_unplanned_calls_agree(domains, data, v, k, x, colour):
    planned, unplanned = domains
    for name, args in calls(v, k, x, colour):
        assert _answer(planned, data, name, args) == _answer(unplanned, data, name, args), (
            name,
            args,
        )


def test_text_that_folds_beyond_ascii_is_found(domains):
    planned, _ = domains
    data = [
        {
            "id": "r0",
            "s": "\u212a",
            "u": None,
            "n": 0,
            "m": None,
            "x": 0.0,
            "b": True,
            "c": "red",
            "box": {"a": "ß", "z": None, "k": 0},
            "other": None,
        },
    ]
    env = planned.environment(data={"R": data})
    assert env.call("by_lower", {"v": "k"}).content == ["r0"]  # KELVIN SIGN folds to k
    assert env.call("by_upper_path", {"v": "ss"}).content == ["r0"]  # ß folds to SS
    assert env.call("by_lower", {"v": "x"}).content == []
    # Values SQLite cannot bind exactly leave the condition to decide alone.
    assert env.call("by_lower", {"v": "k\0"}).content == []
    assert env.call("by_big", {"k": 3}).content == ["r0"]
    assert env.call("by_big", {"k": -3}).content == ["r0"]  # 0.0 > -3 * 2**62


# Map keys a JSON path might misread: empty, quotes, backslashes, NUL and other control
# characters, text beyond ASCII, and a key that another one extends.
KEYS = st.one_of(
    st.sampled_from(["", "a", "a\0", 'a"', "a\\", "é", "$.a", "a.b", "[0]"]), st.text(max_size=3)
)
VALUES = st.one_of(
    st.sampled_from([-0.0, 0.0, 1e16, 0.1, 2.0**53 + 2]),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def map_records(draw) -> list[dict]:
    count = draw(st.integers(1, 4))
    box = st.fixed_dictionaries(
        {"a": TEXT, "z": st.one_of(st.none(), TEXT), "k": SMALL},
    )
    return [
        {
            "id": f"s{i}",
            "m": draw(st.dictionaries(KEYS, VALUES, max_size=4)),
            "boxes": draw(st.dictionaries(KEYS, box, max_size=4)),
            "peer": f"s{draw(st.integers(0, count - 1))}",
        }
        for i in range(count)
    ]


def _map_answer(domain: Domain, data: list[dict], name: str, args: dict) -> tuple:
    env = domain.environment(data={"R": [], "S": data})
    result = env.call(name, args)
    return result.ok, result.content, result.error, result.internal


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=map_records(), key=KEYS, id=st.sampled_from(["s0", "s1", "s9"]), i=SMALL)
def test_map_entries_read_by_path_agree(domains, data, key, id, i):
    """Maps read at one entry by a JSON path (and fields read alone) answer as whole ones."""
    planned, unplanned = domains
    known = list(data[0]["boxes"])
    for name, args in [
        ("entry_get", {"id": id, "key": key}),
        ("entry_has", {"id": id, "key": key}),
        ("entry_at", {"id": id, "key": key}),
        ("entry_late", {"id": id, "keys": [key, *known], "i": i}),
        ("peer_field", {"id": id}),
        ("entries_query", {"key": key}),
        ("entries_loop", {"key": key}),
        ("let_read", {"id": id, "key": key}),
        ("let_write", {"id": id, "key": key, "x": 1.5}),
        ("held_entry", {"id": id, "key": key}),
    ]:
        assert _map_answer(planned, data, name, args) == _map_answer(unplanned, data, name, args), (
            name,
            args,
        )


def test_map_entries_are_read_by_path(domains):
    planned, unplanned = domains
    tools = planned.files["tools.py"]
    assert 'lib.entry_of(db, "S", id, "m", key)' in tools
    assert 'lib.existing(db, "S", id)' in tools  # the key `keys[i]` may fail
    assert 'lib.query_at(db, "S", ("id",), {"boxes": key})' in tools
    assert 'lib.find_part(db, "S", id, ("id", "peer"), {"m": key})' in tools
    assert 'lib.get_part(db, "S", id, ("id", "m"), {"boxes": key})' in tools
    assert "lib.entry_of" not in unplanned.files["tools.py"]
    assert 'b = lib.copy(lib.item(s["boxes"], key))' in tools  # changed while `b` is held
    assert 'c = lib.item(s["boxes"], key)' in tools  # nothing changes while `c` is held
    data = [{"id": "s0", "m": {"a": 1.5, "a\0": 2.5}, "boxes": {}, "peer": "s0"}]
    env = planned.environment(data={"R": [], "S": data})
    assert env.call("entry_get", {"id": "s0", "key": "a"}).content == 1.5
    assert env.call("entry_get", {"id": "s0", "key": "a\0"}).content == 2.5
    assert env.call("entry_get", {"id": "s0", "key": "b"}).content is None
    assert env.call("entry_get", {"id": "s9", "key": "a"}).error == "S 's9' not found"
