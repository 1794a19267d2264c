"""Last pass: lower the checked AST to the IR that code generation reads."""

from __future__ import annotations

from pathlib import PurePath

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.affected import affected_by
from envscale.compiler.bindings import resolve_binding
from envscale.compiler.check_derived import derived_order
from envscale.compiler.check_entities import column_name
from envscale.compiler.context import Compilation
from envscale.compiler.effects import reads_of
from envscale.compiler.facts import check_facts
from envscale.compiler.query_plan import plans_of
from envscale.compiler.sql_expr import Inexact, NotSQL, column_checks, to_sql
from envscale.compiler.states import part_params, stored_params, tool_states
from envscale.compiler.symbols import RecordInfo, stored_key_type
from envscale.compiler.usage import key_formats, queried_fields
from envscale.dsl import ast
from envscale.dsl.diagnostics import source_lines
from envscale.dsl.tokens import expression_text

DEFAULT_CLOCK = "2024-01-01T00:00:00"
SQL_TYPES = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "REAL",
    "bool": "INTEGER",
    "date": "TEXT",
    "datetime": "TEXT",
}


def constant_value(e: ast.Expr) -> object:
    """The value of a constant expression (defaults). `now()`/`today()` stay symbolic."""
    match e:
        case ast.Literal():
            return e.value
        case ast.Unary(op="-", operand=ast.Literal(value=v)):
            return -v  # type: ignore[operator]
        case ast.Name():
            return e.id
        case ast.Member():
            return e.attr
        case ast.ListLit():
            return [constant_value(i) for i in e.items]
        case ast.MapLit():
            return {k: constant_value(v) for k, v in e.items}
        case ast.Call(func=ast.Name(id=name)):
            return {"$call": name}
    raise AssertionError(f"not a constant: {e}")


def lower(c: Compilation) -> None:
    s = c.symbols
    domain = s.domain
    assert domain is not None
    checked_at_runtime: list[ir.Invariant] = []
    tables = [_table(c, r, checked_at_runtime) for r in s.entities.values()]
    queried = queried_fields(c)
    for table in tables:
        table.queried = queried.get(table.entity, [])
    _index_planned_queries(c, {table.entity: table for table in tables})
    c.ir = ir.DomainIR(
        name=domain.name,
        description=domain.description,
        policy=s.policy_text,
        clock=domain.clock or DEFAULT_CLOCK,
        source=PurePath(c.module.file).name,
        spec_hash="",
        enums={n: list(e.members) for n, e in s.enums.items()},
        structs=dict(s.structs),
        tables=tables,
        tools=[_tool(c, tool) for tool in s.tools.values()],
        invariants=[_invariant(c, inv) for inv in s.invariants.values()] + checked_at_runtime,
        policies=[_policy(c, p) for p in s.policies.values()],
        types=c.types,
        symbols=s,
        includes=sorted(c.extra_sources),
        key_formats=key_formats(c),
        transitions=dict(s.transitions),
    )
    for tool in c.ir.tools:
        tool.needs, tool.leaves = tool_states(c.ir, tool)
        tool.stores = stored_params(tool)
        tool.parts = part_params(c.ir, tool)


def _index_planned_queries(c: Compilation, tables: dict[str, ir.Table]) -> None:
    """Indexes for the equalities that the tools' planned queries filter by."""
    nodes: list[ast.Node] = [n for tool in c.symbols.tools.values() for n in tool.body_nodes]
    nodes.extend(ast.walk(*(inv.condition for inv in c.symbols.invariants.values())))
    for record in c.symbols.entities.values():
        nodes.extend(ast.walk(*(f.derived for f in record.fields.values() if f.derived)))
    for plan in plans_of(nodes, c.symbols, c.type_of):
        table = tables[plan.entity]
        for index in plan.indexes:
            if index.expression is not None:
                if index.expression not in (e for _, e in table.query_expressions):
                    table.query_expressions.append((index.label, index.expression))
            elif index.fields not in table.queried:
                table.queried.append(index.fields)


def _table(c: Compilation, record: RecordInfo, runtime: list[ir.Invariant]) -> ir.Table:
    """The table of an entity; a field check that SQL cannot hold exactly joins `runtime`."""
    columns = []
    checks = []
    for info in record.fields.values():
        base = t.strip_optional(info.type)
        kind, sql_type, enum, ref, ref_column = "json", "TEXT", None, None, None
        if isinstance(base, t.Prim):
            kind, sql_type = base.name, SQL_TYPES[base.name]
        elif isinstance(base, t.EnumT):
            kind, enum = "enum", list(c.symbols.enums[base.name].members)
        elif isinstance(base, t.RefT):
            target = c.symbols.entities[base.entity]
            key_type = stored_key_type(c.symbols.entities, base.entity)
            kind, ref = "ref", base.entity
            ref_column = column_name(target, target.key[0]) if target.key else None
            sql_type = SQL_TYPES.get(getattr(key_type, "name", "str"), "TEXT")
        column = ir.Column(
            field=info.name,
            name=column_name(record, info.name),
            sql_type=sql_type,
            kind=kind,
            type=info.type,
            nullable=info.optional,
            unique=info.unique,
            index=info.index,
            enum=enum,
            ref=ref,
            ref_column=ref_column,
        )
        if info.default is not None:
            column.default = constant_value(info.default)
            column.has_default = True
        column.type_checks = column_checks(record.name, column)
        column.hidden = info.hidden
        if info.as_written:
            column.sql_type, column.as_written = "ANY", True
        if info.derived is not None:
            column.derived = source_text(c, info.derived)
        columns.append(column)
        for i, expr in enumerate(info.checks):
            where = PurePath(expr.span.file).name
            message = f"{record.name}.{info.name} must satisfy {source_text(c, expr)}"
            try:
                sql = to_sql(expr, record, lambda f: column_name(record, f), c.type_of, info.name)
            except Inexact:
                sql = None
                taken = {inv.name for inv in runtime}
                runtime.append(_runtime_check(c, record, info.name, i, expr, message, where, taken))
            name = f"{record.name}.{info.name}#{i + 1} ({where})"
            checks.append(ir.Check(name, sql, message, where, check_facts(expr, record.fields)))
    for inv in c.symbols.invariants.values():
        if inv.entity == record.name and (sql := _invariant_sql(c, inv, record)) is not None:
            where = PurePath(inv.span.file).name
            checks.append(
                ir.Check(
                    f"{inv.name} ({where})",
                    sql,
                    inv.message.value,
                    where,  # type: ignore[union-attr]
                    check_facts(inv.condition, record.fields),
                )
            )
    table = ir.Table(record.name, record.decl.doc, columns, record.key, checks)
    table.derived = derived_order(record)
    return table


def _runtime_check(
    c: Compilation,
    record: RecordInfo,
    field: str,
    index: int,
    expr: ast.Expr,
    message: str,
    where: str,
    taken: set[str],
) -> ir.Invariant:
    """A field's `@check` as an invariant on its entity, evaluated by the runtime."""
    name = f"{record.name}_{field}_check{index + 1}"
    while name in c.symbols.invariants or name in taken:
        name += "_"
    decl = ast.Invariant(name, record.name, expr, ast.Literal(message, expr.span), expr.span)
    guard = field if record.fields[field].optional else None
    return ir.Invariant(
        name, record.name, None, [record.name], decl, where, own_row=True, holds_when_none=guard
    )


def source_text(c: Compilation, expr: ast.Expr) -> str:
    """An expression as the spec writes it, in canonical spacing on one line: the same
    whatever the spec's layout."""
    span = expr.span
    lines = source_lines(c.source_of(span.file))
    if not 1 <= span.line <= span.end_line <= len(lines):
        return ""
    if span.line == span.end_line:
        text = lines[span.line - 1][span.column - 1 : span.end_column - 1]
    else:
        parts = [lines[span.line - 1][span.column - 1 :]]
        parts += lines[span.line : span.end_line - 1]
        parts.append(lines[span.end_line - 1][: span.end_column - 1])
        text = "\n".join(parts)
    return expression_text(text)


def _invariant_sql(c: Compilation, inv: ast.Invariant, record: RecordInfo) -> str | None:
    if not (isinstance(inv.message, ast.Literal) and isinstance(inv.message.value, str)):
        return None
    try:
        return to_sql(inv.condition, record, lambda f: column_name(record, f), c.type_of)
    except NotSQL:
        return None


def _invariant(c: Compilation, inv: ast.Invariant) -> ir.Invariant:
    record = c.symbols.entities.get(inv.entity) if inv.entity else None
    sql = _invariant_sql(c, inv, record) if record is not None else None
    reads = reads_of(c, ast.walk(inv.condition, inv.message))
    own_row = record is not None and not reads
    links = affected_by(c, inv, record) if record is not None and not own_row else None
    if inv.entity:
        reads.add(inv.entity)
    return ir.Invariant(
        inv.name,
        inv.entity,
        sql,
        sorted(reads),
        inv,
        PurePath(inv.span.file).name,
        own_row=own_row,
        affected_by=links,
    )


def _tool(c: Compilation, info) -> ir.Tool:
    params = []
    for p in info.params.values():
        param = ir.Param(p.name, p.type, p.decl.doc, choices=p.choices, as_sent=p.as_sent)
        if p.decl.default is not None:
            param.default = (
                constant_value(p.decl.default) if _is_literalish(p.decl.default) else None
            )
            param.has_default = True
        params.append(param)
    return ir.Tool(
        name=info.name,
        doc=info.decl.doc or "",
        kind=info.kind,
        reads=sorted(info.reads),
        writes=sorted(info.writes),
        params=params,
        returns=info.returns,
        decl=info.decl,
        side=info.side,
        role=info.role,
    )


def _is_literalish(e: ast.Expr) -> bool:
    return isinstance(e, ast.Literal | ast.ListLit | ast.MapLit | ast.Name | ast.Member) or (
        isinstance(e, ast.Unary) and isinstance(e.operand, ast.Literal)
    )


def _policy(c: Compilation, p: ast.Policy) -> ir.Policy:
    rules = [
        ir.Rule(
            r.kind,
            [n for n, _ in r.subject.names],
            [n for n, _ in r.requirement.names] if r.requirement else [],
            r.limit,
            resolve_binding(c, r)[0],
        )
        for r in p.rules
    ]
    return ir.Policy(p.name, p.doc, rules)
