"""schema.sql: STRICT tables with quoted identifiers, keys, foreign keys and named checks.

It prints what the IR holds (columns, their checks, the fields queried); the runtime executes
the text that this module returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from envscale.compiler import ir
from envscale.compiler.codegen.templates import render
from envscale.compiler.sql_expr import quote_ident, sql_literal


@dataclass
class _TableText:
    name: str
    doc: str | None
    lines: list[str]
    indexes: list[str]


def create_table_sql(table: ir.Table) -> _TableText:
    lines = []
    for column in table.columns:
        parts = [quote_ident(column.name), column.sql_type]
        if not column.nullable:
            parts.append("NOT NULL")
        if (
            column.has_default
            and isinstance(column.default, str | int | float | bool)
            and column.kind != "json"
        ):
            parts.append(f"DEFAULT {sql_literal(column.default)}")
        lines.append(" ".join(parts))
    key = ", ".join(quote_ident(table.column(k).name) for k in table.key)
    lines.append(f"PRIMARY KEY ({key})")
    for column in table.columns:
        if column.unique:
            lines.append(
                f"CONSTRAINT {quote_ident(f'{table.entity}.{column.field} is unique')} UNIQUE "
                f"({quote_ident(column.name)})"
            )
        for name, condition in column.type_checks:
            lines.append(f"CONSTRAINT {quote_ident(name)} CHECK ({condition})")
    for check in table.checks:
        if check.sql is not None:
            lines.append(f"CONSTRAINT {quote_ident(check.name)} CHECK {check.sql}")
    for column in table.columns:
        if column.ref is not None:
            lines.append(
                f"FOREIGN KEY ({quote_ident(column.name)}) REFERENCES {quote_ident(column.ref)} "
                f"({quote_ident(column.ref_column or '')})"
            )
    indexes = []
    for column in table.columns:
        if (
            (column.index or column.ref is not None)
            and not column.unique
            and [column.field] != table.key[:1]
        ):
            index = quote_ident(f"{table.entity}.{column.field} index")
            indexes.append(
                f"CREATE INDEX {index} ON {quote_ident(table.entity)} ({quote_ident(column.name)});"
            )
    # Every filter a tool queries by gets an index, so a query costs what it returns.
    covered = {(c.field,) for c in table.columns if c.index or c.unique or c.ref is not None} | {
        tuple(table.key)
    }
    for fields in table.queried:
        if any(fields == have[: len(fields)] for have in covered):
            continue
        covered.add(fields)
        names = ", ".join(quote_ident(table.column(f).name) for f in fields)
        index = quote_ident(f"{table.entity}.{'+'.join(fields)} query index")
        indexes.append(f"CREATE INDEX {index} ON {quote_ident(table.entity)} ({names});")
    for label, expression in table.query_expressions:
        index = quote_ident(f"{table.entity}.{label} query index")
        indexes.append(f"CREATE INDEX {index} ON {quote_ident(table.entity)} ({expression});")
    return _TableText(quote_ident(table.entity), table.doc, lines, indexes)


def schema_sql(d: ir.DomainIR) -> str:
    return render("schema.sql.j2", d=d, tables=[create_table_sql(t) for t in d.tables])
