"""`envscale mcp` over stdio, driven by the MCP SDK's own client, which spawns
`python -m envscale mcp SPEC` as a subprocess."""

from __future__ import annotations

import os
import sys

import anyio
import pytest

from tests.mcpserver.scenario import (
    DATA,
    ROOT,
    SPEC,
    VERIFY,
    WRITE,
    check_calls,
    check_tools,
    expected_in_process,
    payload,
    state_hash,
)

mcp = pytest.importorskip(
    "mcp", reason="the MCP SDK is not installed (pip install 'envscale[mcp]')"
)

TIMEOUT = 60


def server(*extra: str) -> mcp.StdioServerParameters:
    return mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "envscale", "mcp", str(SPEC), "--data", str(DATA), *extra],
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": os.environ.get("PATH", "")},
        cwd=str(ROOT),
    )


def test_tools_calls_sessions_and_reset_over_stdio() -> None:
    """The whole scenario on one server process, while a second process, a second session
    (on the handshake revision: the first negotiates the newest), sees none of its writes."""
    expected = expected_in_process()

    async def main() -> None:
        with anyio.fail_after(TIMEOUT):
            async with (
                mcp.Client(server(), read_timeout_seconds=TIMEOUT) as one,
                mcp.Client(
                    server("--no-control-tools"), read_timeout_seconds=TIMEOUT, mode="legacy"
                ) as two,
            ):
                assert (one.protocol_version, two.protocol_version) == ("2026-07-28", "2025-11-25")
                await check_tools(one)
                await check_calls(one, expected)
                payload(await one.call_tool(*VERIFY))
                payload(await one.call_tool(*WRITE))
                assert await state_hash(one) == expected["written"]
                patient = payload(await two.call_tool("get_patient", {"patient_id": "P001"}))
                assert "penicillin" not in patient["allergies"]
                names = [t.name for t in (await two.list_tools()).tools]
                assert "envscale_reset" not in names and "get_patient" in names

    anyio.run(main)
