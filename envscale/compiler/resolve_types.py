"""Pass 2: resolve every written type (fields, parameters, returns) to a compiler type."""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.compiler.symbols import FieldInfo, ParamInfo, RecordInfo
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


def resolve_type(c: Compilation, ref: ast.TypeRef, *, in_entity: bool = False) -> t.Type:
    """Resolve a written type; report unknown names. In a field (`in_entity`), an entity
    named anywhere in the type, inside lists and maps too, is a reference: its key is stored."""
    s = c.symbols
    base: t.Type
    if ref.name == "list":
        base = t.ListT(resolve_type(c, ref.args[0], in_entity=in_entity))
    elif ref.name == "map":
        key = resolve_type(c, ref.args[0])
        if key not in (t.STR, t.ANY) and not isinstance(key, t.EnumT):
            # Maps are stored and passed as JSON objects, whose keys are text: an int key would
            # not survive a round trip through the database or a tool call's arguments.
            c.error(
                "E201",
                f"map keys must be str or an enum, not {key}",
                ref.args[0].span,
                "JSON object keys are text: use map<str, ...> and str(k)" if key == t.INT else None,
            )
        base = t.MapT(key, resolve_type(c, ref.args[1], in_entity=in_entity))
    elif ref.name in t.PRIMITIVES:
        base = t.Prim(ref.name)
    elif ref.name in s.enums:
        base = t.EnumT(ref.name)
    elif ref.name in s.structs:
        base = t.StructT(ref.name)
    elif ref.name in s.entities:
        base = t.RefT(ref.name) if in_entity else t.RowT(ref.name)
    else:
        c.error(
            "E102", f"unknown type '{ref.name}'", ref.span, did_you_mean(ref.name, s.type_names())
        )
        base = t.ANY
    return t.OptionalT(base) if ref.optional and not isinstance(base, t.AnyT) else base


def resolve_declared_types(c: Compilation) -> None:
    s = c.symbols
    for record in [*s.structs.values(), *s.entities.values()]:
        _resolve_fields(c, record)
    for tool in s.tools.values():
        for param in tool.decl.params:
            if param.name in tool.params:
                c.error(
                    "E107",
                    f"parameter '{param.name}' of tool '{tool.name}' is declared twice",
                    param.span,
                )
                continue
            # An agent sends keys: `ids: list<Order>` is a list of references to orders.
            ptype = resolve_type(c, param.type, in_entity=param.type.name in ("list", "map"))
            if isinstance(t.strip_optional(ptype), t.RowT):
                hint = (
                    f"take the key instead, e.g. '{param.name}: str', and look it up with "
                    f"{t.strip_optional(ptype)}[{param.name}]"
                )
                c.error(
                    "E305",
                    f"a tool parameter cannot be a whole '{ptype}' record",
                    param.type.span,
                    hint,
                )
                ptype = t.ANY
            tool.params[param.name] = ParamInfo(param.name, ptype, param)
        if tool.decl.returns is not None:
            tool.returns = resolve_type(c, tool.decl.returns)
    _check_struct_cycles(c)


def _struct_refs(ty: t.Type) -> list[str]:
    """The structs a type holds by value, through optionals, lists and maps."""
    match ty:
        case t.StructT():
            return [ty.name]
        case t.OptionalT():
            return _struct_refs(ty.inner)
        case t.ListT():
            return _struct_refs(ty.item)
        case t.MapT():
            return _struct_refs(ty.key) + _struct_refs(ty.value)
    return []


def _check_struct_cycles(c: Compilation) -> None:
    """A struct is one JSON value with a finite schema (tools.json, models.py): it cannot hold
    itself."""
    structs = c.symbols.structs
    edges = {
        name: [r for f in info.fields.values() for r in _struct_refs(f.type)]
        for name, info in structs.items()
    }
    reported: set[str] = set()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = path[path.index(name) :]
            if not reported & set(cycle):
                reported.update(cycle)
                first = min(
                    cycle, key=lambda n: (structs[n].decl.span.line, structs[n].decl.span.column)
                )
                at = cycle.index(first)
                loop = [*cycle[at:], *cycle[:at], first]
                c.error(
                    "E306",
                    f"struct '{first}' contains itself: {' -> '.join(loop)}",
                    structs[first].decl.span,
                    "a struct is stored as one JSON value; make one link an entity reference "
                    "instead",
                )
            return
        if name in done:
            return
        for ref in edges.get(name, []):
            visit(ref, [*path, name])
        done.add(name)

    for name in structs:
        visit(name, [])


def _resolve_fields(c: Compilation, record: RecordInfo) -> None:
    for decl in record.decl.fields:
        if decl.name in record.fields:
            c.error("E107", f"field '{decl.name}' of '{record.name}' is declared twice", decl.span)
            continue
        ftype = resolve_type(c, decl.type, in_entity=True)
        record.fields[decl.name] = FieldInfo(decl.name, ftype, decl)
