"""schema.sql: STRICT tables with quoted identifiers, keys, foreign keys and named checks.

Building the SQL is pure: the runtime executes the text that this module returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from envscale.compiler import ir
from envscale.compiler.codegen.templates import render
from envscale.compiler.sql_expr import quote_ident, sql_literal

DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
DATETIME_GLOB = DATE_GLOB + "T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"


@dataclass
class _TableText:
    name: str
    doc: str | None
    lines: list[str]
    indexes: list[str]


def column_checks(table: ir.Table, column: ir.Column) -> list[tuple[str, str]]:
    """The (name, condition) pairs that every value of a column must meet by its type."""
    q = quote_ident(column.name)
    label = f"{table.entity}.{column.field}"
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


def query_indexes(d: ir.DomainIR) -> dict[str, list[tuple[str, ...]]]:
    """The field tuples that tools filter each entity on with `.where(...)`, in first-use order."""
    from envscale.compiler.effects import expressions
    from envscale.compiler.types import Method
    from envscale.dsl import ast

    found: dict[str, list[tuple[str, ...]]] = {}
    bodies = [tool.decl.body for tool in d.tools] + [(inv.decl.condition,) for inv in d.invariants]
    for body in bodies:
        for node in body:
            for e in expressions(node):
                callee = d.types.get(id(e.func)) if isinstance(e, ast.Call) else None
                if isinstance(callee, Method) and callee.name == "where" and e.args:
                    fields = tuple(a.name for a in e.args if a.name)
                    seen = found.setdefault(callee.entity, [])
                    if fields and fields not in seen:
                        seen.append(fields)
    return found


def create_table_sql(table: ir.Table, queried: list[tuple[str, ...]] | None = None) -> _TableText:
    lines = []
    for column in table.columns:
        parts = [quote_ident(column.name), column.sql_type]
        if not column.nullable:
            parts.append("NOT NULL")
        if column.has_default and isinstance(column.default, str | int | float | bool) and column.kind != "json":
            parts.append(f"DEFAULT {sql_literal(column.default)}")
        lines.append(" ".join(parts))
    key = ", ".join(quote_ident(table.column(k).name) for k in table.key)
    lines.append(f"PRIMARY KEY ({key})")
    for column in table.columns:
        if column.unique:
            lines.append(f"CONSTRAINT {quote_ident(f'{table.entity}.{column.field} is unique')} UNIQUE ({quote_ident(column.name)})")
        for name, condition in column_checks(table, column):
            lines.append(f"CONSTRAINT {quote_ident(name)} CHECK ({condition})")
    for check in table.checks:
        lines.append(f"CONSTRAINT {quote_ident(check.name)} CHECK {check.sql}")
    for column in table.columns:
        if column.ref is not None:
            lines.append(
                f"FOREIGN KEY ({quote_ident(column.name)}) REFERENCES {quote_ident(column.ref)} ({quote_ident(column.ref_column or '')})"
            )
    indexes = []
    for column in table.columns:
        if (column.index or column.ref is not None) and not column.unique and [column.field] != table.key[:1]:
            index = quote_ident(f"{table.entity}.{column.field} index")
            indexes.append(f"CREATE INDEX {index} ON {quote_ident(table.entity)} ({quote_ident(column.name)});")
    # Every filter a tool queries by gets an index, so a query costs what it returns.
    covered = {(c.field,) for c in table.columns if c.index or c.unique or c.ref is not None} | {tuple(table.key)}
    for fields in queried or []:
        if any(fields == have[: len(fields)] for have in covered):
            continue
        covered.add(fields)
        names = ", ".join(quote_ident(table.column(f).name) for f in fields)
        index = quote_ident(f"{table.entity}.{'+'.join(fields)} query index")
        indexes.append(f"CREATE INDEX {index} ON {quote_ident(table.entity)} ({names});")
    return _TableText(quote_ident(table.entity), table.doc, lines, indexes)


def schema_sql(d: ir.DomainIR) -> str:
    queried = query_indexes(d)
    return render("schema.sql.j2", d=d, tables=[create_table_sql(t, queried.get(t.entity)) for t in d.tables])
