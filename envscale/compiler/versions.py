"""Spec versions: a spec that `extends` another is the base's declarations, changed.

`domain retail_v2 "..." extends "retail.domain"` reads the base spec (relative to this one,
in its folder or below, as policy files are) and builds one module from both: each
declaration of the base stays where it is unless this spec declares one of the same kind and
name, which takes its place; declarations new to this spec follow the base's; `remove tool
think` leaves one out. The domain's name and description are this spec's, its clock and
policy this spec's when it gives them, else the base's. A base may extend another spec in
turn. Every declaration keeps the span of the file it was written in, so diagnostics point
into the base where the base is at fault.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.dsl.diagnostics import Diagnostic, did_you_mean

Parser = Callable[[str, str], tuple[ast.Module | None, list[Diagnostic]]]
ReadSpec = Callable[[Path], tuple[str | None, list[Diagnostic]]]

# What a `remove` names, by the word it uses: the declaration class.
_KINDS: dict[str, type] = {
    "enum": ast.Enum,
    "struct": ast.Struct,
    "entity": ast.Entity,
    "invariant": ast.Invariant,
    "tool": ast.Tool,
    "policy": ast.Policy,
}
_WORDS = {cls: word for word, cls in _KINDS.items()}
_WORD_OF = {**_WORDS, ast.Transitions: "transitions"}


def _key(decl: ast.Decl) -> tuple[str, str] | None:
    """The name a declaration is replaced by: types share one namespace, as in collect."""
    match decl:
        case ast.Tool():
            return ("tool", decl.name)
        case ast.Invariant():
            return ("invariant", decl.name)
        case ast.Policy():
            return ("policy", decl.name)
        case ast.Enum() | ast.Struct() | ast.Entity():
            return ("type", decl.name)
        case ast.Transitions():
            return ("transitions", f"{decl.entity}.{decl.field}")
    return None


def _name_span(decl: ast.Decl) -> ast.Span:
    return decl.name_span if isinstance(decl, ast.Tool) else decl.span


def resolve_versions(c: Compilation, parse: Parser, read: ReadSpec) -> None:
    """Replace c.module by the module its `extends` chain makes; report what cannot be."""
    module = _resolve(c, c.module, c.path, parse, read, [])
    if module is not None:
        c.module = module


def _resolve(
    c: Compilation,
    module: ast.Module,
    path: Path | None,
    parse: Parser,
    read: ReadSpec,
    chain: list[Path],
) -> ast.Module | None:
    """The merged module of `module` (read from `path`), or None when it extends nothing."""
    domain = next((d for d in module.declarations if isinstance(d, ast.Domain)), None)
    changes = [d for d in module.declarations if isinstance(d, ast.Remove | ast.Replace)]
    if domain is None or domain.extends is None:
        for d in changes:
            if isinstance(d, ast.Remove):
                verb, kind, name, span = "remove", d.kind, d.name, d.span
            else:
                verb, kind, span = "replace", _WORD_OF[type(d.decl)], _name_span(d.decl)
                name = _shown(d.decl)
            c.error(
                "E607",
                f"nothing to {verb}: {kind} '{name}' is not in a base spec",
                span,
                f'only a spec that extends another can {verb} declarations: domain NAME "..." '
                'extends "base.domain"',
            )
        if changes:
            return replace(module, declarations=_plain(module.declarations))
        return None
    span = domain.extends_span or domain.span
    base = _base(c, domain, path, span, chain, read)
    if base is None:
        return replace(module, declarations=_plain(module.declarations))
    base_path, base_file, text = base
    c.sources[base_file] = text
    parsed, syntax = parse(text, base_file)
    if parsed is None:
        c.diagnostics.extend(syntax)
        return replace(module, declarations=_plain(module.declarations))
    merged_base = _resolve(c, parsed, base_path, parse, read, [*chain, _real(path)]) or parsed
    return replace(module, declarations=_merge(c, merged_base, module, domain))


def _real(path: Path | None) -> Path:
    return Path(os.path.realpath(path)) if path is not None else Path("<spec>")


def _base(
    c: Compilation,
    domain: ast.Domain,
    path: Path | None,
    span: ast.Span,
    chain: list[Path],
    read: ReadSpec,
) -> tuple[Path, str, str] | None:
    """The base's path, its name in diagnostics and its text, or None (reported)."""
    assert domain.extends is not None
    wanted = domain.extends
    if path is None:
        c.error("E605", f"base spec '{wanted}' not found", span, "the spec has no folder")
        return None
    if "\x00" in wanted or not wanted:
        c.error("E605", "the base spec's path is empty or holds a NUL", span)
        return None
    folder = path.parent
    target = folder / wanted
    try:
        inside = target.resolve().is_relative_to(folder.resolve())
        found = target.is_file()
    except (OSError, RuntimeError) as error:  # a name too long, a symlink loop
        c.error("E605", f"base spec '{wanted}' cannot be read: {error}", span)
        return None
    if not inside:
        c.error(
            "E604",
            f"base spec '{wanted}' is outside the spec's folder",
            span,
            "a spec may read only files in its own folder or below it; move the base there",
        )
        return None
    if not found:
        c.error(
            "E605",
            f"base spec '{wanted}' not found",
            span,
            _nearest(target, wanted) or "the path is relative to this spec's folder",
        )
        return None
    real = _real(target)
    if real in chain or real == _real(path):
        names = [p.name for p in [*chain, _real(path)]]
        loop = " -> ".join([*names[names.index(real.name) :], real.name])
        c.error(
            "E606",
            f"specs extend each other in a cycle: {loop}",
            span,
            "a base spec cannot extend, directly or not, the spec that extends it",
        )
        return None
    text, problems = read(target)
    if text is None:
        c.error("E605", f"base spec '{wanted}' cannot be read: {problems[0].message}", span)
        return None
    file = os.path.join(os.path.dirname(span.file), wanted)
    c.extra_sources[_relative(c, target)] = text
    return target, file, text


def _nearest(target: Path, wanted: str) -> str | None:
    """A spec file beside the one asked for whose name is nearly the same."""
    try:
        names = [p.name for p in target.parent.glob("*.domain")] if target.parent.is_dir() else []
    except OSError:
        return None
    match = difflib.get_close_matches(target.name, sorted(names), n=1, cutoff=0.8)
    if not match:
        return None
    return f"did you mean '{os.path.join(os.path.dirname(wanted), match[0])}'?"


def _relative(c: Compilation, target: Path) -> str:
    """The base's path relative to the compiled spec's folder: how the manifest lists it."""
    assert c.path is not None
    return os.path.relpath(target.resolve(), c.path.parent.resolve())


def _plain(declarations: tuple[ast.Decl, ...]) -> tuple[ast.Decl, ...]:
    """The declarations without `remove`s, and without the `replace` marks."""
    return tuple(
        d.decl if isinstance(d, ast.Replace) else d
        for d in declarations
        if not isinstance(d, ast.Remove)
    )


def _merge(
    c: Compilation, base: ast.Module, version: ast.Module, domain: ast.Domain
) -> tuple[ast.Decl, ...]:
    base_domain = next((d for d in base.declarations if isinstance(d, ast.Domain)), None)
    slots: dict[tuple[str, str], int] = {}
    merged: list[ast.Decl | None] = []
    for decl in base.declarations:
        if isinstance(decl, ast.Domain):
            continue
        key = _key(decl)
        if key is not None and key not in slots:
            slots[key] = len(merged)
        merged.append(decl)
    for decl in version.declarations:
        if isinstance(decl, ast.Domain):
            continue
        if isinstance(decl, ast.Remove):
            _remove(c, decl, merged, slots)
            continue
        required = isinstance(decl, ast.Replace)
        if isinstance(decl, ast.Replace):
            decl = decl.decl
        key = _key(decl)
        at = slots.get(key) if key is not None else None
        if at is None or merged[at] is None:
            if required:
                _nothing_to_replace(c, decl, merged)
                continue
            merged.append(decl)
            continue
        old = merged[at]
        assert old is not None
        if type(old) is not type(decl):
            c.error(
                "E608",
                f"'{decl.name}' replaces the base's {_WORDS[type(old)]} "
                f"with a {_WORDS[type(decl)]}",
                _name_span(decl),
                f"the base declares it at {_name_span(old)}; a replacement is of the same kind",
            )
            continue
        merged[at] = decl
    return (_domain(domain, base_domain), *(d for d in merged if d is not None))


def _shown(decl: ast.Decl) -> str:
    return f"{decl.entity}.{decl.field}" if isinstance(decl, ast.Transitions) else decl.name


def _nothing_to_replace(c: Compilation, decl: ast.Decl, merged: list[ast.Decl | None]) -> None:
    names = [_shown(d) for d in merged if d is not None and type(d) is type(decl)]
    shown = _shown(decl)
    c.error(
        "E607",
        f"nothing to replace: the base spec has no {_WORD_OF[type(decl)]} '{shown}'",
        _name_span(decl),
        did_you_mean(shown, names) or "without `replace` the declaration is added",
    )


def _remove(
    c: Compilation,
    decl: ast.Remove,
    merged: list[ast.Decl | None],
    slots: dict[tuple[str, str], int],
) -> None:
    cls = _KINDS[decl.kind]
    at = next((i for i, d in enumerate(merged) if isinstance(d, cls) and d.name == decl.name), None)
    if at is None:
        names = [d.name for d in merged if isinstance(d, cls)]
        c.error(
            "E607",
            f"nothing to remove: the base spec has no {decl.kind} '{decl.name}'",
            decl.span,
            did_you_mean(decl.name, names),
        )
        return
    merged[at] = None


def _domain(version: ast.Domain, base: ast.Domain | None) -> ast.Domain:
    """This spec's domain header, with the base's clock and policy where it gives none."""
    if base is None:
        return version
    clock, clock_span = version.clock, version.clock_span
    if clock is None:
        clock, clock_span = base.clock, base.clock_span
    policy, policy_file, policy_span = version.policy, version.policy_file, version.policy_span
    if policy is None and policy_file is None:
        policy, policy_span = base.policy, base.policy_span
        if base.policy_file is not None:
            # A policy file is relative to the spec that names it; the policy pass reads it
            # relative to the compiled spec's folder.
            folder = os.path.dirname(version.extends or "")
            policy_file = os.path.normpath(os.path.join(folder, base.policy_file))
    return replace(
        version,
        clock=clock,
        clock_span=clock_span,
        policy=policy,
        policy_file=policy_file,
        policy_span=policy_span,
    )
