"""manifest.json: what the runtime and the task sampler need to know about a compiled domain."""

from __future__ import annotations

from envscale import __version__
from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.codegen.jsontext import json_text
from envscale.compiler.codegen.tools_json import tool_schemas
from envscale.compiler.lower import constant_value
from envscale.compiler.toolgraph import edge_records, tool_edges
from envscale.records import Manifest

FORMAT = 1
BOUND_FORMAT = 2  # a policy rule carries a binding
# A field is derived or hidden, a field's transitions are declared, or a shape holds a
# reference ({"ref": E}), which the runtime checks.
EXTENDED_FORMAT = 3
# A tool is another side's than the agent's, a sync block or an assertion: a reader that does
# not know sides would offer the agent every tool.
SIDES_FORMAT = 4


def shape(ty: t.Type | None) -> dict | None:
    """How a value of this type is rendered to its shown form, and the references it holds;
    None for plain values. A reference is `{"ref": entity}`: shown as its key, as stored."""
    base = t.strip_optional(ty) if ty is not None else None
    match base:
        case t.RowT():
            return {"row": base.entity}
        case t.RefT():
            return {"ref": base.entity}
        case t.StructT():
            return {"struct": base.name}
        case t.ListT():
            inner = shape(base.item)
            return {"list": inner} if inner else None
        case t.MapT():
            inner = shape(base.value)
            return {"map": inner} if inner else None
    return None


def binding(b: ir.Binding) -> dict:
    return {
        "entity": b.entity,
        "params": b.params,
        "chains": {
            tool: [{"param": chain.param, "via": list(chain.via)} for chain in chains]
            for tool, chains in b.chains.items()
        },
    }


def manifest(d: ir.DomainIR) -> dict:
    entities = {}
    for table in d.tables:
        checks = {check.name: check.message for check in table.checks}
        for column in table.columns:
            for name, _ in column.type_checks:
                checks[name] = name
        entities[table.entity] = {
            "doc": table.doc,
            "key": table.key,
            "fields": [
                {
                    "name": c.field,
                    "column": c.name,
                    "type": str(c.type),
                    "kind": c.kind,
                    "nullable": c.nullable,
                    "unique": c.unique,
                    "ref": c.ref,
                    "enum": c.enum,
                    "external": d.symbols.entities[table.entity].fields[c.field].external,
                    "sparse": d.symbols.entities[table.entity].fields[c.field].sparse,
                    # A direct reference is "ref"; references inside a collection, the shape.
                    "shape": None if c.ref else shape(c.type),
                    **({"default": c.default} if c.has_default else {}),
                    "derived": c.derived,
                    "hidden": c.hidden,
                    **({"as_written": True} if c.as_written else {}),
                }
                for c in table.columns
            ],
            "checks": checks,
            "facts": [
                {**fact, "check": check.name} for check in table.checks for fact in check.facts
            ],
        }
    bound = any(r.binding for p in d.policies for r in p.rules)
    computed = bool(d.transitions) or any(
        c.derived is not None or c.hidden for table in d.tables for c in table.columns
    )
    computed = computed or any(f.hidden for r in d.structs.values() for f in r.fields.values())
    computed = computed or any(
        t.all_refs(f.type)
        for r in [*d.structs.values(), *d.symbols.entities.values()]
        for f in r.fields.values()
        if t.nested_refs(f.type) or not r.is_entity
    )
    # A reader that does not know @as_sent would take a type error of such a tool for a bug.
    computed = computed or any(_as_sent(tool) for tool in d.tools)
    computed = computed or any(c.as_written for table in d.tables for c in table.columns)
    sided = any(tool.side != "agent" or tool.role != "tool" for tool in d.tools)
    out = {
        # The oldest format that reads this manifest faithfully: a reader that does not know
        # bound rules would enforce them unbound, so it must refuse them; one that does not
        # know derived or hidden fields, transitions or references inside shapes would neither
        # compute, hide nor check them.
        "format": SIDES_FORMAT
        if sided
        else (EXTENDED_FORMAT if computed else (BOUND_FORMAT if bound else FORMAT)),
        "envscale": __version__,
        "domain": d.name,
        "description": d.description,
        "spec": d.source,
        "spec_hash": d.spec_hash,
        "includes": d.includes,
        "clock": d.clock,
        "policy": d.policy,
        "entities": entities,
        "structs": {
            name: [
                {
                    "name": f.name,
                    "sparse": f.sparse,
                    "shape": shape(f.type),
                    "hidden": f.hidden,
                    **({"default": constant_value(f.default)} if f.default is not None else {}),
                }
                for f in record.fields.values()
            ]
            for name, record in d.structs.items()
        },
        "tools": [tool_info(d, tool) for tool in d.tools],
        "invariants": [
            {
                "name": inv.name,
                "entity": inv.entity,
                "where": inv.where,
                "reads": inv.reads,
                "enforced_by": "sql" if inv.sql is not None else "runtime",
            }
            for inv in d.invariants
        ],
        "runtime_invariants": [inv.name for inv in d.runtime_invariants],
        "policies": [
            {
                "name": p.name,
                "doc": p.doc,
                "rules": [
                    {
                        "kind": r.kind,
                        "subject": r.subject,
                        "requirement": r.requirement,
                        "limit": r.limit,
                        **({"binding": binding(r.binding)} if r.binding else {}),
                    }
                    for r in p.rules
                ],
            }
            for p in d.policies
        ],
        "tool_graph": [],  # computed below, from the manifest itself
        "key_formats": {entity: key_format(fmt) for entity, fmt in d.key_formats.items()},
        "transitions": d.transitions,
    }
    out["tool_graph"] = edge_records(tool_edges(Manifest.from_dict(out), tool_schemas(d)))
    return out


def tool_info(d: ir.DomainIR, tool: ir.Tool) -> dict:
    return {
        "name": tool.name,
        "kind": tool.kind,
        "reads": tool.reads,
        "writes": tool.writes,
        "params": [p.name for p in tool.params],
        "returns": str(tool.returns) if tool.returns is not None else None,
        "returns_shape": shape(tool.returns),
        **({"needs": tool.needs} if tool.needs else {}),
        **({"leaves": tool.leaves} if tool.leaves else {}),
        **({"stores": tool.stores} if tool.stores else {}),
        **({"parts": tool.parts} if tool.parts else {}),
        **({"as_sent": [p.name for p in tool.params if p.as_sent]} if _as_sent(tool) else {}),
        **({"side": tool.side} if tool.side != "agent" else {}),
        **({"role": tool.role} if tool.role != "tool" else {}),
    }


def _as_sent(tool: ir.Tool) -> bool:
    return any(p.as_sent for p in tool.params)


def key_format(fmt: ir.KeyFormat) -> dict[str, str | int]:
    """{"prefix", "width"} of next_key's keys, or {"first"}: where free_key counts up from."""
    return {"first": fmt.first} if fmt.first else {"prefix": fmt.prefix, "width": fmt.width}


def manifest_json(d: ir.DomainIR) -> str:
    return json_text(manifest(d)) + "\n"
