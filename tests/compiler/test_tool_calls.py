"""Tools calling tools, and json(): effects follow the calls, arguments by position or name
with defaults, a failure in the callee fails the caller; json() refuses hidden fields."""

from __future__ import annotations

import json

import pytest

from envscale.compiler.build import compile_source
from envscale.runtime.domain import Domain

SPEC = """
domain calls "Tools that call tools."
entity Device { device_id: str @key  airplane: bool  status: str  pin: str @hidden }

tool search(prefix: str = "now", strict: bool = false) -> str @side(internal) {
  "Search; fail when strict and in airplane mode."
  let d = Device["phone"]
  require not (strict and d.airplane) else "no network in airplane mode"
  if d.airplane {
    set d.status = "no_service"
  } else {
    set d.status = "connected"
  }
  return prefix + " " + Device["phone"].status
}

tool toggle(strict: bool = false) -> str {
  "Flip airplane mode, then search."
  let d = Device["phone"]
  set d.airplane = not d.airplane
  return search(strict: strict)
}

tool look() -> str {
  "Search by position."
  return search("seen", false)
}

tool shown() -> str {
  "The device as JSON, its hidden pin left out."
  let d = Device["phone"]
  return json({"airplane": str(d.airplane), "status": d.status})
}
"""

DATA = {"Device": [{"device_id": "phone", "airplane": False, "status": "?", "pin": "1234"}]}


@pytest.fixture(scope="module")
def domain() -> Domain:
    files, diagnostics, _ = compile_source(SPEC, "calls.domain")
    assert files is not None, diagnostics
    return Domain(files)


def test_a_caller_writes_what_its_callees_write(domain: Domain) -> None:
    tools = {t.name: t for t in domain.manifest.tools}
    assert tools["look"].kind == "write" and tools["look"].writes == ["Device"]
    assert tools["shown"].kind == "read"


def test_arguments_by_name_position_and_default(domain: Domain) -> None:
    env = domain.environment(DATA)
    assert env.call("look").text == "seen connected"
    assert env.call("toggle").text == "now no_service"


def test_a_failing_callee_fails_the_caller_whole(domain: Domain) -> None:
    env = domain.environment(DATA)
    before = env.state_hash()
    result = env.call("toggle", {"strict": True})  # airplane mode on, then a strict search
    assert result.text == "Error: no network in airplane mode"
    assert env.state_hash() == before  # the caller's own write rolled back with the callee's
    assert env.call("toggle").ok and env.call("toggle", {"strict": True}).ok  # off again


def test_json_writes_python_json_text(domain: Domain) -> None:
    env = domain.environment(DATA)
    assert json.loads(env.call("shown").content) == {"airplane": "false", "status": "?"}


def test_json_of_a_record_with_a_hidden_field_is_refused() -> None:
    source = SPEC.replace(
        'return json({"airplane": str(d.airplane), "status": d.status})', "return json(d)"
    )
    files, diagnostics, _ = compile_source(source, "calls.domain")
    assert files is None
    assert any(d.code == "E203" and "hidden" in d.message for d in diagnostics)
