"""`envscale mcp SPEC`: a compiled domain served over the Model Context Protocol."""

from __future__ import annotations

import argparse
import socket
import sys

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE, error, print_diagnostics
from envscale.cli.options import add_data_arguments
from envscale.dsl.diagnostics import SpecError
from envscale.mcpserver.catalog import NameClash, tool_entries
from envscale.mcpserver.sessions import Sessions
from envscale.runtime.errors import DataError
from envscale.runtime.load import load
from envscale.tasks.states import initial_environment, initial_state_for

LOCALHOST = "127.0.0.1"


def run(args: argparse.Namespace) -> int:
    try:
        domain = load(args.spec)
    except SpecError as problem:
        print_diagnostics(problem.diagnostics, problem.sources)
        return EXIT_SPEC_ERRORS
    if args.side not in domain.side_tools or not domain.side_tools[args.side]:
        error(f"{args.spec} has no tools on the {args.side} side")
        return EXIT_USAGE
    try:
        entries = tool_entries(domain, args.side, control=not args.no_control_tools)
        state = initial_state_for(args.spec, args.data, args.data_seed, args.size)
        # Made once here so that bad data stops the command before it serves anything.
        initial_environment(domain, state, args.spec, not args.no_policies).close()
    except (NameClash, DataError) as problem:
        error(str(problem))
        return EXIT_USAGE
    sock = None
    if args.transport == "http":
        try:
            sock = _bind(args.port)
        except OSError as problem:
            error(f"cannot listen on {LOCALHOST}:{args.port}: {problem.strerror or problem}")
            return EXIT_USAGE
    try:
        from envscale.mcpserver import server as mcp_server
    except ImportError:
        error("envscale mcp needs the MCP SDK: pip install 'envscale[mcp]'")
        return EXIT_USAGE
    http = sock is not None
    sessions = Sessions(
        lambda: initial_environment(domain, state, args.spec, not args.no_policies),
        idle_timeout=mcp_server.IDLE_TIMEOUT if http else None,
    )
    server = mcp_server.build_server(
        f"envscale-{domain.name}", entries, sessions, args.side, domain.policy
    )
    own = sum(not e.control for e in entries)
    tools = f"{own} tools of the {args.side} side" + (
        "" if own == len(entries) else f", {len(entries) - own} control tools"
    )
    try:
        if sock is None:
            print(f"serving {domain.name} ({tools}) over stdio", file=sys.stderr, flush=True)
            mcp_server.serve_stdio(server)
        else:
            host, port = sock.getsockname()[:2]
            url = f"http://{host}:{port}{mcp_server.HTTP_PATH}"
            print(f"serving {domain.name} ({tools}) on {url}", file=sys.stderr, flush=True)
            mcp_server.serve_http(server, sessions, sock, args.max_sessions)
    except KeyboardInterrupt:
        pass
    finally:
        sessions.close()
    return EXIT_OK


def _port(text: str) -> int:
    port = _count(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0 to 65535)")
    return port


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOCALHOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "mcp",
        help="serve a domain's tools over the Model Context Protocol",
        description="Serve a compiled domain as an MCP server: its tools, listed from the "
        "compiled schemas, on a database of its own for each client session, plus the "
        "control tools envscale_reset, envscale_state_hash and envscale_diff. A failed call "
        "is a tool error (isError) and changes nothing.",
    )
    p.add_argument("spec", metavar="SPEC")
    add_data_arguments(p)
    p.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default="stdio",
        help="stdio (default): one client on standard input and output; http: streamable "
        f"HTTP on {LOCALHOST}, at /mcp",
    )
    p.add_argument(
        "--port", type=_port, default=8000, help="the HTTP port; 0 picks a free one (default 8000)"
    )
    p.add_argument(
        "--side",
        choices=["agent", "user"],
        default="agent",
        help="whose tools to serve, in a spec with @side (default: the agent's)",
    )
    p.add_argument(
        "--no-policies", action="store_true", help="do not enforce the spec's episode policies"
    )
    p.add_argument(
        "--no-control-tools",
        action="store_true",
        help="offer only the domain's tools (no reset, state hash or diff)",
    )
    p.add_argument(
        "--max-sessions",
        type=_positive,
        default=100,
        help="HTTP sessions open at once; a client beyond them is refused (default 100)",
    )
    p.set_defaults(func=run)
