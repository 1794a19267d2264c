"""The server in process, through the SDK's in-process client: one side's tools of a spec with
@side, the control tools' names kept clear of the domain's; sessions made, and closed when
idle or ended; and the command's answers to bad input."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import pytest

from envscale.cli import main
from envscale.mcpserver.catalog import NameClash, tool_entries
from envscale.mcpserver.sessions import Sessions
from envscale.runtime.load import load
from tests.mcpserver.scenario import CONTROL, DATA, ROOT, SPEC, payload, state_hash

mcp = pytest.importorskip(
    "mcp", reason="the MCP SDK is not installed (pip install 'envscale[mcp]')"
)
server_module = pytest.importorskip("envscale.mcpserver.server")

TELECOM = ROOT / "specs" / "telecom.domain"
TELECOM_DATA = ROOT / "specs" / "telecom.data.json"


def test_the_user_side_of_a_spec_with_sides() -> None:
    domain = load(TELECOM)
    entries = tool_entries(domain, "user")
    sessions = Sessions(lambda: domain.environment(data=TELECOM_DATA))
    server = server_module.build_server("telecom", entries, sessions, side="user")
    initial = domain.environment(data=TELECOM_DATA).state_hash()

    async def main_() -> None:
        async with mcp.Client(server) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            assert names == domain.side_tools["user"] + CONTROL
            status = await client.call_tool("check_status_bar", {})
            assert not status.is_error and "Status Bar" in status.content[0].text
            assert status.structured_content is None  # a text result, not an object
            toggled = await client.call_tool("toggle_airplane_mode", {})
            assert "Airplane Mode is now ON" in toggled.content[0].text
            assert await state_hash(client) != initial
            with pytest.raises(mcp.MCPError, match="unknown tool 'get_customer_by_phone'"):
                await client.call_tool("get_customer_by_phone", {"phone_number": "555"})
            refused = await client.call_tool("envscale_reset", {"now": True})
            assert refused.is_error and "takes no arguments" in refused.content[0].text
            assert payload(await client.call_tool("envscale_reset", {}))["state_hash"] == initial

    anyio.run(main_)
    sessions.close()


def test_a_domain_tool_named_like_a_control_tool(tmp_path: Path) -> None:
    spec = tmp_path / "clash.domain"
    spec.write_text(
        'domain clash "A clash." clock "2024-05-15T15:00:00"\n'
        "entity Note { note_id: str @key }\n"
        'tool envscale_reset() -> int {\n  "Not the server\'s."\n  return 1\n}\n',
        encoding="utf-8",
    )
    domain = load(spec)
    with pytest.raises(NameClash, match="--no-control-tools"):
        tool_entries(domain)
    assert [e.name for e in tool_entries(domain, control=False)] == ["envscale_reset"]


class FakeEnvironment:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_sessions_are_made_on_first_use_and_closed_when_idle_or_ended() -> None:
    now = [0.0]
    made: list[FakeEnvironment] = []

    def make() -> FakeEnvironment:
        made.append(FakeEnvironment())
        return made[-1]

    sessions = Sessions(make, idle_timeout=10, clock=lambda: now[0])  # type: ignore[arg-type]
    a = sessions.environment("a")
    assert sessions.environment("a") is a and len(made) == 1
    b = sessions.environment("b")
    now[0] = 5
    sessions.environment("a")
    sessions.forget("b")
    assert b.closed and not a.closed and "b" not in sessions
    now[0] = 16  # a, last used at 5, has been idle past 10
    c = sessions.environment("c")
    assert a.closed and "a" not in sessions and not c.closed and len(sessions) == 1
    sessions.close()
    assert c.closed


def test_a_session_the_client_deletes_is_forgotten() -> None:
    """The HTTP app's wrapper closes a session's environment once the transport has answered
    the client's DELETE with success, and only then."""
    sessions = Sessions(FakeEnvironment)  # type: ignore[arg-type]
    for key in ("kept", "gone", "refused"):
        sessions.environment(key)

    async def transport(scope: dict, receive: object, send: object) -> None:
        ok = dict(scope["headers"])[b"mcp-session-id"] != b"refused"
        await send({"type": "http.response.start", "status": 200 if ok else 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = server_module.forgetting_closed_sessions(transport, sessions)

    async def request(method: str, key: str) -> None:
        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:
            pass

        scope = {"type": "http", "method": method, "headers": [(b"mcp-session-id", key.encode())]}
        await app(scope, receive, send)

    async def main_() -> None:
        await request("POST", "kept")
        await request("DELETE", "gone")
        await request("DELETE", "refused")

    anyio.run(main_)
    assert "kept" in sessions and "gone" not in sessions and "refused" in sessions


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", str(tmp_path / "missing.domain")]) == 1
    assert "cannot read spec file" in capsys.readouterr().err

    bad = tmp_path / "bad.domain"
    bad.write_text('domain bad "Bad."\nentity A {\n', encoding="utf-8")
    assert main(["mcp", str(bad)]) == 1
    assert f"{bad}:" in capsys.readouterr().err

    assert main(["mcp", str(SPEC), "--data", str(tmp_path / "none.json")]) == 2
    assert "data file not found" in capsys.readouterr().err

    assert main(["mcp", str(SPEC), "--side", "user"]) == 2
    assert capsys.readouterr().err == f"error: {SPEC} has no tools on the user side\n"

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(
            ["mcp", str(SPEC), "--data", str(DATA), "--transport", "http", "--port", str(port)]
        )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and err.count("\n") == 1
