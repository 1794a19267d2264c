"""Lowering of single-row conditions (`@check`, `invariant ... on E`, a column's type) to SQL
CHECK text.

A condition goes into schema.sql only when the SQL means exactly what the language means
(docs/design.md, "What expressions mean"), on every value a row can hold; otherwise the
runtime evaluates it in Python on the rows a call changed. Plain SQL agrees with the language
on comparisons, `and`/`or`/`not`, `in [...]`, `len` of text and `abs` of a float once two
things are minded: SQL's NULL stands both for none and for an evaluation that fails (a none
compared with `<`), and a CHECK passes on NULL. So none-aware equality is written with `IS`,
a failing operand of `and`/`or` keeps failing (CASE), and a condition that may fail is
written `(...) IS TRUE`, which a failure does not meet. Arithmetic stays out of SQL: integer
results overflow into floats there, `%` truncates, and floats turn NaN into NULL; so do
`lower`/`upper` (ASCII only in SQLite) and `round` (half away from zero in SQLite). Such a
condition is `Inexact`: an invariant is then checked at runtime, and so is a field's `@check`.
Nothing in schema.sql needs a function that plain sqlite3 lacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.builtins import SQL_FUNCTIONS
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class NotSQL(Exception):
    """The expression uses something a CHECK constraint cannot say; carries the culprit."""

    def __init__(self, node: ast.Expr, why: str):
        super().__init__(why)
        self.node = node
        self.why = why


class Inexact(NotSQL):
    """SQL could say the expression, but would mean something else on some values."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
DATETIME_GLOB = DATE_GLOB + "T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"


def column_checks(entity: str, column: ir.Column) -> list[tuple[str, str]]:
    """The (name, condition) pairs that every value of a column must meet by its type."""
    q = quote_ident(column.name)
    label = f"{entity}.{column.field}"
    if column.kind == "enum":
        values = ", ".join(sql_literal(v) for v in column.enum or [])
        enum = str(column.type).replace("?", "")
        article = "an" if enum[:1].lower() in "aeiou" else "a"
        return [(f"{label} is {article} {enum}", f"{q} IN ({values})")]
    if column.kind == "bool":
        return [(f"{label} is a bool", f"{q} IN (0, 1)")]
    if column.kind == "date":
        return [(f"{label} is a date", f"{q} GLOB '{DATE_GLOB}'")]
    if column.kind == "datetime":
        return [(f"{label} is a datetime", f"{q} GLOB '{DATETIME_GLOB}'")]
    if column.kind == "json":
        return [(f"{label} is JSON", f"json_valid({q})")]
    return []


@dataclass(frozen=True)
class _Sql:
    """SQL text and what its NULL can stand for: a none value (an optional field, the none
    literal), or an evaluation that fails. Never both: only fields and literals may be none,
    and they never fail."""

    text: str
    none: bool = False
    fails: bool = False


_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NONE_AWARE = {"==": "IS", "!=": "IS NOT"}

ColumnOf = Callable[[str], str]
TypeOf = Callable[[ast.Expr], t.Type]


def to_sql(
    e: ast.Expr,
    record: RecordInfo,
    column: ColumnOf,
    type_of: TypeOf,
    holds_when_none: str | None = None,
) -> str:
    """SQL for a condition over one row's own fields, true exactly where the condition
    evaluates to true; raises NotSQL (or Inexact) otherwise. With `holds_when_none`, a field
    whose none meets the condition (a field's own `@check`)."""
    result = _Lowering(record, column, type_of).expr(e)
    text = result.text if result.text.startswith("(") else f"({result.text})"
    if result.none or result.fails:
        text = f"({result.text} IS TRUE)"
    if holds_when_none is not None and record.fields[holds_when_none].optional:
        return f"({quote_ident(column(holds_when_none))} IS NULL OR {text})"
    return text


@dataclass
class _Lowering:
    record: RecordInfo
    column: ColumnOf
    type_of: TypeOf

    def expr(self, e: ast.Expr) -> _Sql:
        match e:
            case ast.Literal():
                return self.literal(e, e.value)
            case ast.Name():
                return self.name(e)
            case ast.Member() if isinstance(self.type_of(e), t.EnumT) and isinstance(
                self.type_of(e.obj), t.EnumClass
            ):
                return _Sql(sql_literal(e.attr))
            case ast.Unary(op="not"):
                return self.negation(e)
            case ast.Unary(op="-"):
                return self.minus(e)
            case ast.Binary(op="and" | "or"):
                return self.connective(e)
            case ast.Binary(op="in" | "not in"):
                return self.membership(e)
            case ast.Binary(op=op) if op in _COMPARE:
                return self.comparison(e)
            case ast.Binary():
                return self.arithmetic(e)
            case ast.Call() if isinstance(e.func, ast.Name) and e.func.id in SQL_FUNCTIONS:
                return self.call(e, e.func.id)
            case ast.Call() if isinstance(e.func, ast.Name) and e.func.id in _RUNTIME_CALLS:
                raise Inexact(e, f"SQL's {e.func.id}() differs from the language's")
        raise NotSQL(
            e,
            "a check can use the row's own scalar fields, literals, arithmetic, comparisons, "
            "and/or/not, 'in [...]' and len/abs/lower/upper/round",
        )

    def literal(self, e: ast.Expr, value: object) -> _Sql:
        if value is None:
            return _Sql("NULL", none=True)
        if isinstance(value, int) and not isinstance(value, bool):
            if not INT_MIN <= value <= INT_MAX:
                raise Inexact(e, f"{value} does not fit a 64-bit integer")
        elif isinstance(value, float) and not math.isfinite(value):
            raise Inexact(e, f"{value} is not a finite number")
        elif isinstance(value, str) and "\0" in value:
            raise Inexact(e, "SQL text ends at a NUL character")
        return _Sql(sql_literal(value))

    def name(self, e: ast.Name) -> _Sql:
        if e.id in self.record.fields:
            info = self.record.fields[e.id]
            if t.is_json(info.type):
                raise NotSQL(e, f"'{e.id}' holds a {info.type}, stored as JSON")
            return _Sql(quote_ident(self.column(e.id)), none=info.optional)
        if isinstance(self.type_of(e), t.EnumT):
            return _Sql(sql_literal(e.id))
        raise NotSQL(e, f"'{e.id}' is not a field of {self.record.name}")

    def negation(self, e: ast.Unary) -> _Sql:
        inner = self.expr(e.operand)
        if inner.none:  # `not none` is true
            return _Sql(f"({inner.text} IS NOT TRUE)")
        return _Sql(f"(NOT {inner.text})", fails=inner.fails)

    def minus(self, e: ast.Unary) -> _Sql:
        if isinstance(e.operand, ast.Literal) and isinstance(e.operand.value, int | float):
            return self.literal(e, -e.operand.value)
        if t.strip_optional(self.type_of(e.operand)) == t.FLOAT:
            inner = self.expr(e.operand)
            return _Sql(f"(-({inner.text}))", inner.none, inner.fails)
        raise Inexact(e, "negating an integer overflows in SQL")

    def connective(self, e: ast.Binary) -> _Sql:
        left, right = self.expr(e.left), self.expr(e.right)
        if left.none or right.none:
            raise Inexact(e, f"'{e.op}' of a value that may be none")
        if not left.fails:  # the left side is true or false, as in the language
            return _Sql(f"({left.text} {e.op.upper()} {right.text})", fails=right.fails)
        # A left side that fails makes the whole fail, whatever the right side is.
        if e.op == "and":
            text = f"(CASE WHEN {left.text} THEN {right.text} WHEN NOT {left.text} THEN 0 END)"
        else:
            text = f"(CASE WHEN {left.text} THEN 1 WHEN NOT {left.text} THEN {right.text} END)"
        return _Sql(text, fails=True)

    def comparison(self, e: ast.Binary) -> _Sql:
        left, right = self.expr(e.left), self.expr(e.right)
        if e.op in _NONE_AWARE and (left.none or right.none):
            if left.fails or right.fails:
                raise Inexact(e, "comparing with none a value that may fail")
            if left.text == "NULL" and right.text == "NULL":
                return _Sql("1" if e.op == "==" else "0")
            if left.text == "NULL":
                left, right = right, left
            return _Sql(f"({left.text} {_NONE_AWARE[e.op]} {right.text})")
        # Ordering a none fails, as in the language; SQL gives NULL there.
        fails = left.none or left.fails or right.none or right.fails
        return _Sql(f"({left.text} {_COMPARE[e.op]} {right.text})", fails=fails)

    def membership(self, e: ast.Binary) -> _Sql:
        if not isinstance(e.right, ast.ListLit):
            raise NotSQL(e.right, "only a literal list can follow 'in' in a check")
        item = self.expr(e.left)
        choices = [self.expr(i) for i in e.right.items]
        if any(c.fails for c in choices):
            raise Inexact(e.right, "a list item that may fail")
        negate = e.op == "not in"
        if not choices:
            if item.fails:
                raise Inexact(e, "'in' an empty list of a value that may fail")
            return _Sql("1" if negate else "0")
        if item.none or any(c.none for c in choices):
            if item.fails:
                raise Inexact(e, "none in a list with a value that may fail")
            text = " OR ".join(f"{item.text} IS {c.text}" for c in choices)
            return _Sql(f"(NOT ({text}))" if negate else f"({text})")
        op = "NOT IN" if negate else "IN"
        return _Sql(f"({item.text} {op} ({', '.join(c.text for c in choices)}))", fails=item.fails)

    def arithmetic(self, e: ast.Binary) -> _Sql:
        raise Inexact(e, "arithmetic in SQL overflows, truncates and loses NaN")

    def call(self, e: ast.Call, name: str) -> _Sql:
        args = [self.expr(a.value) for a in e.args]
        if name == "abs" and t.strip_optional(self.type_of(e.args[0].value)) != t.FLOAT:
            raise Inexact(e, "abs() of the smallest integer overflows in SQL")
        # len() counts characters up to a NUL in SQLite; stored text holds none.
        fails = any(a.none or a.fails for a in args)
        return _Sql(f"{SQL_FUNCTIONS[name]}({', '.join(a.text for a in args)})", fails=fails)


# Built-ins a condition may use that SQL does not compute as the language does.
_RUNTIME_CALLS = frozenset({"lower", "upper", "round"})
