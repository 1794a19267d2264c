"""One meaning for a condition, whether SQLite evaluates it (a CHECK in schema.sql) or the
runtime does (compiled Python): every operator and built-in a check can hold, on edge values,
stored through a real environment and judged by the compiled Python of the same condition."""

from __future__ import annotations

import random
import re
import sqlite3

import pytest

from envscale.compiler import sql_expr
from envscale.compiler.build import compile_file
from envscale.fuzz import semantics
from envscale.fuzz.report import SQL_PYTHON
from tests.conftest import SPECS

# Conditions over the probe row (semantics.FIELDS: n int, m int?, x float, y float?, s str,
# u str?, b bool, c bool?), and who holds them: "sql" when SQLite means the same, else
# "runtime".
CONDITIONS = {
    # ordering, with none failing
    "m > 0": "sql",
    "n >= m": "sql",
    "y < 1.5": "sql",
    "not (m > 0)": "sql",
    "x <= n": "sql",
    "n < 9223372036854775807": "sql",
    "x > 9007199254740993": "sql",
    "n >= -9223372036854775808": "sql",
    "u < s": "sql",
    's >= "ß"': "sql",
    # equality, where none equals none
    "m != n": "sql",
    "m == none": "sql",
    "m != none": "sql",
    "m == m": "sql",
    "not (m != m)": "sql",
    "u == s": "sql",
    "y == x": "sql",
    "n == x": "sql",
    "c == b": "sql",
    "c != true": "sql",
    "b": "sql",
    "not b": "sql",
    # membership
    "m in [1, 2]": "sql",
    "m not in [1, 2]": "sql",
    "m in [1, none]": "sql",
    'u not in ["a", none]': "sql",
    's in ["ß", "SS", "İ"]': "sql",
    "x in [0.5, 2.5, -0.0]": "sql",
    "n in [9223372036854775807, -9223372036854775808]": "sql",
    # and / or / not around conditions that may fail
    "(m > 0) or (n > 0)": "sql",
    "(n > 0) or (m > 0)": "sql",
    "(m > 0) and (n > 0)": "sql",
    "not ((m > 0) and (n > 0))": "sql",
    "not ((m > 0) or (n < 0))": "sql",
    "(m == none) or (m > 0)": "sql",
    "(u != none) and (len(u) > 1)": "sql",
    # len counts characters (stored text holds no NUL)
    "len(s) > 0": "sql",
    "len(u) > 0": "sql",
    "len(u) == 1": "sql",
    "not (len(u) == 1)": "sql",
    # abs of a float is exact in SQL; of an int it overflows at -2**63
    "abs(x) >= 0.5": "sql",
    "abs(-x) == abs(x)": "sql",
    "abs(n) >= 0": "runtime",
    "abs(n) > 9223372036854775806": "runtime",
    # arithmetic: overflow, floored %, division by zero, NaN
    "n % 2 == 1": "runtime",
    "x % 2.0 == 0.5": "runtime",
    "n % 0 == 0": "runtime",
    "n / 0 > 0": "runtime",
    "x / 0.0 > 0": "runtime",
    "n / 2 == 1.5": "runtime",
    "n * n > 0": "runtime",
    "n + n > n": "runtime",
    "-n > 0": "runtime",
    "n - 1 < n": "runtime",
    "x * 10.0 > x": "runtime",
    "(x * x) - (x * x) != 0.0": "runtime",
    # rounding half to even, Unicode case
    "round(x) == 2.0": "runtime",
    "round(x, 1) == x": "runtime",
    "lower(s) == s": "runtime",
    'upper(s) == "SS"': "runtime",
    "len(upper(s)) == len(s)": "runtime",
    "lower(upper(s)) == lower(s)": "runtime",
}


def edge_rows(condition: str) -> list[dict]:
    """Two base rows (optional fields none, and all set), each with one field that the
    condition reads changed to each edge value of its type, the refused ones included."""
    bases = [
        {"n": 1, "m": None, "x": 0.5, "y": None, "s": "a", "u": None, "b": True, "c": None},
        {"n": -2, "m": 3, "x": -1.5, "y": 2.5, "s": "ß", "u": "İ", "b": False, "c": True},
    ]
    rows = []
    for base in bases:
        for name, kind in semantics.FIELDS.items():
            if not re.search(rf"\b{name}\b", condition):
                continue
            kind_base = kind.rstrip("?")
            values = semantics._EDGES[kind_base] + semantics.REFUSED.get(kind_base, [])
            if kind.endswith("?"):
                values = [*values, None]
            for value in values:
                rows.append({"id": f"r{len(rows)}", **base, name: value})
    return rows


@pytest.mark.parametrize("form", ["invariant", "check"])
@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_sql_and_python_agree_on_edge_values(condition: str, form: str) -> None:
    probe = semantics.compile_probe(condition, form, on_field="m")
    assert probe is not None, f"{condition} does not compile"
    assert probe.held_by == CONDITIONS[condition]
    rows = edge_rows(condition)
    verdicts = semantics.judge(probe, rows)
    assert verdicts.tried == len(rows) > 2
    assert verdicts.problems == []


def test_a_check_on_an_optional_field_holds_where_the_field_is_none() -> None:
    for condition in ("m > 0", "(m > 0) and (lower(s) == s)"):
        probe = semantics.compile_probe(condition, "check", on_field="m")
        assert probe is not None
        env = probe.domain.environment()
        base = {"n": 2, "x": 0.0, "s": "a", "b": True}
        assert env.call("put", {"id": "a", **base, "m": None}).ok
        assert not env.call("put", {"id": "b", **base, "m": -1}).ok
        assert env.call("put", {"id": "c", **base, "m": 1}).ok
        # As an invariant it is the condition itself: none > 0 fails, so it does not hold.
        probe = semantics.compile_probe(condition, "invariant")
        assert probe is not None
        assert not probe.domain.environment().call("put", {"id": "a", **base, "m": None}).ok


def test_abs_of_the_smallest_int_is_an_ordinary_check() -> None:
    probe = semantics.compile_probe("abs(n) >= 0", "check", on_field="n")
    assert probe is not None and probe.held_by == "runtime"
    env = probe.domain.environment()
    row = {"id": "a", "n": -(2**63), "x": 0.0, "s": "a", "b": True}
    result = env.call("put", row)
    assert result.ok and not result.internal


def test_where_never_matches_nan_and_finds_ints_beyond_64_bits_only_as_floats() -> None:
    probe = semantics.compile_probe("n > 0")
    assert probe is not None
    env = probe.domain.environment()
    base = {"n": 1, "s": "a", "b": True}
    assert env.call("put", {"id": "none", **base, "x": 1.0, "y": None}).ok
    assert env.call("put", {"id": "big", **base, "x": float(2**63), "y": 1.0}).ok
    assert env.db.where("R", {"y": float("nan")}) == []
    assert env.db.where("R", {"y": None})[0]["id"] == "none"
    assert [r["id"] for r in env.db.where("R", {"x": 2**63})] == ["big"]
    assert env.db.where("R", {"x": 2**63 + 1}) == []
    assert env.db.where("R", {"n": 2**63}) == []
    assert env.db.find("R", 10**30) is None


def test_a_wrong_translation_is_reported() -> None:
    """SQL's own `%` (truncating, NULL on zero) in place of keeping arithmetic out of SQL."""

    def naive(self, e):  # type: ignore[no-untyped-def]
        left, right = self.expr(e.left), self.expr(e.right)
        return sql_expr._Sql(f"({left.text} {e.op} {right.text})", fails=left.fails or right.fails)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sql_expr._Lowering, "arithmetic", naive)
        probe = semantics.compile_probe("n % 2 == 1")
        assert probe is not None and probe.held_by == "sql"
        found = semantics.judge(probe, edge_rows("n")).problems
    assert found and {p.kind for p in found} == {SQL_PYTHON}
    assert any("'n': -7" in p.reproducer for p in found)


def test_the_fuzzer_runs_clean_and_keeps_most_conditions_in_sql() -> None:
    tally = semantics.ATTACKS[0].run(40, 3)
    assert tally.tried == 40
    assert tally.problems == 0, tally.examples
    r = random.Random(0)
    held = [
        probe.held_by
        for _ in range(40)
        if (probe := semantics.compile_probe(semantics.Conditions(r).condition())) is not None
    ]
    assert len(held) > 30 and held.count("sql") > 20 and held.count("runtime") >= 3


@pytest.mark.parametrize("name", ["clinic", "retail", "airline"])
def test_schema_sql_needs_nothing_plain_sqlite3_lacks(name: str) -> None:
    files, _, _ = compile_file(SPECS / f"{name}.domain")
    assert files is not None
    connection = sqlite3.connect(":memory:")
    connection.executescript(files["schema.sql"])
    connection.close()


def test_probe_schemas_run_in_plain_sqlite3() -> None:
    probe = semantics.compile_probe('(u in ["a", none]) or (m > 0)')
    assert probe is not None and probe.held_by == "sql"
    connection = sqlite3.connect(":memory:")
    connection.executescript(probe.domain.files["schema.sql"])
    insert = (
        "INSERT INTO R (id, n, m, x, y, s, u, b, c) VALUES (?, 1, ?, 0.0, NULL, 's', ?, 1, NULL)"
    )
    connection.execute(insert, ("a", None, "a"))
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(insert, ("b", None, "b"))


def test_a_field_check_that_sql_would_misread_is_checked_at_runtime() -> None:
    probe = semantics.compile_probe("(m > 0) and (lower(s) == s)", "check", on_field="m")
    assert probe is not None and probe.held_by == "runtime"
    files = probe.domain.files
    assert "lower" not in files["schema.sql"]
    assert '"R_m_check1": check_R_m_check1,' in files["tools.py"]
    assert 'if row["m"] is not None and not (row["m"] > 0 and lib.lower' in files["tools.py"]
    env = probe.domain.environment()
    base = {"n": 1, "x": 0.0, "b": True}
    result = env.call("put", {"id": "a", **base, "m": 1, "s": "ẞ"})  # lower("ẞ") is "ß"
    assert (
        result.error
        == "invariant 'R_m_check1' violated: R.m must satisfy (m > 0) and (lower(s) == s)"
    )
    assert env.call("put", {"id": "b", **base, "m": 1, "s": "ß"}).ok
    assert env.call("put", {"id": "c", **base, "m": None, "s": "ẞ"}).ok
