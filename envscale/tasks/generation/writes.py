"""What the compiled tools write into records, read from their code: the values a field
takes when a tool sets it from a parameter that offers choices, and the lists a tool extends
when it moves a record into a status (a cancel that appends refunds to the payments)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolWrites:
    # (entity, field) -> the values of the @choices parameter a tool sets it from
    choices: dict[tuple[str, str], list] = field(default_factory=dict)
    # (entity, field, member) -> the list fields a tool extends when it sets field = member
    extends: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)


def tool_writes(domain: Any) -> ToolWrites:
    offered: dict[str, dict[str, list]] = {}
    for schema in domain.tool_schemas:
        function = schema["function"]
        props = function.get("parameters", {}).get("properties", {})
        offered[function["name"]] = {p: s["enum"] for p, s in props.items() if s.get("enum")}
    found = ToolWrites()
    tree = ast.parse(domain.files["tools.py"])
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in offered:
            _read(node, offered[node.name], found)
    return found


def _read(function: ast.FunctionDef, offered: dict[str, list], found: ToolWrites) -> None:
    entities: dict[str, str] = {}  # variable -> the entity `db.update("Entity", var)` saves
    sets: list[tuple[str, str, ast.expr]] = []  # var["field"] = value
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = node.args
            saves = node.func.attr == "update" and len(args) >= 2
            if saves and isinstance(args[0], ast.Constant) and isinstance(args[1], ast.Name):
                entities[args[1].id] = str(args[0].value)
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and isinstance(target.slice, ast.Constant)
                and isinstance(target.slice.value, str)
            ):
                sets.append((target.value.id, target.slice.value, node.value))
    for var, name, value in sets:
        entity = entities.get(var)
        if entity is None:
            continue
        if isinstance(value, ast.Name) and value.id in offered:
            found.choices.setdefault((entity, name), list(offered[value.id]))
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            extended = {n for v, n, e in sets if v == var and _extends(e, var, n)}
            if extended:
                found.extends.setdefault((entity, name, value.value), set()).update(extended)


def _extends(value: ast.expr, var: str, name: str) -> bool:
    """`var["name"] + ...`: the list kept and more appended."""
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)):
        return False
    left = value.left
    return (
        isinstance(left, ast.Subscript)
        and isinstance(left.value, ast.Name)
        and left.value.id == var
        and isinstance(left.slice, ast.Constant)
        and left.slice.value == name
    )
