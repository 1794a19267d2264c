"""What the tools' code does with the data, read off the checked AST for the IR: the field
tuples each entity is queried by, and the formats of the keys the tools make."""

from __future__ import annotations

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.dsl import ast


def queried_fields(c: Compilation) -> dict[str, list[tuple[str, ...]]]:
    """The field tuples that tools and invariants filter each entity on with `.where(...)`, in
    first-use order."""
    found: dict[str, list[tuple[str, ...]]] = {}
    nodes = [node for tool in c.symbols.tools.values() for node in tool.body_nodes]
    nodes.extend(ast.walk(*(inv.condition for inv in c.symbols.invariants.values())))
    for e in nodes:
        if type(e) is not ast.Call or not e.args:
            continue
        callee = c.type_of(e.func)
        if isinstance(callee, t.Method) and callee.name == "where":
            fields = tuple(a.name for a in e.args if a.name)
            seen = found.setdefault(callee.entity, [])
            if fields and fields not in seen:
                seen.append(fields)
    return found


def key_formats(c: Compilation) -> dict[str, ir.KeyFormat]:
    """Per entity, the format of the keys the tools make for it with literal arguments: the
    first `next_key(Entity, "PREFIX", width)`, else the first `free_key(Entity, "FIRST")`."""
    numbered: dict[str, ir.KeyFormat] = {}
    counted: dict[str, ir.KeyFormat] = {}
    nodes: list[ast.Node] = []
    for tool in c.symbols.tools.values():
        nodes.extend(ast.walk(*(p.default for p in tool.decl.params if p.default is not None)))
        nodes.extend(tool.body_nodes)
    for inv in c.symbols.invariants.values():
        nodes.extend(ast.walk(inv.condition, inv.message))
    for e in nodes:
        if type(e) is not ast.Call or type(e.func) is not ast.Name or not e.args:
            continue
        entity = c.type_of(e.args[0].value)
        if not isinstance(entity, t.EntityClass) or any(a.name is not None for a in e.args):
            continue
        literals = [a.value.value if isinstance(a.value, ast.Literal) else None for a in e.args[1:]]
        if e.func.id == "next_key" and len(literals) in (1, 2) and isinstance(literals[0], str):
            width = literals[1] if len(literals) == 2 else 0
            if type(width) is int and width >= 0:
                numbered.setdefault(entity.entity, ir.KeyFormat(prefix=literals[0], width=width))
        elif (
            e.func.id == "free_key"
            and len(literals) == 1
            and isinstance(literals[0], str)
            and literals[0]
        ):
            counted.setdefault(entity.entity, ir.KeyFormat(first=literals[0]))
    return {
        name: numbered.get(name) or counted[name]
        for name in c.symbols.entities
        if name in numbered or name in counted
    }
