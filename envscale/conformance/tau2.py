"""Replay tau2-bench cases on an envscale spec: every output, the final databases, assertions.

A tau2 case (see `conformance/replay.py` for what all replays share) is replayed from the
initial state: its `initial_state` first (tau2's initialization actions, each a call on the
database of its `env_type`), then each action on the database of its `requestor` (`assistant`,
the default, or `user`), then its `env_assertions` (calls that must give their
`assert_value`). The final diff of each database is compared with the case's (`final_diff`,
and `final_user_diff` for a domain with a user's database), and the diffs after the
initial state with `init_diff` / `init_user_diff` where the case has them.

Outputs compare as in the tau-bench replay, with one rule more: when the recorded action
failed with a `ValidationError` or a `TypeError`, its text was written by pydantic or CPython
(a model's validation report, "f() missing 1 required positional argument"), so the call must
fail and change nothing, and its text is not compared. A tool the requestor does not have
fails as tau2 words it: `Tool 'think' not found.`

A domain with a user's database (telecom) has a second layout beside its own,
`NAME.user.layout.json`, whose tables are the user's: one environment holds both databases,
the agent calls as the spec's agent side and the user as its user side, initialization
actions as internal set-up code, and assertions run as the spec's assertions. Its sync block
runs after every successful call, as tau2's `sync_tools`. Records of the layout's `carried`
entities outlive a reset: tau2 keeps them in one object that every environment of a process
shares (telecom's default VPN profile), so a case sees what the cases before it in its file
left there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.conformance.replay import (
    FileResult,
    Mismatch,
    canonical,
    compare_diff,
    compare_output,
    read_cases,
)
from envscale.runtime.environment import CallResult, Environment
from envscale.runtime.layout import Layout
from envscale.runtime.load import load

# Errors whose text tau2 does not write itself (pydantic's and CPython's): matched by kind.
FOREIGN_ERRORS = frozenset({"ValidationError", "TypeError"})
AGENT = "assistant"
USER = "user"


@dataclass
class Side:
    """One database of a tau2 domain: the environment a requestor's calls go to, the layout its
    documents are drawn from, and the names of its diffs in a case."""

    env: Environment
    layout: Layout
    diff: str = "final_diff"
    init_diff: str = "init_diff"
    # The tools this side may call (None: every tool of its environment); initialization
    # actions and assertions may call any.
    tools: frozenset[str] | None = None
    side: str = "agent"  # the spec's side this requestor calls as

    def initial_keys(self, table: Any) -> set[Any]:
        """The keys a table's entity held at reset."""
        meta = self.env.db.tables[table.entity]
        keys = {meta.key_of(r) for r in self.env.db.all(table.entity)}
        for change in self.env.changes():
            if change.entity == table.entity and change.before is None:
                keys.discard(change.key)
            elif change.entity == table.entity and change.after is None:
                keys.add(change.key)
        return keys

    def own_diff(self) -> dict[str, dict[str, Any]]:
        """What changed in this side's tables since reset (an environment two sides share
        holds the other side's tables too)."""
        mine = {t.name for t in self.layout.tables}
        return {k: v for k, v in self.layout.document_diff(self.env).items() if k in mine}


@dataclass
class Tau2Domain:
    """The databases of a tau2 domain by requestor, and what runs after every call (tau2's
    `sync_tools`, for a domain whose state is derived from other state; none by default)."""

    sides: dict[str, Side]
    after_call: Callable[[Tau2Domain], None] | None = None
    carried: tuple[str, ...] = ()  # entities whose records outlive a reset (see above)
    environments: list[Environment] = field(init=False)

    def __post_init__(self) -> None:
        unique: dict[int, Environment] = {}
        for side in self.sides.values():
            unique.setdefault(id(side.env), side.env)
        self.environments = list(unique.values())

    def reset(self, carry: bool = True) -> None:
        """Back to the initial state; the carried records as the cases before left them,
        unless `carry` is false (a new file of cases: another process of the recording)."""
        for env in self.environments:
            kept = [(e, r) for e in self.carried if e in env.db.tables for r in env.db.changed(e)]
            if not carry:
                kept = []
            env.reset()
            for entity, record in kept:
                env.db.update(entity, record, *env.db.tables[entity].fields)

    def state(self) -> tuple[str, ...]:
        return tuple(env.state_hash() for env in self.environments)

    def call(self, requestor: str, name: str, kwargs: Any, *, any_tool: bool = False) -> CallResult:
        """A call as tau2's environment answers it: a tool this requestor lacks is not found."""
        side = self.sides.get(requestor)
        if side is None or (not any_tool and side.tools is not None and name not in side.tools):
            return CallResult(str(name), False, error=f"Tool '{name}' not found.")
        if not isinstance(name, str) or name not in side.env.tools:
            return CallResult(str(name), False, error=f"Tool '{name}' not found.")
        arguments = kwargs if kwargs is not None else {}
        if any_tool and name in side.env.domain.assertions:
            return side.env.assertion(name, arguments)
        result = side.env.call(name, arguments, side="internal" if any_tool else side.side)
        if self.after_call is not None:
            self.after_call(self)
        return result


def _side_of(action: dict, key: str) -> str:
    requestor = action.get(key) or AGENT
    return USER if requestor == USER else AGENT


def replay_case(domain: Tau2Domain, case: dict) -> list[Mismatch]:
    """Replay one case from the initial state; the mismatches found."""
    domain.reset()
    task = str(case["task_id"])
    found: list[Mismatch] = []
    found.extend(_initialise(domain, task, case))
    for i, action in enumerate(case.get("actions", [])):
        where = f"action {i} ({action['name']})"
        foreign = bool(action.get("error")) and action.get("error_type") in FOREIGN_ERRORS
        before = domain.state() if foreign else None  # a hash costs what the episode changed
        result = domain.call(_side_of(action, "requestor"), action["name"], action.get("kwargs"))
        if foreign:
            if result.ok or domain.state() != before:
                got = result.text if result.ok else f"{result.text} (and the state changed)"
                expected = f"a failed call that changes nothing ({action['error_type']})"
                found.append(Mismatch(task, where, expected, got))
            continue
        mismatch = compare_output(task, where, action, result.text)
        if mismatch is None and "error" in action and bool(action["error"]) == result.ok:
            mismatch = Mismatch(task, where, f"error: {action['error']}", result.text)
        if mismatch is not None:
            found.append(mismatch)
    for side in domain.sides.values():
        where = "final state" if side.diff == "final_diff" else f"final state ({side.diff})"
        mismatch = _compare_diff(task, case, side, side.diff, where)
        if mismatch is not None:
            found.append(mismatch)
    found.extend(_assertions(domain, task, case))
    return found


def _initialise(domain: Tau2Domain, task: str, case: dict) -> list[Mismatch]:
    """Run the case's initialization actions, then compare the initial diffs it gives."""
    state = case.get("initial_state") or {}
    actions = state.get("initialization_actions") or []
    found = []
    for i, action in enumerate(actions):
        name = action.get("func_name", "")
        result = domain.call(
            _side_of(action, "env_type"), name, action.get("arguments"), any_tool=True
        )
        if not result.ok:
            found.append(
                Mismatch(task, f"initialization action {i} ({name})", "success", result.text)
            )
    if actions:
        for side in domain.sides.values():
            mismatch = _compare_diff(
                task, case, side, side.init_diff, f"initial state ({side.init_diff})"
            )
            if mismatch is not None:
                found.append(mismatch)
    return found


def _compare_diff(task: str, case: dict, side: Side, name: str, where: str) -> Mismatch | None:
    """compare_diff, with the keys of records made under a random id (the layout's
    `random_ids`) written as `<new Entity N>` on both sides, in the order of the keys."""
    ours = side.own_diff()
    if not side.layout.random_ids or not isinstance(case.get(name), dict):
        return compare_diff(task, case, name, ours, where)
    expected = case[name]
    for table in side.layout.tables:
        pattern = side.layout.random_ids.get(table.entity)
        if pattern is None:
            continue
        known = {str(k) for k in side.initial_keys(table)}
        ours = _renamed(ours, table.name, table.entity, pattern, known)
        expected = _renamed(expected, table.name, table.entity, pattern, known)
    return compare_diff(task, {**case, name: expected}, name, ours, where)


def _renamed(diff: dict, table: str, entity: str, pattern: str, known: set[str]) -> dict:
    fresh = sorted(k for k in diff.get(table, {}) if k not in known and re.fullmatch(pattern, k))
    if not fresh:
        return diff
    text = json.dumps(diff, ensure_ascii=False)
    for i, key in enumerate(fresh, 1):
        text = text.replace(json.dumps(key), json.dumps(f"<new {entity} {i}>"))
    return json.loads(text)


def _assertions(domain: Tau2Domain, task: str, case: dict) -> list[Mismatch]:
    """Each of the case's env_assertions must come out as its recorded `result`."""
    found = []
    for i, assertion in enumerate(case.get("env_assertions") or []):
        name = assertion.get("func_name", "")
        result = domain.call(
            _side_of(assertion, "env_type"), name, assertion.get("arguments"), any_tool=True
        )
        held = result.ok and result.content == assertion.get("assert_value", True)
        if held != assertion.get("result", True):
            found.append(
                Mismatch(
                    task,
                    f"assertion {i} ({name})",
                    canonical(assertion.get("assert_value", True)),
                    result.text,
                )
            )
    return found


def replay_file(domain: Tau2Domain, path: str | Path) -> FileResult:
    """Every case of a file, in order; each file starts afresh, carried records included (the
    recording made each file in a process of its own)."""
    domain.reset(carry=False)
    result = FileResult(str(path))
    for case in read_cases(path):
        result.add(replay_case(domain, case))
    return result


def environment(spec: str | Path, layout_path: str | Path, data: str | Path) -> Tau2Domain:
    """A one-database tau2 domain (retail, airline): the spec's environment on tau2's
    documents, loaded as tau2's models hold them, policies off (tau2 enforces none)."""
    compiled = load(spec)
    layout = Layout.read(layout_path)
    layout.check(compiled.manifest)
    user_path = Path(str(layout_path).removesuffix(".layout.json") + ".user.layout.json")
    if not user_path.exists():
        env = compiled.environment(
            data=layout.load(data), enforce_policies=False, as_models=layout.as_models
        )
        return Tau2Domain({AGENT: Side(env, layout)})
    user_layout = Layout.read(user_path)
    user_layout.check(compiled.manifest)
    records = {**layout.load(data), **user_layout.load(data)}
    env = compiled.environment(data=records, enforce_policies=False, as_models=layout.as_models)
    return Tau2Domain(
        {
            AGENT: Side(env, layout),
            USER: Side(env, user_layout, "final_user_diff", "init_user_diff", side="user"),
        },
        carried=layout.carried,
    )
