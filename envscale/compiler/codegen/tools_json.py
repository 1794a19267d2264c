"""tools.json: OpenAI function schemas, the form chat templates and model servers take."""

from __future__ import annotations

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.codegen.jsontext import json_text
from envscale.compiler.symbols import stored_key_type


def json_schema(d: ir.DomainIR, ty: t.Type) -> dict:
    base = t.strip_optional(ty)
    match base:
        case t.Prim(name="str"):
            return {"type": "string"}
        case t.Prim(name="int"):
            return {"type": "integer"}
        case t.Prim(name="float"):
            return {"type": "number"}
        case t.Prim(name="bool"):
            return {"type": "boolean"}
        case t.Prim(name="date"):
            return {"type": "string", "format": "date"}
        case t.Prim(name="datetime"):
            return {"type": "string", "format": "date-time"}
        case t.EnumT():
            return {"type": "string", "enum": list(d.enums[base.name])}
        case t.RefT() | t.RowT():
            return json_schema(d, stored_key_type(d.symbols.entities, base.entity))
        case t.ListT():
            return {"type": "array", "items": json_schema(d, base.item)}
        case t.MapT():
            return {"type": "object", "additionalProperties": json_schema(d, base.value)}
        case t.StructT():
            record = d.structs[base.name]
            properties = {}
            for f in record.fields.values():
                prop = json_schema(d, f.type)
                if f.decl.doc:
                    prop["description"] = f.decl.doc
                properties[f.name] = prop
            required = [
                f.name for f in record.fields.values() if not f.optional and f.default is None
            ]
            return {"type": "object", "properties": properties, "required": required}
    return {}


def tool_schema(d: ir.DomainIR, tool: ir.Tool) -> dict:
    properties = {}
    for p in tool.params:
        prop = json_schema(d, p.type)
        if p.choices is not None:
            prop["enum"] = list(p.choices)
        if p.doc:
            prop["description"] = p.doc
        if p.has_default and p.default is not None:
            prop["default"] = p.default
        properties[p.name] = prop
    required = [
        p.name for p in tool.params if not p.has_default and not isinstance(p.type, t.OptionalT)
    ]
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": " ".join(tool.doc.split()) if tool.doc else tool.name,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def tool_schemas(d: ir.DomainIR) -> list[dict]:
    """The schemas of the tools a side may call (the agent's and the user's, in spec order);
    the manifest tells whose each is. Internal tools, sync blocks and assertions have none."""
    return [tool_schema(d, tool) for tool in d.tools if tool.side != "internal"]


def tools_json(d: ir.DomainIR) -> str:
    return json_text(tool_schemas(d)) + "\n"
