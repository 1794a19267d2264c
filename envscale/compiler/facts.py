"""Structured facts read off a check's condition, for tools that make values meeting it.

A check is a conjunction; each conjunct of a known shape becomes one small fact about a
field of the row (the others are left to the SQL that states the whole check):

    {"field": "code", "of": "len", "op": "==", "value": 6}      len(code) == 6
    {"field": "price", "op": ">=", "value": 0}                   price >= 0 (or 0 <= price)
    {"field": "end", "op": ">=", "other": "start"}               end >= start
    {"field": "destination", "op": "!=", "other": "origin"}      destination != origin
    {"field": "size", "op": "in", "values": ["S", "M", "L"]}     size in ["S", "M", "L"]

`op` is one of == != < <= > >= in "not in"; `of` appears only for lengths.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from envscale.dsl import ast

FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NO_VALUE = object()


def check_facts(condition: ast.Expr, fields: Collection[str]) -> list[dict[str, Any]]:
    """The facts of a row condition over `fields`, in the order the conjuncts are written."""
    facts = []
    for part in _conjuncts(condition):
        fact = _fact(part, fields)
        if fact is not None and fact not in facts:
            facts.append(fact)
    return facts


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _fact(e: ast.Expr, fields: Collection[str]) -> dict[str, Any] | None:
    if not isinstance(e, ast.Binary):
        return None
    if e.op in ("in", "not in"):
        subject = _subject(e.left, fields)
        values = _constant(e.right)
        if subject is None or not isinstance(values, list) or not values:
            return None
        return _made(subject, e.op, "values", values)
    if e.op not in FLIPPED:
        return None
    left, right = _subject(e.left, fields), _subject(e.right, fields)
    if left is not None and right is not None:
        if left[1] or right[1]:
            return None
        return _made(left, e.op, "other", right[0])
    if left is not None:
        value, op = _constant(e.right), e.op
    elif right is not None:
        left, value, op = right, _constant(e.left), FLIPPED[e.op]
    else:
        return None
    if value is _NO_VALUE or value is None or isinstance(value, list):
        return None
    if left[1] and (not isinstance(value, int) or isinstance(value, bool)):
        return None
    return _made(left, op, "value", value)


def _made(subject: tuple[str, bool], op: str, slot: str, value: Any) -> dict[str, Any]:
    field, is_len = subject
    fact: dict[str, Any] = {"field": field}
    if is_len:
        fact["of"] = "len"
    fact["op"] = op
    fact[slot] = value
    return fact


def _subject(e: ast.Expr, fields: Collection[str]) -> tuple[str, bool] | None:
    """(field, whether it is the field's length) for `f`, `self.f` and `len(f)`."""
    match e:
        case ast.Name(id=name) if name in fields:
            return name, False
        case ast.Member(obj=ast.Name(id="self"), attr=name) if name in fields:
            return name, False
        case ast.Call(func=ast.Name(id="len"), args=(ast.Arg(name=None, value=inner),)):
            subject = _subject(inner, fields)
            if subject is not None and not subject[1]:
                return subject[0], True
    return None


def _constant(e: ast.Expr) -> Any:
    match e:
        case ast.Literal(value=value):
            return value
        case ast.Unary(op="-", operand=ast.Literal(value=value)) if isinstance(
            value, int | float
        ) and not isinstance(value, bool):
            return -value
        case ast.ListLit(items=items):
            values = [_constant(item) for item in items]
            if any(v is _NO_VALUE or isinstance(v, list) for v in values):
                return _NO_VALUE
            return values
    return _NO_VALUE
