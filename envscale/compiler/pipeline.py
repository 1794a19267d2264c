"""The compiler passes, listed once, in the order they run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envscale.compiler.check_derived import check_derived
from envscale.compiler.check_entities import check_entities
from envscale.compiler.check_invariants import check_invariants
from envscale.compiler.check_limits import check_limits
from envscale.compiler.check_names import check_names
from envscale.compiler.check_policies import check_policies
from envscale.compiler.check_sides import check_sides
from envscale.compiler.check_tools import check_tools
from envscale.compiler.check_transitions import check_transitions
from envscale.compiler.collect import collect_declarations
from envscale.compiler.context import Compilation
from envscale.compiler.effects import check_write_positions, infer_effects
from envscale.compiler.lower import lower
from envscale.compiler.resolve_types import resolve_declared_types
from envscale.compiler.specfile import read_spec
from envscale.compiler.versions import resolve_versions
from envscale.dsl import ast
from envscale.dsl.diagnostics import Diagnostic
from envscale.dsl.parser import parse

Pass = Callable[[Compilation], None]
Parser = Callable[[str, str], tuple[ast.Module | None, list[Diagnostic]]]

# Checking passes report into c.diagnostics and keep going, so one run shows every error.
CHECKS: list[Pass] = [
    collect_declarations,
    resolve_declared_types,
    check_names,
    check_limits,
    check_entities,
    check_derived,
    check_transitions,
    check_tools,
    check_invariants,
    infer_effects,
    check_sides,
    check_write_positions,
    check_policies,
]
# Lowering runs only on a spec without errors.
LOWERING: list[Pass] = [lower]


def analyze(
    source: str, file: str, path: Path | None = None, *, parser: Parser = parse
) -> Compilation:
    """Parse and check a spec; the IR is set when it has no errors. `parser` is for measuring."""
    if not source.isascii() and (bad := _lone_surrogate(source, file)) is not None:
        c = Compilation(ast.Module(file, source), path)
        c.diagnostics.extend([bad])
        return c
    module, syntax = parser(source, file)
    if module is None:
        c = Compilation(ast.Module(file, source), path)
        c.diagnostics.extend(syntax)
        return c
    c = Compilation(module, path)
    resolve_versions(c, parser, read_spec)
    for run in CHECKS:
        run(c)
    if not c.diagnostics.has_errors:
        for run in LOWERING:
            run(c)
    return c


def _lone_surrogate(source: str, file: str) -> Diagnostic | None:
    """Text read from a file never holds one; text handed to the API may, and no generated
    file could hold it."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as error:
        before = source[: error.start]
        line = before.count("\n") + 1
        column = error.start - (before.rfind("\n") + 1) + 1
        span = ast.Span(file, line, column, line, column + 1)
        return Diagnostic(
            "E004", "the spec text holds a lone surrogate", span, "pass text that is valid Unicode"
        )
    return None
