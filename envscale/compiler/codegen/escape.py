"""Spec text (descriptions, docs, file names) made safe to place in generated source.

A spec author's prose lands in Python docstrings and SQL comments. It must stay prose there:
a `\"\"\"` must not end a docstring, a newline must not end a comment, and a NUL byte must not
reach a parser at all.
"""

from __future__ import annotations

import re

# A quote that another quote follows, or that ends the text, could help close a docstring.
_CLOSING_QUOTE = re.compile(r'"(?="|$)')


def _visible(text: str) -> str:
    """Control and other unprintable characters (newlines and tabs aside) as escapes."""
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


def sql_comment(text: str) -> str:
    """Text as `--` comment lines, one for each of its lines."""
    return "\n".join(f"-- {_visible(line)}".rstrip() for line in text.splitlines() or [""])
