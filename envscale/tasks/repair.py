"""Making one generated record meet the runtime invariants written on its entity.

A compiled invariant is a function over the database that returns a message or None; it does
not say what value would satisfy it. `probe` finds out: it runs the check on a view of the
database in which one field of the record holds a `Probe`, an object that answers every
comparison and remembers the values it was compared with (`total == round(sum(...) + tax,
2)` hands it the sum; `amount <= self.order.total` hands it the order's total). Those values,
and values near them, are the candidates `repair` tries, each judged by the real check. A
field that the check only reads inside arithmetic hands the probe nothing and is left alone.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from envscale.runtime.errors import ToolError
from envscale.runtime.rowview import RowView
from envscale.tasks import fakes

Check = Callable[..., str | None]


class Probe:
    """A stand-in value that records what it is compared with. Every comparison answers
    `answer`, so a check runs past it both ways."""

    __hash__ = object.__hash__

    def __init__(self, answer: bool):
        self.answer = answer
        self.seen: list[Any] = []

    def _note(self, other: Any) -> bool:
        if not isinstance(other, Probe):
            self.seen.append(other)
        return self.answer

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        return self._note(other)

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        return self._note(other)

    def __lt__(self, other: Any) -> bool:
        return self._note(other)

    def __le__(self, other: Any) -> bool:
        return self._note(other)

    def __gt__(self, other: Any) -> bool:
        return self._note(other)

    def __ge__(self, other: Any) -> bool:
        return self._note(other)

    def __bool__(self) -> bool:
        return self.answer


def judge(
    check: Check, db: Any, entity: str, record: dict, referred: tuple[str, dict] | None = None
) -> str | None:
    """The check's message for this record alone, or None when it holds. A check that cannot
    be evaluated on it (a lookup that finds nothing, a division by zero) fails with the
    reason; an exception of another kind names itself, so a bug never passes as a pass."""
    try:
        return check(RowView(db, entity, record, referred), every_row=True)
    except ToolError as error:
        return error.message
    except Exception as error:
        return f"the check could not be evaluated ({type(error).__name__}: {error})"


def probe(
    check: Check,
    db: Any,
    entity: str,
    record: dict,
    field: str,
    referred: tuple[str, dict] | None = None,
) -> list[Any]:
    """The values the check compares the field with, both ways of each comparison: a field
    of the record, or with `referred` (entity, record), a field of that referred record."""
    found: list[Any] = []
    for answer in (True, False):
        stand_in = Probe(answer)
        if referred is None:
            view = RowView(db, entity, {**record, field: stand_in})
        else:
            view = RowView(db, entity, record, (referred[0], {**referred[1], field: stand_in}))
        # A probe inside arithmetic fails the check: nothing is learned from that field.
        with contextlib.suppress(Exception):
            check(view, every_row=True)
        for value in stand_in.seen:
            if not _same_kind(value, found):
                found.append(value)
    return found


def reads(check: Check, db: Any, entity: str, record: dict, field: str) -> bool:
    """Whether the check reads the field of the record: compares it, or computes with it
    (a probe inside arithmetic makes a check that ran fail)."""
    if probe(check, db, entity, record, field):
        return True
    try:
        check(RowView(db, entity, record), every_row=True)
    except Exception:
        return False  # the check fails on the record itself: nothing is learned
    try:
        check(RowView(db, entity, {**record, field: Probe(True)}), every_row=True)
    except Exception:
        return True
    return False


_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def candidates(
    rng: random.Random, current: Any, seen: list[Any], kind: str, members: list[str] | None
) -> Iterator[Any]:
    """Values to try for a field the check compared with `seen`: for numbers a share of each
    bound first (a refund below the total rather than all of it), then the bound itself and
    its neighbours; for names the compared values and the other members."""
    tried: list[Any] = []

    def fresh(value: Any) -> bool:
        if any(value == t and type(value) is type(t) for t in tried):
            return False
        tried.append(value)
        return True

    # a round value (a percent of 25, a minimum of 20.0) is tried at round values first
    whole = isinstance(current, int | float) and current is not True and current % 5 == 0
    for value in seen:
        if kind in ("int", "float") and isinstance(value, int | float) and value is not True:
            step = 1 if kind == "int" else 0.01
            shares: tuple[float, ...] = (
                value * rng.uniform(0.2, 0.9),
                value * rng.uniform(1.1, 1.5),
            )
            if whole:
                down, up = math.floor(value / 5) * 5, math.ceil(value / 5) * 5
                shares = (math.floor(shares[0] / 5) * 5, math.ceil(shares[1] / 5) * 5, down, up)
            for option in (*shares, value, value - step, value + step):
                option = round(option) if kind == "int" else round(float(option), 2)
                if fresh(option):
                    yield option
        elif kind == "datetime" and isinstance(value, str) and _ISO_MOMENT.match(value):
            # a moment after or before the one compared, by a while, before the same moment:
            # two events of a record seldom happen in one instant
            at = datetime.fromisoformat(value)
            for minutes in (rng.randrange(15, 75, 5), -rng.randrange(15, 75, 5), 0):
                option = (at + timedelta(minutes=minutes)).isoformat(timespec="seconds")
                if fresh(option):
                    yield option
        elif kind == "enum" and fakes.is_exit(value):
            continue  # tried after every member on the normal path
        elif (value is None or isinstance(value, str | bool)) and fresh(value):
            yield value
    others = list(members or ([True, False] if kind == "bool" else []))
    rng.shuffle(others)
    # a state off the normal path (void, cancelled) last: a repair seldom ends a record there
    others.sort(key=lambda m: kind == "enum" and fakes.is_exit(m))
    for value in others:
        if value != current and fresh(value):
            yield value


def _same_kind(value: Any, found: list[Any]) -> bool:
    return any(value == f and type(value) is type(f) for f in found)
