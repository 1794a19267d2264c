"""Property-based fuzzing of tool calls on the shipped specs (clinic, retail, airline; see
targets.py for their data).

Each attack class starts from a call known to be valid (or synthesised from the schema and the
data) and breaks it one way: wrong types, missing and extra parameters and arguments that are
no object, boundary and huge numbers (NaN and infinities through JSON text), long and odd
strings, injection strings, long and deep containers; `calls.sequences` mixes valid calls and
gold chains with hostile ones from every class.

Checked on every call: `env.call` does not raise and records no internal error (both
ESCAPED_EXCEPTION, with the detail), its result text can be encoded as UTF-8, and a failed
call leaves `state_hash()` as it was. A failed call also leaves `export()` as it was: this
is compared when SQLite counted a write during the call and the export of the state before
is known (the initial state, where the per-call attacks make most calls, or a state exported
for a sampled call), and for one failed call in EXPORT_SAMPLE otherwise (an export of
tau-bench's data takes tens of milliseconds, a hash microseconds). After each sequence and
at the end of each chunk: `export()` loaded into a fresh environment hashes the same,
`reset()` comes back to the initial hash, and the state reached by replaying the successful
calls in another order on a second environment hashes equal to it exactly when the exports
are equal (HASH_EXPORT).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

from envscale.fuzz.report import (
    ESCAPED_EXCEPTION,
    HASH_EXPORT,
    STATE_CHANGED,
    Attack,
    Problem,
    Tally,
    shorten,
)
from envscale.fuzz.targets import TARGET_NAMES, Call, Target, plausible_call, target
from envscale.runtime.environment import INTERNAL_ERRORS, Environment

EXPORT_SAMPLE = 500  # one failed call in this many has its export compared even without writes
RESET_AFTER = 40  # calls on one state before the per-call attacks go back to the initial one

Arguments = Any  # a dict, JSON text, or anything else a caller may pass
Mutation = Callable[[random.Random, Target, str, dict], tuple[Any, Arguments]]


# ---- hostile values


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


SQL = [
    "' OR '1'='1",
    '" OR "1"="1',
    "1; DROP TABLE patient; --",
    '\'); DELETE FROM "order"; --',
    "x' UNION SELECT name, sql FROM sqlite_master --",
    "%",
    "_",
    "%' --",
    "*",
    "NULL",
    "' || (SELECT 1) || '",
]
PYTHON = [
    "__import__('os').system('echo pwned')",
    "().__class__.__mro__[1].__subclasses__()",
    "eval('1+1')",
    "open('/etc/passwd').read()",
    "lambda: 0",
    "__builtins__",
    "globals()",
    "1 if True else 0",
    "[x for x in range(10**9)]",
]
TEMPLATES = [
    "{{ 7*7 }}",
    "{% for x in range(10) %}{{x}}{% endfor %}",
    "{{ config.__class__ }}",
    "${7*7}",
    "#{7*7}",
    "{0.__class__}",
    "{}",
    "{0}{1}",
    "%s%s%s%n",
    "%(x)s",
    "%d",
]
PATHS = ["$.users[*]", "$..*", "@.id", "../../../../etc/passwd", "/dev/zero", "~", "\\\\?\\C:"]
CALCULATE = [
    "9**9**9",
    "(9**9999)**9999",
    "1/0",
    "2**-1",
    "10**100000",
    "1e308*10",
    "-(-(-1))",
    "(" * 500 + "1" + ")" * 500,
    "1" * 5000,
    "0x10",
    "1_000",
    "nan",
    "inf - inf",
]
UNICODE = [
    "é",
    "e\u0301",
    "ﬁ",
    "İ",
    "ß",
    "\u202eevil",
    "\u200b",
    "\ufeffP001",
    "１２３",
    "😀",
    "\U0010ffff",
    "\u2028\u2029",
    "\x1b[31m",
    "\r\n",
    "\t",
    "Ω" * 50,
]
SURROGATES = ["\ud800", "\udfff", "a\udc80b", "\ud83d", "\ude00\ud83d"]
NUMBERS: list[Any] = [
    0,
    -0.0,
    -1,
    1,
    0.5,
    -0.5,
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**100,
    -(10**100),
    10**4000,
    1e308,
    -1e308,
    5e-324,
    1e-300,
    0.1 + 0.2,
    True,
    False,
]
# Numbers only JSON text can carry: Python's parser reads them as NaN, infinities, huge ints.
NUMBER_TEXTS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "-0",
    "1E999",
    "0.0000000000000000000000000001",
    "1" * 4300,
    "1" * 4301,
    "-" + "9" * 5000,
    "1" + "0" * 20,
]


def _strings(rng: random.Random, base: Any) -> Any:
    text = base if isinstance(base, str) else str(base)
    pick = rng.randrange(12)
    if pick == 0:
        return rng.choice(["x", text or "x", "ab", "😀"]) * rng.choice([1000, 10_000, 100_000])
    if pick == 1:
        return text * rng.choice([100, 1000])
    if pick == 2:
        return text + rng.choice(UNICODE)
    if pick == 3:
        return rng.choice(UNICODE)
    if pick == 4:
        return rng.choice(SURROGATES) + text
    if pick == 5:
        return text + rng.choice(SURROGATES)
    if pick == 6:
        return text + "\x00" + rng.choice(["", "DROP", text])
    if pick == 7:
        return "\x00" * rng.choice([1, 10, 1000])
    if pick == 8:
        return rng.choice([" ", "  ", "\n"]) + text + rng.choice(["", " ", "\n"])
    if pick == 9:
        return text.upper() if text != text.upper() else text.lower()
    if pick == 10:
        return "".join(chr(rng.randrange(1, 0x110000)) for _ in range(rng.randint(1, 40)))
    return ""


def _injection(rng: random.Random, base: Any) -> Any:
    text = base if isinstance(base, str) else str(base)
    payload = rng.choice(rng.choice([SQL, PYTHON, TEMPLATES, PATHS]))
    return rng.choice([payload, text + payload, payload + text, f"{text}' AND '{payload}"])


def _wrong_type(rng: random.Random, base: Any) -> Any:
    options: list[Any] = [None, "", [], {}, True, False, 0, 1.5, "text", [base], {"value": base}]
    if isinstance(base, str):
        options += [int(base) if base.isdigit() else 7, [base, base], base.encode().hex()]
    if isinstance(base, int | float) and not isinstance(base, bool):
        options += [str(base), [base], f"{base}abc"]
    if isinstance(base, list):
        options += [base[0] if base else "x", ",".join(map(str, base)), {"0": base}]
    if isinstance(base, dict):
        options += [list(base.values()), json.dumps(base), list(base)]
    return rng.choice(options)


def _container(rng: random.Random, base: Any) -> Any:
    pick = rng.randrange(8)
    if pick == 0:
        return [base] * rng.choice([2, 100, 1000, 5000])
    if pick == 1:
        return [rng.choice([None, "", 0, [], {}]) for _ in range(rng.choice([1, 50, 2000]))]
    if pick == 2:
        return nested(rng.choice([2, 10, 62, 63, 64, 65, 200, 5000]), base)
    if pick == 3:
        return {f"k{i}": base for i in range(rng.choice([1, 100, 5000]))}
    if pick == 4:
        return [base, [base, [base]]]
    if pick == 5:
        return list(range(rng.choice([10, 10_000])))
    if pick == 6:
        return [[base]] * 100
    return {"": base, "__class__": base, "$where": base}


# ---- positions inside arguments


def positions(value: Any, limit: int = 40) -> list[tuple]:
    """Paths to the values inside `value` (dict keys and list indices), the root excluded."""
    found: list[tuple] = []
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack and len(found) < limit:
        path, node = stack.pop()
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else []
        )
        for key, child in children:
            found.append((*path, key))
            stack.append(((*path, key), child))
    return found


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: replaced(v, rest, new) if k == head else v for k, v in value.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def lookup(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


def _mutate_one(rng: random.Random, arguments: dict, change: Callable[[Any], Any]) -> dict:
    spots = positions(arguments)
    if not spots:
        return {"unexpected": change("x")}
    spot = rng.choice(spots)
    return replaced(arguments, spot, change(lookup(arguments, spot)))


# ---- the mutations, one attack class each


def m_types(rng: random.Random, t: Target, tool: str, args: dict) -> tuple[Any, Arguments]:
    return tool, _mutate_one(rng, args, lambda base: _wrong_type(rng, base))


def m_shape(rng: random.Random, t: Target, tool: str, args: dict) -> tuple[Any, Arguments]:
    pick = rng.randrange(9)
    if pick == 0 and args:
        dropped = rng.choice(sorted(args))
        return tool, {k: v for k, v in args.items() if k != dropped}
    if pick == 1:
        return tool, {}
    if pick == 2:
        name = rng.choice(
            ["extra", "db", "self", "__class__", "", "\x00", "Patient_id", "id", "_x", "None"]
        )
        return tool, {**args, name: rng.choice([1, "x", None, args])}
    if pick == 3:
        return tool, rng.choice([None, [], [args], "x", 5, 1.5, True, list(args)])
    if pick == 4:
        text = json.dumps(args, ensure_ascii=False)
        return tool, rng.choice(
            [
                "",
                "   ",
                "null",
                "[]",
                "{",
                text[:-1],
                text + "}",
                text + " garbage",
                "{'a': 1}",
                text.replace('"', "'"),
                '{"a": 1, "a": 2}',
                "\x00",
                "\ufeff" + text,
            ]
        )
    if pick == 5:
        return rng.choice(
            [
                tool.upper(),
                f" {tool}",
                tool + "\x00",
                tool + "\ud800",
                "",
                None,
                5,
                ["x"],
                "__init__",
                "TOOLS",
                "INVARIANTS",
                "lib",
                tool[:-1],
                tool * 1000,
            ]
        ), args
    if pick == 6:
        other = rng.choice(sorted(t.schemas))
        return other, args
    if pick == 7:
        return tool, {**args, **{f"p{i}": i for i in range(rng.choice([10, 1000]))}}
    return tool, {k: None for k in args}


def m_numbers(rng: random.Random, t: Target, tool: str, args: dict) -> tuple[Any, Arguments]:
    spots = positions(args)
    spot = rng.choice(spots) if spots else ("amount",)
    if rng.random() < 0.5:
        return tool, replaced(args, spot, rng.choice(NUMBERS))
    marker = "__envscale_fuzz_number__"
    text = json.dumps(replaced(args, spot, marker) if spots else {"amount": marker})
    return tool, text.replace(json.dumps(marker), rng.choice(NUMBER_TEXTS))


def m_strings(rng: random.Random, t: Target, tool: str, args: dict) -> tuple[Any, Arguments]:
    if rng.random() < 0.1 and args:  # an odd key
        key = rng.choice(sorted(args))
        return tool, {k if k != key else _strings(rng, k): v for k, v in args.items()}
    return tool, _mutate_one(rng, args, lambda base: _strings(rng, base))


def m_injection(rng: random.Random, t: Target, tool: str, args: dict) -> tuple[Any, Arguments]:
    if tool == "calculate" or (rng.random() < 0.05 and "calculate" in t.schemas):
        return "calculate", {"expression": rng.choice(CALCULATE + PYTHON + TEMPLATES + SQL)}
    return tool, _mutate_one(rng, args, lambda base: _injection(rng, base))


def m_containers(rng: random.Random, t: Target, tool: str, args: dict) -> tuple[Any, Arguments]:
    if rng.random() < 0.1:
        depth = rng.choice([65, 1000, 100_000])
        return tool, '{"x": ' + "[" * depth + "]" * depth + "}"
    return tool, _mutate_one(rng, args, lambda base: _container(rng, base))


MUTATIONS: dict[str, Mutation] = {
    "calls.types": m_types,
    "calls.shape": m_shape,
    "calls.numbers": m_numbers,
    "calls.strings": m_strings,
    "calls.injection": m_injection,
    "calls.containers": m_containers,
}


# ---- checking


def describe(value: Any, budget: int = 8) -> str:
    """A short Python expression for a value, long strings and lists and deep nesting summed
    up, so a reproducer stays readable."""
    if isinstance(value, str):
        if len(value) > 60:
            unit = value[:8]
            if unit * (len(value) // len(unit)) == value[: len(unit) * (len(value) // len(unit))]:
                return f"{unit!r} * {len(value) // len(unit)}" + (
                    f" + {value[len(unit) * (len(value) // len(unit)) :]!r}"
                    if len(value) % len(unit)
                    else ""
                )
            return f"{value[:40]!r} + ... ({len(value)} chars)"
        return repr(value)
    if budget <= 0:
        return "..."
    if isinstance(value, list):
        if len(value) > 6:
            return f"[{describe(value[0], budget - 1)}, ... {len(value)} items]"
        return "[" + ", ".join(describe(v, budget - 1) for v in value) + "]"
    if isinstance(value, dict):
        items = list(value.items())
        shown = ", ".join(f"{describe(k)}: {describe(v, budget - 1)}" for k, v in items[:6])
        return "{" + shown + (f", ... {len(items)} keys" if len(items) > 6 else "") + "}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"{'-' if value < 0 else ''}2**{abs(value).bit_length() - 1} (about)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def reproducer(spec: str, tool: Any, arguments: Arguments) -> str:
    return shorten(f"{spec}: env.call({describe(tool)}, {describe(arguments)})", 400)


class Checker:
    """Runs calls on a target and adds what breaks the contract to a tally."""

    def __init__(self, tally: Tally, rng: random.Random, targets: list[Target]) -> None:
        self.tally = tally
        self.rng = rng
        # state hash -> export, where one was taken
        self.exports: dict[str, dict] = {t.base_hash: t.base_export for t in targets}
        # Each environment's hash after a failed call, which is the next call's hash before.
        self.hashes: dict[int, str] = {}

    def reset(self, env: Environment) -> None:
        self.hashes.pop(id(env), None)
        env.reset()

    def export_of(self, env: Environment, state: str) -> dict:
        if state not in self.exports:
            if len(self.exports) > 16:
                self.exports = {h: e for h, e in list(self.exports.items())[:3]}
            self.exports[state] = env.export()
        return self.exports[state]

    def call(self, t: Target, env: Environment, tool: Any, arguments: Arguments) -> bool | None:
        """Run one call and check it; whether it succeeded (None when it raised)."""
        self.tally.tried += 1
        before = self.hashes.pop(id(env), None) or env.state_hash()
        sample = self.rng.randrange(EXPORT_SAMPLE) == 0
        exported = self.exports.get(before) if not sample else self.export_of(env, before)
        writes = env.connection.total_changes()
        count = INTERNAL_ERRORS.count
        try:
            result = env.call(tool, arguments)
        except Exception as error:
            self.problem(ESCAPED_EXCEPTION, f"{type(error).__name__}: {error}", t, tool, arguments)
            self.reset(env)
            return None
        new = INTERNAL_ERRORS.since(count)
        if new or result.internal:
            detail = new[-1].message if new else str(result.error)
            where = new[-1].traceback.strip().splitlines()[-3:-1] if new else []
            self.problem(
                ESCAPED_EXCEPTION,
                f"internal error: {detail}" + (f" at {' '.join(w.strip() for w in where)}"),
                t,
                tool,
                arguments,
            )
        try:
            result.text.encode("utf-8")
        except UnicodeEncodeError as error:
            self.problem(
                ESCAPED_EXCEPTION, f"result text cannot be sent: {error}", t, tool, arguments
            )
        if result.ok:
            return True
        after = self.hashes[id(env)] = env.state_hash()
        if after != before:
            self.problem(STATE_CHANGED, f"state hash changed: {result.error}", t, tool, arguments)
        elif (
            exported is not None
            and (sample or env.connection.total_changes() != writes)
            and env.export() != exported
        ):
            self.problem(STATE_CHANGED, f"export changed: {result.error}", t, tool, arguments)
        return False

    def problem(self, kind: str, detail: str, t: Target, tool: Any, arguments: Arguments) -> None:
        self.tally.add(Problem(kind, shorten(detail), reproducer(t.name, tool, arguments)))

    def state_checks(self, t: Target, successful: list[Call]) -> None:
        """The hash and export properties on the state the calls reached."""
        env = t.env
        try:
            state, exported = env.state_hash(), env.export()
            reloaded = t.fresh(exported)
            try:
                if reloaded.state_hash() != state:
                    self.tally.add(
                        Problem(
                            HASH_EXPORT,
                            "export() loaded into a fresh environment hashes differently",
                            _chain(t.name, successful),
                        )
                    )
            finally:
                reloaded.close()
            other = t.other
            other.reset()
            order = list(successful)
            self.rng.shuffle(order)
            for tool, arguments in order:
                other.call(tool, arguments)
            equal_hash = other.state_hash() == state
            equal_export = other.export() == exported
            if equal_hash != equal_export:
                self.tally.add(
                    Problem(
                        HASH_EXPORT,
                        f"hashes {'equal' if equal_hash else 'differ'} but exports "
                        f"{'are equal' if equal_export else 'differ'} after another call order",
                        _chain(t.name, successful) + " | reordered: " + _chain("", order),
                    )
                )
            other.reset()
            self.reset(env)
            if env.state_hash() != t.base_hash:
                self.tally.add(
                    Problem(HASH_EXPORT, "reset() does not come back to the initial hash", "")
                )
            elif self.rng.randrange(10) == 0 and env.export() != t.base_export:
                self.tally.add(
                    Problem(HASH_EXPORT, "the initial hash with another export after reset()", "")
                )
        except Exception as error:
            self.tally.add(
                Problem(
                    ESCAPED_EXCEPTION,
                    shorten(f"checking the state: {type(error).__name__}: {error}"),
                    _chain(t.name, successful),
                )
            )
            self.reset(env)


def _chain(spec: str, calls: list[Call]) -> str:
    shown = "; ".join(f"{tool}({describe(arguments, 3)})" for tool, arguments in calls[:12])
    more = f"; ... {len(calls)} calls" if len(calls) > 12 else ""
    return shorten(f"{spec + ': ' if spec else ''}{shown}{more}", 600)


# ---- the attacks


def _targets(tally: Tally) -> list[Target]:
    found = []
    for name in TARGET_NAMES:
        try:
            found.append(target(name))
        except Exception as error:
            tally.add(
                Problem(ESCAPED_EXCEPTION, shorten(f"building {name}: {error!r}"), f"spec {name}")
            )
    return found


def run_mutations(name: str, mutation: Mutation, count: int, seed: int) -> Tally:
    tally = Tally(name)
    rng = random.Random(f"{name}:{seed}")
    targets = _targets(tally)
    checker = Checker(tally, rng, targets)
    since_reset = {t.name: 0 for t in targets}
    successful: dict[str, list[Call]] = {t.name: [] for t in targets}
    for i in range(count if targets else 0):
        t = targets[i % len(targets)]
        tool, arguments = plausible_call(t, rng)
        try:
            tool, arguments = mutation(rng, t, tool, arguments)
        except Exception as error:  # a bug of the fuzzer itself: shown, never hidden
            tally.add(Problem(ESCAPED_EXCEPTION, f"mutation failed: {error!r}", f"{t.name} {tool}"))
            continue
        if checker.call(t, t.env, tool, arguments) and isinstance(arguments, dict):
            successful[t.name].append((tool, arguments))
        since_reset[t.name] += 1
        if since_reset[t.name] >= RESET_AFTER:
            since_reset[t.name] = 0
            checker.reset(t.env)
            successful[t.name] = []
    for t in targets:
        if successful[t.name]:
            checker.state_checks(t, successful[t.name])
        checker.reset(t.env)
    return tally


def run_sequences(count: int, seed: int) -> Tally:
    name = "calls.sequences"
    tally = Tally(name)
    rng = random.Random(f"{name}:{seed}")
    targets = _targets(tally)
    checker = Checker(tally, rng, targets)
    mutations = list(MUTATIONS.values())
    done = 0
    while targets and done < count:
        t = rng.choice(targets)
        length = min(count - done, rng.randint(20, 500))
        successful: list[Call] = []
        checker.reset(t.env)
        step = 0
        while step < length:
            roll = rng.random()
            if roll < 0.2 and t.chains:
                calls = list(rng.choice(t.chains))[: length - step]
            elif roll < 0.6:
                calls = [plausible_call(t, rng)]
            else:
                tool, arguments = plausible_call(t, rng)
                calls = [rng.choice(mutations)(rng, t, tool, arguments)]
            for tool, arguments in calls:
                if checker.call(t, t.env, tool, arguments) and isinstance(arguments, dict):
                    successful.append((tool, arguments))
            step += len(calls)
        done += step
        checker.state_checks(t, successful)
    return tally


def _mutation_attack(name: str, mutation: Mutation) -> Attack:
    def run(count: int, seed: int) -> Tally:
        try:
            return run_mutations(name, mutation, count, seed)
        except Exception as error:  # an attack never raises: the failure is its report
            tally = Tally(name, tried=0)
            tally.add(Problem(ESCAPED_EXCEPTION, shorten(f"the attack failed: {error!r}"), name))
            return tally

    return Attack(name, "calls", run)


def _sequence_attack(count: int, seed: int) -> Tally:
    try:
        return run_sequences(count, seed)
    except Exception as error:
        tally = Tally("calls.sequences")
        tally.add(Problem(ESCAPED_EXCEPTION, shorten(f"the attack failed: {error!r}"), "sequences"))
        return tally


ATTACKS: list[Attack] = [
    *(_mutation_attack(name, mutation) for name, mutation in MUTATIONS.items()),
    Attack("calls.sequences", "calls", _sequence_attack),
]
