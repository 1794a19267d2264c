"""specs/retail.domain reproduces tau-bench's retail domain: every visible and sealed case
matches."""

from __future__ import annotations

import pytest

from .conftest import assert_every_case_matches, assert_schemas_match, taubench_environment

CASE_FILES = [
    "retail/probes.jsonl",
    "retail/tasks.dev.jsonl",
    "retail/tasks.train.jsonl",
    "sealed/retail.test.sealed.jsonl",
]


@pytest.fixture(scope="module")
def retail():
    return taubench_environment("retail")


@pytest.mark.parametrize("name", CASE_FILES)
def test_every_case_matches(retail, name: str) -> None:
    assert_every_case_matches(*retail, name)


def test_tool_schemas_match_taubench(retail) -> None:
    assert_schemas_match(retail[0], "retail")
