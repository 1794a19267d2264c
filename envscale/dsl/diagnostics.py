"""Compiler diagnostics: collected, never thrown one at a time, printed like a compiler's."""

from __future__ import annotations

import difflib
import unicodedata
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
    "E007": "number literal out of range",
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
    "E111": "recursive tool call",
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
    "E307": "too many fields",
    "E401": "declared effects differ from the body",
    "E402": "write in a read-only position",
    "E501": "invalid policy rule",
    "E502": "unknown parameter in a policy rule",
    "E503": "policy binding cannot be resolved",
    "E601": "missing domain declaration",
    "E602": "policy file not found",
    "E603": "invalid clock",
    "E604": "file outside the spec's folder",
    "E605": "base spec not found",
    "E606": "base specs extend each other",
    "E607": "nothing to remove",
    "E608": "replacement of another kind",
    "E710": "derived field written",
    "E711": "derived fields depend on each other",
    "E712": "invalid derived field",
    "E713": "invalid transitions",
    "E750": "invalid format specification",
    "E751": "format specification does not fit its value",
}


def source_lines(source: str) -> list[str]:
    r"""The lines of spec text by the one rule that every line and column follows: a line
    ends at a newline, "\n" (a "\r" before it belongs to the line). Both parsers count so;
    str.splitlines would also split at \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029."""
    lines = source.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def visible_line(line: str) -> str:
    """A source line as a diagnostic shows it: one character per column and none that moves
    the cursor (a tab or other space is a space, a control character its symbol)."""
    line = line.removesuffix("\r")
    if line.isprintable():
        return line
    shown = []
    for ch in line:
        if ch.isprintable():
            shown.append(ch)
        elif ch < " ":
            shown.append(" " if ch == "\t" else chr(0x2400 + ord(ch)))
        elif unicodedata.category(ch).startswith("Z"):
            shown.append(" ")
        else:
            shown.append("\N{REPLACEMENT CHARACTER}")
    return "".join(shown)


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
            text_lines = source_lines(source)
            if 1 <= self.span.line <= len(text_lines):
                text = visible_line(text_lines[self.span.line - 1])
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
