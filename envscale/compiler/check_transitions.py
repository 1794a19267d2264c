"""Pass: `transitions E.f { ... }`, the moves a write may make to an enum field.

Each chain `a -> b, c -> d` allows every state of a group to move to every state of the
next; a group alone (`archived`) names states that no write enters or leaves. Every member
of the field's enum must appear, so that a state left out by mistake is an error rather
than a state no write can ever leave. The checked moves go to `Symbols.transitions`.
"""

from __future__ import annotations

import itertools

from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


def check_transitions(c: Compilation) -> None:
    seen: dict[str, ast.Span] = {}
    for decl in c.symbols.transition_decls:
        slot = f"{decl.entity}.{decl.field}"
        if slot in seen:
            c.error(
                "E713",
                f"the transitions of {slot} are declared twice",
                decl.span,
                f"the first declaration is at {seen[slot]}; list every move in one",
            )
            continue
        seen[slot] = decl.span
        moves = _moves(c, decl)
        if moves is not None:
            c.symbols.transitions[slot] = moves


def _moves(c: Compilation, decl: ast.Transitions) -> dict[str, list[str]] | None:
    record = c.symbols.entities.get(decl.entity)
    if record is None:
        c.error(
            "E102",
            f"unknown entity '{decl.entity}'",
            decl.span,
            did_you_mean(decl.entity, c.symbols.entities),
        )
        return None
    info = record.fields.get(decl.field)
    if info is None:
        c.error(
            "E103",
            f"'{record.name}' has no field '{decl.field}'",
            decl.field_span,
            did_you_mean(decl.field, record.fields),
        )
        return None
    if not isinstance(info.type, t.EnumT):
        c.error(
            "E713",
            f"transitions need a required enum field; '{decl.field}' is a {info.type}",
            decl.field_span,
            "declare the states as an enum, and the field as that enum (not optional)",
        )
        return None
    if info.derived is not None:
        c.error(
            "E713",
            f"'{decl.field}' is derived: no write moves it",
            decl.field_span,
            "declare the transitions of a stored field",
        )
        return None
    members = list(c.symbols.enums[info.type.name].members)
    allowed: dict[str, set[str]] = {m: set() for m in members}
    mentioned: set[str] = set()
    ok = True
    for chain in decl.chains:
        for group in chain:
            for state, span in group:
                if state not in allowed:
                    ok = False
                    c.error(
                        "E106",
                        f"'{state}' is not a member of {info.type.name}",
                        span,
                        did_you_mean(state, members) or f"members: {', '.join(members)}",
                    )
                mentioned.add(state)
        for sources, targets in itertools.pairwise(chain):
            for source, _ in sources:
                for target, span in targets:
                    if source == target:
                        ok = False
                        c.error(
                            "E713",
                            f"'{source}' moves to itself",
                            span,
                            "a write that keeps the value is no move and is always allowed; "
                            "drop this one",
                        )
                    elif source in allowed and target in allowed:
                        allowed[source].add(target)
    missing = [m for m in members if m not in mentioned]
    if missing and ok:
        ok = False
        c.error(
            "E713",
            f"the transitions of {decl.entity}.{decl.field} leave out "
            f"{', '.join(repr(m) for m in missing)}",
            decl.span,
            "name every state: in a move (a -> b), or alone if no write enters or leaves it",
        )
    if not ok:
        return None
    return {m: [x for x in members if x in allowed[m]] for m in members}
