"""One directed random walk on the tool graph, with arguments drawn from the current state.

The walk starts at a random tool and moves along graph edges. Each call's arguments come,
in this order, from: the previous call's output along the edge's `via` field (one output
record per entity, so a patient's id and birth date come from the same patient); the
records met so far in the walk (outputs, and the records the arguments point at); the
database (preferring records related to those met so far); the enum's members; and
realistic made-up values for free text. Write tools get fresh values for the plain fields
they change (a new phone number, not the current one). A draw whose call fails is drawn
again; when none succeeds the walk ends. A share of calls is made invalid on purpose (an
unknown id, a value outside an enum, a negative amount, a missing argument) and kept with
its error; the walk then goes on with a valid call of the same tool. When an episode policy
requires a tool first (`before writes require verify_patient`), the walk calls it first,
with arguments drawn for the records the next call concerns; a rule bound to records
(`verify_patient(patient_id)`) is met once for each record the call concerns, that record's
key in the bound parameter.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from envscale.records import EntityField, Shape
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.tasks import fakes
from envscale.tasks.toolgraph import ToolGraph

DRAWS = 6
_COMPATIBLE = {
    "integer": {"int"},
    "number": {"float", "int"},
    "boolean": {"bool"},
}


@dataclass
class Step:
    name: str
    arguments: dict
    ok: bool
    content: str
    invalid: bool = False


@dataclass
class Walk:
    steps: list[Step] = field(default_factory=list)

    @property
    def calls(self) -> list[dict]:
        return [{"name": s.name, "arguments": s.arguments} for s in self.steps]


class _NoValue(Exception):
    pass


class Walker:
    def __init__(self, domain: Domain, graph: ToolGraph):
        self.domain = domain
        self.graph = graph
        self.manifest = domain.manifest
        self.clock = self.manifest.clock or "2024-01-01T09:00:00"
        self.schemas = {
            s["function"]["name"]: s["function"]["parameters"] for s in domain.tool_schemas
        }
        self.tools = domain.tools
        self.entities = self.manifest.entities
        self.feeds = self._feeds()

    def _feeds(self) -> dict[str, list[tuple[str, str, EntityField]]]:
        """Parameter name -> (entity, field, field spec) whose values can fill it.

        Parameter names are as the compiler names them.
        """
        out: dict[str, list[tuple[str, str, EntityField]]] = {}
        for entity, spec in self.entities.items():
            for f in spec.fields:
                names = [f.name]
                if f.kind == "ref":
                    target_key = self.entities[f.ref or ""].key[:1]
                    names = [*target_key, f"{f.name}_id", f.name]
                elif f.kind == "json":
                    continue
                for name in dict.fromkeys(names):
                    out.setdefault(name, []).append((entity, f.name, f))
        return out

    # ---- the walk

    def walk(
        self,
        env: Environment,
        rng: random.Random,
        length: int,
        kinds: tuple[str, ...],
        invalid_share: float,
    ) -> Walk:
        result = Walk()
        starts = [n for n, node in self.graph.nodes.items() if node.kind in kinds]
        if not starts:
            return result
        current: str | None = rng.choice(starts)
        prev: str | None = None
        prev_rows: list[dict] = []
        context: list[tuple[str, dict]] = []
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
                break
            prev, prev_rows = current, made
            successors = self.graph.successors(current, kinds)
            current = rng.choice(successors) if successors else None
        return result

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
            if self._blocked(env, tool, arguments):
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
                budget >= 2
                and rng.random() < invalid_share
                and self._invalid_call(env, rng, tool, arguments, walk)
            ):
                budget -= 1
                invalid_share = 0.0  # one invalid call per step
            result = env.call(tool, arguments)
            if result.ok:
                walk.steps.append(Step(tool, arguments, True, result.text))
                rows = _rows(result.content)
                context[:0] = [*self._typed(tool, rows), *planned]
                return rows
        return None

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
        schema = self.schemas[tool]
        required = set(schema.get("required", []))
        picked: dict[str, dict] = {}
        arguments = {}
        for param, prop in schema["properties"].items():
            if param not in required and rng.random() < 0.5:
                continue
            try:
                arguments[param] = self._value(
                    env, rng, tool, param, prop, prev, prev_rows, context, picked
                )
            except _NoValue:
                if param in required:
                    raise
        return arguments

    def _value(
        self,
        env: Environment,
        rng: random.Random,
        tool: str,
        param: str,
        prop: dict,
        prev: str | None,
        prev_rows: list[dict],
        context: list[tuple[str, dict]],
        picked: dict[str, dict],
    ) -> Any:
        if prev is not None:
            for edge in self.graph.edges_between(prev, tool):
                if edge.param != param:
                    continue
                rows = [r for r in prev_rows if r.get(edge.field) is not None]
                if not rows:
                    continue
                row = picked.get(edge.entity)
                if row is None or row.get(edge.field) is None:
                    row = picked[edge.entity] = rng.choice(rows)
                return _one(rng, row[edge.field])
        sources = [s for s in self.feeds.get(param, []) if self._fits(prop, s[2])]
        if self._fresh(tool, param, sources):
            return self._made_up(rng, param, prop)
        for entity, field_name, _ in sources:
            for seen_entity, record in context:
                if seen_entity == entity and record.get(field_name) is not None:
                    return _one(rng, record[field_name])
        if prop.get("type") in ("number", "integer"):
            amounts = [
                v
                for e, r in context
                if e in self.tools[tool].reads
                for k, v in r.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            ]
            if amounts:
                value = rng.choice(amounts)
                return value if prop["type"] == "number" else int(value)
        if sources:
            entity, field_name, _ = rng.choice(sources)
            records = [r for r in env.db.all(entity) if r.get(field_name) is not None]
            if records:
                related = self._related_to(entity, records, context)
                return _one(rng, rng.choice(related or records)[field_name])
        if "enum" in prop:
            return rng.choice(prop["enum"])
        if prop.get("format") in ("date", "date-time"):
            return self._moment(env, rng, tool, prop["format"])
        if prop.get("type") in ("string", "number", "integer", "boolean"):
            return self._made_up(rng, param, prop)
        raise _NoValue(param)

    def _fits(self, prop: dict, f: EntityField) -> bool:
        if "enum" in prop:
            return f.kind == "enum" and set(prop["enum"]) <= set(f.enum or [])
        if prop.get("format") == "date":
            return f.kind == "date"
        if prop.get("format") == "date-time":
            return f.kind == "datetime"
        kind = prop.get("type", "string")
        if kind == "string":
            if f.kind == "ref":
                target = self.entities[f.ref or ""]
                key = next(g for g in target.fields if g.name == target.key[0])
                return key.kind == "str"
            return f.kind == "str"
        return f.kind in _COMPATIBLE.get(kind, set())

    def _fresh(self, tool: str, param: str, sources: list[tuple[str, str, EntityField]]) -> bool:
        """Whether a write tool's parameter sets a plain field it writes.

        If so, a new value fits better.
        """
        if self.tools[tool].kind != "write":
            return False
        written = set(self.tools[tool].writes)
        return any(
            e in written
            and f.kind in ("str", "int", "float")
            and f.name not in self.entities[e].key
            for e, _, f in sources
        )

    def _made_up(self, rng: random.Random, param: str, prop: dict) -> Any:
        kind = {"integer": "int", "number": "float", "boolean": "bool"}.get(
            prop.get("type", "string"), "str"
        )
        if prop.get("format") == "date":
            kind = "date"
        elif prop.get("format") == "date-time":
            kind = "datetime"
        return fakes.value_for(rng, param, kind, self.clock)

    def _moment(self, env: Environment, rng: random.Random, tool: str, fmt: str) -> str:
        """A date (or date-time) taken from the records the tool reads.

        At or after the clock when possible.
        """
        values = []
        for entity in self.tools[tool].reads:
            for f in self.entities[entity].fields:
                if f.kind in ("date", "datetime"):
                    values += [r[f.name] for r in env.db.all(entity) if r.get(f.name)]
        if fmt == "date":
            values = sorted({v[:10] for v in values})
        ahead = [v for v in values if v >= self.clock[: len(v)]]
        if ahead or values:
            return rng.choice(ahead or values)
        return self.clock[:10] if fmt == "date" else self.clock

    # ---- records the walk has met

    def _typed(self, tool: str, rows: list[dict]) -> list[tuple[str, dict]]:
        entity = _row_entity(self.tools[tool].returns_shape)
        return [(entity, r) for r in rows] if entity else []

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

    def _related_to(
        self, entity: str, records: list[dict], context: list[tuple[str, dict]]
    ) -> list[dict]:
        keys = set()
        for seen_entity, record in context:
            spec = self.entities.get(seen_entity)
            if spec and len(spec.key) == 1 and isinstance(record.get(spec.key[0]), str | int):
                keys.add((seen_entity, record[spec.key[0]]))
        refs = [f for f in self.entities[entity].fields if f.kind == "ref"]
        return [r for r in records if any((f.ref, r.get(f.name)) in keys for f in refs)]

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
