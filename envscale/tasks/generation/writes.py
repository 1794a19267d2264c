"""What the compiled tools write into records, read from their code: the values a field
takes when a tool sets it from a parameter that offers choices, and the lists a tool extends
when it moves a record into a status (a cancel that appends refunds to the payments), with
what each appended entry takes from the entry it mirrors (the method as it is, the amount
negated, a constant kind `refund`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

# How an appended entry's field follows the entry it is made from: ("copy", key),
# ("negate", key) or ("const", value).
Rule = tuple[str, Any]


@dataclass
class ToolWrites:
    # (entity, field) -> the values of the @choices parameter a tool sets it from
    choices: dict[tuple[str, str], list] = field(default_factory=dict)
    # (entity, field, member) -> the list fields a tool extends when it sets field = member
    extends: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    # (entity, field, member) -> list field -> for each entry of the list, the entry the
    # tool appends: its fields' rules
    mirrors: dict[tuple[str, str, str], dict[str, dict[str, Rule]]] = field(default_factory=dict)
    # (entity, field, member) -> the members a tool that sets field = member requires the
    # record to be in first (a cancel of a pending order)
    before: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    # (entity, field, member) -> the other fields that tool sets on the record with it
    alongside: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    # invariant -> the fields of a row its compiled check reads (`row["notes"]`)
    row_fields: dict[str, set[str]] = field(default_factory=dict)


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
        if isinstance(node, ast.FunctionDef) and node.name.startswith("check_") and _own_row(node):
            found.row_fields[node.name.removeprefix("check_")] = {
                n.slice.value
                for n in ast.walk(node)
                if isinstance(n, ast.Subscript)
                and isinstance(n.value, ast.Name)
                and n.value.id == "row"
                and isinstance(n.slice, ast.Constant)
                and isinstance(n.slice.value, str)
            }
    return found


def apply_mirror(rules: dict[str, Rule], entry: dict) -> dict | None:
    """The entry a tool appends for `entry`, by the rules; None when it reads a field the
    entry lacks or cannot negate."""
    out: dict[str, Any] = {}
    for name, (how, what) in rules.items():
        if how == "const":
            out[name] = what
            continue
        value = entry.get(what)
        if how == "negate":
            if not isinstance(value, int | float) or isinstance(value, bool):
                return None
            value = -value
        elif what not in entry:
            return None
        out[name] = value
    return out


def _read(function: ast.FunctionDef, offered: dict[str, list], found: ToolWrites) -> None:
    entities: dict[str, str] = {}  # variable -> the entity `db.update("Entity", var)` saves
    sets: list[tuple[str, str, ast.expr]] = []  # var["field"] = value
    names: dict[str, ast.expr] = {}  # name = value
    required: dict[tuple[str, str], set[str]] = {}  # (var, field) -> members it must be in
    for node in ast.walk(function):
        if isinstance(node, ast.If) and any(isinstance(n, ast.Raise) for n in node.body):
            need = _required(node.test)
            if need is not None:
                required.setdefault(need[:2], set()).update(need[2])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = node.args
            saves = node.func.attr == "update" and len(args) >= 2
            if saves and isinstance(args[0], ast.Constant) and isinstance(args[1], ast.Name):
                entities[args[1].id] = str(args[0].value)
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                names[target.id] = node.value
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
            if (var, name) in required and value.value not in required[var, name]:
                found.before.setdefault((entity, name, value.value), set()).update(
                    required[var, name]
                )
                found.alongside.setdefault((entity, name, value.value), set()).update(
                    n for v, n, _ in sets if v == var and n != name
                )
            extended = {n for v, n, e in sets if v == var and _extends(e, var, n)}
            if extended:
                found.extends.setdefault((entity, name, value.value), set()).update(extended)
            for v, n, e in sets:
                rules = _mirror(e, var, n, names) if v == var else None
                if rules:
                    found.mirrors.setdefault((entity, name, value.value), {})[n] = rules


def _own_row(check: ast.FunctionDef) -> bool:
    """Whether a compiled check reads nothing but the row's own fields: the database only to
    list the rows (`db.all`, `db.affected`), never to look up or count records."""
    for node in ast.walk(check):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        listing = (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "db"
            and func.attr in ("all", "affected")
        )
        if not listing and any(
            isinstance(a, ast.Name) and a.id == "db" for a in [*node.args, func]
        ):
            return False
        if (
            not listing
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "db"
        ):
            return False
    return True


def _required(test: ast.expr) -> tuple[str, str, set[str]] | None:
    """`var["field"] != "member"` (or `not in [...]`) guarding a raise: the record must be in
    those members before the tool goes on."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, op, right = test.left, test.ops[0], test.comparators[0]
    if not (
        isinstance(left, ast.Subscript)
        and isinstance(left.value, ast.Name)
        and isinstance(left.slice, ast.Constant)
        and isinstance(left.slice.value, str)
    ):
        return None
    if isinstance(op, ast.NotEq) and isinstance(right, ast.Constant):
        members = [right.value]
    elif isinstance(op, ast.NotIn) and isinstance(right, ast.List | ast.Tuple):
        members = [e.value for e in right.elts if isinstance(e, ast.Constant)]
    else:
        return None
    if not members or not all(isinstance(m, str) for m in members):
        return None
    return left.value.id, left.slice.value, set(members)


def _extends(value: ast.expr, var: str, name: str) -> bool:
    """`var["name"] + ...`: the list kept and more appended."""
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)):
        return False
    return _is_field(value.left, var, name)


def _is_field(node: ast.expr, var: str, name: str) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == var
        and isinstance(node.slice, ast.Constant)
        and node.slice.value == name
    )


def _mirror(
    value: ast.expr, var: str, name: str, names: dict[str, ast.expr]
) -> dict[str, Rule] | None:
    """`var["name"] + [{...} for t in var["name"]]` (the comprehension perhaps named first):
    the rules of the entry appended for each entry t of the list."""
    if not _extends(value, var, name):
        return None
    added = value.right  # type: ignore[attr-defined]
    if isinstance(added, ast.Name):
        added = names.get(added.id)
    if not isinstance(added, ast.ListComp) or len(added.generators) != 1:
        return None
    loop = added.generators[0]
    over = any(_is_field(n, var, name) for n in ast.walk(loop.iter))  # type: ignore[arg-type]
    if loop.ifs or not over or not isinstance(loop.target, ast.Name):
        return None
    each = loop.target.id
    if not isinstance(added.elt, ast.Dict):
        return None
    rules: dict[str, Rule] = {}
    for key, item in zip(added.elt.keys, added.elt.values, strict=True):
        if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
            return None
        negated = isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub)
        inner = item.operand if negated else item  # type: ignore[attr-defined]
        source = _field_of(inner, each)
        if isinstance(inner, ast.Constant) and not negated:
            rules[key.value] = ("const", inner.value)
        elif source is not None:
            rules[key.value] = ("negate" if negated else "copy", source)
        else:
            return None
    return rules


def _field_of(node: ast.expr, var: str) -> str | None:
    """The field `var["field"]` reads, else None."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        name = node.slice.value
        if isinstance(name, str) and _is_field(node, var, name):
            return name
    return None
