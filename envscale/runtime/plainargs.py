"""Arguments checked in one pass, for the common call: plain JSON scalars, and lists of them,
of the types the tool declares.

Most calls send text, numbers and lists of ids. For such a tool `plain_check(model)` makes a
function that, given the arguments as sent, either accepts them, returning what the full way
(`limits.admit_arguments`, then the pydantic model, then the checked values) would return,
or answers None: anything it is not sure of (a missing or unknown argument, a value of
another type, a string near a limit, a struct) goes the full way, which alone reports
errors. So both ways accept the same calls with the same values and refuse the same ones
with the same message; `tests/runtime/test_plainargs.py` checks it on random arguments.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from math import isfinite
from typing import Any

import pydantic
from pydantic_core import PydanticUndefined

from envscale.runtime.limits import Limits, is_text
from envscale.runtime.values import INT_MAX, INT_MIN

# What the one pass returns: the values the tool gets (as sent, defaults filled in) and the
# checked values the policies read (as the model validates them).
Accepted = tuple[list[Any], dict[str, Any]]
PlainCheck = Callable[[dict, Limits], Accepted | None]

# The string patterns of generated models (dates and times) that Python's `re` means as
# pydantic does on ASCII text without a newline, the only text the one pass takes for them.
_PATTERNS = {
    r"^\d{4}-\d{2}-\d{2}$": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$": re.compile(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    ),
}
# A scalar's check: the checked value of a plain value, or _NO where it is not one.
_NO = object()
Scalar = Callable[[Any, Limits], Any]


def _text(value: Any, limits: Limits) -> Any:
    if type(value) is not str or len(value) > limits.string_length:
        return _NO
    if not (value.isascii() or is_text(value)):
        return _NO
    return value


def _int(value: Any, limits: Limits) -> Any:
    return value if type(value) is int and INT_MIN <= value <= INT_MAX else _NO


def _float(value: Any, limits: Limits) -> Any:
    kind = type(value)
    if kind is float:
        return value if isfinite(value) else _NO
    if kind is int and INT_MIN <= value <= INT_MAX:
        return float(value)
    return _NO


def _bool(value: Any, limits: Limits) -> Any:
    return value if type(value) is bool else _NO


def _literal(allowed: frozenset[str]) -> Scalar:
    def check(value: Any, limits: Limits) -> Any:
        return value if type(value) is str and value in allowed else _NO

    return check


def _pattern(pattern: re.Pattern[str]) -> Scalar:
    def check(value: Any, limits: Limits) -> Any:
        if type(value) is not str or not value.isascii() or len(value) > limits.string_length:
            return _NO
        return value if pattern.fullmatch(value) else _NO

    return check


def _optional(inner: Scalar) -> Scalar:
    def check(value: Any, limits: Limits) -> Any:
        return None if value is None else inner(value, limits)

    return check


_DEFAULTS = frozenset({str, int, float, bool, type(None), list})
_SCALARS: dict[Any, Scalar] = {str: _text, int: _int, float: _float, bool: _bool}


def _scalar(annotation: Any, metadata: list[Any]) -> Scalar | None:
    """The check of a scalar annotation, or None where the one pass does not take it."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(rest) == len(args):
            return None
        inner = _scalar(rest[0], metadata)
        return None if inner is None else _optional(inner)
    if typing.get_origin(annotation) is typing.Annotated:
        return _scalar(args[0], [*metadata, *args[1:]])
    if typing.get_origin(annotation) is typing.Literal:
        if metadata or not args or not all(type(a) is str for a in args):
            return None
        return _literal(frozenset(args))
    if metadata:
        if annotation is not str or len(metadata) != 1:
            return None
        constraint = metadata[0]
        pattern = _PATTERNS.get(getattr(constraint, "pattern", None) or "")
        others = ("strip_whitespace", "to_upper", "to_lower", "strict", "min_length")
        if pattern is None or any(getattr(constraint, o, None) for o in others):
            return None
        if getattr(constraint, "max_length", None) is not None:
            return None
        return _pattern(pattern)
    return _SCALARS.get(annotation)


# A field's check: name, the value's check, whether it is a list, and its default (a
# factory or a value; PydanticUndefined for a required field).
_Field = tuple[str, Scalar, bool, Any, Callable[[], Any] | None]


def _field(name: str, info: Any) -> _Field | None:
    annotation, metadata = info.annotation, list(info.metadata)
    is_list = typing.get_origin(annotation) is list
    if is_list:
        if metadata:
            return None
        (annotation,) = typing.get_args(annotation) or (None,)
        metadata = []
    check = _scalar(annotation, metadata)
    if check is None:
        return None
    return (name, check, is_list, info.default, info.default_factory)


_MADE: dict[type, PlainCheck | None] = {}


def plain_check(model: type[pydantic.BaseModel]) -> PlainCheck | None:
    """The one-pass check of a tool's argument model, or None where some field is not a
    plain scalar or a list of them (every call of that tool then goes the full way); made
    once per model."""
    if model not in _MADE:
        _MADE[model] = _made(model)
    return _MADE[model]


def _made(model: type[pydantic.BaseModel]) -> PlainCheck | None:
    config = model.model_config
    if config.get("extra") != "forbid" or not config.get("strict"):
        return None
    fields: list[_Field] = []
    for name, info in model.model_fields.items():
        if info.alias is not None and info.alias != name:
            return None
        made = _field(name, info)
        if made is None:
            return None
        fields.append(made)
    names = frozenset(name for name, *_ in fields)
    has_list = any(is_list for _, _, is_list, _, _ in fields)

    longest = max((len(name) for name in names), default=0)

    def check(arguments: dict, limits: Limits) -> Accepted | None:
        if len(arguments) > limits.list_length or limits.depth < (2 if has_list else 1):
            return None
        if longest > limits.string_length:
            return None
        for key in arguments:
            if key not in names:
                return None
        values: list[Any] = []
        checked: dict[str, Any] = {}
        chars = 0
        count = 1 + len(arguments)
        for name, scalar, is_list, default, factory in fields:
            if name not in arguments:
                if factory is not None:
                    value = factory()
                elif default is PydanticUndefined:
                    return None
                else:
                    value = default
                if type(value) is list and factory is None:
                    value = list(value)  # pydantic validates a copy of a list default
                if type(value) not in _DEFAULTS or (
                    type(value) is list and any(type(v) not in _DEFAULTS for v in value)
                ):
                    return None  # a default of some other kind: the full way
                values.append(value)
                checked[name] = value
                continue
            sent = arguments[name]
            chars += len(name)
            if is_list:
                if type(sent) is not list or len(sent) > limits.list_length:
                    return None
                count += 1 + len(sent)
                if scalar is _text:  # a list of texts, the usual list: checked inline
                    most = limits.string_length
                    for item in sent:
                        if type(item) is not str or len(item) > most:
                            return None
                        if not item.isascii() and _text(item, limits) is _NO:
                            return None
                        chars += len(item)
                    checked[name] = list(sent)
                else:
                    items = []
                    for item in sent:
                        made = scalar(item, limits)
                        if made is _NO:
                            return None
                        if type(item) is str:
                            chars += len(item)
                        items.append(made)
                    checked[name] = items
            elif scalar is _text and type(sent) is str and sent.isascii():
                # A plain text, the usual argument: its one check inline.
                if len(sent) > limits.string_length:
                    return None
                chars += len(sent)
                checked[name] = sent
            else:
                made = scalar(sent, limits)
                if made is _NO:
                    return None
                if type(sent) is str:
                    chars += len(sent)
                checked[name] = made
            values.append(sent)
        # The bound `check_shape` puts on the JSON text: past the limit, only the text tells.
        if 6 * chars + 30 * count > limits.argument_bytes:
            return None
        return values, checked

    return check
