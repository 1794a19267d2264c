"""JSON text exactly as `json.dumps(value, indent=2, ensure_ascii=False)` writes it, faster.

With an indent, the standard library encodes in Python generators; the compiler writes two
such files per domain, so it joins the text itself (strings are still escaped by the C
encoder). Values are what json.dumps takes: dicts, lists, tuples, str, int, float, bool, None.
"""

from __future__ import annotations

from json.encoder import encode_basestring  # type: ignore[attr-defined]

_INFINITY = float("inf")


def json_text(value: object) -> str:
    return _encode(value, "\n")


def _encode(value: object, newline: str) -> str:
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = newline + "  "
        items = [f"{_key(k)}: {_encode(v, inner)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join([_encode(v, inner) for v in value]) + newline + "]"
    return _scalar(value)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: object) -> str:
    if isinstance(key, str):
        return encode_basestring(key)
    if key is None or isinstance(key, int | float):
        return '"' + _scalar(key) + '"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
