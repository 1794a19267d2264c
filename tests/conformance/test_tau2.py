"""The tau2 versions of the retail and airline specs reproduce tau2-bench: tool schemas, the
database as tau2 holds it, and a sample of the recorded cases (all of them run with
`make conformance`). Skipped when ../shared is absent."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from envscale.conformance.replay import FileResult, canonical, read_cases
from envscale.conformance.tau2 import AGENT, Tau2Domain, environment, replay_case

from .conftest import ROOT, SPECS

TAU2 = (ROOT / ".." / "shared" / "conformance" / "tau2").resolve()
DOMAINS = ["retail", "airline"]


@pytest.fixture(scope="module", params=DOMAINS)
def tau2(request) -> tuple[str, Tau2Domain]:
    name = request.param
    data = TAU2 / name
    if not (data / "db.json").is_file():
        pytest.skip(f"tau2 conformance data not found at {data} (it lives in ../shared)")
    return name, environment(
        SPECS / f"{name}.tau2.domain", SPECS / f"{name}.tau2.layout.json", data
    )


def _schema(value: Any, defs: dict) -> Any:
    """A JSON schema with what only tau2's generator writes taken out: titles, descriptions,
    `$defs` references resolved, and the `anyOf: [model, any object]` its object arguments
    carry read as the model."""
    if isinstance(value, list):
        return [_schema(v, defs) for v in value]
    if not isinstance(value, dict):
        return value
    if "$ref" in value:
        return _schema(defs[value["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in value:
        models = [v for v in value["anyOf"] if "$ref" in v]
        if len(models) == 1:
            return _schema(models[0], defs)
    skipped = {"title", "description", "$defs", "additionalProperties"}
    out = {k: _schema(v, defs) for k, v in value.items() if k not in skipped}
    if "required" in out:
        out["required"] = sorted(out["required"])
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("required", [])
    return out


def shapes(tools: list[dict]) -> dict[str, Any]:
    return {
        t["function"]["name"]: _schema(
            t["function"]["parameters"], t["function"]["parameters"].get("$defs", {})
        )
        for t in tools
    }


def test_tool_schemas_equal_tau2s(tau2) -> None:
    name, domain = tau2
    theirs = shapes(json.loads((TAU2 / name / "tools.json").read_text(encoding="utf-8")))
    ours = shapes(json.loads(domain.sides[AGENT].env.domain.files["tools.json"]))
    assert sorted(ours) == sorted(theirs)
    for tool, schema in theirs.items():
        assert ours[tool] == schema, tool


def test_the_database_is_tau2s_model_dump(tau2) -> None:
    """db.json loaded through the layout is the database as tau2 holds it (db.tau2.json):
    users with their ids, floats where tau2's models have floats, optional fields as null."""
    name, domain = tau2
    side = domain.sides[AGENT]
    exported = side.layout.export(side.env)
    held = json.loads((TAU2 / name / "db.tau2.json").read_text(encoding="utf-8"))
    for table in side.layout.tables:
        assert canonical(exported[table.name]) == canonical(held[table.name]), table.name


def _sample(path: Path, every: int) -> list[dict]:
    return list(itertools.islice(read_cases(path), 0, None, every))


@pytest.mark.parametrize(
    ("kind", "every"),
    [("probes", 1), ("tasks", 3), ("sealed", 3)],
    ids=["probes", "tasks", "sealed"],
)
def test_recorded_cases_match(tau2, kind: str, every: int) -> None:
    name, domain = tau2
    path = (
        TAU2 / "sealed" / f"{name}.sealed.jsonl"
        if kind == "sealed"
        else TAU2 / name / f"{kind}.jsonl"
    )
    result = FileResult(str(path))
    for case in _sample(path, every):
        result.add(replay_case(domain, case))
    assert result.total > 0
    shown = "\n".join(m.render() for m in result.mismatches[:5])
    assert result.matched == result.total, f"{result.matched}/{result.total} match\n{shown}"
