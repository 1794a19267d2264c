"""The tools an MCP client is offered: the domain's tools of one side, as the compiled
schemas (tools.json) describe them, and the control tools that reset a session's database
and read its state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envscale.runtime.domain import Domain

RESET = "envscale_reset"
STATE_HASH = "envscale_state_hash"
DIFF = "envscale_diff"
_NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True)
class ToolEntry:
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    control: bool = False  # one of the server's own tools, not the domain's


CONTROL_TOOLS = (
    ToolEntry(
        RESET,
        "Put this session's database back in its initial state. Returns the state hash.",
        _NO_ARGUMENTS,
        read_only=False,
        control=True,
    ),
    ToolEntry(
        STATE_HASH,
        "The hash of this session's database state (equal exactly when the states are "
        "equal) and how many records changed since the initial state.",
        _NO_ARGUMENTS,
        read_only=True,
        control=True,
    ),
    ToolEntry(
        DIFF,
        "The records this session changed since the initial state, each before and after.",
        _NO_ARGUMENTS,
        read_only=True,
        control=True,
    ),
)


class NameClash(ValueError):
    """A domain tool is named like one of the server's control tools."""


def tool_entries(domain: Domain, side: str = "agent", control: bool = True) -> list[ToolEntry]:
    """The tools of `side`, in the order of tools.json, then the control tools if wanted."""
    entries = [
        ToolEntry(
            schema["function"]["name"],
            schema["function"].get("description", ""),
            schema["function"].get("parameters") or dict(_NO_ARGUMENTS),
            read_only=domain.tool_kinds.get(schema["function"]["name"]) == "read",
        )
        for schema in domain.side_schemas(side)
    ]
    if not control:
        return entries
    clash = sorted({e.name for e in entries} & {c.name for c in CONTROL_TOOLS})
    if clash:
        raise NameClash(
            f"{domain.name} has a tool named {clash[0]}, like one of the server's control tools; "
            "serve it with --no-control-tools"
        )
    return [*entries, *CONTROL_TOOLS]
