"""Deliberate mistakes of the scripted agent: ones a real agent could make from the dialogue.

- `misstated`: the customer gives a wrong value first (a digit off in a zip, a date a day
  off, two letters swapped), the call with it fails, the agent asks, the customer corrects;
- `missing_argument`: the agent calls before it has every argument, the tool says which
  one is missing, and the agent asks for it (or uses it, when it was said already);
- `wrong_record`: of several records the dialogue has shown (the entries a lookup returned,
  or the records the customer named for the task's other steps), the agent first picks one
  the tool refuses (an order that is no longer pending, an appointment already completed),
  says so, then takes the right one. Calls that write are tried first, since a read of
  another record rarely fails.

Every wrong value comes from the dialogue (the customer said it, or a tool returned it),
never made up. A mistake is planned only when a trial run on a scratch copy of the state
shows that the mistaken call fails, so the trajectory still reaches the gold state through
the gold chain's successful calls.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envscale.rollout.speech import mentioned

KINDS = ("misstated", "missing_argument", "wrong_record")
PROBES_PER_KIND = 3
# A wrong pick fails only where the other record is in another state: more are tried.
WRONG_RECORD_PROBES = 8
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Whether a call would fail after the given calls, both as {"name", "arguments"}.
Probe = Callable[[list[dict], dict], bool]


@dataclass
class Mistake:
    """One planned mistake, and how far the dialogue has got with it."""

    kind: str
    call: int  # index into the chain the agent follows
    argument: str  # top-level parameter
    right: Any
    wrong: Any = None  # the value used first; None when the argument is left out
    made: bool = False  # the mistaken call was made
    stated: bool = False  # the customer said the wrong value
    corrected: bool = False  # the customer gave the right value after it failed

    def wrong_call(self, call: dict) -> dict:
        arguments = dict(call["arguments"])
        if self.kind == "missing_argument":
            arguments.pop(self.argument, None)
        else:
            arguments[self.argument] = self.wrong
        return {"name": call["name"], "arguments": arguments}


def perturb(value: str, rng: random.Random) -> str | None:
    """A value as a person might misstate it, or None when there is no plausible slip."""
    if _DATE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        return (day + dt.timedelta(days=rng.choice([-2, -1, 1, 2]))).isoformat()
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    if digits:
        at = rng.choice(digits)
        other = rng.choice([d for d in "0123456789" if d != value[at]])
        return value[:at] + other + value[at + 1 :]
    swaps = [
        i
        for i in range(1, len(value) - 1)
        if value[i].isalpha() and value[i + 1].isalpha() and value[i] != value[i + 1]
    ]
    if not swaps:
        return None
    i = rng.choice(swaps)
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


def siblings(node: Any, value: str) -> list[str]:
    """Other values that stand where `value` stands in a tool result: the other entries of
    a list holding it, the same field of the other records of a list, the other keys of a
    mapping of records."""
    found: list[str] = []
    if isinstance(node, list):
        if value in node:
            found += [x for x in node if isinstance(x, str) and x != value]
        records = [x for x in node if isinstance(x, dict)]
        # Keys in the order met (a set's order would change with the process's hash seed).
        for key in dict.fromkeys(k for r in records for k, v in r.items() if v == value):
            found += [r[key] for r in records if isinstance(r.get(key), str) and r[key] != value]
        for x in node:
            found += siblings(x, value)
    elif isinstance(node, dict):
        if value in node and all(isinstance(v, dict) for v in node.values()):
            found += [k for k in node if k != value]
        for v in node.values():
            found += siblings(v, value)
    return list(dict.fromkeys(found))


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _misstated(
    calls: list[dict], outputs: list[str], instruction: str, rng: random.Random
) -> list[Mistake]:
    out = []
    for i, call in enumerate(calls):
        earlier = " ".join(outputs[:i]) + json.dumps([c["arguments"] for c in calls[:i]])
        for name, value in call["arguments"].items():
            if not isinstance(value, str) or len(value) < 4 or value in earlier:
                continue
            wrong = perturb(value, rng)
            if wrong and wrong != value and not mentioned(wrong, instruction + earlier):
                out.append(Mistake("misstated", i, name, value, wrong))
    return out


def _missing(calls: list[dict], required: dict[str, list[str]]) -> list[Mistake]:
    return [
        Mistake("missing_argument", i, name, call["arguments"][name])
        for i, call in enumerate(calls)
        for name in required.get(call["name"], [])
        if name in call["arguments"]
    ]


def _wrong_record(calls: list[dict], outputs: list[str], instruction: str) -> list[Mistake]:
    out = []
    for i, call in enumerate(calls):
        results = [_parsed(text) for text in outputs[:i]]
        said = instruction + " ".join(outputs[:i])
        for name, value in call["arguments"].items():
            if isinstance(value, list):  # one entry of a list swapped for one beside it
                for at, entry in enumerate(value):
                    if not isinstance(entry, str):
                        continue
                    others = [o for r in results for o in siblings(r, entry) if o not in value]
                    for other in dict.fromkeys(others):
                        wrong = [*value[:at], other, *value[at + 1 :]]
                        out.append(Mistake("wrong_record", i, name, value, wrong))
                continue
            if not isinstance(value, str):
                continue
            others = [o for r in results for o in siblings(r, value)]
            # The customer's records named for the other steps (their two orders).
            others += [
                c["arguments"][name]
                for c in calls
                if _names_record(name)
                and isinstance(c["arguments"].get(name), str)
                and c["arguments"][name] != value
                and mentioned(c["arguments"][name], said)
            ]
            for other in dict.fromkeys(others):
                out.append(Mistake("wrong_record", i, name, value, other))
    return out


def _names_record(parameter: str) -> bool:
    return parameter == "id" or parameter.rsplit("_", 1)[-1] in ("id", "ids", "number", "code")


def plan_mistake(
    calls: list[dict],
    outputs: list[str],
    tools: list[dict],
    instruction: str,
    rng: random.Random,
    fails: Probe,
    *,
    customer_scripted: bool,
    writes: set[str] | frozenset[str] = frozenset(),
) -> Mistake | None:
    """A mistake the dialogue can make and recover from, or None when none fits. `writes`
    names the tools that write, whose wrong records are tried first."""
    required = {
        t["function"]["name"]: list(t["function"].get("parameters", {}).get("required", []))
        for t in tools
    }
    kinds = [k for k in KINDS if customer_scripted or k != "misstated"]
    found: list[Mistake] = []
    for kind in kinds:  # one working candidate of each kind, then a kind at random
        if kind == "misstated":
            candidates = _misstated(calls, outputs, instruction, rng)
        elif kind == "missing_argument":
            candidates = _missing(calls, required)
        else:
            candidates = _wrong_record(calls, outputs, instruction)
        probes = PROBES_PER_KIND
        if kind == "wrong_record":
            first = [m for m in candidates if calls[m.call]["name"] in writes]
            rest = candidates[len(first) :]
            rng.shuffle(first)
            rng.shuffle(rest)
            candidates, probes = first + rest, WRONG_RECORD_PROBES
        else:
            rng.shuffle(candidates)
        for mistake in candidates[:probes]:
            if fails(calls[: mistake.call], mistake.wrong_call(calls[mistake.call])):
                found.append(mistake)
                break
    # A wrong record needs a chain that shows several records and a pick that fails: the
    # rarest chance of the three, so it is taken whenever it is there.
    rare = [m for m in found if m.kind == "wrong_record"]
    return rare[0] if rare else (rng.choice(found) if found else None)
