"""Check facts (manifest `facts`, see `compiler/facts.py`) as the generator aims at them:
whether a record meets one, the lengths they allow, and a string or a number brought within
them."""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Callable
from typing import Any

from envscale.records import Fact
from envscale.tasks import fakes

MAX_MADE_LENGTH = 1_000
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def meets(fact: Fact, record: dict) -> bool:
    """Whether a record meets one check fact; a missing or null value meets it, as in SQL."""
    value = record.get(fact.field)
    if value is None:
        return True
    if fact.of == "len":
        if not isinstance(value, str | list | dict):
            return True
        value = len(value)
    if fact.values is not None:
        return (value in fact.values) == (fact.op == "in")
    other = record.get(fact.other) if fact.other is not None else fact.value
    if other is None:
        return True
    try:
        return bool(_OPS[fact.op](value, other))
    except TypeError:
        return True


def length_range(facts: list[Fact]) -> tuple[int, int | None]:
    """The lengths (shortest, longest or None) that the length facts allow."""
    low, high = 0, None
    for fact in facts:
        if fact.of != "len" or fact.value is None:
            continue
        n, op = fact.value, fact.op
        if op in ("==", ">=", ">"):
            low = max(low, n + (op == ">"))
        if op in ("==", "<=", "<"):
            bound = n - (op == "<")
            high = bound if high is None else min(high, bound)
    # Longer text is not made: a check may ask for a length no memory holds (2**63 - 1).
    return min(low, MAX_MADE_LENGTH), high


def shaped(value: str, low: int, high: int | None, rng: random.Random, name: str) -> str:
    """A string `low` to `high` long: the value itself, else a code for short lengths, else the
    value cut or padded with digits."""
    if len(value) >= low and (high is None or len(value) <= high):
        return value
    target = low if len(value) < low else high
    assert target is not None
    if target <= 8 or not value:
        return fakes.code(rng, target, fakes.words(name))
    if len(value) > target:
        return value[: target - 1].rstrip() + str(rng.randint(0, 9)) * (
            target - len(value[: target - 1].rstrip())
        )
    return value + "".join(str(rng.randint(0, 9)) for _ in range(target - len(value)))


def bounded(value: float, facts: list[Fact], rng: random.Random) -> float:
    """A number within the bounds of the facts (the value itself when it already is)."""
    low = high = None
    step = 1 if isinstance(value, int) else 0.01
    for fact in facts:
        if fact.of == "len" or fact.value is None or not isinstance(fact.value, int | float):
            continue
        bound, op = fact.value, fact.op
        if op in (">", ">="):
            bound = bound + step if op == ">" else bound
            low = bound if low is None else max(low, bound)
        elif op in ("<", "<="):
            bound = bound - step if op == "<" else bound
            high = bound if high is None else min(high, bound)
    if (low is None or value >= low) and (high is None or value <= high):
        return value
    if low is not None and high is not None and low > high:
        return value
    low = low if low is not None else high - abs(value) - 10  # type: ignore[operator]
    high = high if high is not None else low + abs(value) + 10
    fives = math.ceil(low / 5), math.floor(high / 5)
    if value % 5 == 0 and fives[0] <= fives[1]:  # a round value (a percent of 60) stays round
        n = 5 * rng.randint(*fives)
        return n if isinstance(value, int) else float(n)
    if isinstance(value, int):
        return rng.randint(math.ceil(low), math.floor(high))
    return round(rng.uniform(low, high), 2)
