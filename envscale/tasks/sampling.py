"""Tasks: tool chains sampled from the tool graph and executed, with their gold results.

A task (`records.Task`, one line of tasks.jsonl) holds everything needed to replay and
verify it later: where its initial state comes from (see `states.py`), the gold calls, what
each returned (the text the agent reads, `CallResult.text`), and the hash of the final state.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from envscale import jsonl
from envscale.records import GoldCall, GoldOutput, Task, load_jsonl
from envscale.runtime.database import canonical_json
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.tasks.instructions import InstructionRenderer
from envscale.tasks.states import initial_environment
from envscale.tasks.toolgraph import ToolGraph
from envscale.tasks.walk import Coverage, Walker

# ---- sampling

_NO_CALL = "no call of the walk succeeded"
_NO_WRITE = "a walk meant to change the state made no write that succeeded"
_WROTE = "a read-only walk wrote"
_REPEAT = "the walk repeated a chain already sampled"
_REPLAY = "replaying the chain gave other outputs"
_UNCHANGED = "the writes left the state as it was"
_NO_AGENT = "the domain has no tool of the agent's to start a walk with"


@dataclass
class SamplingReport:
    """What one `sample_tasks` run asked for and made, and why the other walks were dropped."""

    asked: int = 0
    made: int = 0
    attempts: int = 0
    rejected: Counter = field(default_factory=Counter)
    tools: list[str] = field(default_factory=list)
    used: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # instruction templates that fell back
    records: int = 0  # in the initial state

    @property
    def unused(self) -> list[str]:
        return [t for t in self.tools if not self.used[t]]

    def shortfall(self) -> str | None:
        """Why fewer tasks than asked were made, in a sentence; None when none are missing."""
        if self.made >= self.asked:
            return None
        reasons = ", ".join(f"{why} ({count})" for why, count in self.rejected.most_common(3))
        empty = "; the initial state holds no records" if self.records == 0 else ""
        return (
            f"{self.made} of {self.asked} tasks: {self.attempts} walks tried, the others were "
            f"dropped because {reasons or 'no walk could start'}{empty}"
        )


def sample_tasks(
    domain: Domain,
    env_factory: Callable[[], Environment],
    n: int,
    seed: int = 0,
    max_length: int = 4,
    invalid_share: float = 0.1,
    read_only_share: float = 0.3,
    *,
    min_length: int = 1,
    instructions: dict | str | Path | None = None,
    max_attempts: int | None = None,
    report: SamplingReport | None = None,
    coverage: Coverage | None = None,
) -> list[Task]:
    """Up to `n` distinct tasks from random walks on the tool graph (fewer only when the
    attempts run out). A share `read_only_share` walks read tools only; the others must
    change the state. Each call is invalid on purpose with probability `invalid_share`.
    `instructions` refines the step templates (see `instructions.py`). `report`, when
    given, is filled with the attempts made and why walks were not kept. `coverage`, when
    given, carries the steering over from an earlier sampling (and is updated)."""
    if not 1 <= min_length <= max_length:
        raise ValueError("need 1 <= min_length <= max_length")
    report = report if report is not None else SamplingReport()
    report.asked = n
    if n <= 0:
        return []
    env = env_factory()
    state = env.export()
    report.records = sum(len(records) for records in state.values())
    graph = ToolGraph.from_domain(domain, state)
    walker = Walker(domain, graph)
    renderer = InstructionRenderer(domain.tool_schemas, instructions, domain.manifest)
    coverage = coverage if coverage is not None else Coverage()
    lengths: Counter = Counter()
    tries: Counter = Counter()
    kept: Counter = Counter()
    initial_state = getattr(env_factory, "initial_state", None) or env.export()
    initial_hash = env.state_hash()
    tasks: list[Task] = []
    seen: set[str] = set()
    attempts = max_attempts if max_attempts is not None else 20 * n + 20
    agents = [node for node in graph.nodes.values() if node.side == "agent"]
    if not agents:  # walks start with the agent's tools; the user's alone make no task
        env.close()
        report.rejected[_NO_AGENT] += 1
        report.tools = sorted(graph.nodes)
        return []
    has_reads = any(node.kind == "read" for node in agents)
    has_writes = any(node.kind == "write" for node in graph.nodes.values())
    want_reads = n if not has_writes else (round(n * read_only_share) if has_reads else 0)
    for attempt in range(attempts):
        if len(tasks) >= n:
            break
        rng = random.Random(f"envscale-tasks:{seed}:{attempt}")
        reads_left = want_reads - sum(1 for t in tasks if t.kind == "read")
        writes_left = n - want_reads - sum(1 for t in tasks if t.kind == "write")
        read_only = reads_left > 0 and (writes_left <= 0 or rng.random() < read_only_share)
        kinds = ("read",) if read_only else ("read", "write")
        env.reset()
        # Lengths spread evenly: a walk aims at a length made seldom so far, discounted by
        # how often walks aimed at it were kept (a write that needs a check first cannot be
        # one call long), so an unreachable length does not hold up the others.
        span = range(min_length, max_length + 1)
        odds = [(kept[k] + 1) / (tries[k] + 2) / (1 + lengths[k]) for k in span]
        target = rng.choices(list(span), odds)[0]
        tries[target] += 1
        walk = walker.walk(env, rng, target, kinds, invalid_share, coverage)
        report.attempts += 1
        # Every walk counts towards the coverage that steers the next ones, kept or not, so
        # that a start that keeps failing gives way to the others.
        coverage.add([step.name for step in walk.steps if step.ok])
        if not any(step.ok for step in walk.steps):
            report.rejected[_NO_CALL] += 1
            continue
        wrote = any(step.ok and domain.tool_kinds[step.name] == "write" for step in walk.steps)
        if wrote == read_only:
            report.rejected[_NO_WRITE if not wrote else _WROTE] += 1
            continue
        chain = canonical_json(walk.calls)
        if chain in seen:
            report.rejected[_REPEAT] += 1
            continue
        task = _execute(domain, env, walk.calls, seed, initial_state, initial_hash)
        recorded = [GoldOutput(ok=s.ok, content=s.content) for s in walk.steps]
        if task.gold_outputs != recorded:
            report.rejected[_REPLAY] += 1
            continue
        if task.kind == "write" and task.gold_state_hash == initial_hash:
            report.rejected[_UNCHANGED] += 1
            continue  # a write task must change the state
        seen.add(chain)
        task.invalid_calls = [i for i, step in enumerate(walk.steps) if step.invalid]
        # The user asks for what the valid calls do; a deliberately invalid call is the
        # agent's slip, corrected by the valid call of the same tool that follows it.
        # The user's own calls are not asked for: the user makes them when the agent asks.
        asked = [
            i
            for i, c in enumerate(task.gold_calls)
            if i not in task.invalid_calls and c.side == "agent"
        ]
        wanted = [task.gold_calls[i].to_dict() for i in asked]
        said = [task.gold_outputs[i].content for i in asked]
        task.instruction = renderer.render(wanted, walker.catalog(env), task.id, said)
        tasks.append(task)
        lengths[len(task.gold_calls)] += 1
        kept[target] += 1
    env.close()
    report.made = len(tasks)
    report.problems = list(renderer.problems)
    report.tools = sorted(graph.nodes)
    report.used = Counter(
        c.name for t in tasks for i, c in enumerate(t.gold_calls) if i not in t.invalid_calls
    )
    return tasks


def sample_over_states(
    domain: Domain,
    factories: list[Callable[[], Environment]],
    n: int,
    seed: int = 0,
    report: SamplingReport | None = None,
    **options,
) -> list[Task]:
    """Up to `n` tasks spread evenly over the initial states `factories` make (the first ones
    get one more when `n` does not divide); the coverage that steers the walks carries over
    from state to state, so the states do not all get the same chains. Each state is walked
    with a seed of its own (`state_seed`): a walk picks its arguments by their place in the
    state, so one seed for every state would pick the same ids again and again. `options`
    are `sample_tasks`'s."""
    if len(factories) == 1:
        return sample_tasks(domain, factories[0], n, seed, report=report, **options)
    report = report if report is not None else SamplingReport()
    coverage = options.pop("coverage", None) or Coverage()
    tasks: list[Task] = []
    for i, factory in enumerate(factories):
        share = n // len(factories) + (i < n % len(factories))
        one = SamplingReport()
        tasks.extend(
            sample_tasks(
                domain,
                factory,
                share,
                state_seed(seed, i),
                report=one,
                coverage=coverage,
                **options,
            )
        )
        report.attempts += one.attempts
        report.rejected.update(one.rejected)
        report.records = max(report.records, one.records)
        report.tools = report.tools or one.tools
        report.problems.extend(p for p in one.problems if p not in report.problems)
    report.asked, report.made = n, len(tasks)
    report.used = Counter(
        c.name for t in tasks for i, c in enumerate(t.gold_calls) if i not in t.invalid_calls
    )
    return tasks


def state_seed(seed: int, index: int) -> int:
    """The sampling seed of the `index`-th of several initial states."""
    return seed * 10_007 + index


def _execute(
    domain: Domain,
    env: Environment,
    calls: list[dict],
    seed: int,
    initial_state: dict,
    initial_hash: str,
) -> Task:
    """Run the chain from the initial state and record the gold outputs and final hash."""
    gold_calls = [GoldCall.model_validate(call) for call in calls]
    outputs, final_hash = _run_from_reset(env, gold_calls)
    wrote = any(
        o.ok and domain.tool_kinds[c.name] == "write"
        for c, o in zip(gold_calls, outputs, strict=True)
    )
    chain = canonical_json(calls)
    digest = hashlib.sha256(f"{domain.spec_hash}\0{initial_hash}\0{chain}".encode()).hexdigest()
    return Task(
        id=f"{domain.name}-{digest[:12]}",
        domain=domain.name,
        spec_hash=domain.spec_hash,
        seed=seed,
        initial_state=initial_state,
        instruction="",
        gold_calls=gold_calls,
        gold_outputs=outputs,
        gold_state_hash=final_hash,
        initial_state_hash=initial_hash,
        kind="write" if wrote else "read",
        length=len(calls),
        enforce_policies=env.enforce_policies,
    )


# ---- files and verification


def write_tasks(path: str | Path, tasks: list[Task]) -> Path:
    out = Path(path)
    jsonl.write_atomic(out, (task.to_dict() for task in tasks))
    return out


def read_tasks(path: str | Path) -> list[Task]:
    """The tasks of a file; a line that is not a task is a DataError naming file and line."""
    return load_jsonl(path, Task)


def replay_task(
    domain: Domain,
    task: Task,
    spec_path: str | Path | None = None,
    env: Environment | None = None,
) -> tuple[list[GoldOutput], str]:
    """(outputs, final state hash) of the task's gold calls, from its initial state."""
    own = env is None
    if env is None:
        env = initial_environment(domain, task.initial_state, spec_path, task.enforce_policies)
    try:
        return _run_from_reset(env, task.gold_calls)
    finally:
        if own:
            env.close()


def _run_from_reset(env: Environment, calls: list[GoldCall]) -> tuple[list[GoldOutput], str]:
    """(what each call returned, the final state hash) of calls run from the initial state."""
    env.reset()
    outputs = []
    for call in calls:
        result = env.call(call.name, call.arguments, side=call.side)
        outputs.append(GoldOutput(ok=result.ok, content=result.text))
    return outputs, env.state_hash()


def verify_task(domain: Domain, task: Task, spec_path: str | Path | None = None) -> bool:
    """Whether replaying the gold calls from the initial state gives the gold outputs.

    The final hash must match as well.
    """
    if task.spec_hash != domain.spec_hash:
        return False
    env = initial_environment(domain, task.initial_state, spec_path, task.enforce_policies)
    try:
        if task.initial_state_hash and env.state_hash() != task.initial_state_hash:
            return False
        outputs, final_hash = replay_task(domain, task, env=env)
    finally:
        env.close()
    return outputs == task.gold_outputs and final_hash == task.gold_state_hash
