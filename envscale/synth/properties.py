"""Property tests of a compiled domain's write tools, run on its real compiled code.

Each write tool is classified by what its body does to the record it is about (its primary
entity: the one it returns when it writes it, else the one it writes), read off the checked
AST as the compiler's effect pass reads it: an `insert` of that entity makes it a create, a
`delete` of such a record a delete, a `set` of one of its fields an update. Then, on an
environment of generated data with policies off (so that a policy cannot hide what a tool
does):

- create: a successful call inserts a record of the entity, and the entity's get tool (a
  read tool that takes the key alone and returns one record) finds it;
- delete: a successful call deletes a record, and the get tool no longer finds it;
- update: a successful call changes a record, and the get tool shows the new values (an
  update whose drawn calls all keep the values it sets is untested);
- missing key: the tool called with a key that names no record, in a parameter its body
  looks a record up by (`E[p]`, `E.get(p)`, a reference of an inserted record; not the key
  of the record a create makes), fails with a message, and the database is unchanged.

Arguments are drawn as task walks draw them (`tasks.arguments`), a few draws per tool. A tool
no draw can call successfully is not tested here: the tasks and the reach step say so. Where
an entity has no get tool, the record is looked up in the database instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.records import Manifest
from envscale.runtime.database import canonical_json
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Change, Environment
from envscale.tasks.arguments import NoValue
from envscale.tasks.catalog import entity_names
from envscale.tasks.walk import Walker

WriteKind = Literal["create", "update", "delete"]
DRAWS = 8  # argument draws per tool before it counts as not callable here
_MISSING = "ZZ-MISSING-0"


@dataclass(frozen=True)
class WriteClass:
    tool: str
    kind: WriteKind
    entity: str
    # (parameter, entity) for each parameter the body looks a record up by: `E[p]`,
    # `E.get(p)`, or a reference field of an inserted record set to `p`.
    lookups: tuple[tuple[str, str], ...] = ()


@dataclass
class PropertyResults:
    classes: dict[str, WriteClass] = field(default_factory=dict)
    tested: dict[str, list[str]] = field(default_factory=dict)  # tool -> properties that held
    untested: list[str] = field(default_factory=list)  # write tools no draw could call
    failures: list[str] = field(default_factory=list)  # "tool: what went wrong"


def _target_entity(c: Compilation, target: ast.Target) -> str | None:
    root = t.strip_optional(c.types.get(id(target), t.ANY))
    return root.entity if isinstance(root, t.RowT) else None


def classify(c: Compilation, manifest: Manifest) -> dict[str, WriteClass]:
    """Each write tool's kind, from the checked AST of the spec and its manifest effects."""
    out: dict[str, WriteClass] = {}
    for info in manifest.tools:
        symbol = c.symbols.tools.get(info.name)
        if info.kind != "write" or symbol is None or not info.writes:
            continue
        creates: set[str] = set()
        deletes: set[str] = set()
        updates: set[str] = set()
        for node in symbol.body_nodes:
            if isinstance(node, ast.Insert):
                creates.add(node.entity)
            elif isinstance(node, ast.Delete) and (entity := _target_entity(c, node.target)):
                (updates if node.target.steps else deletes).add(entity)
            elif (
                isinstance(node, ast.Set)
                and node.target.steps
                and (entity := _target_entity(c, node.target))
            ):
                updates.add(entity)
        returned = info.returns_shape.row if info.returns_shape is not None else None
        primary = returned if returned in info.writes else sorted(info.writes)[0]
        keys = _lookups(c, manifest, symbol.body_nodes, set(info.params))
        kinds: tuple[tuple[WriteKind, set[str]], ...] = (
            ("create", creates),
            ("delete", deletes),
            ("update", updates),
        )
        for kind, found in kinds:
            if primary in found:
                out[info.name] = WriteClass(info.name, kind, primary, keys)
                break
    return out


def _lookups(
    c: Compilation, manifest: Manifest, nodes: list[ast.Node], params: set[str]
) -> tuple[tuple[str, str], ...]:
    found: set[tuple[str, str]] = set()

    def param(e: ast.Node) -> str | None:
        return e.id if isinstance(e, ast.Name) and e.id in params else None

    for node in nodes:
        if isinstance(node, ast.Index) and len(node.keys) == 1 and (p := param(node.keys[0])):
            obj = c.type_of(node.obj)
            if isinstance(obj, t.EntityClass):
                found.add((p, obj.entity))
        elif isinstance(node, ast.Call) and node.args and (p := param(node.args[0].value)):
            method = c.type_of(node.func)
            if isinstance(method, t.Method) and method.name == "get":
                found.add((p, method.entity))
        elif isinstance(node, ast.Insert) and node.entity in manifest.entities:
            refs = {f.name: f.ref for f in manifest.entities[node.entity].fields if f.ref}
            for arg in node.args:
                if arg.name in refs and (p := param(arg.value)):
                    found.add((p, refs[arg.name]))
    return tuple(sorted(found))


def getters(domain: Domain) -> dict[str, tuple[str, str]]:
    """Entity -> (its get tool, the parameter that takes the key): a read tool whose one
    required parameter names the entity's key and that returns one record of it."""
    names = entity_names(domain.manifest)
    schemas = {s["function"]["name"]: s["function"]["parameters"] for s in domain.tool_schemas}
    out: dict[str, tuple[str, str]] = {}
    for info in sorted(domain.manifest.tools, key=lambda i: i.name):
        shape = info.returns_shape
        if info.kind != "read" or shape is None or shape.row is None:
            continue
        entity = shape.row
        required = schemas[info.name].get("required", [])
        if len(required) == 1 and names.get(required[0]) == entity and entity not in out:
            out[entity] = (info.name, required[0])
    return out


def key_params(domain: Domain, cls: WriteClass) -> dict[str, str]:
    """Parameter -> entity, for each string parameter the tool looks a record up by (of an
    entity with one key field), other than the key of the record a create makes."""
    props = next(
        s["function"]["parameters"].get("properties", {})
        for s in domain.tool_schemas
        if s["function"]["name"] == cls.tool
    )
    created = cls.entity if cls.kind == "create" else None
    return {
        p: entity
        for p, entity in cls.lookups
        if entity != created
        and props.get(p, {}).get("type") == "string"
        and len(domain.manifest.entities[entity].key) == 1
    }


class PropertyTester:
    def __init__(self, domain: Domain, env: Environment, classes: dict[str, WriteClass], seed: int):
        self.domain = domain
        self.env = env
        self.classes = classes
        self.walker = Walker(domain)
        self.getters = getters(domain)
        self.rng = random.Random(f"envscale-synth-properties:{seed}")
        self.results = PropertyResults(classes=dict(classes))

    def run(self) -> PropertyResults:
        for name in sorted(self.classes):
            self._tool(self.classes[name])
        self.env.reset()
        return self.results

    def _draw(self, tool: str) -> dict[str, Any] | None:
        try:
            return self.walker.drawer.draw(self.walker.catalog(self.env), self.rng, tool, [])
        except NoValue:
            return None

    def _fail(self, tool: str, text: str) -> None:
        self.results.failures.append(f"{tool}: {text}")

    def _tool(self, cls: WriteClass) -> None:
        held: list[str] = []
        called_with: dict[str, Any] | None = None
        changed = False
        expected = {"create": "insert", "update": "update", "delete": "delete"}[cls.kind]
        for _ in range(DRAWS):
            self.env.reset()
            arguments = self._draw(cls.tool)
            if arguments is None:
                continue
            result = self.env.call(cls.tool, arguments)
            if result.internal:
                self._fail(cls.tool, f"an internal error: {result.error}")
                return
            if not result.ok:
                continue
            called_with = arguments
            mine = [c for c in self.env.changes() if c.entity == cls.entity and c.kind == expected]
            if not mine:
                continue  # a call that changed nothing of its entity; another draw may
            if problem := self._after(cls, mine[0]):
                self._fail(cls.tool, problem)
                return
            held.append(f"{cls.kind} then get")
            changed = True
            break
        if called_with is None or (not changed and cls.kind == "update"):
            # Never called, or an update whose calls kept every value (a struct drawn from
            # the record itself): nothing to read back.
            self.results.untested.append(cls.tool)
        elif not changed:
            self._fail(
                cls.tool,
                f"{DRAWS} draws: no successful call {_verb(cls.kind)} a {cls.entity} record",
            )
            return
        missing = self._missing_key(cls, called_with)
        if missing is False:
            return
        if missing:
            held.append("missing key")
        self.results.tested[cls.tool] = held

    def _after(self, cls: WriteClass, change: Change) -> str | None:
        getter = self.getters.get(cls.entity)
        if getter is None:
            found = self.env.db.find(cls.entity, change.key)
            seen = None if found is None else self.domain.show_record(cls.entity, found)
        else:
            tool, param = getter
            result = self.env.call(tool, {param: change.key})
            if result.internal:
                return f"{tool} after it: an internal error: {result.error}"
            seen = result.content if result.ok else None
            if seen is not None and not isinstance(seen, dict):
                return f"{tool} after it returned no record: {result.text[:200]}"
        via = f"{getter[0]}({change.key!r})" if getter else f"the database ({change.key!r})"
        if cls.kind == "delete":
            if seen is None:
                return None
            return f"deleted {cls.entity} {change.key!r}, yet {via} finds it"
        if seen is None:
            return f"{_verb(cls.kind)} {cls.entity} {change.key!r}, yet {via} does not find it"
        if cls.kind == "update":
            assert change.before is not None and change.after is not None
            shown = self.domain.show_record(cls.entity, change.after) or {}
            for name, value in change.after.items():
                if change.before.get(name) == value or name not in seen or name not in shown:
                    continue
                if canonical_json(seen[name]) != canonical_json(shown[name]):
                    return (
                        f"updated {cls.entity}.{name} of {change.key!r} to "
                        f"{canonical_json(shown[name])[:80]}, yet {via} shows "
                        f"{canonical_json(seen[name])[:80]}"
                    )
        return None

    def _missing_key(self, cls: WriteClass, arguments: dict[str, Any] | None) -> bool | None:
        """True when every key parameter, given a key that names no record, makes a clear
        error; False when one does not (a failure is recorded); None when untested."""
        params = key_params(self.domain, cls)
        base = arguments if arguments is not None else self._draw(cls.tool)
        if not params or base is None:
            return None
        for param, entity in sorted(params.items()):
            if param not in base:
                continue
            missing = _MISSING
            while self.env.db.find(entity, missing) is not None:
                missing += "9"
            self.env.reset()
            before = self.env.state_hash()
            result = self.env.call(cls.tool, {**base, param: missing})
            if result.ok:
                self._fail(
                    cls.tool, f"with {param}={missing!r}, which names no {entity}, it succeeds"
                )
                return False
            if result.internal or not (result.error or "").strip():
                self._fail(
                    cls.tool,
                    f"with {param}={missing!r}, which names no {entity}, it fails without a "
                    f"clear message: {result.error!r}",
                )
                return False
            if self.env.state_hash() != before:
                self._fail(cls.tool, f"a failed call with {param}={missing!r} changed the database")
                return False
        return True


def _verb(kind: str) -> str:
    return {"create": "created", "update": "updated", "delete": "deleted"}[kind]


def check_properties(
    domain: Domain, env: Environment, classes: dict[str, WriteClass], seed: int
) -> PropertyResults:
    """Run the property tests; `env` is reset before each call and left reset."""
    return PropertyTester(domain, env, classes, seed).run()
