"""A spec for one community of tools, written without a model: `draft_spec(community)`.

The domain model comes from `model.infer` (entities, fields, references, what each tool
does), the bodies from `bodies.body`; this module prints them in the spec language:
enums, structs, entities, status transitions, tools with their descriptions and parameter
docs, and a short policy. The same community always gives the same text, byte for byte.
See docs/design.md, "Synthesis".
"""

from __future__ import annotations

from envscale.synth.bodies import body
from envscale.synth.model import DomainModel, EntityPlan, ToolPlan, infer
from envscale.synth.nouns import phrase, words
from envscale.synth.params import member_text, quote
from envscale.synth.records import Community, SpecDraft

CLOCK = "2025-01-15T10:00:00"


def draft_spec(community: Community) -> SpecDraft:
    """The heuristic draft of a domain spec for the community's tools."""
    model = infer(community)
    text = write_spec(model)
    return SpecDraft(
        name=model.name,
        source=text,
        instructions=None,
        tool_kinds={p.name: "write" if p.verb.writes else "read" for p in model.tools},
        provenance={p.name: list(p.tool.provenance) for p in model.tools},
        entities=list(model.entities),
    )


def write_spec(model: DomainModel) -> str:
    out: list[str] = []
    out.append(f"# {_comment(model.doc)}")
    out.append(
        f"domain {model.name} {quote(model.doc)} clock {quote(CLOCK)}\n"
        f"  policy {quote(policy(model))}"
    )
    for name, members in model.types.enums.items():
        out.append(f"enum {name} {{ {', '.join(member_text(m) for m in members)} }}")
    for e in model.entities.values():
        if e.machine is not None:
            states = ", ".join(e.machine.states)
            out.append(f"enum {e.machine.enum} {{ {states} }}")
    for name, fields in model.types.structs.items():
        lines = [f"struct {name} {{"]
        for fname, ftype, optional, doc in fields:
            lines.append(f"  {fname}: {ftype.text}{'?' if optional else ''}{_doc(doc)}")
        lines.append("}")
        out.append("\n".join(lines))
    for e in model.entities.values():
        out.append(_entity(e))
    for e in model.entities.values():
        if e.machine is not None and e.machine.moves:
            chains = [
                f"  {', '.join(sources)} -> {target}" for target, sources in e.machine.moves.items()
            ]
            named = {s for target, sources in e.machine.moves.items() for s in [target, *sources]}
            chains += [f"  {state}" for state in e.machine.states if state not in named]
            out.append(f"transitions {e.name}.status {{\n" + "\n".join(chains) + "\n}")
    for plan in model.tools:
        out.append(_tool(plan, model))
    return "\n\n".join(out) + "\n"


def policy(model: DomainModel) -> str:
    reads = [p for p in model.tools if not p.verb.writes]
    writes = [p for p in model.tools if p.verb.writes]
    external = [p for p in model.tools if p.action == "external"]
    about = model.doc.split(":")[0]
    parts = [f"You are the assistant of {about}."]
    if reads:
        parts.append("Look records up with the tools instead of guessing ids or values.")
    if external:
        parts.append("Report what the service answers as it is; never make an answer up.")
    if writes:
        parts.append(
            "Before a change, say what it will do and make it only when the user agrees; "
            "a change that fails is reported with its reason."
        )
    return " ".join(parts)


def _entity(e: EntityPlan) -> str:
    lines = [f"entity {e.name} {quote(e.doc)} {{"]
    key_attrs = " @key @hidden" if e.external else " @key"
    lines.append(f"  {e.key}: {e.key_type.text}{key_attrs}")
    for f in e.fields.values():
        ftype = f.ref if f.ref is not None else f.type.text
        attrs = ""
        if e.machine is not None and f.name == "status":
            attrs = f" @default({e.machine.initial})"
        optional = "?" if f.optional and not attrs else ""
        lines.append(f"  {f.name}: {ftype}{optional}{attrs}{_doc(f.doc)}")
    lines.append("}")
    return "\n".join(lines)


def _tool(plan: ToolPlan, model: DomainModel) -> str:
    returns, lines = body(plan, model)
    params = []
    for p in plan.params:
        if p.required:
            text = f"{p.name}: {p.type.text}"
        elif p.default is not None:
            text = f"{p.name}: {p.type.text} = {p.default}"
        else:
            text = f"{p.name}: {p.type.text}? = none"
        params.append(f"{text}{_doc(p.doc)}")
    head = f"tool {plan.name}("
    if params:
        head += "\n    " + ",\n    ".join(params) + ",\n"
    head += f") -> {returns} {{"
    doc = plan.doc or _default_doc(plan, model)
    return "\n".join([head, f"  {quote(doc)}", *lines, "}"])


def _default_doc(plan: ToolPlan, model: DomainModel) -> str:
    what = phrase(model.entities[plan.subject].words) if plan.subject else "record"
    return {
        "lookup": f"Look a {what} up by its id.",
        "many": f"Look several {what} records up by their ids.",
        "collection": f"The {what} records that belong to the given ones.",
        "search": f"Find {what} records by their fields.",
        "external": f"Look up {what} for the given arguments.",
        "create": f"Record a new {what}.",
        "update": f"Change a {what}.",
        "delete": f"Delete a {what}.",
        "status": f"Mark a {what} as {plan.verb.state}.",
    }.get(plan.action, phrase(words(plan.name)))


def _doc(doc: str) -> str:
    return f" {quote(doc)}" if doc else ""


def _comment(text: str) -> str:
    return " ".join(text.split())[:200]
