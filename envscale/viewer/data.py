"""What the page shows, gathered from a trajectories file, its tasks and its specs.

The page's data is one JSON value: the trajectories (`rows`), each with its outcome, failure
reason, dialogue, the agent's calls aligned with the gold chain's, and the final state beside
the gold state; the tasks they ran (`tasks`: instruction and gold chain, once per task); and
texts and states many dialogues share (`texts`: system prompts and long tool results;
`states`: final states beside gold ones), once each. The tasks are read from
`tasks.jsonl` beside the trajectories unless given; the specs from the `job.json` beside them
unless given. What cannot be shown for want of either is listed in `notes`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from envscale.errors import DataError
from envscale.jobs.evaluate import failure_reason
from envscale.jobs.generate import JOB_FILE, TASKS_FILE
from envscale.records import Message, Task, Trajectory, load_jsonl, read_jsonl
from envscale.rollout.filters import gold_succeeded, schema_defaults, with_defaults
from envscale.rollout.toolcalls import parse_arguments
from envscale.runtime.domain import Domain
from envscale.runtime.load import load
from envscale.viewer.diffs import StateDiffs, spec_candidates

ERROR_PREFIX = "Error: "  # how a failed call's result reads (runtime CallResult.text)
# Texts this long are kept once however many dialogues hold them (a catalog many read).
SHARED_LENGTH = 200


@dataclass
class Sources:
    """Where the page's data comes from."""

    trajectories: Path
    tasks: Path | None = None  # None: tasks.jsonl beside the trajectories, when there is one
    specs: Sequence[str] = ()  # empty: the specs job.json beside the trajectories names
    diffs: bool = True  # replay episodes for the final state (needs the specs)


@dataclass
class PageData:
    value: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.value["rows"])


def outcome(trajectory: Trajectory) -> tuple[bool, str | None]:
    """Whether the trajectory passed (every filter stage it was put through; the reward when
    it records none) and, when it did not, the reason, as evaluation names it."""
    filters = trajectory.filters
    passed = all(filters.values()) if filters else trajectory.reward >= 1.0
    if passed:
        return True, None
    reason = failure_reason(trajectory)
    if reason == "other" and filters.get("valid") is False:
        reason = "invalid_dialogue"
    return False, reason


def read_tasks(sources: Sources) -> tuple[dict[str, Task], list[str]]:
    path = sources.tasks or sources.trajectories.parent / TASKS_FILE
    if sources.tasks is None and not path.is_file():
        return {}, [f"no {TASKS_FILE} beside {sources.trajectories}: gold calls not shown"]
    return {task.id: task for task in load_jsonl(path, Task)}, []


def job_specs(trajectories: Path) -> list[str]:
    """The spec paths of the job.json beside a trajectories file, as found from here."""
    path = trajectories.parent / JOB_FILE
    if not path.is_file():
        return []
    try:
        described = json.loads(path.read_text(encoding="utf-8"))
        named = [str(spec["path"]) for spec in described.get("specs", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    found = []
    for spec in named:
        found.extend(str(p) for p in spec_candidates(spec, trajectories)[:2] if p.is_file())
    return found


class Differs:
    """A `StateDiffs` per domain, for the domains whose spec is at hand."""

    def __init__(self, specs: Iterable[str]) -> None:
        self.by_name: dict[str, StateDiffs] = {}
        self.by_hash: dict[str, StateDiffs] = {}
        for spec in specs:
            domain: Domain = load(spec)
            differ = StateDiffs(domain, spec)
            self.by_name.setdefault(domain.name, differ)
            self.by_hash[domain.spec_hash] = differ

    def find(self, trajectory: Trajectory) -> StateDiffs | None:
        return self.by_hash.get(trajectory.spec_hash) or self.by_name.get(trajectory.domain)

    def close(self) -> None:
        for differ in self.by_hash.values():
            differ.close()


class Shared:
    """Values many trajectories share, kept once: a trajectory names one by its index."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.index: dict[str, int] = {}

    def intern(self, key: str, value: Any) -> int:
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append(value)
        return self.index[key]


def shown_message(message: Message, texts: Shared, call_names: dict[str, str]) -> dict[str, Any]:
    """A message as the page holds it: role, side, content (a system prompt or a long tool
    result by reference to `texts`),
    tool calls with their arguments parsed, a tool result with its call's name and whether
    it is an error."""
    out: dict[str, Any] = {"role": message.role}
    if message.side is not None:
        out["side"] = message.side
    content = message.content
    if isinstance(content, str) and (message.role == "system" or len(content) >= SHARED_LENGTH):
        out["text"] = texts.intern(content, content)
    elif isinstance(content, str):
        out["content"] = content
    elif content is not None:
        out["content"] = json.dumps(content, ensure_ascii=False, indent=1)
    if message.tool_calls:
        calls = []
        for call in message.tool_calls:
            call_names[call.id] = call.function.name
            raw = call.function.arguments
            parsed = parse_arguments(raw)
            shown: dict[str, Any] = {"id": call.id, "name": call.function.name}
            shown["arguments" if parsed is not None else "raw"] = (
                parsed if parsed is not None else str(raw)
            )
            calls.append(shown)
        out["calls"] = calls
    if message.role == "tool":
        out["call_id"] = message.tool_call_id
        out["of"] = call_names.get(message.tool_call_id or "", "")
        out["error"] = isinstance(content, str) and content.startswith(ERROR_PREFIX)
    return out


def call_places(messages: list[dict[str, Any]]) -> list[tuple[int, int, bool]]:
    """(message index, call index, succeeded) of each call of a dialogue, in order; a call
    succeeded when its result is not an error."""
    results = {}
    for m in messages:
        if m["role"] == "tool":
            results[m.get("call_id")] = not m["error"]
    out = []
    for i, m in enumerate(messages):
        for j, call in enumerate(m.get("calls", [])):
            out.append((i, j, results.get(call["id"], False)))
    return out


def compare_calls(
    messages: list[dict[str, Any]], task: Task, defaults: dict[str, dict]
) -> list[dict[str, Any]]:
    """The agent's successful calls beside the gold chain's, position by position, as the
    exact-match filter compares them (schema defaults filled in): {"gold": index into the
    task's chain, "agent": [message, call], "same": bool}."""
    done = []
    for i, j, ok in call_places(messages):
        call = messages[i]["calls"][j]
        if ok:
            side = messages[i].get("side", "agent")
            filled = with_defaults(call["name"], call.get("arguments") or {}, defaults)
            done.append(([i, j], (call["name"], filled, side)))
    gold = [
        (n, (g.name, with_defaults(g.name, g.arguments, defaults), g.side))
        for n, (g, ok) in enumerate(
            zip(task.gold_calls, gold_succeeded(task.gold_calls, task.gold_outputs), strict=True)
        )
        if ok
    ]
    out = []
    for have, want in zip_longest(done, gold):
        out.append(
            {
                "gold": want[0] if want else None,
                "agent": have[0] if have else None,
                "same": bool(have and want and have[1] == want[1]),
            }
        )
    return out


def shown_task(task: Task) -> dict[str, Any]:
    ok = gold_succeeded(task.gold_calls, task.gold_outputs)
    return {
        "instruction": task.instruction,
        "kind": task.kind,
        "gold": [
            {"name": g.name, "arguments": g.arguments, "side": g.side, "ok": good}
            for g, good in zip(task.gold_calls, ok, strict=True)
        ],
    }


_META = ("agent", "agent_model", "user", "user_model", "end", "steps", "calls", "failed_calls")
_META_MORE = ("user_calls", "mistake", "trial")


def build(sources: Sources) -> PageData:
    """The page's data for a trajectories file (a DataError names a line that does not read)."""
    tasks, notes = read_tasks(sources)
    specs = list(sources.specs) or (job_specs(sources.trajectories) if sources.diffs else [])
    gather = Gather(tasks, Differs(specs if sources.diffs else []))
    missing_tasks: set[str] = set()
    undiffable: Counter[str] = Counter()
    try:
        for t in read_jsonl(sources.trajectories, Trajectory):
            gather.add(t)
            if t.task_id not in tasks:
                missing_tasks.add(t.task_id)
            elif sources.diffs and gather.differs.find(t) is None:
                undiffable[t.domain] += 1
    finally:
        gather.differs.close()
    if not gather.rows:
        notes.append(f"{sources.trajectories} holds no trajectories")
    if tasks and missing_tasks:
        notes.append(f"{len(missing_tasks)} task(s) not in the tasks file: their gold not shown")
    for domain, n in sorted(undiffable.items()):
        notes.append(
            f"no spec of domain {domain or '(unnamed)'} at hand: the final state of {n} "
            "trajectories not shown (give --spec)"
        )
    value = {
        "source": str(sources.trajectories),
        "domains": list(gather.domains),
        "reasons": [r for r, _ in gather.reasons.most_common()],
        "texts": gather.texts.items,
        "states": gather.states.items,
        "tasks": gather.tasks_shown,
        "rows": gather.rows,
        "notes": notes,
    }
    return PageData(value, notes)


class Gather:
    """The page's rows, and what they share, as trajectories are added."""

    def __init__(self, tasks: dict[str, Task], differs: Differs) -> None:
        self.tasks = tasks
        self.differs = differs
        self.rows: list[dict[str, Any]] = []
        self.domains: dict[str, int] = {}
        self.reasons: Counter[str] = Counter()
        self.texts = Shared()
        self.states = Shared()  # final states beside gold ones
        self.tasks_shown: dict[str, dict[str, Any]] = {}
        self.defaults: dict[str, dict[str, dict]] = {}  # domain -> each tool's defaults
        self.seen_ids: Counter[str] = Counter()

    def add(self, t: Trajectory) -> None:
        passed, reason = outcome(t)
        if reason:
            self.reasons[reason] += 1
        call_names: dict[str, str] = {}
        messages = [shown_message(m, self.texts, call_names) for m in t.messages]
        meta = t.meta.to_dict()
        # The same task run by two jobs gives two episodes of one id; a row's id names one row.
        self.seen_ids[t.id] += 1
        row_id = t.id if self.seen_ids[t.id] == 1 else f"{t.id}~{self.seen_ids[t.id]}"
        row: dict[str, Any] = {
            "id": row_id,
            "domain": self.domains.setdefault(t.domain, len(self.domains)),
            "task": t.task_id,
            "passed": passed,
            "reason": reason,
            "failure": t.meta.failure,
            "reward": t.reward,
            "filters": t.filters,
            "meta": {k: meta[k] for k in (*_META, *_META_MORE) if meta.get(k) is not None},
            "messages": messages,
            "compare": None,
            "diff": None,
        }
        self.rows.append(row)
        task = self.tasks.get(t.task_id)
        if task is None:
            return
        if task.id not in self.tasks_shown:
            self.tasks_shown[task.id] = shown_task(task)
        domain = f"{t.domain}:{t.spec_hash}"
        if domain not in self.defaults:
            schemas = [s.to_dict() for s in [*t.tools, *(t.user_tools or [])]]
            self.defaults[domain] = schema_defaults(schemas)
        row["compare"] = compare_calls(messages, task, self.defaults[domain])
        differ = self.differs.find(t)
        if differ is None:
            return
        try:
            compared = differ.compare(t, task)
        except DataError as error:  # the task's initial state cannot be built here
            row["diff_note"] = "; ".join(error.problems)[:300]
        else:
            row["diff"] = {
                "state": self.states.intern(compared.key, compared.changes),
                "reproduced": compared.reproduced,
                "gold_reproduced": compared.gold_reproduced,
            }
