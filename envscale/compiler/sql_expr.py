"""Lowering of single-row conditions (`@check`, `invariant ... on E`, a column's type) to SQL
CHECK text."""

from __future__ import annotations

from collections.abc import Callable

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.builtins import SQL_FUNCTIONS
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast


class NotSQL(Exception):
    """The expression uses something a CHECK constraint cannot say; carries the culprit."""

    def __init__(self, node: ast.Expr, why: str):
        super().__init__(why)
        self.node = node
        self.why = why


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


_OPS = {
    "==": "=",
    "!=": "<>",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "+": "+",
    "-": "-",
    "*": "*",
    "/": "/",
    "%": "%",
    "and": "AND",
    "or": "OR",
}


def to_sql(
    e: ast.Expr,
    record: RecordInfo,
    column: Callable[[str], str],
    type_of: Callable[[ast.Expr], t.Type],
) -> str:
    """SQL for a condition over one row's own fields; raises NotSQL otherwise."""
    match e:
        case ast.Literal():
            return sql_literal(e.value)
        case ast.Name():
            if e.id in record.fields:
                info = record.fields[e.id]
                if t.is_json(info.type):
                    raise NotSQL(e, f"'{e.id}' holds a {info.type}, stored as JSON")
                return quote_ident(column(e.id))
            enum_type = type_of(e)
            if isinstance(enum_type, t.EnumT):
                return sql_literal(e.id)
            raise NotSQL(e, f"'{e.id}' is not a field of {record.name}")
        case ast.Member() if isinstance(type_of(e), t.EnumT) and isinstance(
            type_of(e.obj), t.EnumClass
        ):
            return sql_literal(e.attr)
        case ast.Unary():
            inner = to_sql(e.operand, record, column, type_of)
            return f"(NOT {inner})" if e.op == "not" else f"(-{inner})"
        case ast.Binary() if e.op in ("in", "not in"):
            if not isinstance(e.right, ast.ListLit):
                raise NotSQL(e.right, "only a literal list can follow 'in' in a check")
            items = ", ".join(to_sql(i, record, column, type_of) for i in e.right.items)
            op = "IN" if e.op == "in" else "NOT IN"
            return f"({to_sql(e.left, record, column, type_of)} {op} ({items}))"
        case ast.Binary():
            left = to_sql(e.left, record, column, type_of)
            right = to_sql(e.right, record, column, type_of)
            if e.op in ("==", "!=") and "NULL" in (left, right):
                other = right if left == "NULL" else left
                return f"({other} IS {'NOT ' if e.op == '!=' else ''}NULL)"
            if e.op == "/" and type_of(e) == t.FLOAT:
                left = f"CAST({left} AS REAL)"
            return f"({left} {_OPS[e.op]} {right})"
        case ast.Call() if isinstance(e.func, ast.Name) and e.func.id in SQL_FUNCTIONS:
            args = ", ".join(to_sql(a.value, record, column, type_of) for a in e.args)
            return f"{SQL_FUNCTIONS[e.func.id]}({args})"
    raise NotSQL(
        e,
        "a check can use the row's own scalar fields, literals, arithmetic, comparisons, "
        "and/or/not, 'in [...]' and len/abs/lower/upper/round",
    )
