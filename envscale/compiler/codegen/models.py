"""models.py: pydantic models of structs, entities and tool arguments."""

from __future__ import annotations

from dataclasses import dataclass

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.codegen.templates import render
from envscale.compiler.lower import constant_value
from envscale.compiler.symbols import FieldInfo


@dataclass
class _Model:
    name: str
    doc: str
    fields: list[str]


def annotation(d: ir.DomainIR, ty: t.Type) -> str:
    if isinstance(ty, t.OptionalT):
        return f"{annotation(d, ty.inner)} | None"
    match ty:
        case t.Prim(name="date"):
            return "Date"
        case t.Prim(name="datetime"):
            return "DateTime"
        case t.Prim():
            return "float" if ty.name == "float" else ty.name
        case t.EnumT() | t.StructT():
            return ty.name
        case t.RefT() | t.RowT():
            table = d.table(ty.entity)
            key = table.column(table.key[0]) if table.key else None
            return annotation(d, t.strip_optional(key.type)) if key and key.kind != "ref" else "str"
        case t.ListT():
            return f"list[{annotation(d, ty.item)}]"
        case t.MapT():
            return f"dict[{annotation(d, ty.key)}, {annotation(d, ty.value)}]"
    return "object"


def _field_line(d: ir.DomainIR, name: str, ty: t.Type, doc: str | None, default: object, has_default: bool) -> str:
    kwargs = []
    if has_default:
        if isinstance(default, list | dict):
            kwargs.append(f"default_factory=lambda: {default!r}")
        else:
            kwargs.append(f"default={default!r}")
    elif isinstance(ty, t.OptionalT):
        kwargs.append("default=None")
    if doc:
        kwargs.append(f"description={doc!r}")
    suffix = f" = Field({', '.join(kwargs)})" if kwargs else ""
    return f"{name}: {annotation(d, ty)}{suffix}"


def arg_model_names(d: ir.DomainIR) -> dict[str, str]:
    """The argument model's class name of each tool: `cancel_order` -> `CancelOrderArgs`,
    numbered when that name is taken (by a type, or by a tool such as `cancel__order`)."""
    taken = {*d.enums, *d.structs, *(table.entity for table in d.tables)}
    names = {}
    for tool in d.tools:
        base = "".join(part.capitalize() for part in tool.name.split("_")) + "Args"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}{n}"
        taken.add(name)
        names[tool.name] = name
    return names


def models_py(d: ir.DomainIR) -> str:
    models = []
    for record in d.structs.values():
        fields = [_field_line(d, f.name, f.type, f.decl.doc, *_default_of(f)) for f in record.fields.values()]
        models.append(_Model(record.name, record.decl.doc or f"The {record.name} struct.", fields))
    for table in d.tables:
        fields = []
        for column in table.columns:
            decl = d.symbols.entities[table.entity].fields[column.field].decl
            fields.append(_field_line(d, column.field, column.type, decl.doc, *_runtime_default(column.default, column.has_default)))
        models.append(_Model(table.entity, table.doc or f"A record of {table.entity}.", fields))
    arg_models = arg_model_names(d)
    for tool in d.tools:
        fields = [_field_line(d, p.name, p.type, p.doc, p.default, p.has_default) for p in tool.params]
        models.append(_Model(arg_models[tool.name], f"Arguments of {tool.name}.", fields))
    return render("models.py.j2", d=d, models=models, arg_models=arg_models)


def _runtime_default(value: object, has_default: bool) -> tuple[object, bool]:
    """now() and today() defaults are filled in by the tool that inserts, not by the model."""
    if isinstance(value, dict) and "$call" in value:
        return None, True
    return value, has_default


def _default_of(f: FieldInfo) -> tuple[object, bool]:
    if f.default is None:
        return None, False
    return _runtime_default(constant_value(f.default), True)
