"""The final state of a trajectory beside its task's gold state, computed when the page is made.

A trajectory records only the hash of its final state. With the domain's spec at hand, the
episode is replayed: the task's initial state, then the dialogue's successful calls of write
tools in order, on the side that made each. The replay is checked against the recorded hash
(a replay that does not reproduce it is said to be so on the page). The gold state is the
same initial state after the gold chain's successful writes, checked against the task's gold
state hash. What the page shows is each
record that either changed, as it was, as the agent left it and as the gold chain leaves it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.records import Task, Trajectory
from envscale.rollout.filters import gold_succeeded
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Change, Environment
from envscale.tasks.states import environment_for

CAPACITY = 4  # environments kept per domain, one per distinct initial state

# (tool, arguments as given, side) of one call, in dialogue order.
Call = tuple[str, Any, str]
# (entity, key as JSON text) -> how a record changed.
Changes = dict[tuple[str, str], Change]


def dialogue_calls(trajectory: Trajectory) -> list[Call]:
    """The calls of a trajectory's dialogue that succeeded, in order, with the side that made
    each (a failed call changed nothing: its result reads `Error: ...`)."""
    failed = {
        m.tool_call_id
        for m in trajectory.messages
        if m.role == "tool" and isinstance(m.content, str) and m.content.startswith("Error: ")
    }
    answered = {m.tool_call_id for m in trajectory.messages if m.role == "tool"}
    out: list[Call] = []
    for message in trajectory.messages:
        for call in message.tool_calls or []:
            if call.id in answered and call.id not in failed:
                out.append((call.function.name, call.function.arguments, message.side or "agent"))
    return out


@dataclass(frozen=True)
class Compared:
    key: str  # names the comparison: trajectories with the same calls on a task share it
    changes: list[dict[str, Any]]
    reproduced: bool  # the replay gave the final state hash the trajectory records
    gold_reproduced: bool  # the gold replay gave the task's gold state hash


def _key_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class StateDiffs:
    """Replays trajectories and gold chains of one domain, reusing environments and results."""

    domain: Domain
    spec_path: str | None
    _envs: OrderedDict[str, Environment] = field(default_factory=OrderedDict)
    _gold: dict[str, tuple[Changes, bool]] = field(default_factory=dict)
    _replays: dict[str, tuple[list[dict[str, Any]], str]] = field(default_factory=dict)

    def _environment(self, task: Task) -> Environment:
        env, key = environment_for(self.domain, task, self._envs, self.spec_path)
        self._envs.move_to_end(key)
        while len(self._envs) > CAPACITY:
            _, old = self._envs.popitem(last=False)
            old.close()
        env.reset()
        return env

    def replay(self, task: Task, calls: Iterable[Call]) -> tuple[Changes, str]:
        """The records that successful `calls` change, and the state hash they leave. Only
        writes are replayed, and policies are off: reads change nothing, and a write that
        succeeded once, policies allowing it, succeeds again on the same state."""
        env = self._environment(task)
        kinds = self.domain.tool_kinds
        policed, env.enforce_policies = env.enforce_policies, False
        try:
            for name, arguments, side in calls:
                if kinds.get(name) == "write":
                    env.call(name, arguments, side=side)
        finally:
            env.enforce_policies = policed
        changes = {(c.entity, _key_text(c.key)): c for c in env.changes()}
        return changes, env.state_hash()

    def gold(self, task: Task) -> tuple[Changes, bool]:
        """The records the gold chain changes; whether its replay gave the gold state hash."""
        if task.id not in self._gold:
            ok = gold_succeeded(task.gold_calls, task.gold_outputs)
            calls = [
                (g.name, g.arguments, g.side)
                for g, good in zip(task.gold_calls, ok, strict=True)
                if good
            ]
            changes, state_hash = self.replay(task, calls)
            self._gold[task.id] = (
                changes,
                not task.gold_state_hash or state_hash == task.gold_state_hash,
            )
        return self._gold[task.id]

    def compare(self, trajectory: Trajectory, task: Task) -> Compared:
        """Each record the agent or the gold chain changed, with the fields that differ
        between the record before, as the agent left it and as the gold chain leaves it.
        Trajectories with the same successful calls on the same task share one comparison."""
        gold, gold_reproduced = self.gold(task)
        reached = trajectory.final_state_hash
        if reached and gold_reproduced and reached == task.gold_state_hash:
            # The hashes are equal iff the states are: the agent's state is the gold one.
            key = _key_text([task.id, "gold"])
            if key not in self._replays:
                self._replays[key] = (_beside(gold, gold), reached)
            return Compared(key, self._replays[key][0], True, True)
        calls = dialogue_calls(trajectory)
        key = _key_text([task.id, [[n, a, s] for n, a, s in calls]])
        if key not in self._replays:
            agent, final_hash = self.replay(task, calls)
            self._replays[key] = (_beside(agent, gold), final_hash)
        changes, final_hash = self._replays[key]
        return Compared(key, changes, not reached or final_hash == reached, gold_reproduced)

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def _beside(agent: Changes, gold: Changes) -> list[dict[str, Any]]:
    out = []
    for where in sorted(set(agent) | set(gold)):
        a, g = agent.get(where), gold.get(where)
        change = a or g
        assert change is not None
        before = change.before
        after_agent = a.after if a is not None else before
        after_gold = g.after if g is not None else before
        out.append(
            {
                "entity": change.entity,
                "key": change.key,
                "agent": a.kind if a is not None else None,
                "gold": g.kind if g is not None else None,
                "same": _key_text(after_agent) == _key_text(after_gold),
                "present": [r is not None for r in (before, after_agent, after_gold)],
                "fields": _fields(before, after_agent, after_gold),
            }
        )
    return out


def _fields(*records: dict | None) -> list[list[Any]]:
    """[field, before, agent's, gold] for each field whose value is not the same in all three
    records (a record that does not exist holds no field: its cell is null)."""
    names: list[str] = []
    for record in records:
        for name in record or {}:
            if name not in names:
                names.append(name)
    out = []
    for name in names:
        values = [(record or {}).get(name) for record in records]
        if len({_key_text(v) for v in values}) > 1:
            out.append([name, *values])
    return out


def spec_candidates(spec: str, trajectories: Path) -> list[Path]:
    """Where a spec path of a job.json may lie: as written (from the working directory,
    which is where the job ran from), then from the trajectories' folder."""
    path = Path(spec)
    if path.is_absolute():
        return [path]
    return [path, trajectories.resolve().parent / path]
