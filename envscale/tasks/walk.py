"""One directed walk on the tool graph, with arguments drawn from the records met and the state.

The first tool, and each next one, is drawn preferring the tools and edges used least so far
(`Coverage`); the next is one the last call's output feeds, by edge weight, else one an
earlier output feeds, else (for a walk that must write and has not) any write. Arguments
come from `arguments.py`: the records met so far first (outputs, and the records the
arguments point at), then those one step away, then the state. A draw whose call fails is
drawn again; a failure whose error names a number is retried once with that number in place
of one of the call's numbers. When no draw succeeds another next tool is tried, and after
three the walk ends. A share of calls is made invalid on purpose (an unknown id, a value
outside an enum, a negative amount, a missing argument) and kept with its error; the walk
then goes on with a valid call of the same tool. When an episode policy requires a tool
first (`before writes require verify_patient`), the walk calls it first, with arguments
drawn for the records the next call concerns; a rule bound to records
(`verify_patient(patient_id)`) is met once for each record the call concerns, that record's
key in the bound parameter.

Walks start with one of the agent's tools. Where the domain gives the user tools of their own
(dual control), a walk may go on to one of them along the graph's edges by effects, and the
call is made as the user (`Step.side`); the user's calls are never made invalid on purpose,
and policies, which judge the agent, do not hold them up.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from envscale.records import Shape
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.tasks.arguments import ArgumentDrawer, NoValue
from envscale.tasks.catalog import Catalog
from envscale.tasks.toolgraph import ToolGraph

DRAWS = 6
FAILED_SHARE = 0.25  # of a use, for a draw of a tool none of whose calls succeeded
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class Step:
    name: str
    arguments: dict
    ok: bool
    content: str
    invalid: bool = False
    side: str = "agent"  # agent | user


def ends_conversation(tool: str) -> bool:
    """Whether a call of `tool` hands the user over and so ends an episode (the rollout's
    convention: a tool whose name starts with `transfer`)."""
    return tool.startswith("transfer")


@dataclass
class Coverage:
    """How often each tool and each (tool, next tool) pair has been called successfully, and
    how often a tool was drawn and no call of it succeeded (`failures`)."""

    tools: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)

    def add(self, names: list[str]) -> None:
        self.tools.update(names)
        self.pairs.update(pairwise(names))

    def pick(self, rng: random.Random, weights: dict[str, float]) -> str | None:
        """A name drawn by weight, each divided by the square of one plus its uses. A draw that
        failed counts as a fraction of a use: a tool whose calls often fail (few records in
        the state it needs) gives way to the others without being starved by them."""
        names = list(weights)
        if not names:
            return None
        scores = [
            weights[n] / (1 + self.tools[n] + FAILED_SHARE * self.failures[n]) ** 2 for n in names
        ]
        if sum(scores) <= 0:
            return rng.choice(names)
        return rng.choices(names, scores)[0]


@dataclass
class Walk:
    steps: list[Step] = field(default_factory=list)

    @property
    def calls(self) -> list[dict]:
        return [
            {
                "name": s.name,
                "arguments": s.arguments,
                **({"side": s.side} if s.side != "agent" else {}),
            }
            for s in self.steps
        ]


class _NoValue(Exception):
    pass


class Walker:
    def __init__(self, domain: Domain, graph: ToolGraph | None = None):
        self.domain = domain
        self.graph = graph or ToolGraph.from_domain(domain)
        self.manifest = domain.manifest
        self.clock = self.manifest.clock or "2024-01-01T09:00:00"
        self.schemas = {
            s["function"]["name"]: s["function"]["parameters"]
            for s in [*domain.tool_schemas, *domain.side_schemas("user")]
        }
        self.tools = domain.tools
        self.entities = self.manifest.entities
        self.drawer = ArgumentDrawer(self.manifest, self.schemas, self.clock)
        self._catalog: Catalog | None = None
        self._catalog_env: int | None = None

    # ---- the walk

    def walk(
        self,
        env: Environment,
        rng: random.Random,
        length: int,
        kinds: tuple[str, ...],
        invalid_share: float,
        coverage: Coverage | None = None,
    ) -> Walk:
        """A walk of up to `length` calls of tools of `kinds`. With `coverage`, the first tool
        and each next one are drawn preferring the tools and edges used least so far."""
        result = Walk()
        coverage = coverage or Coverage()
        self.drawer.forget()
        self.catalog(env).forget()
        starts = [
            n for n, node in self.graph.nodes.items() if node.kind in kinds and node.side == "agent"
        ]
        if "write" in kinds and length == 1:  # a walk that must write and has one call
            starts = [n for n in starts if self.graph.nodes[n].kind == "write"]
        if not starts:
            return result
        tried: set[str] = set()
        current: str | None = coverage.pick(rng, {n: 1.0 for n in starts})
        prev: str | None = None
        prev_rows: list[dict] = []
        context: list[tuple[str, dict]] = []
        called: list[str] = []
        while current is not None and len(result.steps) < length:
            made = self._call(
                env,
                rng,
                current,
                prev,
                prev_rows,
                context,
                kinds,
                invalid_share,
                result,
                length - len(result.steps),
            )
            if made is None:
                tried.add(current)
                coverage.failures[current] += 1  # one that keeps failing gives way to others
                if not result.steps and len(tried) < 3:
                    current = coverage.pick(rng, {n: 1.0 for n in starts if n not in tried})
                    continue
            else:
                prev, prev_rows = current, made
                called.append(current)
                tried = set()
                if ends_conversation(current):
                    break  # nothing follows a hand-over to a person
            current = self._next(rng, called, kinds, coverage, tried, result, length, len(tried))
        return result

    def _next(
        self,
        rng: random.Random,
        called: list[str],
        kinds: tuple[str, ...],
        coverage: Coverage,
        tried: set[str],
        walk: Walk,
        length: int,
        failures: int,
    ) -> str | None:
        """The next tool: one the last call's output feeds (by edge weight), else one an
        earlier call's output feeds; a walk that must write and has one call left writes."""
        if not called or failures >= 3:
            return None
        weights: dict[str, float] = {}
        for depth, source in enumerate(reversed(called)):
            for target in self.graph.successors(source, kinds):
                edge = self.graph.edge(source, target)
                w = (edge.weight if edge else 0.1) * (0.3**depth)
                w /= 1 + coverage.pairs[(source, target)]
                weights[target] = max(weights.get(target, 0.0), w)
        for name in {*tried, called[-1], *(n for n in called if self.tools[n].kind == "read")}:
            weights.pop(name, None)  # a read once made needs no repeating
        if len(walk.steps) < length - 1:  # a hand-over can only be the last call
            weights = {n: w for n, w in weights.items() if not ends_conversation(n)}
        if "write" in kinds and len(walk.steps) == length - 1:
            wrote = any(s.ok and self.tools[s.name].kind == "write" for s in walk.steps)
            if not wrote:
                weights = {n: w for n, w in weights.items() if self.tools[n].kind == "write"}
        wrote = any(s.ok and self.tools[s.name].kind == "write" for s in walk.steps)
        if not weights and "write" in kinds and not wrote:
            # No output feeds a write, but the walk must make one: any write whose arguments
            # can come from the records met (a check a policy asks for feeds no parameter).
            weights = {
                n: 0.1
                for n, node in self.graph.nodes.items()
                if node.kind == "write" and node.side == "agent" and n not in tried
            }
        if not weights:
            return None
        return coverage.pick(rng, weights)

    def _call(
        self,
        env: Environment,
        rng: random.Random,
        tool: str,
        prev: str | None,
        prev_rows: list[dict],
        context: list[tuple[str, dict]],
        kinds: tuple[str, ...],
        invalid_share: float,
        walk: Walk,
        budget: int,
        fixed: dict | None = None,
    ) -> list[dict] | None:
        """Call `tool` with drawn arguments (after any tool a policy requires first), within
        `budget` calls in all; the rows it returned, or None when no draw succeeds. `fixed`
        arguments are not drawn."""
        start = len(walk.steps)
        rows = self._attempt(
            env, rng, tool, prev, prev_rows, context, kinds, invalid_share, walk, budget, fixed
        )
        if rows is None:
            # An invalid call stays only when a valid call of the same tool follows it.
            walk.steps[start:] = [s for s in walk.steps[start:] if not s.invalid]
        return rows

    def _attempt(
        self,
        env: Environment,
        rng: random.Random,
        tool: str,
        prev: str | None,
        prev_rows: list[dict],
        context: list[tuple[str, dict]],
        kinds: tuple[str, ...],
        invalid_share: float,
        walk: Walk,
        budget: int,
        fixed: dict | None = None,
    ) -> list[dict] | None:
        for _ in range(DRAWS):
            try:
                arguments = {**self.draw(env, rng, tool, prev, prev_rows, context), **(fixed or {})}
            except _NoValue:
                continue
            planned = self._related(env, tool, arguments)
            side = self.graph.side(tool)
            if side == "agent" and self._blocked(env, tool, arguments):
                if budget < 2:
                    return None
                required = self._required_first(
                    env, rng, tool, arguments, [*planned, *context], kinds, walk, budget - 1
                )
                if required is None:
                    return None
                prev, prev_rows, made = required
                context[:0] = self._typed(prev, prev_rows)
                budget -= made
                if self._blocked(env, tool, arguments):
                    return None
                # The call is drawn again to follow from the required call (the patient just
                # verified), unless that draw concerns a record the requirement was not met for.
                try:
                    again = {**self.draw(env, rng, tool, prev, prev_rows, context), **(fixed or {})}
                except _NoValue:
                    again = None
                if again is not None and not self._blocked(env, tool, again):
                    arguments = again
                planned = self._related(env, tool, arguments)
            if (
                side == "agent"
                and budget >= 2
                and rng.random() < invalid_share
                and self._invalid_call(env, rng, tool, arguments, walk)
            ):
                budget -= 1
                invalid_share = 0.0  # one invalid call per step
            result = env.call(tool, arguments, side=side)
            if not result.ok and not result.internal and side == "agent":
                arguments, result = self._repair(env, tool, arguments, result)
            if result.ok:
                walk.steps.append(Step(tool, arguments, True, result.text, side=side))
                rows = _rows(result.content)
                met = self._typed(tool, rows) or self._keyed(env, result.content)
                context[:0] = [*met, *planned]
                return rows
        return None

    def _repair(
        self, env: Environment, tool: str, arguments: dict, failed: Any
    ) -> tuple[dict, Any]:
        """Retry a failed call with a number its error names ("total price is 352, but paid
        100") in place of a number of the arguments, as an agent reading the error would."""
        numbers = []
        for text in _NUMBER.findall(failed.text):
            value = float(text)
            numbers.append(int(value) if value.is_integer() else value)
        paths = list(_number_paths(arguments))
        for path in reversed(paths[-3:]):
            for number in numbers[:2]:
                candidate = _replaced(arguments, path, number)
                if candidate == arguments:
                    continue
                result = env.call(tool, candidate)
                if result.ok:
                    return candidate, result
        return arguments, failed

    def _blocked(self, env: Environment, tool: str, arguments: dict) -> bool:
        if not env.enforce_policies:
            return False
        checked = env.checked_arguments(tool, arguments)
        return checked is not None and env.monitor.violation(tool, checked) is not None

    def _required_first(
        self,
        env: Environment,
        rng: random.Random,
        tool: str,
        arguments: dict,
        context: list[tuple[str, dict]],
        kinds: tuple[str, ...],
        walk: Walk,
        budget: int,
    ) -> tuple[str, list[dict], int] | None:
        """Call the tools that `before` policy rules require ahead of calling `tool` with
        `arguments`, within `budget` calls: a bound rule's tool once per record still to meet
        it for, with that record's key. Returns (the last tool called, its rows, the number
        of calls), or None when a rule stays unmet."""
        checked = env.checked_arguments(tool, arguments) or {}
        last: tuple[str, list[dict]] | None = None
        made = 0
        for unmet in env.monitor.unmet_requirements(tool, checked):
            for needed in unmet.requirement:
                if needed not in self.graph.nodes or self.graph.nodes[needed].kind not in kinds:
                    continue
                param = unmet.params.get(needed)
                keys = unmet.keys if param is not None else (None,)
                if made + len(keys) > budget:
                    continue
                for key in keys:
                    fixed, seen = None, list(context)
                    if param is not None and unmet.entity is not None:
                        fixed = {param: key}
                        record = env.db.find(unmet.entity, key)
                        seen[:0] = [(unmet.entity, record)] if record is not None else []
                    rows = self._call(env, rng, needed, None, [], seen, kinds, 0.0, walk, 1, fixed)
                    if rows is None:
                        break
                    made += 1
                    last = needed, rows
                else:
                    break  # this rule is met
            else:
                return None
        return None if last is None else (*last, made)

    def _invalid_call(
        self, env: Environment, rng: random.Random, tool: str, arguments: dict, walk: Walk
    ) -> bool:
        broken = self.corrupt(env, rng, tool, arguments)
        if broken is None:
            return False
        result = env.call(tool, broken)
        if result.ok or result.internal:  # a bug in envscale is no invalid call to learn from
            return False
        walk.steps.append(Step(tool, broken, False, result.text, invalid=True))
        return True

    # ---- arguments

    def draw(
        self,
        env: Environment,
        rng: random.Random,
        tool: str,
        prev: str | None,
        prev_rows: list[dict],
        context: list[tuple[str, dict]],
    ) -> dict:
        """Arguments for `tool` (see `arguments.py`); raises `NoValue` when a required one has
        none. `prev` and `prev_rows` are the previous call and what it returned."""
        seen = [*self._typed(prev, prev_rows), *context] if prev is not None else list(context)
        try:
            return self.drawer.draw(self.catalog(env), rng, tool, seen)
        except NoValue as error:
            raise _NoValue(str(error)) from error

    def catalog(self, env: Environment) -> Catalog:
        """The index of the state the walks start from, built once per environment."""
        if self._catalog is None or self._catalog_env != id(env):
            self._catalog = Catalog.build(self.manifest, env.export())
            self._catalog_env = id(env)
        return self._catalog

    # ---- records the walk has met

    def _typed(self, tool: str, rows: list[dict]) -> list[tuple[str, dict]]:
        entity = _row_entity(self.tools[tool].returns_shape)
        return [(entity, r) for r in rows] if entity else []

    def _keyed(self, env: Environment, content: Any) -> list[tuple[str, dict]]:
        """The record a lookup's bare key names (`find_user_id_by_email` returns a user id), so
        that the next call concerns the user it found."""
        if not isinstance(content, str) or not content:
            return []
        out = []
        for entity, spec in self.entities.items():
            if len(spec.key) == 1 and (record := env.db.find(entity, content)) is not None:
                out.append((entity, record))
        return out

    def _related(self, env: Environment, tool: str, arguments: dict) -> list[tuple[str, dict]]:
        """The records a call's arguments point at, and the records those refer to."""
        out: list[tuple[str, dict]] = []
        for param, value in arguments.items():
            if not isinstance(value, str):
                continue
            for entity, spec in self.entities.items():
                if spec.key == [param]:
                    record = env.db.find(entity, value)
                    if record is not None:
                        out.append((entity, record))
        for entity, record in list(out):
            for f in self.entities[entity].fields:
                if f.kind == "ref" and record.get(f.name) is not None:
                    target = env.db.find(f.ref, record[f.name])
                    if target is not None:
                        out.append((f.ref, target))
        return out

    # ---- invalid calls

    def corrupt(
        self, env: Environment, rng: random.Random, tool: str, arguments: dict
    ) -> dict | None:
        """The arguments with one value made wrong on purpose, or None when nothing can be."""
        props = self.schemas[tool]["properties"]
        required = self.schemas[tool].get("required", [])
        options = []
        for param, value in arguments.items():
            prop = props[param]
            if "enum" in prop:
                options.append((param, f"{prop['enum'][0]}_other"))
            elif isinstance(value, str) and param.endswith("_id") and re.search(r"\d", value):
                options.append((param, _unknown_id(value)))
            elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                options.append((param, -value))
        if options:
            param, wrong = rng.choice(options)
            return {**arguments, param: wrong}
        present = [p for p in required if p in arguments]
        if present:
            missing = rng.choice(present)
            return {k: v for k, v in arguments.items() if k != missing}
        return None


def _unknown_id(value: str) -> str:
    digits = re.sub(r"\d", "9", value)
    return (
        digits if digits != value else re.sub(r"\d+$", lambda m: "9" * (len(m.group()) + 1), value)
    )


def _one(rng: random.Random, value: Any) -> Any:
    if isinstance(value, list):
        if not value:
            raise _NoValue("empty list")
        return rng.choice(value)
    return value


def _rows(content: Any) -> list[dict]:
    if isinstance(content, dict):
        return [content]
    if isinstance(content, list):
        return [r for r in content if isinstance(r, dict)]
    return []


def _row_entity(shape: Shape | None) -> str | None:
    while shape is not None:
        if shape.row is not None:
            return shape.row
        shape = shape.list
    return None


def _number_paths(value: Any, path: tuple = ()) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _number_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _number_paths(item, (*path, i))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replaced(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replaced(v, rest, new) if i == head else v) for i, v in enumerate(value)]
