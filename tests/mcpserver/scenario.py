"""What an MCP client checks of `envscale mcp` over clinic's seed data, whatever the
transport: the tools as compiled, a read, a write that moves the state hash, a failed call
that reports the environment's message and moves nothing, isolated sessions, and reset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envscale.runtime.load import load

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "clinic.domain"
DATA = ROOT / "specs" / "clinic.data.json"
CONTROL = ["envscale_reset", "envscale_state_hash", "envscale_diff"]
# A write on P001, allowed once verify_patient has confirmed them (clinic's identify_first).
VERIFY = ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"})
WRITE = ("add_allergy", {"patient_id": "P001", "allergy": "penicillin"})
# A call that fails in the tool's body, after validation: no such appointment.
FAILING = ("cancel_appointment", {"appointment_id": "A9999", "reason": "patient_request"})


def compiled_tools() -> list[dict]:
    """The agent's tools as tools.json has them."""
    return [s["function"] for s in load(SPEC).side_schemas("agent")]


def expected_in_process() -> dict[str, Any]:
    """What the runtime itself says, called directly: the initial hash, the failing call's
    message, the hash after the write."""
    env = load(SPEC).environment(data=DATA)
    initial = env.state_hash()
    failed = env.call(*FAILING)
    assert not failed.ok
    env.call(*VERIFY)
    assert env.call(*WRITE).ok
    return {"initial": initial, "error": failed.error, "written": env.state_hash()}


def payload(result: Any) -> Any:
    """A successful call's result, read back from its text content."""
    assert not result.is_error, result.content
    (block,) = result.content
    return json.loads(block.text)


async def state_hash(client: Any) -> str:
    return payload(await client.call_tool("envscale_state_hash", {}))["state_hash"]


async def check_tools(client: Any) -> None:
    listed = (await client.list_tools()).tools
    compiled = compiled_tools()
    assert [t.name for t in listed] == [t["name"] for t in compiled] + CONTROL
    for tool, schema in zip(listed, compiled, strict=False):
        assert tool.description == schema["description"]
        assert tool.input_schema == schema["parameters"]
    by_name = {t.name: t for t in listed}
    assert by_name["get_patient"].annotations.read_only_hint is True
    assert by_name["add_allergy"].annotations.read_only_hint is False


async def check_calls(client: Any, expected: dict[str, Any]) -> None:
    """A read, a failing call, a write, then reset, on one session."""
    assert await state_hash(client) == expected["initial"]
    patient = payload(await client.call_tool("get_patient", {"patient_id": "P001"}))
    assert patient["last_name"] == "Garcia"

    failed = await client.call_tool(*FAILING)
    assert failed.is_error
    assert [block.text for block in failed.content] == [expected["error"]]
    assert await state_hash(client) == expected["initial"]

    refused = await client.call_tool(*WRITE)  # before verify_patient: the policy refuses it
    assert refused.is_error and "identify_first" in refused.content[0].text
    assert await state_hash(client) == expected["initial"]

    payload(await client.call_tool(*VERIFY))
    added = payload(await client.call_tool(*WRITE))
    assert "penicillin" in added["allergies"]
    assert await state_hash(client) == expected["written"] != expected["initial"]
    diff = payload(await client.call_tool("envscale_diff", {}))["diff"]
    assert [(d["entity"], d["key"]) for d in diff] == [("Patient", "P001")]

    reset = payload(await client.call_tool("envscale_reset", {}))
    assert reset["state_hash"] == expected["initial"]
    assert await state_hash(client) == expected["initial"]
    patient = payload(await client.call_tool("get_patient", {"patient_id": "P001"}))
    assert "penicillin" not in patient["allergies"]
