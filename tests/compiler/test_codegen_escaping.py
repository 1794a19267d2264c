"""Spec prose and names reach generated source only as inert text."""

from __future__ import annotations

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain

# Descriptions and docs that would close a docstring, end a SQL comment, or hold a NUL byte.
HOSTILE = r'''
domain evil """Says \"\"\" and ends a line
DROP TABLE "Thing"; -- then a \\ and a \x00"""

struct Note """A struct doc with \"\"\" in it
on two lines\"""" {
  text: str """A field doc \"\"\"."""
}

entity Thing """A thing.
DROP TABLE "Thing";
\"\"\" raise SystemExit""" {
  id: str @key
  note: str @default("x'); DROP TABLE Thing; --")
}

tool get_thing(id: str) -> Thing {
  """Gets a thing \"\"\" quoted \\ and \x00 and a closing quote\""""
  return Thing[id]
}
'''


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    compiled, diagnostics, _ = compile_source(HOSTILE, "evil.domain")
    assert compiled is not None, [d.message for d in diagnostics]
    return compiled


def test_hostile_prose_stays_inside_comments_and_docstrings(files):
    for line in files["schema.sql"].splitlines():
        assert not line.startswith("DROP"), line
    assert "\x00" not in "".join(files.values())
    domain = Domain(files)  # the generated modules compile
    env = domain.environment(data={"Thing": [{"id": "a"}]})
    assert env.call("get_thing", {"id": "a"}).content == {
        "id": "a",
        "note": "x'); DROP TABLE Thing; --",
    }
    assert domain.tools_module.__doc__.startswith(
        'Tools of the `evil` domain: Says """ and ends a line\nDROP'
    )
    assert domain.tools_module.get_thing.__doc__.startswith(
        'Gets a thing """ quoted \\ and \x00 and a closing quote"\n'
    )
    assert (
        domain.models.Thing.__doc__ == 'A thing.\n    DROP TABLE "Thing";\n    """ raise SystemExit'
    )
    assert domain.models.Note.__doc__.endswith('on two lines"')


def test_every_spec_line_of_a_doc_becomes_its_own_sql_comment(files):
    assert (
        '-- A thing.\n-- DROP TABLE "Thing";\n-- """ raise SystemExit\nCREATE TABLE "Thing"'
        in files["schema.sql"]
    )


NAMES = """
domain d "Names that the generated code could mix up."
entity Thing {
  id: str @key
  flags: list<bool> @default([true, false])
  extra: map<str, str?> @default({"a": none})
}
entity GetThingArgs { id: str @key }
tool get_thing(id: str, db: str = "x", row: str = "y") -> Thing {
  "A parameter named like the database handle."
  require db == "x" else db
  return Thing[id]
}
tool get__thing(first: str = "x", id: str) -> str {
  "A default before a parameter without one."
  return first + Thing[id].id
}
"""


def test_names_and_defaults_that_python_would_trip_on():
    files, diagnostics, _ = compile_source(NAMES, "d.domain")
    assert files is not None, [d.message for d in diagnostics]
    domain = Domain(files)
    assert domain.models.ENTITIES["GetThingArgs"] is not domain.models.ARGUMENTS["get_thing"]
    assert domain.models.ARGUMENTS["get_thing"] is not domain.models.ARGUMENTS["get__thing"]
    env = domain.environment(data={"Thing": [{"id": "a"}], "GetThingArgs": [{"id": "z"}]})
    assert env.export()["Thing"] == [{"id": "a", "flags": [True, False], "extra": {"a": None}}]
    assert env.call("get_thing", {"id": "a"}).ok
    assert env.call("get_thing", {"id": "a", "db": "q"}).error == "q"
    assert env.call("get__thing", {"id": "a"}).content == "xa"
    assert env.call("get__thing", {"id": "a", "first": "y"}).content == "ya"
