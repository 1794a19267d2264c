"""models.py: pydantic models of structs, entities and tool arguments."""

from __future__ import annotations

from dataclasses import dataclass

from envscale import __version__
from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.codegen import pysyntax as py
from envscale.compiler.codegen.layout import WIDTH, bracket, render, render_split
from envscale.compiler.codegen.python import docstring_block, module_docstring
from envscale.compiler.codegen.templates import render as render_template
from envscale.compiler.lower import constant_value
from envscale.compiler.symbols import FieldInfo, stored_key_type


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
            return annotation(d, stored_key_type(d.symbols.entities, ty.entity))
        case t.ListT():
            return f"list[{annotation(d, ty.item)}]"
        case t.MapT():
            return f"dict[{annotation(d, ty.key)}, {annotation(d, ty.value)}]"
    return "object"


# Names the annotations and defaults of a model's fields may use, besides the domain's enums
# and structs.
_ANNOTATION_NAMES = frozenset(
    {"str", "int", "float", "bool", "list", "dict", "Date", "DateTime", "Field", "Annotated"}
)


def _field_line(
    d: ir.DomainIR,
    name: str,
    ty: t.Type,
    doc: str | None,
    default: object,
    has_default: bool,
    any_value: bool = False,
) -> str:
    kwargs: dict[str, py.Code] = {}
    if has_default:
        if isinstance(default, list | dict):
            kwargs["default_factory"] = py.text(f"lambda: {py.constant(default)}")
        else:
            kwargs["default"] = py.text(py.constant(default))
    elif isinstance(ty, t.OptionalT):
        kwargs["default"] = py.text("None")
    if doc:
        kwargs["description"] = py.text(py.string(doc))
    # An @as_sent argument or an @as_written field takes any value: it is kept as given.
    written = "object" if any_value else annotation(d, ty)
    head = f"{name}: {written}"
    if not kwargs:
        return "    " + head
    value = py.call("Field", [], kwargs)
    if name in _ANNOTATION_NAMES or name in d.enums or name in d.structs:
        # `str: int = Field(...)` would bind `str` in the class body and change what the later
        # annotations mean; a field given by its annotation alone binds nothing.
        annotated = bracket("Annotated[", [written, value.doc], "]", nested=True)
        return "    " + render((f"{name}: ", annotated), 1)
    line = f"    {head} = {value.flat}"
    if len(line) > WIDTH:
        line = "    " + render_split((f"{head} = ", value.doc), 1)
    if doc and max(len(x) for x in line.splitlines()) > WIDTH:
        # A description too long for any line is split into adjacent string literals.
        lines = [f"    {head} = Field("]
        lines += [f"        {k}={v.doc}," for k, v in kwargs.items() if k != "description"]
        parts = _string_parts(doc, WIDTH - len("        description="))
        lines.append(f"        description={parts[0]}")
        lines += [f"        {part}" for part in parts[1:]]
        if len(kwargs) > 1:
            lines[-1] += ","
        return "\n".join([*lines, "    )"])
    return line


def _string_parts(text: str, width: int) -> list[str]:
    """String literals, each within width, that concatenate to text (split after spaces)."""
    words = text.split(" ")
    parts, current = [], ""
    for i, word in enumerate(words):
        piece = word if i == len(words) - 1 else word + " "
        if current and len(py.string(current + piece)) > width:
            parts.append(py.string(current))
            current = ""
        current += piece
    return [*parts, py.string(current)]


def _taken(d: ir.DomainIR) -> set[str]:
    return {*d.enums, *d.structs, *(table.entity for table in d.tables)}


def _free_name(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return name


def base_model_name(d: ir.DomainIR) -> str:
    """The shared base class of every model: `Model`, numbered when a type has that name."""
    return _free_name("Model", _taken(d))


def arg_model_names(d: ir.DomainIR) -> dict[str, str]:
    """The argument model's class name of each tool: `cancel_order` -> `CancelOrderArgs`,
    numbered when that name is taken (by a type, or by a tool such as `cancel__order`)."""
    taken = _taken(d)
    taken.add(base_model_name(d))
    names = {}
    for tool in d.tools:
        base = "".join(part.capitalize() for part in tool.name.split("_")) + "Args"
        names[tool.name] = _free_name(base, taken)
    return names


def _class(model: _Model, base: str) -> str:
    lines = [f"class {model.name}({base}):"]
    lines += docstring_block(model.doc, 1, closing_line=False)
    if model.fields:
        lines += ["", *model.fields]
    return "\n".join(lines)


def _table(name: str, entries: dict[str, str]) -> str:
    items = [(py.text(py.string(key)), py.text(value)) for key, value in entries.items()]
    return render((f"{name} = ", py.dict_of(items).doc))


def models_py(d: ir.DomainIR) -> str:
    models = []
    for record in d.structs.values():
        fields = [
            _field_line(d, f.name, f.type, f.decl.doc, *_default_of(f))
            for f in record.fields.values()
        ]
        models.append(_Model(record.name, record.decl.doc or f"The {record.name} struct.", fields))
    for table in d.tables:
        fields = []
        for column in table.columns:
            decl = d.symbols.entities[table.entity].fields[column.field].decl
            default = _runtime_default(column.default, column.has_default)
            if column.derived is not None:
                default = (None, True)  # computed when the record is stored
            fields.append(
                _field_line(
                    d, column.field, column.type, decl.doc, *default, any_value=column.as_written
                )
            )
        models.append(_Model(table.entity, table.doc or f"A record of {table.entity}.", fields))
    arg_models = arg_model_names(d)
    for tool in d.tools:
        fields = [
            _field_line(d, p.name, p.type, p.doc, p.default, p.has_default, p.as_sent)
            for p in tool.params
        ]
        models.append(_Model(arg_models[tool.name], f"Arguments of {tool.name}.", fields))
    base = base_model_name(d)
    enums = [
        render(
            (f"{name} = Literal", bracket("[", [py.string(m) for m in members], "]", nested=True))
        )
        for name, members in d.enums.items()
    ]
    header = module_docstring(
        f"Pydantic models of the `{d.name}` domain: structs, entities and tool arguments.\n\n"
        f"Generated by envscale {__version__} from {d.source}. Do not edit.\n"
        f"Spec sha256: {d.spec_hash}."
    )
    tables = [
        _table("STRUCTS", {name: name for name in d.structs}),
        _table("ENTITIES", {table.entity: table.entity for table in d.tables}),
        _table("ARGUMENTS", {tool.name: arg_models[tool.name] for tool in d.tools}),
    ]
    return render_template(
        "models.py.j2",
        header=header,
        base=base,
        enums=enums,
        classes=[_class(model, base) for model in models],
        tables=tables,
    )


def _runtime_default(value: object, has_default: bool) -> tuple[object, bool]:
    """now() and today() defaults are filled in by the tool that inserts, not by the model."""
    if isinstance(value, dict) and "$call" in value:
        return None, True
    return value, has_default


def _default_of(f: FieldInfo) -> tuple[object, bool]:
    if f.default is None:
        return None, False
    return _runtime_default(constant_value(f.default), True)
