"""Tool sides, sync blocks and assertions: who may call what, and what runs after a call."""

from __future__ import annotations

import json

import pytest

from envscale.compiler.build import compile_source
from envscale.records import Manifest
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment

SPEC = """
domain phone "A phone line and the device that uses it."

entity Line { line_id: str @key  active: bool  roaming: bool }
entity Device {
  device_id: str @key
  line: Line
  line_active: bool
  roaming_allowed: bool
  airplane: bool
}

tool get_line(line_id: str) -> Line {
  "Show a line."
  let l = Line.get(line_id)
  require l != none else "line not found"
  return l
}

tool enable_roaming(line_id: str) -> str {
  "Allow roaming on a line."
  let l = Line.get(line_id)
  require l != none else "line not found"
  require l.active else "line is not active"
  set l.roaming = true
  return "roaming enabled"
}

tool toggle_airplane_mode() -> bool @side(user) {
  "Flip airplane mode on the device."
  let d = Device["phone"]
  set d.airplane = not d.airplane
  return d.airplane
}

tool deactivate_line(line_id: str) @side(internal) {
  "Set-up: deactivate a line."
  let l = Line[line_id]
  set l.active = false
}

tool follow_line() @sync {
  "The device follows its line."
  for d in Device.all() {
    set d.line_active = d.line.active
    set d.roaming_allowed = d.line.roaming
  }
}

tool assert_roaming(expected: bool) -> bool @assertion {
  "Whether the device may roam, as expected."
  return Device["phone"].roaming_allowed == expected
}
"""

DATA = {
    "Line": [{"line_id": "L1", "active": True, "roaming": False}],
    "Device": [
        {
            "device_id": "phone",
            "line": "L1",
            "line_active": False,
            "roaming_allowed": False,
            "airplane": False,
        }
    ],
}


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "phone.domain")
    assert files is not None, diagnostics
    return Domain(files)


@pytest.fixture
def env(domain: Domain) -> Environment:
    return domain.environment(DATA)


def test_each_side_is_offered_its_own_tools(domain: Domain) -> None:
    assert domain.side_tools == {
        "agent": ["get_line", "enable_roaming"],
        "user": ["toggle_airplane_mode"],
        "internal": ["deactivate_line", "follow_line", "assert_roaming"],
    }
    assert [s["function"]["name"] for s in domain.tool_schemas] == ["get_line", "enable_roaming"]
    assert [s["function"]["name"] for s in domain.side_schemas("user")] == ["toggle_airplane_mode"]
    assert domain.sync_tools == ["follow_line"] and domain.assertions == ["assert_roaming"]
    schemas = json.loads(domain.files["tools.json"])
    assert "deactivate_line" not in {s["function"]["name"] for s in schemas}


def test_the_manifest_carries_sides_and_roles(domain: Domain) -> None:
    manifest = json.loads(domain.files["manifest.json"])
    assert manifest["format"] == 4
    tools = {t["name"]: t for t in manifest["tools"]}
    assert "side" not in tools["get_line"] and "role" not in tools["get_line"]
    assert tools["toggle_airplane_mode"]["side"] == "user"
    assert tools["follow_line"] == {**tools["follow_line"], "side": "internal", "role": "sync"}
    assert tools["assert_roaming"]["role"] == "assertion"
    again = Manifest.from_line(domain.files["manifest.json"], "manifest.json")
    assert again.to_dict()["tools"] == manifest["tools"]


@pytest.mark.parametrize(
    ("tool", "arguments", "side"),
    [
        ("toggle_airplane_mode", {}, "agent"),
        ("get_line", {"line_id": "L1"}, "user"),
        ("deactivate_line", {"line_id": "L1"}, "agent"),
        ("deactivate_line", {"line_id": "L1"}, "user"),
        ("follow_line", {}, "internal"),
        ("assert_roaming", {"expected": True}, "agent"),
    ],
)
def test_another_sides_tool_is_not_found(
    env: Environment, tool: str, arguments: dict, side: str
) -> None:
    before = env.state_hash()
    result = env.call(tool, arguments, side=side)
    assert not result.ok and result.text == f"Error: Tool '{tool}' not found."
    assert env.state_hash() == before


def test_sync_runs_after_every_successful_call_of_any_side(env: Environment) -> None:
    assert env.call("toggle_airplane_mode", side="user").text == "true"
    device = env.export()["Device"][0]
    assert device["line_active"] is True and device["airplane"] is True
    assert env.call("enable_roaming", {"line_id": "L1"}).text == "roaming enabled"
    assert env.export()["Device"][0]["roaming_allowed"] is True
    assert env.call("deactivate_line", {"line_id": "L1"}, side="internal").ok
    assert env.export()["Device"][0]["line_active"] is False


def test_a_failed_call_runs_no_sync(env: Environment) -> None:
    before = env.state_hash()
    result = env.call("get_line", {"line_id": "nope"})
    assert result.text == "Error: line not found"
    assert env.state_hash() == before  # the stale device fields were not synced either


def test_assertions_report_on_the_state(env: Environment) -> None:
    assert env.assertion("assert_roaming", {"expected": True}).content is False
    env.call("enable_roaming", {"line_id": "L1"})
    assert env.assertion("assert_roaming", {"expected": True}).content is True
    missing = env.assertion("get_line", {"line_id": "L1"})
    assert not missing.ok and missing.text == "Error: Tool 'get_line' not found."
    assert not env.assertion("assert_roaming", {}).ok  # a missing argument fails


def test_sync_can_be_run_on_its_own(env: Environment) -> None:
    assert env.sync() is None
    assert env.export()["Device"][0]["line_active"] is True


def test_history_records_the_side(env: Environment) -> None:
    env.call("toggle_airplane_mode", side="user")
    env.call("get_line", {"line_id": "L1"})
    assert [(o.tool, o.side) for o in env.history] == [
        ("toggle_airplane_mode", "user"),
        ("get_line", "agent"),
    ]
