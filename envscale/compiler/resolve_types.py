"""Pass 2: resolve every written type (fields, parameters, returns) to a compiler type."""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.compiler.symbols import FieldInfo, ParamInfo, RecordInfo
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


def resolve_type(c: Compilation, ref: ast.TypeRef, *, in_entity: bool = False) -> t.Type:
    """Resolve a written type; report unknown names. Entities become references."""
    s = c.symbols
    base: t.Type
    if ref.name == "list":
        base = t.ListT(resolve_type(c, ref.args[0]))
    elif ref.name == "map":
        key = resolve_type(c, ref.args[0])
        if key not in (t.STR, t.INT, t.ANY) and not isinstance(key, t.EnumT):
            c.error("E201", f"map keys must be str, int or an enum, not {key}", ref.args[0].span)
        base = t.MapT(key, resolve_type(c, ref.args[1]))
    elif ref.name in t.PRIMITIVES:
        base = t.Prim(ref.name)
    elif ref.name in s.enums:
        base = t.EnumT(ref.name)
    elif ref.name in s.structs:
        base = t.StructT(ref.name)
    elif ref.name in s.entities:
        base = t.RefT(ref.name) if in_entity else t.RowT(ref.name)
    else:
        c.error("E102", f"unknown type '{ref.name}'", ref.span, did_you_mean(ref.name, s.type_names()))
        base = t.ANY
    return t.OptionalT(base) if ref.optional and not isinstance(base, t.AnyT) else base


def resolve_declared_types(c: Compilation) -> None:
    s = c.symbols
    for record in [*s.structs.values(), *s.entities.values()]:
        _resolve_fields(c, record)
    for tool in s.tools.values():
        for param in tool.decl.params:
            if param.name in tool.params:
                c.error("E107", f"parameter '{param.name}' of tool '{tool.name}' is declared twice", param.span)
                continue
            ptype = resolve_type(c, param.type)
            if isinstance(t.strip_optional(ptype), t.RowT):
                hint = f"take the key instead, e.g. '{param.name}: str', and look it up with {t.strip_optional(ptype)}[{param.name}]"
                c.error("E305", f"a tool parameter cannot be a whole '{ptype}' record", param.type.span, hint)
                ptype = t.ANY
            tool.params[param.name] = ParamInfo(param.name, ptype, param)
        if tool.decl.returns is not None:
            tool.returns = resolve_type(c, tool.decl.returns)


def _resolve_fields(c: Compilation, record: RecordInfo) -> None:
    for decl in record.decl.fields:
        if decl.name in record.fields:
            c.error("E107", f"field '{decl.name}' of '{record.name}' is declared twice", decl.span)
            continue
        ftype = resolve_type(c, decl.type, in_entity=True)
        if not record.is_entity and isinstance(t.strip_optional(ftype), t.RefT):
            # A struct nested in a record stores the referred key as a plain value.
            ftype = t.RefT(t.strip_optional(ftype).entity)
            ftype = t.OptionalT(ftype) if decl.type.optional else ftype
        record.fields[decl.name] = FieldInfo(decl.name, ftype, decl)
