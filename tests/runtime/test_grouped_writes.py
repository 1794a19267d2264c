"""A call's writes of one record are sent as one UPDATE, and fail as the writes one by one
would: on the constraint the first failing write meets, before any later failure of the
call, leaving the state as it was."""

from __future__ import annotations

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain

SPEC = """
domain notes "Notes with a short title and body."

entity Note {
  note_id: str @key
  title: str @check(len(title) <= 5)
  body: str @check(len(body) <= 5)
  tags: list<str>
}

entity Label {
  label_id: str @key
  name: str
}

tool rewrite(note_id: str, body: str, title: str, fail: bool) -> Note {
  "Set a note's body, then its title when one is given; with fail, fail afterwards."
  let n = Note[note_id]
  set n.body = body
  if len(title) > 0 {
    set n.title = title
  }
  require not fail else "asked to fail"
  return n
}

tool tag_each(note_id: str, tags: list<str>) -> Note {
  "Add tags to a note one by one, each named by a label."
  let n = Note[note_id]
  for t in tags {
    require Label.get(t) != none else "no such label"
    set n.tags = n.tags + [t]
  }
  return n
}
"""
DATA = {
    "Note": [{"note_id": "N1", "title": "a", "body": "b", "tags": []}],
    "Label": [{"label_id": "x", "name": "X"}, {"label_id": "y", "name": "Y"}],
}
BODY = "constraint failed: Note.body must satisfy len(body) <= 5"
TITLE = "constraint failed: Note.title must satisfy len(title) <= 5"


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "notes.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


def updates_of(env, tool: str, arguments: dict) -> tuple[object, list[str]]:
    """The call's result, and the UPDATE statements it ran."""
    seen: list[str] = []

    def trace(cursor, sql, bindings) -> bool:
        if sql.startswith("UPDATE"):
            seen.append(sql)
        return True

    env.connection.exec_trace = trace
    try:
        return env.call(tool, arguments), seen
    finally:
        env.connection.exec_trace = None


def test_writes_of_one_record_in_a_loop_are_one_update(domain):
    env = domain.environment(data=DATA)
    result, updates = updates_of(env, "tag_each", {"note_id": "N1", "tags": ["x", "y"]})
    assert result.ok and result.content["tags"] == ["x", "y"]
    assert len(updates) == 1
    assert env.export()["Note"][0]["tags"] == ["x", "y"]


def test_writes_in_two_blocks_are_one_update(domain):
    env = domain.environment(data=DATA)
    arguments = {"note_id": "N1", "body": "bb", "title": "tt", "fail": False}
    result, updates = updates_of(env, "rewrite", arguments)
    assert result.ok and len(updates) == 1
    note = env.export()["Note"][0]
    assert (note["body"], note["title"]) == ("bb", "tt")


def test_the_first_failing_write_names_the_failure(domain):
    env = domain.environment(data=DATA)
    state = env.export()
    # Both writes break a constraint: the body's, written first, is the one reported (the
    # table declares the title's first, so one statement of both would report the title's).
    both = {"note_id": "N1", "body": "toolong", "title": "toolong", "fail": False}
    assert env.call("rewrite", both).error == BODY
    title = {"note_id": "N1", "body": "ok", "title": "toolong", "fail": False}
    assert env.call("rewrite", title).error == TITLE
    assert env.export() == state and env.diff() == []


def test_a_failing_write_comes_before_a_later_failure(domain):
    env = domain.environment(data=DATA)
    state = env.export()
    failing = {"note_id": "N1", "body": "toolong", "title": "", "fail": True}
    assert env.call("rewrite", failing).error == BODY
    asked = {"note_id": "N1", "body": "ok", "title": "", "fail": True}
    assert env.call("rewrite", asked).error == "asked to fail"
    # A read of another table in between, then a failure: the writes before it are undone.
    refused = env.call("tag_each", {"note_id": "N1", "tags": ["x", "nope"]})
    assert refused.error == "no such label"
    assert env.export() == state and env.diff() == []
