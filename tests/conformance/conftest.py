"""Shared pieces of the tau-bench conformance tests: where the data is, and the checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envscale.conformance.taubench import environment, replay_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
TAUBENCH = (ROOT / ".." / "shared" / "conformance" / "taubench").resolve()


def taubench_environment(domain: str):
    """The shipped spec's environment on tau-bench's documents; skips when ../shared is absent."""
    data = TAUBENCH / domain
    if not (data / "users.json").is_file():
        pytest.skip(
            f"tau-bench conformance data not found at {data} (it lives in ../shared next to the "
            "repository)"
        )
    return environment(SPECS / f"{domain}.domain", SPECS / f"{domain}.layout.json", data)


def assert_every_case_matches(env: Any, layout: Any, case_file: str) -> None:
    result = replay_file(env, layout, TAUBENCH / case_file)
    assert result.total > 0
    shown = "\n".join(m.render() for m in result.mismatches[:5])
    assert result.matched == result.total, f"{result.matched}/{result.total} cases match\n{shown}"


def _without_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value


def schema_shapes(tools: list[dict]) -> dict[str, tuple]:
    """Each tool's parameters (names, types, enums, nested items) and required list, descriptions
    aside."""
    out = {}
    for tool in tools:
        params = tool["function"]["parameters"]
        out[tool["function"]["name"]] = (
            _without_descriptions(params["properties"]),
            sorted(params["required"]),
        )
    return out


def assert_schemas_match(env: Any, domain: str) -> None:
    theirs = schema_shapes(json.loads((TAUBENCH / domain / "tools.json").read_text()))
    ours = schema_shapes(json.loads(env.domain.files["tools.json"]))
    assert ours == theirs
