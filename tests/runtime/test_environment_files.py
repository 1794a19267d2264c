"""Environments backed by a database file, and the shown form of records."""

from __future__ import annotations

from pathlib import Path

import pytest

from envscale.api import compile_source
from envscale.records import Shape
from envscale.runtime.domain import Domain
from envscale.runtime.errors import DataError

SPEC = """domain kv "Keys and values."
struct Tag { label: str  note: str? @sparse }
entity Item {
  item_id: str @key @external
  value:   int
  tags:    list<Tag> @default([])
  comment: str? @sparse
}
tool get(item_id: str) -> Item { "Read." return Item[item_id] }
tool put(item_id: str, value: int) -> Item {
  "Write." let i = Item[item_id]  set i.value = value  return i
}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "kv.domain")
    assert files is not None, diagnostics
    return Domain(files)


def test_file_database_keeps_loaded_data_and_refuses_to_load_twice(
    domain: Domain, tmp_path: Path
) -> None:
    path = tmp_path / "kv.sqlite"
    env = domain.environment(data={"Item": [{"item_id": "a", "value": 1}]}, path=path)
    assert env.call("put", {"item_id": "a", "value": 2}).ok
    env.reset()
    env.close()
    reopened = domain.environment(path=path)
    assert reopened.call("get", {"item_id": "a"}).content == {"value": 1, "tags": []}
    reopened.close()
    with pytest.raises(DataError, match="already holds a database"):
        domain.environment(data={"Item": []}, path=path)


def test_shown_form_leaves_out_external_and_absent_sparse_fields(domain: Domain) -> None:
    env = domain.environment(
        data={
            "Item": [
                {
                    "item_id": "a",
                    "value": 1,
                    "tags": [{"label": "x"}, {"label": "y", "note": "n"}],
                    "comment": "c",
                },
                {"item_id": "b", "value": 2},
            ]
        }
    )
    assert env.call("get", {"item_id": "a"}).content == {
        "value": 1,
        "tags": [{"label": "x"}, {"label": "y", "note": "n"}],
        "comment": "c",
    }
    assert env.call("get", {"item_id": "b"}).content == {"value": 2, "tags": []}
    assert env.export()["Item"][0]["item_id"] == "a"  # the full record keeps its key


def test_sparse_needs_an_optional_field() -> None:
    files, diagnostics, _ = compile_source(
        SPEC.replace("comment: str? @sparse", "comment: str @sparse"), "kv.domain"
    )
    assert files is None
    assert [(d.code, d.message) for d in diagnostics] == [
        ("E302", "'@sparse' needs an optional field; 'comment' is a str")
    ]


def test_a_manifest_that_does_not_fit_is_a_data_error() -> None:
    files, _, _ = compile_source(SPEC, "kv.domain")
    assert files is not None
    broken = files["manifest.json"].replace('"kind": "read"', '"kind": "look"', 1)
    with pytest.raises(DataError, match=r"manifest\.json: not a Manifest: tools\.0\.kind"):
        Domain({**files, "manifest.json": broken})


def test_the_domain_reads_its_manifest_as_a_record(domain: Domain) -> None:
    assert domain.manifest.entities["Item"].key == ["item_id"]
    assert domain.tool_kinds == {"get": "read", "put": "write"}
    assert domain.tools["put"].returns_shape == Shape(row="Item")
    assert domain.manifest.to_json() == domain.files["manifest.json"]
