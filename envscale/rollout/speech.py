"""What the scripted agent says: tool results summed up in a sentence, calls told in words.

A result is never shown raw. A record is named by its id and, where it has them, its
holder's name, its status and a few key facts (amounts, dates, counts of what it holds);
a list is counted and its first entries named; a mapping is counted with a few examples.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache
from typing import Any

from envscale.compiler.toolgraph import singular

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?")
_ENUM_LIKE = re.compile(r"^[a-z]+(_[a-z]+)+$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_MONEY_WORDS = ("amount", "total", "price", "balance", "due", "paid", "fee", "cost", "refund")
_MAX_NAMED = 3
_MAX_FACTS = 4
_MAX_TEXT = 200


def words(name: str) -> str:
    """A parameter or tool name as words: `date_of_birth` -> `date of birth`."""
    return name.replace("_", " ").strip()


def noun_of_tool(tool: str) -> str:
    """What a read tool returns, in words: `list_appointments` -> `appointments`."""
    parts = tool.split("_by_")[0].split("_")
    if len(parts) > 1:  # the verb goes: `cancel_reservation` returns a reservation
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == "details":
        parts = parts[:-1]
    return " ".join(parts)


def plural(noun: str) -> str:
    return noun if noun.endswith("s") else noun + "s"


def number(value: float | int) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render_value(value: Any) -> str:
    """An argument value as a person would read it aloud."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return words(value) if _ENUM_LIKE.match(value) else value
    if value is None:
        return "none"
    if isinstance(value, list):
        items = [render_value(v) for v in value]
        if not items:
            return "none"
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    if isinstance(value, dict):
        return "(" + ", ".join(f"{words(str(k))} {render_value(v)}" for k, v in value.items()) + ")"
    return str(value)


def describe_call(name: str, arguments: dict) -> str:
    """`pay_invoice {invoice_id, amount}` -> `pay invoice (invoice id INV0006, amount 7.27)`."""
    action = words(name)
    if not arguments:
        return action
    details = ", ".join(f"{words(k)} {render_value(v)}" for k, v in arguments.items())
    return f"{action} ({details})"


def _date(value: Any) -> str | None:
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value[:16].replace("T", " ")
    return None


def _person(record: dict) -> str | None:
    name = record.get("name")
    if isinstance(name, dict):
        record = name
        name = None
    if isinstance(name, str) and name.strip():
        return name
    first, last = record.get("first_name"), record.get("last_name")
    if isinstance(first, str) and isinstance(last, str):
        return f"{first} {last}"
    return None


def _ident(record: dict) -> tuple[str, str] | None:
    """(what the record is, its id), from its first `..._id` or `id` field."""
    for key, value in record.items():
        if (key == "id" or key.endswith("_id")) and isinstance(value, str | int):
            if isinstance(value, bool):
                continue
            return words(key[: -len("_id")]) if key != "id" else "", str(value)
    return None


def _is_record(value: dict) -> bool:
    return bool(value) and all(_IDENTIFIER.match(str(k)) for k in value)


def _facts(record: dict) -> list[str]:
    amounts, dates, counts = [], [], []
    for key, value in record.items():
        if key == "status" or key.endswith("_id") or key == "id":
            continue
        label = words(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, float) or (
            isinstance(value, int) and any(w in key for w in _MONEY_WORDS)
        ):
            amounts.append(f"{label} {number(value)}")
        elif isinstance(value, int) and any(w in key for w in ("count", "left", "number")):
            counts.append(f"{label} {value}")
        elif (date := _date(value)) is not None:
            dates.append(f"{label} {date}")
        elif isinstance(value, list | dict) and key not in ("name", "address"):
            n = len(value)
            counts.append(f"{n or 'no'} {label if n != 1 else singular(label)}")
    return (amounts[:2] + dates[:1] + counts[:2])[:_MAX_FACTS]


def _short_item(record: dict) -> str:
    ident = _ident(record)
    name = _person(record)
    head = ident[1] if ident else (name or "one")
    bits = []
    if isinstance(record.get("status"), str):
        bits.append(words(record["status"]))
    dates = [d for v in record.values() if (d := _date(v)) is not None]
    if dates:
        bits.append(dates[0])
    money = [f"{number(v)}" for k, v in record.items() if isinstance(v, float)]
    if money:
        bits.append(money[0])
    if name and ident:
        bits.insert(0, name)
    return head + (f" ({', '.join(bits)})" if bits else "")


_RECORD_FORMS = [
    "{subject}{holder} is {status}{facts}.",
    "I see {subject}{holder} is {status}{facts}.",
    "{subject}{holder} shows as {status}{facts}.",
]
_RECORD_NO_STATUS = [
    "I have {subject}{holder}{facts}.",
    "I pulled up {subject}{holder}{facts}.",
    "I found {subject}{holder}{facts}.",
]


def summarise_record(record: dict, noun: str, rng: random.Random) -> str:
    ident = _ident(record)
    kind = (ident[0] if ident and ident[0] else noun) or "the record"
    name = _person(record)
    subject = f"{kind} {ident[1]}" if ident else ("the details" if name else f"the {kind} details")
    holder = (f" ({name})" if ident else f" for {name}") if name else ""
    facts = _facts(record)
    joined = (", with " + ", ".join(facts)) if facts else ""
    status = record.get("status")
    if isinstance(status, str) and status:
        text = rng.choice(_RECORD_FORMS).format(
            subject=subject, holder=holder, status=words(status), facts=joined
        )
    else:
        text = rng.choice(_RECORD_NO_STATUS).format(subject=subject, holder=holder, facts=joined)
    return text[0].upper() + text[1:]


def summarise(tool: str, text: str, rng: random.Random) -> str:
    """One or two sentences on what a call returned, drawn from the result itself."""
    if text.startswith("Error: "):
        return text.removeprefix("Error: ").rstrip(".") + "."
    noun = noun_of_tool(tool)
    try:
        value = json.loads(text)
    except ValueError:
        if text and " " not in text.strip():
            return f"The {noun} is {text.strip()}."
        text = text.strip()
        if len(text) > _MAX_TEXT:
            return text[:_MAX_TEXT].rsplit(" ", 1)[0] + " ..."
        return text if text.endswith((".", "!", "?")) else text + "."
    if isinstance(value, dict) and _is_record(value):
        return summarise_record(value, noun, rng)
    if isinstance(value, dict):
        shown = [f"{k} ({render_value(v)})" for k, v in list(value.items())[:_MAX_NAMED]]
        more = f", and {len(value) - _MAX_NAMED} more" if len(value) > _MAX_NAMED else ""
        return f"There are {len(value)} {plural(noun)}, for example {', '.join(shown)}{more}."
    if isinstance(value, list):
        if not value:
            return rng.choice(["I found no {n}.", "There are no {n} to show."]).format(
                n=plural(noun)
            )
        if all(isinstance(v, dict) for v in value):
            shown = [_short_item(v) for v in value[:_MAX_NAMED]]
        else:
            shown = [render_value(v) for v in value[:_MAX_NAMED]]
        more = f", and {len(value) - _MAX_NAMED} more" if len(value) > _MAX_NAMED else ""
        noun_n = plural(noun) if len(value) != 1 else singular(noun)
        return f"I found {len(value)} {noun_n}: {'; '.join(shown)}{more}."
    return f"The {noun} is {render_value(value)}."


def spoken_forms(value: Any) -> list[str]:
    """How a scalar value may be written in a dialogue (a float as 7.5 or 7.50)."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, float):
        forms = {repr(value), f"{value:.2f}"}
        if value.is_integer():
            forms.add(str(int(value)))
        return sorted(forms)
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, str):
        return [value, words(value)] if "_" in value else [value]
    return []


def leaves(value: Any) -> list[Any]:
    """The scalar values inside an argument value."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


# The scripted participants ask of one dialogue text whether each of many values is in it.
@lru_cache(maxsize=64)
def _lowered(text: str) -> str:
    return text.lower()


def mentioned(value: Any, text: str) -> bool:
    """Whether every scalar inside `value` that a person would say appears in `text`."""
    lowered = _lowered(text)
    for leaf in leaves(value):
        forms = [f for f in spoken_forms(leaf) if f]
        if forms and not any(f.lower() in lowered for f in forms):
            return False
    return True
