"""The MCP server over a compiled domain, on the official MCP Python SDK's low-level server.

The tools are registered from the compiled JSON schemas, so the low-level `Server` (which
takes `tools/list` and `tools/call` handlers) fits where the decorator API, which reads
Python signatures, would not. Each call runs on the calling session's own environment.

Sessions: over stdio the process has one client, whichever protocol revision it speaks, and
one environment. Over streamable HTTP a session is an `Mcp-Session-Id`, which only the
revisions with the `initialize` handshake (up to 2025-11-25) have; the stateless 2026-07-28
revision has none. So the HTTP server's `server/discover` answer names only the handshake
revisions, and a client that negotiates (the SDK's default) falls back to the handshake; a
tool call without a session id (a client pinned to 2026-07-28) is refused.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import anyio
import mcp.types as types
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import DEFAULT_SESSION_IDLE_TIMEOUT
from mcp.shared.exceptions import MCPError
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from envscale import __version__
from envscale.dsl.diagnostics import did_you_mean
from envscale.mcpserver.catalog import DIFF, RESET, STATE_HASH, ToolEntry
from envscale.mcpserver.sessions import Sessions
from envscale.runtime.environment import Environment

# The key of the one session a stdio server has.
STDIO_SESSION = "stdio"
SESSION_HEADER = "mcp-session-id"
HTTP_PATH = "/mcp"
IDLE_TIMEOUT = DEFAULT_SESSION_IDLE_TIMEOUT


def build_server(
    name: str,
    entries: list[ToolEntry],
    sessions: Sessions,
    side: str = "agent",
    instructions: str | None = None,
) -> Server[Any]:
    """A low-level MCP server offering `entries`; calls run as `side` on each session's
    environment from `sessions`."""
    tools = [_tool(entry) for entry in entries]
    by_name = {entry.name: entry for entry in entries}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        entry = by_name.get(params.name)
        if entry is None:
            hint = did_you_mean(params.name, by_name)
            raise MCPError(
                types.INVALID_PARAMS,
                f"unknown tool {params.name!r}" + (f"; {hint}" if hint else ""),
            )
        env = sessions.environment(_session_key(ctx))
        if entry.control:
            return _control(entry.name, env, params.arguments)
        result = env.call(entry.name, params.arguments or {}, side=side)
        if not result.ok:
            return _text_result(str(result.error), error=True)
        structured = result.content if isinstance(result.content, dict) else None
        return _text_result(result.text, structured=structured)

    return Server(
        name,
        version=__version__,
        instructions=instructions or None,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _tool(entry: ToolEntry) -> types.Tool:
    hints = types.ToolAnnotations(read_only_hint=entry.read_only)
    if entry.name == RESET:
        hints = types.ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True
        )
    return types.Tool(
        name=entry.name,
        description=entry.description,
        input_schema=entry.input_schema,
        annotations=hints,
    )


def _session_key(ctx: ServerRequestContext[Any]) -> str:
    request = ctx.request
    if request is None:  # stdio (or in-process): the process serves one client
        return STDIO_SESSION
    key = request.headers.get(SESSION_HEADER)
    if not key:
        raise MCPError(
            types.INVALID_REQUEST,
            "this server keeps a database per session and this request has none: connect "
            "with the initialize handshake (protocol 2025-11-25 or earlier)",
        )
    return key


def _control(name: str, env: Environment, arguments: dict[str, Any] | None) -> types.CallToolResult:
    if arguments:
        return _text_result(f"{name} takes no arguments", error=True)
    if name == RESET:
        env.reset()
        value: dict[str, Any] = {"state_hash": env.state_hash()}
    elif name == STATE_HASH:
        value = {"state_hash": env.state_hash(), "changed_records": len(env.changes())}
    elif name == DIFF:
        value = {"diff": env.diff()}
    else:  # pragma: no cover - the catalog lists no other
        raise ValueError(name)
    return _text_result(json.dumps(value, ensure_ascii=False), structured=value)


def _text_result(
    text: str, error: bool = False, structured: dict[str, Any] | None = None
) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=structured, is_error=error
    )


def serve_stdio(server: Server[Any]) -> None:
    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)


def _offer_handshake_only(server: Server[Any]) -> None:
    """Answer `server/discover` with the handshake revisions only (see the module's doc)."""

    async def discover(
        ctx: ServerRequestContext[Any], params: types.RequestParams | None
    ) -> types.DiscoverResult:
        return types.DiscoverResult(
            supported_versions=list(HANDSHAKE_PROTOCOL_VERSIONS),
            capabilities=server.get_capabilities(),
            instructions=server.instructions,
        )

    server.add_request_handler("server/discover", types.RequestParams, discover)


def serve_http(
    server: Server[Any], sessions: Sessions, sock: socket.socket, max_sessions: int
) -> None:
    """Serve streamable HTTP on a socket already bound (to a localhost address)."""
    _offer_handshake_only(server)
    host = sock.getsockname()[0]
    app = server.streamable_http_app(
        streamable_http_path=HTTP_PATH,
        host=host,
        session_idle_timeout=IDLE_TIMEOUT,
        max_sessions=max_sessions,
    )
    config = uvicorn.Config(forgetting_closed_sessions(app, sessions), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def forgetting_closed_sessions(app: ASGIApp, sessions: Sessions) -> ASGIApp:
    """`app`, closing a session's environment once the transport has ended the session at
    its client's request (a DELETE); the SDK tells the handlers nothing of it."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "DELETE":
            await app(scope, receive, send)
            return
        key = Headers(scope=scope).get(SESSION_HEADER)
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await app(scope, receive, watch)
        if key and status and 200 <= status[0] < 300:
            sessions.forget(key)

    return wrapped
