"""Pass 1: gather declarations by name; duplicates, the domain header, the policy text."""

from __future__ import annotations

import re
from datetime import datetime

from envscale.compiler.context import Compilation
from envscale.compiler.symbols import RecordInfo, ToolInfo
from envscale.dsl import ast

_CLOCK = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
CLOCK_YEARS = (1000, 8999)
# The longest `policy from` path: what a file name may be on common file systems.
MAX_POLICY_PATH = 255
# The largest policy file: its text goes into every prompt, manifest and trajectory.
MAX_POLICY_BYTES = 1024 * 1024


def collect_declarations(c: Compilation) -> None:
    s = c.symbols
    seen: dict[str, ast.Span] = {}
    for decl in c.module.declarations:
        if isinstance(decl, ast.Domain):
            if s.domain is not None:
                c.error(
                    "E101",
                    "the domain is declared twice",
                    decl.span,
                    f"the first declaration is at {s.domain.span}",
                )
                continue
            s.domain = decl
            _load_policy_text(c, decl)
            if decl.clock is not None:
                _check_clock(c, decl)
            continue
        if isinstance(decl, ast.Transitions):
            s.transition_decls.append(decl)
            continue
        namespace = (
            "tool"
            if isinstance(decl, ast.Tool)
            else (
                "invariant"
                if isinstance(decl, ast.Invariant)
                else ("policy" if isinstance(decl, ast.Policy) else "type")
            )
        )
        key = f"{namespace}:{decl.name}"
        span = decl.name_span if isinstance(decl, ast.Tool) else decl.span
        if key in seen:
            c.error(
                "E101",
                f"'{decl.name}' is declared twice",
                span,
                f"the first declaration is at {seen[key]}",
            )
            continue
        if namespace == "type" and decl.name in (
            "str",
            "int",
            "float",
            "bool",
            "date",
            "datetime",
            "list",
            "map",
        ):
            c.error("E101", f"'{decl.name}' is a built-in type", span, "choose another name")
            continue
        seen[key] = span
        match decl:
            case ast.Enum():
                s.enums[decl.name] = decl
                _check_enum_members(c, decl)
            case ast.Struct():
                s.structs[decl.name] = RecordInfo(decl.name, decl, is_entity=False)
            case ast.Entity():
                s.entities[decl.name] = RecordInfo(decl.name, decl, is_entity=True)
            case ast.Tool():
                s.tools[decl.name] = ToolInfo(decl.name, decl)
            case ast.Invariant():
                s.invariants[decl.name] = decl
            case ast.Policy():
                s.policies[decl.name] = decl
    if s.domain is None:
        where = ast.Span(c.module.file, 1, 1, 1, 2)
        c.error(
            "E601",
            "the spec has no domain declaration",
            where,
            'start the file with: domain NAME "one-line description"',
        )


def _check_clock(c: Compilation, decl: ast.Domain) -> None:
    assert decl.clock is not None
    span = decl.clock_span or decl.span
    try:
        when = datetime.fromisoformat(decl.clock) if _CLOCK.match(decl.clock) else None
    except ValueError:
        when = None
    if when is None:
        c.error(
            "E603",
            f"invalid clock '{decl.clock}'",
            span,
            'write the fixed time as YYYY-MM-DDTHH:MM:SS, e.g. "2024-05-15T15:00:00"',
        )
    elif not CLOCK_YEARS[0] <= when.year <= CLOCK_YEARS[1]:
        # Generated data reaches 85 years before the clock and a year after it, and tools
        # count days from it: all of that must stay within the years 1 to 9999 of a date.
        c.error(
            "E603",
            f"clock '{decl.clock}' is outside the years {CLOCK_YEARS[0]} to {CLOCK_YEARS[1]}",
            span,
            "choose a clock within those years",
        )


def _check_enum_members(c: Compilation, enum: ast.Enum) -> None:
    seen: set[str] = set()
    for member, span in zip(enum.members, enum.member_spans, strict=True):
        if member in seen:
            c.error("E107", f"enum member '{member}' of '{enum.name}' is listed twice", span)
        seen.add(member)


def _load_policy_text(c: Compilation, decl: ast.Domain) -> None:
    if decl.policy is not None:
        c.symbols.policy_text = decl.policy
        return
    if decl.policy_file is None:
        return
    span = decl.policy_span or decl.span
    if c.path is None:
        c.error(
            "E602", f"policy file '{decl.policy_file}' not found", span, "the spec has no folder"
        )
        return
    if len(decl.policy_file) > MAX_POLICY_PATH:
        c.error(
            "E602",
            f"policy file path is {len(decl.policy_file)} characters long",
            span,
            f"a policy path has at most {MAX_POLICY_PATH} characters",
        )
        return
    if "\x00" in decl.policy_file:
        c.error(
            "E602",
            "policy file path holds a NUL character",
            span,
            "no file name can hold one; write the path without it",
        )
        return
    base = c.path.parent
    target = base / decl.policy_file
    try:
        # A spec reads only files in its own folder or below, wherever links point: a
        # third-party spec must not pull other files into prompts, manifests and trajectories.
        inside = target.resolve().is_relative_to(base.resolve())
        found = target.is_file()
    except (OSError, RuntimeError) as error:  # a name too long, a symlink loop
        c.error("E602", f"policy file '{decl.policy_file}' cannot be read: {error}", span)
        return
    if not inside:
        c.error(
            "E604",
            f"policy file '{decl.policy_file}' is outside the spec's folder",
            span,
            "a spec may read only files in its own folder or below it; move the file there",
        )
        return
    if not found:
        c.error(
            "E602",
            f"policy file '{decl.policy_file}' not found",
            span,
            "the path is relative to the spec file's folder",
        )
        return
    try:
        with target.open("rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:
            raise ValueError(f"it is larger than {MAX_POLICY_BYTES:,} bytes")
        text = data.decode("utf-8")
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        c.error(
            "E602",
            f"policy file '{decl.policy_file}' cannot be read: {error}",
            span,
        )
        return
    c.symbols.policy_text = text.strip()
    c.extra_sources[decl.policy_file] = text
