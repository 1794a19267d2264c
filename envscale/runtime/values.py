"""The numbers and text that an argument or a stored value may hold.

The language's int is a 64-bit signed integer and its float a finite double: SQLite stores
nothing wider, and NaN has no place there (SQLite turns it into NULL, which reads as none).
Arithmetic inside a tool body is exact, so an intermediate result may leave these ranges; a
value that is passed to a tool or stored in a record may not. Stored text holds no NUL
character either: SQLite's text functions (`length`, GLOB) stop at the first one.
"""

from __future__ import annotations

import math
from typing import Any

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def number_problem(value: Any) -> str | None:
    """Why a value (and anything nested in it) is no number of the language, or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                bits = item.bit_length()
                shown = str(item) if bits < 256 else f"a {bits}-bit integer"
                return f"{shown} is out of range (integers are 64-bit)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item} is not a finite number"
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def stored_problem(value: Any, text: bool) -> str | None:
    """Why a value cannot be stored, or None; `text`: it goes into a TEXT column as is."""
    if text and isinstance(value, str) and "\0" in value:
        return "text cannot hold a NUL character"
    return number_problem(value)
