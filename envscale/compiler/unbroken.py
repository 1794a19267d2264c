"""Which runtime invariants a tool writes the entity of but cannot break.

The runtime checks, after a call, each runtime invariant on an entity the tool writes
(`Domain.invariants_after`). An invariant that reads only its own row (`own_row`) can break
only where a call changes a field it reads, or makes a row: a tool that writes other fields
of the entity alone leaves it holding on every row, since it held before the call. Such
pairs are listed in tools.py (`CANNOT_BREAK`) and not checked: `modify_pending_order_address`
writes an order's address, which none of retail's order invariants reads.

What a tool writes is read off its statements: `set` and `delete` of a part of a record
write that record's first field; an insert or a delete of a record, or a call of another
tool, may change anything. What an invariant reads is every name and member in its
condition and message that is a field of its entity (more than it reads, never less);
a derived field is recomputed by any write of its record.
"""

from __future__ import annotations

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.dsl import ast

_EVERYTHING = None  # a tool whose writes cannot be told field by field


def _written(tool: ir.Tool, types: dict[int, t.Type]) -> dict[str, set[str]] | None:
    """Per entity, the fields the tool's statements may change; None: any field."""
    written: dict[str, set[str]] = {}
    for node in ast.walk(*tool.decl.body):
        if isinstance(node, ast.Insert):
            return _EVERYTHING
        if isinstance(node, ast.Call) and isinstance(types.get(id(node.func)), t.ToolFn):
            return _EVERYTHING
        if not isinstance(node, ast.Set | ast.Delete):
            continue
        root = t.strip_optional(types.get(id(node.target), t.ANY))
        if not isinstance(root, t.RowT):
            continue  # a local: no record changes until it is written back through one
        if not node.target.steps:
            if isinstance(node, ast.Delete):
                return _EVERYTHING
            continue  # the name bound to another record
        first = node.target.steps[0]
        if not isinstance(first, ast.AttrStep):
            return _EVERYTHING
        written.setdefault(root.entity, set()).add(first.name)
    return written


def _read(inv: ir.Invariant, fields: set[str]) -> set[str]:
    """The fields of its entity that an own-row invariant may read."""
    names: set[str] = set()
    for node in ast.walk(inv.decl.condition, inv.decl.message):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Member):
            names.add(node.attr)
    if any(n.id == "self" for n in _whole_uses(inv)):
        return set(fields)
    return names & fields


def _whole_uses(inv: ir.Invariant) -> list[ast.Name]:
    """Uses of a name other than as the object of a member (`self` passed whole)."""
    inside = {
        id(node.obj)
        for node in ast.walk(inv.decl.condition, inv.decl.message)
        if isinstance(node, ast.Member)
    }
    return [
        node
        for node in ast.walk(inv.decl.condition, inv.decl.message)
        if isinstance(node, ast.Name) and id(node) not in inside
    ]


def cannot_break(d: ir.DomainIR) -> dict[str, list[str]]:
    """Per tool, the runtime invariants on entities it writes that it cannot break."""
    found: dict[str, list[str]] = {}
    for tool in d.tools:
        written = _written(tool, d.types)
        if written is None:
            continue
        for inv in d.runtime_invariants:
            if not inv.own_row or inv.entity is None or inv.entity not in tool.writes:
                continue
            table = d.table(inv.entity)
            fields = {f.name for f in d.symbols.entities[inv.entity].fields.values()}
            changed = set(written.get(inv.entity, ()))
            if not changed:
                continue  # written some way not told apart here: checked as before
            if table.derived:
                changed |= set(table.derived)
            if not changed & _read(inv, fields):
                found.setdefault(tool.name, []).append(inv.name)
    return found
