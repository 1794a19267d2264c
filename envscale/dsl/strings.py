"""The value of a STRING token, shared by the Lark transformer and the fast parser."""

from __future__ import annotations

import ast as pyast
import inspect
import warnings


class BadString(Exception):
    """A string token whose escapes cannot be decoded; becomes an E005 diagnostic."""

    def __init__(self, token: str, reason: str):
        super().__init__(reason)
        self.token = token
        self.reason = reason


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
    return value


def _escape_reason(error: Exception) -> str:
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    # The codec's message names byte positions in Python's own literal; keep only the cause.
    return message.rsplit(": ", 1)[-1] if "codec can't decode" in message else message
