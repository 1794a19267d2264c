"""Pass: literals and sizes that the generated code and the database can hold.

The parsers refuse integer literals beyond 2**63 (E007) and strings that no generated file
can hold (E005); this pass refuses what needs the tree to judge: 2**63 written without a
minus, numbers that overflow to infinity, string values holding a NUL, entities with more
columns than SQLite allows, and loops nested deeper than Python compiles. The rules are
listed in docs/design.md, "Names, literals and sizes".
"""

from __future__ import annotations

import math

from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.dsl.strings import MAX_INT_LITERAL

# SQLite's default SQLITE_MAX_COLUMN: a table has at most this many columns.
MAX_FIELDS = 2000
# CPython compiles at most 20 nested blocks (loops, try, with) in one function; generated
# code adds none around a tool's loops, and a margin is kept.
MAX_LOOP_NESTING = 16


def check_limits(c: Compilation) -> None:
    negated: set[int] = set()
    for node in ast.walk(*c.module.declarations):  # each node before its children
        if isinstance(node, ast.Literal):
            _literal(c, node, id(node) in negated)
        elif isinstance(node, ast.Enum):
            for member, span in zip(node.members, node.member_spans, strict=True):
                if "\x00" in member:
                    _nul(c, span)
        elif isinstance(node, ast.Unary) and node.op == "-":
            negated.add(id(node.operand))
    for decl in c.module.declarations:
        if isinstance(decl, ast.Entity) and len(decl.fields) > MAX_FIELDS:
            c.error(
                "E307",
                f"entity '{decl.name}' has {len(decl.fields)} fields",
                decl.span,
                f"an entity has at most {MAX_FIELDS} fields (SQLite's column limit); "
                "group some of them into a struct",
            )
        if isinstance(decl, ast.Tool):
            _loops(c, decl.body, 0)


def _literal(c: Compilation, node: ast.Literal, negated: bool) -> None:
    value = node.value
    if isinstance(value, bool):
        return
    if isinstance(value, str):
        if "\x00" in value:
            _nul(c, node.span)
        return
    if isinstance(value, int) and value >= MAX_INT_LITERAL and not negated:
        c.error(
            "E007",
            f"integer literal {value} is out of range",
            node.span,
            "an integer literal lies within -2**63 .. 2**63 - 1, what SQLite stores",
        )
    elif isinstance(value, float) and not math.isfinite(value):
        c.error(
            "E007",
            "number literal is too large to be a float",
            node.span,
            "a float literal lies within about ±1.8e308",
        )


def _nul(c: Compilation, span: ast.Span) -> None:
    # SQLite ends SQL text at a NUL, so a default, check or enum member holding one cannot be
    # written into schema.sql; one rule for every string value keeps it simple. Prose (docs,
    # descriptions, the policy) may hold one: it is escaped where it goes.
    c.error(
        "E005",
        "a string value cannot contain a NUL character",
        span,
        "remove the \\x00; documentation may hold one, string values may not",
    )


def _loops(c: Compilation, body: tuple[ast.Stmt, ...], depth: int) -> None:
    for stmt in body:
        if isinstance(stmt, ast.For):
            if depth + 1 > MAX_LOOP_NESTING:
                c.error(
                    "E006",
                    f"loops nest more than {MAX_LOOP_NESTING} deep here",
                    stmt.span._replace(end_line=stmt.span.line, end_column=stmt.span.column + 3),
                    "move the inner loops into a comprehension or split the tool",
                )
                return
            _loops(c, stmt.body, depth + 1)
        elif isinstance(stmt, ast.If):
            _loops(c, stmt.then, depth)
            _loops(c, stmt.otherwise or (), depth)
