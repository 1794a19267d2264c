"""Everything compiled tools.py needs, in one module that compiled code imports alone.

The database handle (Db), ToolError, and the spec language's built-in functions. Compiled
artifacts depend only on the names here, so the package around it can change without
invalidating them. Every failure a spec author could not rule out at compile time (a missing
map key, a division by zero, a malformed date) raises ToolError, so it reaches the agent as
data.
"""

from __future__ import annotations

import ast as _ast
import builtins as _b
import copy as _copy
import datetime as _dt
import decimal as _decimal
import functools as _functools
import json as _json
import math as _math
import operator as _op
import re as _re
import warnings as _warnings
from typing import Any

from envscale.compiler import formats as _formats
from envscale.runtime.database import Db
from envscale.runtime.errors import ToolError
from envscale.runtime.limits import too_much_work
from envscale.runtime.reads import entry_of, existing, field_of, find_part, get_part, query_at

__all__ = [
    "Db",
    "ToolError",
    "entry_of",
    "existing",
    "field_of",
    "find_part",
    "get_part",
    "query_at",
]  # and the built-ins below, which compiled code calls as lib.<name>


def counted(db: Db, xs: Any) -> Any:
    """xs, once its items are charged to the call's step budget: each loop and comprehension
    pays for what it iterates when it starts, so a budget too small fails before the work."""
    try:
        db.steps_left -= _b.len(xs)
    except TypeError:
        raise ToolError("cannot iterate over a missing value") from None
    if db.steps_left < 0:
        raise ToolError(too_much_work(db.step_limit))
    return xs


def item(container: Any, key: Any) -> Any:
    if container is None:
        raise ToolError("cannot index a missing value")
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        raise ToolError(f"{key!r} not found") from None


def field(record: dict | None, name: str) -> Any:
    if record is None:
        raise ToolError(f"cannot read '{name}' of a missing value")
    return record[name]


def key_of(record: dict | None, key: str) -> Any:
    return None if record is None else record[key]


def keys_of(records: Any, key: str) -> Any:
    """A list or map of records as references store it: each record by its key."""
    if isinstance(records, dict):
        return {k: key_of(r, key) for k, r in records.items()}
    return [key_of(r, key) for r in records]


_ATOMS = frozenset({str, int, float, bool, type(None)})


def copy(value: Any) -> Any:
    """A copy that shares nothing mutable with the value. The language's values are JSON's,
    which hold no cycles, so dicts and lists are copied level by level; anything else (a
    subclass, a tuple) as deepcopy copies it."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _ATOMS else copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else copy(v) for v in value]
    if kind in _ATOMS:
        return value
    return _copy.deepcopy(value)


def remove(container: Any, key: Any) -> None:
    try:
        del container[key]
    except (KeyError, IndexError, TypeError):
        raise ToolError(f"{key!r} not found") from None


def divide(a: float, b: float) -> float:
    if b == 0:
        raise ToolError("division by zero")
    try:
        return a / b
    except OverflowError:  # an integer quotient beyond the floats
        raise ToolError(f"{a!r} / {b!r} is out of range") from None


def modulo(a: float, b: float) -> float:
    """The remainder with the sign of the divisor, as Python's `%`: -7 % 2 is 1."""
    if b == 0:
        raise ToolError("division by zero")
    try:
        return a % b
    except OverflowError:
        raise ToolError(f"{a!r} % {b!r} is out of range") from None


_ORDER = {"<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge}


def compare(a: Any, op: str, b: Any) -> bool:
    """`a op b` for an ordering operator, where either side may be none: that is a tool
    error, as ordering a missing value has no answer."""
    if a is None or b is None:
        raise ToolError(f"cannot compare a missing value with '{op}'")
    return _ORDER[op](a, b)


def round(x: float, digits: int = 0) -> float:
    """Python's rounding: a float stays a float, an int stays an int."""
    return _b.round(x, digits)


def abs(x: float) -> float:
    return _b.abs(x)


def _need_items(xs: list, name: str) -> None:
    if not xs:
        raise ToolError(f"{name}() of an empty list")


def min(xs: list) -> Any:
    _need_items(xs, "min")
    return _b.min(xs)


def max(xs: list) -> Any:
    _need_items(xs, "max")
    return _b.max(xs)


min_of = min
max_of = max


def sum(xs: list) -> float:
    return _b.sum(xs)


def count(xs: list) -> int:
    return _b.len(xs)


def len(x: Any) -> int:
    if x is None:
        raise ToolError("len() of a missing value")
    return _b.len(x)


def any(xs: list) -> bool:
    return _b.any(xs)


def all(xs: list) -> bool:
    return _b.all(xs)


def sorted(xs: list, by: str | None = None, desc: bool = False) -> list:
    if by is None:
        return _b.sorted(xs, reverse=desc)
    return _b.sorted(xs, key=lambda r: (r[by] is None, r[by]), reverse=desc)


def reversed(xs: list) -> list:
    return _b.list(_b.reversed(xs))


def unique(xs: list) -> list:
    seen: list = []
    for x in xs:
        if x not in seen:
            seen.append(x)
    return seen


def keys(m: dict) -> list:
    return _b.list(m.keys())


def values(m: dict) -> list:
    return _b.list(m.values())


def get(m: dict, key: Any, default: Any) -> Any:
    return m.get(key, default)


@_functools.lru_cache(maxsize=1024)
def _template(template: str) -> tuple:
    """A template's parts, parsed once: templates are mostly literals of the spec."""
    return _b.tuple(_formats.parse_template(template))


def format(template: str, *args: Any) -> str:
    """The template's holes filled in order (see compiler/formats.py); a hole beyond the
    values stays as written."""
    try:
        parts = (
            _template(template) if type(template) is _b.str else _formats.parse_template(template)
        )
    except _formats.FormatError as error:
        raise ToolError(_b.str(error)) from None
    out = []
    given = 0
    for part in parts:
        if isinstance(part, _b.str):
            out.append(part)
        elif given >= _b.len(args):
            out.append("{}" if part is None else "{:" + part.text + "}")
        else:
            value = args[given]
            out.append(_text(value) if part is None else _formatted(value, part))
            given += 1
    return "".join(out)


def _formatted(value: Any, spec: _formats.Spec) -> str:
    shown = "{:" + spec.text + "}"
    number = isinstance(value, _b.int | _b.float) and not isinstance(value, _b.bool)
    if not spec.numeric:  # a width alone: the text padded, numbers to the right as Python does
        return _b.format(_text(value), f"{'>' if number else '<'}{spec.width}")
    if value is None:
        raise ToolError(f"cannot write a missing value with {shown}")
    if not number:
        raise ToolError(f"{shown} needs a number, not {_text(value)!r}")
    if spec.kind == "d" and not isinstance(value, _b.int):
        raise ToolError(f"{shown} needs an integer, not {_text(value)}")
    try:
        if isinstance(value, _b.int) and spec.kind == "f":
            value = _decimal.Decimal(value)  # exactly, where a float would round 10**30
        return _b.format(value, spec.python)
    except ValueError:  # an int of more digits than Python writes out
        raise ToolError("the integer is too large to write as text") from None


def money(x: float) -> str:
    """Two decimals and thousands separated, as Python's format ",.2f" writes them; an amount
    that rounds to zero has no sign."""
    if x is None:
        raise ToolError("money() of a missing value")
    shown = _formatted(x, _MONEY)
    return shown[1:] if shown.startswith("-") and shown.strip("-0.,") == "" else shown


_MONEY = _formats.parse_spec(",.2f")


def _text(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if x is None:
        return "none"
    try:
        return _b.str(x)
    except ValueError:  # an integer of more digits than Python writes out
        raise ToolError("the integer is too large to write as text") from None


def str(x: Any) -> str:
    return _text(x)


def json(x: Any) -> str:
    """JSON text as Python writes it by default (', ' and ': ' between items, non-ASCII
    escaped), which is how tool results that embed records as text read elsewhere."""
    return _json.dumps(x)


def int(x: Any) -> int:
    try:
        return _b.int(x)
    except ValueError:
        raise ToolError(f"{x!r} is not an integer") from None
    except OverflowError:
        raise ToolError(f"{x!r} is out of range") from None


def float(x: Any) -> float:
    """A finite float: text such as 'nan' or '1e999' is not a number of the language."""
    try:
        value = _b.float(x)
    except ValueError:
        raise ToolError(f"{x!r} is not a number") from None
    except OverflowError:
        raise ToolError("the integer is too large for a float") from None
    if not _math.isfinite(value):
        raise ToolError(f"{x!r} is not a finite number")
    return value


def lower(s: str) -> str:
    return s.lower()


def upper(s: str) -> str:
    return s.upper()


def strip(s: str) -> str:
    return s.strip()


def startswith(s: str, prefix: str) -> bool:
    return s.startswith(prefix)


def endswith(s: str, suffix: str) -> bool:
    return s.endswith(suffix)


def split(s: str, sep: str) -> list[str]:
    if not sep:
        raise ToolError("split() needs a non-empty separator")
    return s.split(sep)


def join(xs: list[str], sep: str) -> str:
    return sep.join(xs)


# The longest text replace() may make: a replacement repeated at every match can otherwise
# multiply a string's length by the replacement's (100,000 x 100,000 characters).
_MAX_TEXT = 100_000_000


def replace(s: str, old: str, new: str) -> str:
    if not old:
        return s
    if _b.len(new) > _b.len(old):
        grown = _b.len(s) + s.count(old) * (_b.len(new) - _b.len(old))
        if grown > _MAX_TEXT:
            raise ToolError(f"replace() would make a text of {grown} characters")
    return s.replace(old, new)


def now(db: Any) -> str:
    return db.clock


def today(db: Any) -> str:
    return db.clock[:10]


def _parse(value: str) -> _dt.datetime:
    try:
        return _dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ToolError(f"{value!r} is not a date") from None


def date(value: str) -> str:
    return _parse(value).date().isoformat()


def datetime(value: str) -> str:
    return _parse(value).isoformat(timespec="seconds")


def add_days(value: str, days: int) -> str:
    start = _parse(value)
    try:
        moved = start + _dt.timedelta(days=days)
    except OverflowError:
        raise ToolError(
            f"{value!r} plus {days} days is not a date of the years 1 to 9999"
        ) from None
    return moved.date().isoformat() if _b.len(value) == 10 else moved.isoformat(timespec="seconds")


def days_between(a: str, b: str) -> int:
    return (_parse(b).date() - _parse(a).date()).days


def _moved(value: str, delta: _dt.timedelta, what: str) -> str:
    try:
        return (_parse(value) + delta).isoformat(timespec="seconds")
    except OverflowError:
        raise ToolError(f"{value!r} plus {what} is not a date of the years 1 to 9999") from None


def add_hours(value: str, hours: int) -> str:
    try:
        delta = _dt.timedelta(hours=hours)
    except OverflowError:
        raise ToolError(f"{hours} hours is out of range") from None
    return _moved(value, delta, f"{hours} hours")


def add_minutes(value: str, minutes: int) -> str:
    try:
        delta = _dt.timedelta(minutes=minutes)
    except OverflowError:
        raise ToolError(f"{minutes} minutes is out of range") from None
    return _moved(value, delta, f"{minutes} minutes")


def _microseconds_between(a: str, b: str) -> int:
    start, end = _parse(a), _parse(b)
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise ToolError(f"cannot subtract {a!r} and {b!r}: one has a time zone, one not")
    delta = end - start
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _toward_zero(microseconds: int, unit: int) -> int:
    whole = _b.abs(microseconds) // (unit * 1_000_000)
    return whole if microseconds >= 0 else -whole


def hours_between(a: str, b: str) -> int:
    return _toward_zero(_microseconds_between(a, b), 3600)


def minutes_between(a: str, b: str) -> int:
    return _toward_zero(_microseconds_between(a, b), 60)


def range(db: Db, start: int, stop: int | None = None) -> list[int]:
    """The integers, each charged to the step budget before the list is made."""
    low, high = (0, start) if stop is None else (start, stop)
    db.steps_left -= _b.max(0, high - low)
    if db.steps_left < 0:
        raise ToolError(too_much_work(db.step_limit))
    return _b.list(_b.range(low, high))


_ARITHMETIC_CHARACTERS = frozenset("0123456789+-*/(). ")
# Python warns of a number called like a function (`2(3)`: "'int' object is not callable");
# of arithmetic text nothing else may draw a warning, and silencing warnings costs more than
# the parse, so it is done only around text holding such a call.
_MAY_WARN = _re.compile(r"[0-9.)] *\(")
_BINARY = {
    _ast.Add: _op.add,
    _ast.Sub: _op.sub,
    _ast.Mult: _op.mul,
    _ast.Div: _op.truediv,
    _ast.FloorDiv: _op.floordiv,
    _ast.Pow: _op.pow,
}
_UNARY = {_ast.UAdd: _op.pos, _ast.USub: _op.neg}
_MAX_EXPONENT = 10_000


def evaluate(text: str) -> float:
    """The value of an arithmetic expression, as a float. It is parsed by Python's own parser
    (so a malformed one gets Python's message) and then walked node by node: only numbers and
    arithmetic operators can appear, and nothing in it is ever executed as code."""
    if not _ARITHMETIC_CHARACTERS.issuperset(text):
        raise ToolError("invalid characters in expression")
    try:
        if _MAY_WARN.search(text):
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                tree = _ast.parse(text.lstrip(" "), "<string>", mode="eval")
        else:
            tree = _ast.parse(text.lstrip(" "), "<string>", mode="eval")
        return _b.float(_arithmetic(tree.body))
    except ToolError:
        raise
    except (SyntaxError, ArithmeticError, TypeError, ValueError) as error:
        raise ToolError(_b.str(error)) from None
    except (RecursionError, MemoryError):  # "1+1+...+1" or "-----1", a hundred thousand long
        raise ToolError("expression too complex") from None


# An integer power whose result would need more bits than this is refused before it is
# computed: "(9**9999)**9999" is 18 characters and would take hours.
_MAX_RESULT_BITS = 1 << 20


def _power_bits(base: Any, exponent: Any) -> float:
    if not isinstance(base, _b.int) or not isinstance(exponent, _b.int) or exponent <= 1:
        return 0
    return _b.abs(base).bit_length() * exponent


def _arithmetic(node: _ast.AST) -> Any:
    if isinstance(node, _ast.Constant):
        return node.value
    if isinstance(node, _ast.BinOp) and type(node.op) in _BINARY:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        too_large = isinstance(right, _b.int | _b.float) and _b.abs(right) > _MAX_EXPONENT
        if isinstance(node.op, _ast.Pow) and too_large:
            raise ToolError("exponent too large")
        if isinstance(node.op, _ast.Pow) and _power_bits(left, right) > _MAX_RESULT_BITS:
            raise ToolError("result too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, _ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_arithmetic(node.operand))
    if isinstance(node, _ast.Tuple):
        return _b.tuple(_arithmetic(e) for e in node.elts)
    if isinstance(node, _ast.Call):
        callee = _arithmetic(node.func)
        raise TypeError(f"'{type(callee).__name__}' object is not callable")
    raise ToolError("not an arithmetic expression")


_MAX_KEY_STEPS = 100_000


def successor(key: str) -> str:
    """The key after this one: its last run of letters and digits counts up like an odometer,
    each position within its own kind (0-9, A-Z, a-z); HATHAZ -> HATHBA, c_0999 -> c_1000."""
    end = _b.len(key)
    start = end
    while start > 0 and key[start - 1].isascii() and key[start - 1].isalnum():
        start -= 1
    if start == end:
        raise ToolError(f"{key!r} has no letters or digits to count up")
    digits = _b.list(key[start:end])
    for i in _b.range(_b.len(digits) - 1, -1, -1):
        ch = digits[i]
        if ch not in "9Zz":
            digits[i] = _b.chr(_b.ord(ch) + 1)
            return key[:start] + "".join(digits)
        digits[i] = {"9": "0", "Z": "A", "z": "a"}[ch]
    grow = {"0": "1", "A": "A", "a": "a"}[digits[0]]
    return key[:start] + grow + "".join(digits)


def free_key(taken: dict, first: str) -> str:
    """The first key, counting up from `first`, that the map does not hold."""
    return _first_free(lambda k: k in taken, first)


def free_record_key(db: Any, entity: str, first: str) -> str:
    """The first key, counting up from `first`, that no record of the entity holds."""
    return _first_free(lambda k: db.find(entity, k) is not None, first)


def _first_free(is_taken: Any, first: str) -> str:
    key = first
    for _ in _b.range(_MAX_KEY_STEPS):
        if not is_taken(key):
            return key
        key = successor(key)
    raise ToolError(f"no free key from {first!r} on")
