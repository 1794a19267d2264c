"""The values of STRING and INT tokens, shared by the Lark transformer and the fast parser."""

from __future__ import annotations

import ast as pyast
import inspect
import warnings

# The largest integer a literal may write: SQLite stores 64-bit signed integers, and so do
# most JSON readers; -2**63 is written as -9223372036854775808, a negated literal.
MAX_INT_LITERAL = 2**63


class BadString(Exception):
    """A literal token whose value cannot be taken: a string whose escapes cannot be decoded
    or that holds a character no generated file can (E005), an integer out of range (E007)."""

    def __init__(self, token: str, reason: str, code: str = "E005"):
        super().__init__(reason)
        self.token = token
        self.reason = reason
        self.code = code


def int_value(text: str) -> int:
    """The value of an INT token; one beyond 2**63 is refused before Python converts it (a
    conversion of thousands of digits is slow, and refused past 4,300)."""
    digits = text.lstrip("0")
    if len(digits) > len(str(MAX_INT_LITERAL)) or int(digits or "0") > MAX_INT_LITERAL:
        shown = text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} digits)"
        raise BadString(text, f"integer literal {shown} is out of range", "E007")
    return int(digits or "0")


def unquote(text: str) -> str:
    """The value of a STRING token: Python's escapes; triple-quoted text is dedented."""
    if "\x00" in text:
        raise BadString(text, "a string cannot contain a NUL character")
    if text.isascii() and "\\" not in text and "\r" not in text and not text.startswith('"""'):
        # Python would read it verbatim (it rejects only a lone carriage return here), so skip
        # its parser: that would dominate parsing a spec.
        return text[1:-1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = pyast.literal_eval(text)
    except (SyntaxError, ValueError) as error:
        raise BadString(
            text, f"invalid escape sequence in string: {_escape_reason(error)}"
        ) from None
    if text.startswith('"""'):
        value = inspect.cleandoc(value)
    if not value.isascii() and any("\ud800" <= ch <= "\udfff" for ch in value):
        # No UTF-8 file (tools.py, schema.sql, manifest.json) can hold a lone surrogate.
        raise BadString(text, "a string cannot contain a lone surrogate (\\ud800-\\udfff)")
    return value


def _escape_reason(error: Exception) -> str:
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    # The codec's message names byte positions in Python's own literal; keep only the cause.
    return message.rsplit(": ", 1)[-1] if "codec can't decode" in message else message
