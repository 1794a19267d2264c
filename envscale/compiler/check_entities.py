"""Pass: entity and struct fields: keys, attributes, defaults and checks."""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.builtins import CONSTANT_CALLS
from envscale.compiler.context import Compilation
from envscale.compiler.sql_expr import Inexact, NotSQL, to_sql
from envscale.compiler.symbols import FieldInfo, RecordInfo
from envscale.compiler.typecheck import Binding, Checker, Scope
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean

ATTRIBUTES = {
    "key": 0,
    "unique": 0,
    "index": 0,
    "default": 1,
    "check": 1,
    "external": 0,
    "sparse": 0,
    "derived": 1,
    "hidden": 0,
    "as_written": 0,
}
STRUCT_ATTRIBUTES = {"default", "sparse", "hidden"}


def check_entities(c: Compilation) -> None:
    checker = Checker(c)
    for record in [*c.symbols.structs.values(), *c.symbols.entities.values()]:
        scope = row_scope(record)
        for info in record.fields.values():
            for attr in info.decl.attributes:
                _attribute(c, checker, record, info, attr, scope)
        if record.is_entity:
            _check_key(c, record)
    for record in [*c.symbols.structs.values(), *c.symbols.entities.values()]:
        for info in record.fields.values():
            # A reference stores the referred key as one value: a key of several fields has
            # no such value (a list of references would hold lists), so it cannot be referred to.
            for entity in dict.fromkeys(t.all_refs(info.type)):
                referred = c.symbols.entities.get(entity)
                if referred is not None and len(referred.key) > 1:
                    c.error(
                        "E305",
                        f"'{info.name}' refers to '{entity}', whose key has "
                        f"{len(referred.key)} fields",
                        info.decl.type.span,
                        "refer only to entities with a single-field key",
                    )
            target = t.strip_optional(info.type)
            if isinstance(target, t.RefT) and record.is_entity:
                referred = c.symbols.entities.get(target.entity)
                if referred is not None and len(referred.key) > 1:
                    continue
                if info.key and _keyed_back(c, record.name, target.entity):
                    c.error(
                        "E305",
                        f"the key '{info.name}' of '{record.name}' refers, through keys, back to "
                        f"'{record.name}': no record could ever be the first",
                        info.decl.type.span,
                        "key one of these entities by a plain field",
                    )


def _keyed_back(c: Compilation, start: str, entity: str) -> bool:
    """Whether following key references from `entity` leads back to `start`."""
    seen: set[str] = set()
    while entity not in seen:
        if entity == start:
            return True
        seen.add(entity)
        record = c.symbols.entities.get(entity)
        if record is None or len(record.key) != 1:
            return False
        key = t.strip_optional(record.fields[record.key[0]].type)
        if not isinstance(key, t.RefT):
            return False
        entity = key.entity
    return False


def row_scope(record: RecordInfo) -> Scope:
    scope = Scope()
    for info in record.fields.values():
        scope.names[info.name] = Binding(info.type, "field")
    if record.is_entity:
        scope.names["self"] = Binding(t.RowT(record.name), "field")
    return scope


def column_name(record: RecordInfo, field: str) -> str:
    info = record.fields[field]
    return f"{field}_id" if isinstance(t.strip_optional(info.type), t.RefT) else field


def _attribute(
    c: Compilation,
    checker: Checker,
    record: RecordInfo,
    info: FieldInfo,
    attr: ast.Attribute,
    scope: Scope,
) -> None:
    if attr.name not in ATTRIBUTES:
        c.error(
            "E302",
            f"unknown attribute '@{attr.name}'",
            attr.span,
            did_you_mean(attr.name, ATTRIBUTES)
            or f"attributes: {', '.join('@' + a for a in ATTRIBUTES)}",
        )
        return
    if not record.is_entity and attr.name not in STRUCT_ATTRIBUTES:
        c.error(
            "E302",
            f"'@{attr.name}' is not allowed on a struct field",
            attr.span,
            "structs support @default, @sparse and @hidden; put keys, checks and indexes on "
            "entity fields or use an invariant",
        )
        return
    if len(attr.args) != ATTRIBUTES[attr.name]:
        want = "no arguments" if ATTRIBUTES[attr.name] == 0 else "one argument"
        c.error("E302", f"'@{attr.name}' takes {want}", attr.span)
        return
    match attr.name:
        case "key":
            if info.optional or t.is_json(info.type) or info.type in (t.FLOAT,):
                c.error(
                    "E302",
                    f"'{info.name}' cannot be a key: it is a {info.type}",
                    attr.span,
                    "keys are required str, int, date, enum or reference fields",
                )
                return
            info.key = True
        case "unique":
            if t.is_json(info.type):
                c.error(
                    "E302", f"'{info.name}' cannot be unique: it holds a {info.type}", attr.span
                )
                return
            info.unique = True
        case "index":
            info.index = True
        case "external":
            info.external = True
        case "sparse":
            if not info.optional:
                c.error(
                    "E302",
                    f"'@sparse' needs an optional field; '{info.name}' is a {info.type}",
                    attr.span,
                    f"make it optional: {info.name}: {info.type}?",
                )
                return
            info.sparse = True
        case "hidden":
            info.hidden = True
        case "as_written":
            if t.strip_optional(info.type) not in (t.STR, t.INT, t.FLOAT) or info.key:
                c.error(
                    "E302",
                    f"'@as_written' needs a str, int or float field that is no key; "
                    f"'{info.name}' is a {info.type}",
                    attr.span,
                )
                return
            info.as_written = True
        case "derived":
            _derived(c, checker, info, attr, scope)
        case "default":
            _default(c, checker, record, info, attr.args[0].value)
        case "check":
            expr = attr.args[0].value
            got = checker.expr(expr, scope)
            checker.expect(expr, got, t.BOOL, f"check on '{info.name}'")
            try:
                to_sql(expr, record, lambda f: column_name(record, f), c.type_of)
            except Inexact:
                pass  # the runtime checks it, in Python
            except NotSQL as error:
                c.error(
                    "E304",
                    f"this check cannot become a SQL CHECK: {error.why}",
                    error.node.span,
                    f'write it as an invariant: invariant NAME on {record.name}: ... else "..."',
                )
                return
            info.checks.append(expr)


def _derived(
    c: Compilation, checker: Checker, info: FieldInfo, attr: ast.Attribute, scope: Scope
) -> None:
    """`@derived(expr)`: the field's value is `expr` over the record's other fields, computed
    by the runtime on every insert and update (check_derived orders and checks them further)."""
    arg = attr.args[0]
    if arg.name is not None:
        c.error("E712", "'@derived' takes an expression, not a named argument", arg.span)
        return
    clash = [a.name for a in info.decl.attributes if a.name in ("key", "default")]
    if clash:
        c.error(
            "E712",
            f"'{info.name}' is derived, so it cannot also be @{clash[0]}",
            attr.span,
            "a derived field's value is always computed: drop @default; key a record by a "
            "stored field"
            if clash[0] == "key"
            else "a derived field's value is always computed; drop @default",
        )
        return
    got = checker.expr_as(arg.value, scope, info.type)
    checker.expect(arg.value, got, info.type, f"derived value of '{info.name}'")
    info.derived = arg.value


def _default(
    c: Compilation, checker: Checker, record: RecordInfo, info: FieldInfo, expr: ast.Expr
) -> None:
    got = checker.expr_as(expr, Scope(), info.type)
    if not _is_constant(expr):
        c.error(
            "E303",
            f"the default of '{info.name}' must be a constant",
            expr.span,
            "use a literal, an enum member, a list or map of literals, now() or today()",
        )
        return
    enum = t.strip_optional(info.type)
    if (
        isinstance(expr, ast.Literal)
        and isinstance(expr.value, str)
        and isinstance(enum, t.EnumT)
        and expr.value not in checker.s.enums[enum.name].members
    ):
        checker.check_enum_literal(expr, enum)
        return
    if not _default_fits(checker, expr, got, info.type):
        c.error(
            "E303",
            f"the default of '{info.name}' has type {got}, but the field is {info.type}",
            expr.span,
        )
        return
    info.default = expr


def _default_fits(checker: Checker, expr: ast.Expr, got: t.Type, want: t.Type) -> bool:
    if t.assignable(got, want):
        return True
    base = t.strip_optional(want)
    if isinstance(expr, ast.Literal) and isinstance(expr.value, str) and isinstance(base, t.EnumT):
        return expr.value in checker.s.enums[base.name].members
    # A list or map literal of enum members, keys of a map keyed by an enum included.
    if isinstance(expr, ast.ListLit) and isinstance(base, t.ListT):
        return all(_default_fits(checker, i, checker.c.type_of(i), base.item) for i in expr.items)
    if isinstance(expr, ast.MapLit) and isinstance(base, t.MapT):
        key = t.strip_optional(base.key)
        keys_fit = not isinstance(key, t.EnumT) or all(
            k in checker.s.enums[key.name].members for k, _ in expr.items
        )
        return keys_fit and all(
            _default_fits(checker, v, checker.c.type_of(v), base.value) for _, v in expr.items
        )
    return False


def _is_constant(expr: ast.Expr) -> bool:
    match expr:
        case ast.Literal():
            return True
        case ast.Unary(op="-", operand=ast.Literal()):
            return True
        case ast.Name():
            return True  # an enum member; anything else already failed name resolution
        case ast.Member(obj=ast.Name()):
            return True
        case ast.ListLit():
            return all(_is_constant(i) for i in expr.items)
        case ast.MapLit():
            return all(_is_constant(v) for _, v in expr.items)
        case ast.Call(func=ast.Name(id=name), args=()):
            return name in CONSTANT_CALLS
    return False


def _check_key(c: Compilation, record: RecordInfo) -> None:
    if not record.key:
        first = next(iter(record.fields.values()), None)
        hint = (
            f"mark one field @key, e.g. {first.name}: {first.type} @key"
            if first
            else "add a field marked @key"
        )
        c.error("E301", f"entity '{record.name}' has no key", record.decl.span, hint)
