"""Compiler diagnostics: collected, never thrown one at a time, printed like a compiler's."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from envscale.dsl.ast import Span

# One line per code: what it means. Every code has a golden test in tests/dsl/golden/.
CODES: dict[str, str] = {
    "E001": "syntax error",
    "E002": "unexpected character",
    "E003": "unterminated string",
    "E004": "cannot read spec file",
    "E005": "invalid string literal",
    "E006": "nesting too deep",
    "E101": "duplicate declaration",
    "E102": "unknown type",
    "E103": "unknown field",
    "E104": "unknown name",
    "E105": "unknown tool",
    "E106": "unknown enum member",
    "E107": "duplicate field or parameter",
    "E108": "ambiguous enum member",
    "E109": "unknown function",
    "E110": "reserved name",
    "E201": "type mismatch",
    "E202": "wrong arguments",
    "E203": "invalid operand",
    "E204": "not assignable",
    "E205": "missing return",
    "E301": "entity has no key",
    "E302": "invalid attribute",
    "E303": "invalid default",
    "E304": "check cannot become SQL",
    "E305": "unsupported reference",
    "E306": "recursive struct",
    "E401": "declared effects differ from the body",
    "E402": "write in a read-only position",
    "E501": "invalid policy rule",
    "E502": "unknown parameter in a policy rule",
    "E503": "policy binding cannot be resolved",
    "E601": "missing domain declaration",
    "E602": "policy file not found",
    "E603": "invalid clock",
    "E604": "file outside the spec's folder",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    hint: str | None = None
    severity: str = "error"

    def render(self, source: str | None) -> str:
        lines = [f"{self.severity}[{self.code}]: {self.message}", f"  --> {self.span}"]
        if source is not None:
            text_lines = source.splitlines()
            if 1 <= self.span.line <= len(text_lines):
                text = text_lines[self.span.line - 1].expandtabs(1)
                gutter = str(self.span.line)
                pad = " " * len(gutter)
                end = (
                    self.span.end_column if self.span.end_line == self.span.line else len(text) + 1
                )
                width = max(1, end - self.span.column)
                lines.append(f"{pad} |")
                lines.append(f"{gutter} | {text}")
                lines.append(f"{pad} | {' ' * (self.span.column - 1)}{'^' * width}")
        if self.hint:
            lines.append(f"  = hint: {self.hint}")
        return "\n".join(lines)


@dataclass
class Diagnostics:
    """The errors of one compilation, in the order they were found."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        assert code in CODES, code
        self.items.append(Diagnostic(code, message, span, hint))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


class SpecError(Exception):
    """Raised by the public API when a spec has errors; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str]):
        self.diagnostics = diagnostics
        self.sources = sources
        super().__init__(render_all(diagnostics, sources))


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.span.file, d.span.line, d.span.column, d.code))


def render_all(diagnostics: Iterable[Diagnostic], sources: dict[str, str]) -> str:
    items = sorted_diagnostics(diagnostics)
    blocks = [d.render(sources.get(d.span.file)) for d in items]
    errors = sum(1 for d in items if d.severity == "error")
    if errors:
        blocks.append(f"{errors} error{'s' if errors != 1 else ''} found")
    return "\n\n".join(blocks)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, if one is close enough."""
    pool = sorted(set(candidates))
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    return f"did you mean '{match[0]}'?" if match else None
