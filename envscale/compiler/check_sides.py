"""Pass: a tool's attributes, its side and its role.

`@side(agent)` (the default), `@side(user)` or `@side(internal)` says who may call a tool: the
agent, the user on their own device, or neither (set-up actions a task's initial state runs).
`@sync` makes a tool a sync block, run after every successful call; `@assertion` a named
check over the state that a task can name. Both are internal: no side may call them.
"""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.compiler.symbols import ToolInfo
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean

SIDES = ("agent", "user", "internal")
ROLES = {"sync": "a sync block", "assertion": "an assertion"}


def check_sides(c: Compilation) -> None:
    for tool in c.symbols.tools.values():
        side: str | None = None
        for attr in tool.decl.attributes:
            if attr.name == "side":
                if side is not None:
                    c.error("E302", "'@side' is given twice", attr.span)
                    continue
                side = _side(c, attr)
            elif attr.name in ROLES:
                if attr.args:
                    c.error("E302", f"'@{attr.name}' takes no arguments", attr.span)
                if tool.role != "tool":
                    c.error(
                        "E302",
                        f"'{tool.name}' is already {ROLES[tool.role]}",
                        attr.span,
                        "a tool is at most one of @sync and @assertion",
                    )
                    continue
                tool.role = attr.name
            else:
                c.error(
                    "E302",
                    f"unknown tool attribute '@{attr.name}'",
                    attr.span,
                    did_you_mean(attr.name, ["side", *ROLES])
                    or "tools take @side(agent|user|internal), @sync and @assertion",
                )
        if tool.role != "tool":
            if side is not None and side != "internal":
                c.error(
                    "E302",
                    f"{ROLES[tool.role]} is run by the runtime, not called by the {side}",
                    tool.decl.name_span,
                    "leave out the @side",
                )
            side = "internal"
            _check_role(c, tool)
        tool.side = side or "agent"


def _side(c: Compilation, attr: ast.Attribute) -> str | None:
    args = attr.args
    if (
        len(args) == 1
        and args[0].name is None
        and isinstance(args[0].value, ast.Name)
        and args[0].value.id in SIDES
    ):
        return args[0].value.id
    c.error("E302", "'@side' takes one of agent, user, internal", attr.span, "e.g. @side(user)")
    return None


def _check_role(c: Compilation, tool: ToolInfo) -> None:
    decl = tool.decl
    if tool.role == "sync":
        if decl.params:
            c.error(
                "E302",
                f"sync block '{tool.name}' takes parameters",
                decl.params[0].span,
                "it runs after every call, with nothing to pass it",
            )
        if tool.returns is not None:
            c.error("E302", f"sync block '{tool.name}' returns a value", decl.name_span)
        return
    if tool.returns is None or t.strip_optional(tool.returns) != t.BOOL:
        c.error(
            "E201",
            f"assertion '{tool.name}' must return bool",
            decl.name_span,
            "declare -> bool and return whether the check holds",
        )
    if tool.writes:
        c.error(
            "E402",
            f"assertion '{tool.name}' writes {', '.join(sorted(tool.writes))}",
            decl.name_span,
            "an assertion only reads the state",
        )
