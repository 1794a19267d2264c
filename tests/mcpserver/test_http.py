"""`envscale mcp --transport http` on a free localhost port, driven by the MCP SDK's own
client over streamable HTTP: one environment per session, each from the initial state."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator

import anyio
import pytest

from tests.mcpserver.scenario import (
    ROOT,
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


def first_line(stream, timeout: float) -> str:
    """The stream's first line, or '' if none comes in time."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def readme_command() -> tuple[list[str], str]:
    """The README's `envscale mcp` HTTP command and the line it prints."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\$ envscale (mcp .*--transport http .*)\n(serving .*)\n", text)
    assert found, "the README's MCP server command is missing"
    return shlex.split(found.group(1)), found.group(2)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The README's command on a free port; its data is the seed data beside the spec."""
    command, shown = readme_command()
    port = command[command.index("--port") + 1]
    command[command.index("--port") + 1] = "0"
    process = subprocess.Popen(
        [sys.executable, "-m", "envscale", *command],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = first_line(process.stderr, TIMEOUT)
        assert " on http://127.0.0.1:" in line, line or process.stderr.read()
        served = line.rsplit(" ", 1)[-1].strip()
        assert re.sub(r":\d+/", f":{port}/", line.strip()) == shown
        yield served
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


def test_tools_and_calls_over_http(url: str) -> None:
    expected = expected_in_process()

    async def main() -> None:
        with anyio.fail_after(TIMEOUT):
            async with mcp.Client(url, read_timeout_seconds=TIMEOUT) as client:
                assert client.protocol_version == "2025-11-25"  # the handshake, for a session
                await check_tools(client)
                await check_calls(client, expected)

    anyio.run(main)


def test_sessions_are_isolated(url: str) -> None:
    """A write in one session leaves another's database alone; a session that starts later
    starts from the initial state too, and so does one that reconnects."""
    expected = expected_in_process()

    async def main() -> None:
        with anyio.fail_after(TIMEOUT):
            async with (
                mcp.Client(url, read_timeout_seconds=TIMEOUT) as one,
                mcp.Client(url, read_timeout_seconds=TIMEOUT) as two,
            ):
                payload(await one.call_tool(*VERIFY))
                payload(await one.call_tool(*WRITE))
                assert await state_hash(one) == expected["written"]
                assert await state_hash(two) == expected["initial"]
                patient = payload(await two.call_tool("get_patient", {"patient_id": "P001"}))
                assert "penicillin" not in patient["allergies"]
                async with mcp.Client(url, read_timeout_seconds=TIMEOUT) as three:
                    assert await state_hash(three) == expected["initial"]
                assert await state_hash(one) == expected["written"]

    anyio.run(main)


def test_a_stateless_client_is_told_why(url: str) -> None:
    """A client pinned to the 2026-07-28 revision has no session: it may list the tools, and
    a call is refused with the reason."""

    async def main() -> None:
        with anyio.fail_after(TIMEOUT):
            async with mcp.Client(url, read_timeout_seconds=TIMEOUT, mode="2026-07-28") as client:
                assert "get_patient" in [t.name for t in (await client.list_tools()).tools]
                with pytest.raises(mcp.MCPError, match="a database per session"):
                    await client.call_tool("get_patient", {"patient_id": "P001"})

    anyio.run(main)
