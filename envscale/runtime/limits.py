"""What one tool call may be asked to take in and do, and the checks that hold it to that.

A `Limits` record travels with a domain (`Domain.limits`) into each of its environments.
Exceeding a limit is an ordinary failed call: an error message that names the limit and its
value, e.g. `argument 'flights': a list of 20000 items (limit list_length=1000)`, with the
database exactly as before.

The defaults sit far above what real tool calls need and far below what would stall a
worker; docs/design.md lists them with the figures they were chosen from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from math import isfinite
from typing import Any

import orjson

from envscale.runtime.errors import ToolError
from envscale.runtime.values import INT_MAX, INT_MIN, number_problem

# The step budget outside a call (loading data, checking invariants on it): in effect none.
UNLIMITED_STEPS = 1 << 62


@dataclass(frozen=True)
class Limits:
    """Per call. Sizes of arguments and results are bytes of their JSON text in UTF-8."""

    argument_bytes: int = 1_000_000
    depth: int = 64  # how deeply arguments may nest lists and objects
    string_length: int = 100_000  # characters of any one string in the arguments, keys included
    list_length: int = 1_000  # items of any one list, and entries of any one object
    steps: int = 1_000_000  # loop iterations, comprehension elements and range() elements
    result_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {f.name} must be a positive integer, not {value!r}")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def changed(self) -> dict[str, int]:
        """The limits that differ from the defaults."""
        default = DEFAULT_LIMITS.to_dict()
        return {k: v for k, v in self.to_dict().items() if v != default[k]}

    def with_settings(self, settings: list[str]) -> Limits:
        """These limits with `name=value` settings applied (`string_length=100000`)."""
        names = [f.name for f in fields(self)]
        changes: dict[str, int] = {}
        for setting in settings:
            name, sep, text = setting.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in names:
                raise ValueError(
                    f"a limit is NAME=VALUE with NAME one of {', '.join(names)}, not {setting!r}"
                )
            try:
                changes[name] = int(text)
            except ValueError:
                raise ValueError(f"limit {name} must be a positive integer, not {text!r}") from None
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()


class NotAnObject(ToolError):
    """The arguments are not the text of a JSON object at all (rather than one over a limit)."""


def over(what: str, name: str, value: int) -> str:
    return f"{what} (limit {name}={value})"


def too_much_work(limits_steps: int) -> str:
    return over(f"the call needs more than {limits_steps} steps of work", "steps", limits_steps)


def too_deep(depth: int) -> str:
    return over(f"arguments nest lists and objects more than {depth} levels deep", "depth", depth)


def _utf8_length(text: str, limit: int) -> int:
    """The UTF-8 length of text, or a lower bound of it when that already shows it is within
    `limit` (no character takes more than 4 bytes); lone surrogates count 3 bytes."""
    if len(text) * 4 <= limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def admit_arguments(arguments: dict | str | None, limits: Limits) -> dict:
    """The arguments as a dict, once they are JSON within the limits; else ToolError."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        if len(arguments) > limits.argument_bytes or (
            _utf8_length(arguments, limits.argument_bytes) > limits.argument_bytes
        ):
            size = len(arguments.encode("utf-8", "surrogatepass"))
            raise ToolError(
                over(f"arguments are {size} bytes of JSON", "argument_bytes", limits.argument_bytes)
            )
        if not arguments.strip():
            return {}
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise NotAnObject(
                f"arguments are not valid JSON: {error.msg} (column {error.colno})"
            ) from None
        except RecursionError:
            raise ToolError(too_deep(limits.depth)) from None
        except ValueError as error:  # an integer of more digits than Python converts
            raise NotAnObject(f"arguments are not valid JSON: {error}") from None
        if not isinstance(arguments, dict):
            raise NotAnObject(f"arguments must be a JSON object, not {_json_kind(arguments)}")
        check_shape(arguments, limits)
        return arguments
    if not isinstance(arguments, dict):
        raise NotAnObject(f"arguments must be a JSON object, not {_json_kind(arguments)}")
    # The JSON text is written only when a bound on its length does not settle the limit.
    if check_shape(arguments, limits) > limits.argument_bytes:
        try:
            text = json.dumps(arguments, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise ToolError(f"arguments cannot be written as JSON: {error}") from None
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limits.argument_bytes:
            raise ToolError(
                over(f"arguments are {size} bytes of JSON", "argument_bytes", limits.argument_bytes)
            )
    return arguments


def _json_kind(value: Any) -> str:
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"), (list, "a list"))
    if value is None:
        return "null"
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def check_shape(arguments: dict, limits: Limits) -> int:
    """Raise ToolError if any list or object of the arguments is too long, any string too long
    or not text, any number no int or float of the language, or the nesting too deep; else
    return a bound on the length of their JSON text
    in bytes (past `argument_bytes` when only the text itself can tell).

    One pass, level by level without recursion, so that any depth is safe; a second one, only
    when there is a problem, finds the argument to name. Written for speed: it runs on every
    call."""
    max_string, max_items = limits.string_length, limits.list_length
    chars = values = extra = 0
    level: list[Any] = [arguments]
    depth = 1  # the arguments object is level 1
    while level:
        if depth > limits.depth:
            raise ToolError(too_deep(limits.depth))
        below: list[Any] = []
        values += len(level)  # each container counted as a value too, for its brackets
        for container in level:
            values += len(container)
            if len(container) > max_items:
                _locate(arguments, limits)
            if isinstance(container, dict):
                for key in container:
                    if type(key) is not str:
                        extra += limits.argument_bytes  # JSON writes it as text: measure that
                    elif len(key) > max_string or not (key.isascii() or is_text(key)):
                        _locate(arguments, limits)
                    else:
                        chars += len(key)
                items = container.values()
            else:
                items = container
            for item in items:
                kind = type(item)
                if kind is str:
                    if len(item) > max_string or not (item.isascii() or is_text(item)):
                        _locate(arguments, limits)
                    chars += len(item)
                elif kind is dict or kind is list:
                    below.append(item)
                elif kind is int:
                    if not INT_MIN <= item <= INT_MAX:
                        _locate(arguments, limits)
                elif kind is float:
                    if not isfinite(item):
                        _locate(arguments, limits)
                elif kind is not bool and item is not None:
                    extra += _unusual(item, below, arguments, limits)
        if values > limits.argument_bytes:  # every value takes a byte of JSON at least
            raise ToolError(
                over(
                    f"arguments are more than {limits.argument_bytes} bytes of JSON",
                    "argument_bytes",
                    limits.argument_bytes,
                )
            )
        level, depth = below, depth + 1
    # Escapes take up to 6 bytes a character; quotes, separators and scalars (a 64-bit int or a
    # float is at most 25 bytes of JSON) up to 30 a value.
    return 6 * chars + 30 * values + extra


def _unusual(item: Any, below: list[Any], arguments: dict, limits: Limits) -> int:
    """A value of a subclass of a JSON type (from Python callers): checked as its base type.
    Its bound on JSON bytes beyond the 30 of any value is returned."""
    if isinstance(item, str):
        if len(item) > limits.string_length or not is_text(item):
            _locate(arguments, limits)
        return 6 * len(item)
    if isinstance(item, dict | list):
        below.append(item)
        return 0
    if isinstance(item, int | float):
        if number_problem(item) is not None:
            _locate(arguments, limits)
        return 0
    raise ToolError(f"arguments cannot be written as JSON: a {type(item).__name__} value")


def is_text(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _locate(arguments: dict, limits: Limits) -> None:
    """Raise the ToolError, naming the argument, for what the quick pass of `check_shape`
    found too long or not text."""
    if (problem := _size_problem(arguments, limits)) is not None:
        raise ToolError(f"arguments: {problem}")
    for name, value in arguments.items():
        if (problem := _value_problem(value, limits)) is not None:
            raise ToolError(f"argument '{name}': {problem}")
    for name, value in arguments.items():
        if (problem := number_problem(value)) is not None:
            raise ToolError(f"invalid arguments: argument '{name}': {problem}")
    raise AssertionError("check_shape found a problem that _locate does not")


def _value_problem(value: Any, limits: Limits) -> str | None:
    """What is too long in one argument's value, if anything, down to the depth limit."""
    level = [value]
    for _ in range(limits.depth):
        below: list[Any] = []
        for item in level:
            if isinstance(item, str | dict | list):
                if (problem := _size_problem(item, limits)) is not None:
                    return problem
                if not isinstance(item, str):
                    below.extend(item.values() if isinstance(item, dict) else item)
        level = below
        if not level:
            break
    return None


def _size_problem(value: str | list | dict, limits: Limits) -> str | None:
    if isinstance(value, str):
        return _string_problem(value, "a string", limits)
    if len(value) > limits.list_length:
        what = (
            f"an object of {len(value)} entries"
            if isinstance(value, dict)
            else f"a list of {len(value)} items"
        )
        return over(what, "list_length", limits.list_length)
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, str) and (problem := _string_problem(key, "a key", limits)):
                return problem
    return None


def _string_problem(text: str, what: str, limits: Limits) -> str | None:
    if len(text) > limits.string_length:
        return over(f"{what} of {len(text)} characters", "string_length", limits.string_length)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate, which no database can store
            return f"{what} with a lone surrogate at character {error.start}, which is not text"
    return None


# json.dumps(value, ensure_ascii=False), without building the encoder on every call.
_RESULT_JSON = json.JSONEncoder(ensure_ascii=False).encode


def result_text(value: Any, limits: Limits) -> str:
    """The JSON text of a tool's (shown) result, once it is within the result limit."""
    try:
        text = _RESULT_JSON(value)
    except RecursionError:
        raise ToolError("the result nests lists and objects too deeply to be written") from None
    except ValueError as error:  # an integer of more digits than Python converts to text
        raise ToolError(f"the result cannot be written as JSON: {error}") from None
    if _utf8_length(text, limits.result_bytes) > limits.result_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
        raise ToolError(
            over(f"the result is {size} bytes of JSON", "result_bytes", limits.result_bytes)
        )
    return text


def result_copy(value: Any, limits: Limits) -> Any:
    """What json.loads makes of `result_text(value, limits)`: the result as plain JSON values
    that share nothing with the tool's, once it is within the result limit.

    orjson makes it where that is the same: it refuses ints beyond 64 bits and keys that are
    not text, and writes NaN and infinities as null, so JSON of its with no null in it holds
    none, and where it has one, what it reads back equals the value only if each null was a
    none. json's text is at most three times as long as orjson's (a space after each
    separator, a sign in a float's exponent), so the limit needs json's only near it.

    A text, a bool or none is its own copy (a character takes 6 bytes of JSON at most)."""
    kind = type(value)
    if kind is str:
        if 6 * len(value) + 2 <= limits.result_bytes:
            return value
    elif (kind is bool or value is None) and limits.result_bytes >= 5:  # `false` at most
        return value
    try:
        data = orjson.dumps(value)
    except TypeError:
        data = None
    if data is not None:
        copied = orjson.loads(data)
        if b"null" not in data or copied == value:
            if 3 * len(data) > limits.result_bytes:
                result_text(value, limits)
            return copied
    return json.loads(result_text(value, limits))
