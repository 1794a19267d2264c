"""Spec text (descriptions, docs, file names) made safe to place in generated source.

A spec author's prose lands in Python docstrings and SQL comments. It must stay prose there:
a `\"\"\"` must not end a docstring, a newline must not end a comment, and a NUL byte must not
reach a parser at all.
"""

from __future__ import annotations

import re
import textwrap

# A quote that another quote follows, or that ends the text, could help close a docstring.
_CLOSING_QUOTE = re.compile(r'"(?="|$)')


def _visible(text: str) -> str:
    """Control and other unprintable characters (newlines and tabs aside) as escapes."""
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch in "\n\t" else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def docstring(text: str, indent: int = 0) -> str:
    """Text to place between triple double quotes; lines after the first are indented."""
    safe = _CLOSING_QUOTE.sub(r'\\"', _visible(text.replace("\\", "\\\\")))
    pad = " " * indent
    first, *rest = safe.split("\n")
    return "\n".join([first, *(pad + line if line.strip() else "" for line in rest)])


def docstring_lines(text: str, width: int) -> list[str]:
    """Docstring text as lines (the first one after the opening quotes), each line that would
    not fit in `width` wrapped at spaces."""
    safe = _CLOSING_QUOTE.sub(r'\\"', _visible(text.replace("\\", "\\\\")))
    out: list[str] = []
    for line in safe.split("\n"):
        room = width - (3 if not out else 0)
        if len(line) <= room:
            out.append(line.rstrip() if out else line)
            continue
        pieces = textwrap.wrap(line, room, break_long_words=False, break_on_hyphens=False)
        out += pieces or [""]
    return out


def sql_comment(text: str) -> str:
    """Text as `--` comment lines, one for each of its lines."""
    return "\n".join(f"-- {_visible(line)}".rstrip() for line in text.splitlines() or [""])
