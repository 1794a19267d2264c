"""specs/telecom.domain reproduces tau2-bench's telecom: the tool schemas of both sides, the
databases as tau2 holds them, and the recorded cases (all probes and sealed cases, a sample
of the 2,245 tasks; `make conformance` runs them all). Skipped when ../shared is absent."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from envscale.conformance.replay import FileResult, canonical, read_cases
from envscale.conformance.tau2 import AGENT, USER, Tau2Domain, environment, replay_case

from .conftest import ROOT, SPECS

TAU2 = (ROOT / ".." / "shared" / "conformance" / "tau2").resolve()
DATA = TAU2 / "telecom"


@pytest.fixture(scope="module")
def telecom() -> Tau2Domain:
    if not (DATA / "db.toml").is_file():
        pytest.skip(f"tau2 conformance data not found at {DATA} (it lives in ../shared)")
    return environment(SPECS / "telecom.domain", SPECS / "telecom.layout.json", DATA)


def _types(schema: dict, defs: dict) -> tuple[set[str], list | None, Any]:
    """A schema's JSON types (null left out, `$ref` and `anyOf` followed), its enum, and for
    an object its properties' shapes and required list."""
    if "$ref" in schema:
        return _types(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        parts = [_types(s, defs) for s in schema["anyOf"]]
        types = set().union(*(p[0] for p in parts))
        enums = [e for p in parts if p[1] for e in p[1]] or None
        objects = [p[2] for p in parts if p[2] is not None]
        return types, enums, objects[0] if objects else None
    types = {schema["type"]} - {"null"} if "type" in schema else set()
    nested = _shape(schema, defs) if schema.get("type") == "object" else None
    return types, schema.get("enum"), nested


def _shape(parameters: dict, defs: dict) -> Any:
    properties = parameters.get("properties")
    if properties is None:
        return None
    return {
        "params": {name: _types(p, defs) for name, p in properties.items()},
        "required": sorted(parameters.get("required", [])),
    }


def shapes(tools: list[dict]) -> dict[str, Any]:
    out = {}
    for tool in tools:
        parameters = tool["function"]["parameters"]
        out[tool["function"]["name"]] = _shape(parameters, parameters.get("$defs", {}))
    return out


@pytest.mark.parametrize(("side", "file"), [(AGENT, "tools.json"), (USER, "user_tools.json")])
def test_tool_schemas_equal_tau2s(telecom: Tau2Domain, side: str, file: str) -> None:
    """By name (in tau2's order), parameters, types, required lists and enums; descriptions
    are our own."""
    theirs = json.loads((DATA / file).read_text(encoding="utf-8"))
    domain = telecom.sides[side].env.domain
    ours = domain.side_schemas(telecom.sides[side].side)
    assert [t["function"]["name"] for t in ours] == [t["function"]["name"] for t in theirs]
    mine, tau2s = shapes(ours), shapes(theirs)
    for name, shape in tau2s.items():
        assert mine[name] == shape, name


def test_the_databases_are_tau2s_model_dump(telecom: Tau2Domain) -> None:
    """db.toml and user_db.toml loaded through the layouts are the databases as tau2 holds
    them (db.tau2.json, user_db.tau2.json): floats where its models have floats, datetimes as
    str() writes them, defaults filled in."""
    for side, file in ((AGENT, "db.tau2.json"), (USER, "user_db.tau2.json")):
        layout, env = telecom.sides[side].layout, telecom.sides[side].env
        exported = layout.export(env)
        held = json.loads((DATA / file).read_text(encoding="utf-8"))
        for table in layout.tables:
            shown = exported[table.name]
            ours = shown[table.record] if table.record is not None else list(shown.values())
            assert canonical(ours) == canonical(held[table.name]), table.name


def _cases(path: Path, every: int) -> list[dict]:
    return list(itertools.islice(read_cases(path), 0, None, every))


@pytest.mark.parametrize(
    ("path", "every"),
    [
        (DATA / "probes.jsonl", 1),
        (DATA / "tasks.jsonl", 40),
        (TAU2 / "sealed" / "telecom.sealed.jsonl", 1),
    ],
    ids=["probes", "tasks", "sealed"],
)
def test_recorded_cases_match(telecom: Tau2Domain, path: Path, every: int) -> None:
    telecom.reset(carry=False)  # each file was recorded in a process of its own
    result = FileResult(str(path))
    for case in _cases(path, every):
        result.add(replay_case(telecom, case))
    assert result.total > 0
    shown = "\n".join(m.render() for m in result.mismatches[:5])
    assert result.matched == result.total, f"{result.matched}/{result.total} match\n{shown}"


def test_a_wrong_output_is_a_mismatch(telecom: Tau2Domain) -> None:
    """The replay is not blind: a case whose recorded output or final diff is altered fails."""
    case = next(c for c in read_cases(DATA / "tasks.jsonl") if c["final_user_diff"])
    assert replay_case(telecom, case) == []
    altered = json.loads(json.dumps(case))
    altered["actions"][0]["output"] += "!"
    altered["final_user_diff"]["device"] = {"airplane_mode": "maybe"}
    found = replay_case(telecom, altered)
    assert {m.where.split(" (")[0] for m in found} == {"action 0", "final state"}


def test_the_default_vpn_profile_outlives_a_reset(telecom: Tau2Domain) -> None:
    """tau2 keeps the default VPN profile in one object every environment of a process
    shares; once a set-up action degrades it, later connections are slow too."""
    fresh = environment(SPECS / "telecom.domain", SPECS / "telecom.layout.json", DATA)
    env = fresh.sides[USER].env
    assert env.call("connect_vpn", {}, side="user").ok
    assert env.export()["Phone"][0]["vpn_details"]["server_performance"] == "excellent"
    fresh.reset()
    assert env.call("break_vpn", {}, side="internal").ok
    fresh.reset()
    assert env.call("connect_vpn", {}, side="user").ok
    assert env.export()["Phone"][0]["vpn_details"]["server_performance"] == "poor"
    assert fresh.sides[USER].own_diff()["device"]["vpn_connected"] is True
    fresh.reset(carry=False)
    assert env.call("connect_vpn", {}, side="user").ok
    assert env.export()["Phone"][0]["vpn_details"]["server_performance"] == "excellent"
