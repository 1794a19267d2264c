"""format() templates: text with holes, `{}` for a value as str() writes it, `{:SPEC}` for a
number written by a specification of a safe subset of Python's:

    SPEC = [width] [","] ["." precision] [kind]      kind: "f" (fixed point) or "d" (integer)

`{:.2f}` writes 30 as 30.00, `{:,d}` 1234567 as 1,234,567, `{:8.1f}` pads to 8 characters.
Width is 1 to 99 and precision 0 to 99; a precision needs "f". Any other `{` or `}` is text.
The compiler checks literal templates (E750, E751); generated code calls `render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(
    r"(?P<width>[1-9][0-9]?)?(?P<comma>,)?(?:\.(?P<precision>[0-9]{1,2}))?(?P<kind>[fd])?"
)


HINT = "write [width][,][.precision][f|d], e.g. {:.2f} or {:,d}"


class FormatError(ValueError):
    """A template holding a specification outside the subset."""

    def __init__(self, message: str, hint: str = HINT):
        super().__init__(message)
        self.message, self.hint = message, hint

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}"


@dataclass(frozen=True)
class Spec:
    text: str  # as written between `{:` and `}`
    width: int | None
    comma: bool
    precision: int | None
    kind: str | None  # "f", "d" or None

    @property
    def numeric(self) -> bool:
        """Whether only a number fits it (a width alone pads any value)."""
        return self.kind is not None or self.comma or self.precision is not None

    @property
    def python(self) -> str:
        """The same specification in Python's format mini-language."""
        width = str(self.width) if self.width is not None else ""
        precision = f".{self.precision}" if self.precision is not None else ""
        return f"{width}{',' if self.comma else ''}{precision}{self.kind or ''}"


# A template's parts: text, a plain hole (None) or a hole with a specification.
Part = str | Spec | None


def parse_spec(text: str) -> Spec:
    match = _SPEC.fullmatch(text)
    if not text or match is None:
        raise FormatError(f"'{{:{text}}}' is not a format specification")
    precision = match["precision"]
    if precision is not None and match["kind"] != "f":
        raise FormatError(
            f"'{{:{text}}}' gives a precision, which only 'f' takes", f"write {{:.{precision}f}}"
        )
    return Spec(
        text,
        int(match["width"]) if match["width"] else None,
        match["comma"] is not None,
        int(precision) if precision is not None else None,
        match["kind"],
    )


def parse_template(template: str) -> list[Part]:
    """The template's text and holes, in order."""
    parts: list[Part] = []
    text: list[str] = []
    i = 0
    while i < len(template):
        if template.startswith("{}", i):
            parts.extend(["".join(text), None])
            text, i = [], i + 2
        elif template.startswith("{:", i):
            end = template.find("}", i + 2)
            if end < 0:
                raise FormatError("a '{:' is not closed by '}'", "close it, e.g. {:.2f}")
            parts.extend(["".join(text), parse_spec(template[i + 2 : end])])
            text, i = [], end + 1
        else:
            text.append(template[i])
            i += 1
    parts.append("".join(text))
    return parts


def holes(parts: list[Part]) -> list[Spec | None]:
    return [p for p in parts if not isinstance(p, str)]
