"""The final state of a trajectory beside its task's gold state, computed when the page is made.

A trajectory records only the hash of its final state. With the domain's spec at hand, the
episode is replayed: the task's initial state, then every call of the dialogue in order, on
the side that made it, policies as the episode had them. The replay is checked against the
recorded hash (a replay that does not reproduce it is said to be so on the page). The gold
state is the same initial state after the task's gold calls. What the page shows is each
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
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Change, Environment
from envscale.tasks.states import environment_for

CAPACITY = 4  # environments kept per domain, one per distinct initial state

# (tool, arguments as given, side) of one call, in dialogue order.
Call = tuple[str, Any, str]


def dialogue_calls(trajectory: Trajectory) -> list[Call]:
    """The calls of a trajectory's dialogue, in order, with the side that made each."""
    out: list[Call] = []
    for message in trajectory.messages:
        for call in message.tool_calls or []:
            out.append((call.function.name, call.function.arguments, message.side or "agent"))
    return out


def _key_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class StateDiffs:
    """Replays trajectories and gold chains of one domain, reusing environments and results."""

    domain: Domain
    spec_path: str | None
    _envs: OrderedDict[str, Environment] = field(default_factory=OrderedDict)
    _gold: dict[str, dict[tuple[str, str], Change]] = field(default_factory=dict)
    _replays: dict[str, tuple[list[dict[str, Any]], str]] = field(default_factory=dict)

    def _environment(self, task: Task) -> Environment:
        env, key = environment_for(self.domain, task, self._envs, self.spec_path)
        self._envs.move_to_end(key)
        while len(self._envs) > CAPACITY:
            _, old = self._envs.popitem(last=False)
            old.close()
        env.reset()
        return env

    def _run(self, task: Task, calls: Iterable[Call]) -> tuple[dict[tuple[str, str], Change], str]:
        env = self._environment(task)
        for name, arguments, side in calls:
            env.call(name, arguments, side=side)
        changes = {(c.entity, _key_text(c.key)): c for c in env.changes()}
        return changes, env.state_hash()

    def gold(self, task: Task) -> dict[tuple[str, str], Change]:
        if task.id not in self._gold:
            calls = [(g.name, g.arguments, g.side) for g in task.gold_calls]
            self._gold[task.id] = self._run(task, calls)[0]
        return self._gold[task.id]

    def compare(self, trajectory: Trajectory, task: Task) -> tuple[str, list[dict[str, Any]], bool]:
        """(a key naming the comparison, the comparison, whether the replay gave the hash the
        trajectory records). The comparison lists each record the agent or the gold chain
        changed, with the fields that differ between the record before, as the agent left it
        and as the gold chain leaves it. Dialogues with the same calls on the same task share
        the key and the comparison, made once."""
        calls = dialogue_calls(trajectory)
        key = _key_text([task.id, [[n, a, s] for n, a, s in calls]])
        if key not in self._replays:
            agent, final_hash = self._run(task, calls)
            self._replays[key] = (_beside(agent, self.gold(task)), final_hash)
        changes, final_hash = self._replays[key]
        reproduced = not trajectory.final_state_hash or final_hash == trajectory.final_state_hash
        return key, changes, reproduced

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def _beside(
    agent: dict[tuple[str, str], Change], gold: dict[tuple[str, str], Change]
) -> list[dict[str, Any]]:
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
