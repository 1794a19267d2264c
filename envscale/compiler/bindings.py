"""Bound policy rules: which record each tool argument names, and how it leads to the records
a rule such as `before writes require verify_patient(patient_id)` is met for.

A parameter names a record of an entity with a one-field key when the tool looks that entity
up by it (`E[p]`, `E.get(p)`, `X.where(f: p)` where `f` is E's key or a reference to E), or
when it is named like E's key field and has its type (`patient_id: str` for Patient). From
the record an argument names, a chain follows references (at most MAX_HOPS) to a record of
the bound entity. docs/design.md (Policies) gives the meaning the runtime enforces.
"""

from __future__ import annotations

from dataclasses import dataclass

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.compiler.symbols import FieldInfo, ToolInfo
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean

GROUPS = ("reads", "writes", "any")
# References a chain may follow from the record an argument names, and the chains one tool may
# have: enough for any real schema, and a bound on the work a hostile spec can cause.
MAX_HOPS = 3
MAX_CHAINS = 64


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    span: ast.Span
    hint: str | None = None


def single_key(c: Compilation, entity: str) -> FieldInfo | None:
    record = c.symbols.entities.get(entity)
    if record is None or len(record.key) != 1:
        return None
    return record.fields[record.key[0]]


def named_entities(c: Compilation, tool: ToolInfo) -> dict[str, list[str]]:
    """Per parameter of `tool`, the entities whose records it names, in the order found."""
    found: dict[str, list[str]] = {name: [] for name in tool.params}

    def note(value: ast.Expr, entity: str) -> None:
        if (
            isinstance(value, ast.Name)
            and value.id in found
            and entity not in found[value.id]
            and single_key(c, entity) is not None
        ):
            found[value.id].append(entity)

    for node in tool.body_nodes:
        if isinstance(node, ast.Index) and len(node.keys) == 1:
            owner = c.type_of(node.obj)
            if isinstance(owner, t.EntityClass):
                note(node.keys[0], owner.entity)
        elif isinstance(node, ast.Call):
            callee = c.type_of(node.func)
            if not isinstance(callee, t.Method):
                continue
            if callee.name == "get" and len(node.args) == 1 and node.args[0].name is None:
                note(node.args[0].value, callee.entity)
            elif callee.name == "where":
                record = c.symbols.entities[callee.entity]
                for arg in node.args:
                    info = record.fields.get(arg.name or "")
                    if info is None:
                        continue
                    target = t.strip_optional(info.type)
                    if isinstance(target, t.RefT):
                        note(arg.value, target.entity)
                    elif info.key:
                        note(arg.value, callee.entity)
    for name, param in tool.params.items():
        for entity in c.symbols.entities:
            key = single_key(c, entity)
            if (
                key is not None
                and key.name == name
                and t.strip_optional(param.type) == t.strip_optional(key.type)
                and entity not in found[name]
            ):
                found[name].append(entity)
    return found


def chains_between(c: Compilation, start: str, target: str) -> list[tuple[str, ...]] | None:
    """The reference chains ("Entity.field", ...) from a record of `start` to records of
    `target`, at most MAX_HOPS long and shortest first; None when there are more than
    MAX_CHAINS."""
    memo: dict[tuple[str, int], list[tuple[str, ...]] | None] = {}

    def from_(entity: str, hops: int) -> list[tuple[str, ...]] | None:
        if entity == target:
            return [()]
        if hops == 0:
            return []
        if (entity, hops) in memo:
            return memo[entity, hops]
        out: list[tuple[str, ...]] = []
        for info in c.symbols.entities[entity].fields.values():
            ref = t.strip_optional(info.type)
            if not isinstance(ref, t.RefT) or single_key(c, ref.entity) is None:
                continue
            rest = from_(ref.entity, hops - 1)
            if rest is None or len(out) + len(rest) > MAX_CHAINS:
                memo[entity, hops] = None
                return None
            out.extend((f"{entity}.{info.name}", *chain) for chain in rest)
        memo[entity, hops] = out
        return out

    found = from_(start, MAX_HOPS)
    return None if found is None else sorted(found, key=len)


def subject_tools(c: Compilation, name: str) -> list[str]:
    """The tools a subject name stands for: itself, or the members of a group."""
    tools = c.symbols.tools
    if name == "writes":
        return [n for n, tool in tools.items() if tool.kind == "write"]
    if name == "reads":
        return [n for n, tool in tools.items() if tool.kind == "read"]
    if name == "any":
        return list(tools)
    return [name] if name in tools else []


def resolve_binding(c: Compilation, rule: ast.Rule) -> tuple[ir.Binding | None, list[Problem]]:
    """The binding of a `before` rule whose selectors name known tools, and what is wrong
    with it; (None, []) for a rule that binds nothing."""
    requirement = rule.requirement
    if rule.kind != "before" or requirement is None:
        return None, []
    problems: list[Problem] = []
    bound_subjects = [
        (name, param)
        for (name, _), param in zip(rule.subject.names, rule.subject.params, strict=True)
        if param is not None
    ]
    if not any(requirement.params):
        if bound_subjects:
            (_, (param, span)) = bound_subjects[0]
            problems.append(
                Problem(
                    "E501",
                    f"the subject binds '{param}', but the requirement binds no parameter",
                    span,
                    f"bind the requirement too, e.g. require {requirement.names[0][0]}({param})",
                )
            )
        return None, problems
    for (name, _), param in zip(rule.subject.names, rule.subject.params, strict=True):
        if param is not None and name in GROUPS:
            problems.append(
                Problem(
                    "E501",
                    f"the group '{name}' cannot bind a parameter",
                    param[1],
                    "write the group without one, or list the tools and bind each",
                )
            )

    entity, params = _requirement_entity(c, requirement, problems)
    if entity is None:
        return None, problems
    excluded = {n for n, _ in requirement.names}
    chains: dict[str, list[ir.Chain]] = {}
    for (name, span), bound in zip(rule.subject.names, rule.subject.params, strict=True):
        named = name not in GROUPS
        if not named:
            bound = None  # reported above
        for tool_name in subject_tools(c, name):
            if tool_name in excluded:
                continue
            tool = c.symbols.tools[tool_name]
            if bound is not None and bound[0] not in tool.params:
                problems.append(_unknown_param(tool, bound))
                continue
            found = _chains(c, tool, entity, bound[0] if bound else None)
            if found is None:
                problems.append(
                    Problem(
                        "E503",
                        f"more than {MAX_CHAINS} reference chains lead from the arguments of "
                        f"'{tool_name}' to a {entity}",
                        span,
                        "bind one parameter of the tool, e.g. "
                        f"{tool_name}({next(iter(tool.params), 'id')})",
                    )
                )
            elif found:
                chains.setdefault(tool_name, []).extend(
                    chain for chain in found if chain not in chains.get(tool_name, [])
                )
            elif named or bound is not None:
                what = f"its parameter '{bound[0]}'" if bound else "none of its parameters"
                problems.append(
                    Problem(
                        "E503",
                        f"the rule cannot tell which {entity} a call of '{tool_name}' concerns: "
                        f"{what} names a {entity} or a record that refers to one",
                        bound[1] if bound else span,
                        f"look the record up by a parameter in the tool ({entity}[...]), or "
                        "leave the tool out of the rule",
                    )
                )
    return ir.Binding(entity, params, chains), problems


def _requirement_entity(
    c: Compilation, requirement: ast.Selector, problems: list[Problem]
) -> tuple[str | None, dict[str, str]]:
    """The entity the requirement's bound parameters name (they must agree), and those
    parameters by tool."""
    entity: str | None = None
    entity_from = ""
    params: dict[str, str] = {}
    failed = False
    for (name, _), bound in zip(requirement.names, requirement.params, strict=True):
        tool = c.symbols.tools.get(name)
        if bound is None or tool is None:
            continue
        param, span = bound
        if param not in tool.params:
            problems.append(_unknown_param(tool, bound))
            failed = True
            continue
        entities = named_entities(c, tool)[param]
        if len(entities) != 1:
            failed = True
            if entities:
                message = (
                    f"parameter '{param}' of '{name}' names records of several entities: "
                    f"{', '.join(entities)}"
                )
                hint = "bind a parameter that names one kind of record"
            else:
                message = f"parameter '{param}' of '{name}' names no record"
                hint = (
                    "bind a parameter that holds a record's key: one the tool looks a record "
                    f"up by (Entity[{param}]), or one named after an entity's key field"
                )
            problems.append(Problem("E503", message, span, hint))
            continue
        if entity is not None and entities[0] != entity:
            failed = True
            problems.append(
                Problem(
                    "E503",
                    f"'{name}({param})' names a {entities[0]}, but {entity_from} names a {entity}",
                    span,
                    "the tools a rule requires must bind the same kind of record",
                )
            )
            continue
        entity, entity_from = entities[0], f"'{name}({param})'"
        params[name] = param
    return (None if failed else entity), params


def _chains(c: Compilation, tool: ToolInfo, entity: str, only: str | None) -> list[ir.Chain] | None:
    out: list[ir.Chain] = []
    for param, entities in named_entities(c, tool).items():
        if only is not None and param != only:
            continue
        for start in entities:
            found = chains_between(c, start, entity)
            if found is None or len(out) + len(found) > MAX_CHAINS:
                return None
            out.extend(ir.Chain(param, chain) for chain in found)
    return out


def _unknown_param(tool: ToolInfo, bound: tuple[str, ast.Span]) -> Problem:
    param, span = bound
    return Problem(
        "E502",
        f"tool '{tool.name}' has no parameter '{param}'",
        span,
        did_you_mean(param, tool.params)
        or (f"its parameters: {', '.join(tool.params)}" if tool.params else "it takes none"),
    )
