"""The tool-call contract: a failed call leaves the state exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envscale.api import compile_source
from envscale.conformance.taubench import read_cases
from envscale.runtime.domain import Domain
from envscale.runtime.errors import DataError
from envscale.runtime.layout import Layout

SPEC = """
domain counters "Counters that tools bump, create and remove."
entity Counter {
  id: str @key
  n: int @check(n >= 0)
}
entity Total {
  id: str @key
  limit: int
}
invariant under_limit: sum([c.n for c in Counter.where()]) <= Total["all"].limit
  else "over the limit"

tool bump_twice(id: str, fail_at: int = 99) -> Counter {
  "Bump a counter twice; fail once it reaches fail_at."
  let c = Counter[id]
  set c.n = c.n + 1
  set c.n = c.n + 1
  require c.n < fail_at else "reached fail_at"
  return c
}

tool create_and_remove(id: str) -> bool {
  "Create a counter, remove it, then fail."
  let c = insert Counter(id: id, n: 0)
  delete c
  require false else "refused"
  return true
}

tool read(id: str) -> Counter {
  "Read a counter."
  return Counter[id]
}
"""
DATA = {"Counter": [{"id": "a", "n": 0}, {"id": "b", "n": 0}], "Total": [{"id": "all", "limit": 6}]}


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "counters.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def test_a_failed_call_leaves_state_diff_and_hash_as_they_were(domain):
    env = domain.environment(data=DATA)
    start = env.state_hash()
    assert env.call("bump_twice", {"id": "a"}).ok
    after_first = (env.export(), env.diff(), env.state_hash())
    assert env.call("bump_twice", {"id": "a", "fail_at": 4}).error == "reached fail_at"
    assert env.call("create_and_remove", {"id": "c"}).error == "refused"
    assert env.call("bump_twice", {"id": "b", "fail_at": -1}).error == "reached fail_at"
    assert (env.export(), env.diff(), env.state_hash()) == after_first
    assert [c["key"] for c in env.diff()] == ["a"]
    env.reset()
    assert env.state_hash() == start and env.diff() == []


def test_an_invariant_broken_by_a_write_rolls_the_call_back(domain):
    env = domain.environment(data=DATA)
    assert env.call("bump_twice", {"id": "a"}).ok and env.call("bump_twice", {"id": "b"}).ok
    assert env.call("bump_twice", {"id": "a"}).ok
    result = env.call("bump_twice", {"id": "b"})
    assert result.error == "invariant 'under_limit' violated: over the limit"
    assert {c["id"]: c["n"] for c in env.export()["Counter"]} == {"a": 4, "b": 2}
    assert domain.invariants_after["read"] == []


def test_the_state_hash_is_independent_of_row_order(domain):
    env = domain.environment(data=DATA)
    env.call("bump_twice", {"id": "b"})
    other = domain.environment(data={**DATA, "Counter": [{"id": "b", "n": 2}, {"id": "a", "n": 0}]})
    assert env.state_hash() == other.state_hash()


@pytest.mark.internal_errors_expected
def test_an_unexpected_exception_still_rolls_the_call_back(domain, monkeypatch):
    env = domain.environment(data=DATA)
    real = domain.tools_module.TOOLS["bump_twice"]

    def broken(db, *args):
        real(db, *args)
        raise RuntimeError("a bug in generated code")

    monkeypatch.setitem(domain.tools_module.TOOLS, "bump_twice", broken)
    result = env.call("bump_twice", {"id": "a"})
    assert (
        result.internal and result.error == "internal error: RuntimeError: a bug in generated code"
    )
    monkeypatch.undo()
    assert env.diff() == [] and env.db.original == {}
    assert env.call("bump_twice", {"id": "a"}).ok and env.call("read", {"id": "a"}).content == {
        "id": "a",
        "n": 2,
    }
    env.reset()
    assert env.call("read", {"id": "a"}).content == {"id": "a", "n": 0}


def test_unreadable_or_malformed_inputs_are_data_errors(domain, tmp_path: Path):
    with pytest.raises(DataError, match="cannot read data file"):
        domain.environment(data=tmp_path)
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(DataError, match="expected a JSON object"):
        domain.environment(data=tmp_path / "list.json")
    with pytest.raises(DataError, match="expected a JSON object with 'tables'"):
        Layout.read(tmp_path / "list.json")
    (tmp_path / "layout.json").write_text(
        json.dumps({"tables": {"counters": {"entity": "Counter", "key": "id"}}})
    )
    (tmp_path / "counters.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(DataError, match="record 'a' is not a JSON object"):
        Layout.read(tmp_path / "layout.json").load(tmp_path)


def test_malformed_conformance_cases_name_their_line(tmp_path: Path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"actions": []}\n\n{"actions": [{"kwargs": {}}]}\n')
    with pytest.raises(ValueError, match="line 3"):
        list(read_cases(cases))
