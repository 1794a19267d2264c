"""Values and records as a person says them, for the wording of instructions.

`spoken` writes one value the way people write it (a date as "3 December 2019", a time as
"13:30 on 12 June 2024", an enum member as words, a flag as yes or no); `told` describes a
record by its plain fields ("the clinician Dr. Helen Park (family medicine)", "the flight
from CLT to BOS on 21 May 2024", "the mastercard credit card ending in 1037"); `article`
and `plural` are the small grammar the phrases need. Nothing here knows a spec: the forms
key on common field names (name, origin and destination, dates, last four digits).
"""

from __future__ import annotations

import re
from typing import Any

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?Z?")
_CLOCK = re.compile(r"\b(\d{2}):(\d{2}):00\b")
_ENUM = re.compile(r"[a-z]+(_[a-z]+)+")  # no digits: credit_card_123 is an id
NAME_FIELDS = ("name", "full_name", "title")
START_FIELDS = ("start", "starts_at", "start_time", "begins_at")


def _date(year: str, month: str, day: str) -> str:
    return f"{int(day)} {_MONTHS[int(month) - 1]} {year}"


def spoken(value: Any) -> str:
    """One scalar as a person writes it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if not isinstance(value, str):
        return str(value)
    if m := _DATETIME.fullmatch(value):
        year, month, day, hour, minute = m.groups()
        return f"{hour}:{minute} on {_date(year, month, day)}"
    if m := _DATE.fullmatch(value):
        return _date(*m.groups())
    if _ENUM.fullmatch(value):
        return value.replace("_", " ")  # an enum member: schedule_conflict
    return _CLOCK.sub(r"\1:\2", value)  # "est 09:00:00" -> "est 09:00"


def is_date(value: Any) -> bool:
    return isinstance(value, str) and bool(_DATE.fullmatch(value) or _DATETIME.fullmatch(value))


def words(name: str) -> str:
    return re.sub(r"_+", " ", name).strip()


def article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def plural(noun: str) -> str:
    if not noun or noun.endswith("s"):
        return noun
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("sh", "ch", "x")):
        return noun + "es"
    return noun + "s"


def listed(parts: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def told(noun: str, fields: list[tuple[str, Any]]) -> str | None:
    """A record of kind `noun` as a person tells it apart, from its plain (name, value)
    fields, in their order; None when it has none."""
    if not fields:
        return None
    found = dict(fields)
    used: set[str] = set()
    head = f"the {noun}"
    name = next((f for f in NAME_FIELDS if isinstance(found.get(f), str)), None)
    if name is not None:
        head = f"the {noun} {found[name]}"
        used.add(name)
    elif isinstance(found.get("first_name"), str) and isinstance(found.get("last_name"), str):
        head = f"the {noun} {found['first_name']} {found['last_name']}"
        used |= {"first_name", "last_name"}
    if isinstance(found.get("last_four"), str):
        kinds = [spoken(found[f]) for f in ("brand", "source") if isinstance(found.get(f), str)]
        used |= {"last_four", "brand", "source"}
        head = f"my {' '.join(kinds) or noun} ending in {found['last_four']}"
    elif isinstance(found.get("source"), str) and "payment" in noun:
        head = f"my {spoken(found['source'])}"
        used.add("source")
    phrases: list[str] = []
    if isinstance(found.get("origin"), str) and isinstance(found.get("destination"), str):
        phrases.append(f"from {found['origin']} to {found['destination']}")
        used |= {"origin", "destination"}
    extras: list[str] = []
    departs = any("departure" in f for f, _ in fields)
    for field, value in fields:
        if field in used or ("arrival" in field and departs):
            continue
        if "departure" in field:
            phrases.append(f"departing {spoken(value)}")
            continue
        if is_date(value):
            if field in START_FIELDS:
                phrases.append(f"starting at {spoken(value)}")
            elif field in ("date", "day"):
                phrases.append(f"on {spoken(value)}")
            elif field.endswith("_at"):
                phrases.append(f"{words(field)} {spoken(value)}")
            else:
                phrases.append(f"with {words(field)} {spoken(value)}")
        elif name is not None or "first_name" in used:
            extras.append(spoken(value))  # the named record's other facts, bare
        else:
            phrases.append(f"with {words(field)} {spoken(value)}")
    text = " ".join([head, *_joined(phrases)])
    return text + (f" ({', '.join(extras)})" if extras else "")


def _joined(phrases: list[str]) -> list[str]:
    """`with a`, `with b` -> `with a and b`; other phrases stand as they are."""
    withs = [p.removeprefix("with ") for p in phrases if p.startswith("with ")]
    others = [p for p in phrases if not p.startswith("with ")]
    return others + ([f"with {listed(withs)}"] if withs else [])
