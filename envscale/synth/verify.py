"""Verification of a drafted domain before it is kept (see docs/design.md, "Synthesis").

The steps, in order; a domain is kept only when every one passes:

    check       the spec parses and type checks (diagnostics rendered)
    compile     code generation, and the generated modules import
    data        generated data (seeded) loads, and every invariant holds on it
    properties  create/update/delete then get, and a missing key is a clear error
    tasks       sampled tasks (at least one per tool)
    replay      every sampled task replays to its gold outputs and gold state
    reach       every tool is called successfully by some task
    internal    no call failed on an internal error of the environment

A failed step is one reason line, the step's name first. A step that raises is a reason too,
with the exception's type and message; the steps that need what it would have made are
skipped. `verify` itself never raises.
"""

from __future__ import annotations

import json
import linecache
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envscale.compiler.build import spec_hash
from envscale.compiler.codegen import generate
from envscale.compiler.context import Compilation
from envscale.compiler.pipeline import analyze
from envscale.dsl.diagnostics import sorted_diagnostics
from envscale.records import Task
from envscale.runtime.domain import Domain
from envscale.runtime.environment import INTERNAL_ERRORS, Environment
from envscale.runtime.errors import DataError
from envscale.synth.properties import check_properties, classify
from envscale.synth.records import SpecDraft, Verification
from envscale.tasks.datagen import check_invariant, generate_data
from envscale.tasks.sampling import SamplingReport, replay_task, sample_tasks
from envscale.tasks.walk import Coverage

STEPS = ("check", "compile", "data", "properties", "tasks", "replay", "reach", "internal")
DATA_SIZE = 10  # records per entity of the generated data
MAX_LENGTH = 4  # calls per sampled task, at most
TASK_ROUNDS = 4  # samplings until every tool is reached
ATTEMPTS_PER_TASK = 4  # walks tried per task asked, in one sampling
_SHOWN = 3  # diagnostics or items named in one reason line


class _Run:
    """One verification: the figures and reasons so far, and each step timed and guarded."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.diagnostics: list[str] = []
        self.figures: dict[str, Any] = {"seconds": {}}

    def step(self, name: str, body: Callable[[], Any]) -> Any:
        """The body's value, or None when it raised (a reason, with the exception)."""
        started = time.perf_counter()
        try:
            return body()
        except Exception as error:  # a crash in a step is a reason, never lost
            self.reasons.append(f"{name}: crashed: {type(error).__name__}: {_short(str(error))}")
            return None
        finally:
            seconds = self.figures["seconds"]
            seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - started, 4)

    def fail(self, step: str, text: str) -> None:
        self.reasons.append(f"{step}: {text}")


def verify(
    draft: SpecDraft,
    seed: int,
    tasks: int,
    *,
    size: int = DATA_SIZE,
    max_length: int = MAX_LENGTH,
    base: Path | None = None,
) -> Verification:
    """Check, compile, load generated data, test properties, sample and replay tasks.

    `tasks` is the least number of tasks sampled: at least one per tool is asked for, so that
    every tool can be reached. `base` is the folder the spec's includes (a policy file) and
    its seed data (`<name>.data.json`, which tasks and property tests then start from) are
    read from; a synthesised spec has neither."""
    run = _Run()
    internal_before = INTERNAL_ERRORS.count
    try:
        _verify(run, draft, seed, tasks, size, max_length, base)
    except Exception as error:  # anything outside the guarded steps
        run.reasons.append(f"verify: crashed: {type(error).__name__}: {_short(str(error))}")
    new = INTERNAL_ERRORS.count - internal_before
    if new:
        first = INTERNAL_ERRORS.since(internal_before)[:1]
        example = f" (first: {first[0].tool}: {_short(first[0].message)})" if first else ""
        run.fail("internal", f"{new} calls failed on an internal error of the environment{example}")
    run.figures["internal_errors"] = new
    return Verification(
        kept=not run.reasons,
        reasons=run.reasons,
        diagnostics=run.diagnostics,
        figures=run.figures,
    )


def _verify(
    run: _Run,
    draft: SpecDraft,
    seed: int,
    tasks: int,
    size: int,
    max_length: int,
    base: Path | None,
) -> None:
    file = f"{draft.name}.domain"
    path = base / file if base is not None else None
    compilation = run.step("check", lambda: _check(run, draft.source, file, path))
    if compilation is None:
        return
    domain = run.step("compile", lambda: _compile(compilation, draft.source))
    if domain is None:
        return
    try:
        _run_domain(run, draft, domain, compilation, seed, tasks, size, max_length, base)
    finally:
        _forget(domain)


def _forget(domain: Domain) -> None:
    """Drop the domain's generated modules from sys.modules and linecache: a worker that
    verifies thousands of domains keeps none of them."""
    for module in (domain.models, domain.tools_module):
        sys.modules.pop(module.__name__, None)
        linecache.cache.pop(getattr(module, "__file__", "") or "", None)


def _run_domain(
    run: _Run,
    draft: SpecDraft,
    domain: Domain,
    compilation: Compilation,
    seed: int,
    tasks: int,
    size: int,
    max_length: int,
    base: Path | None,
) -> None:
    manifest = domain.manifest
    run.figures.update(
        tools=len(manifest.tools),
        entities=len(manifest.entities),
        writes=sum(1 for t in manifest.tools if t.kind == "write"),
        tool_kinds={t.name: t.kind for t in manifest.tools},
        spec_hash=domain.spec_hash,
    )
    instructions = run.step("instructions", lambda: _instructions(draft))
    if draft.instructions and instructions is None:
        return
    data = run.step("data", lambda: _data(run, domain, seed, size))
    if data is None:
        return
    seed_file = base / f"{draft.name}.data.json" if base is not None else None
    if seed_file is not None and seed_file.exists():
        # A spec that comes with seed data is tried on it, as `envscale tasks --data auto`
        # samples it; the generated data has passed the data step all the same.
        data = run.step("data", lambda: _read_data(seed_file))
        if data is None:
            return
        run.figures["task_data"] = "seed"
    else:
        run.figures["task_data"] = "generated"
    run.step("properties", lambda: _properties(run, compilation, domain, data, seed))
    n = max(tasks, len(manifest.tools))
    tools = sorted(t.name for t in manifest.tools)
    sampled: list[Task] = []
    used: Counter[str] = Counter()
    shortfalls: list[str] = []
    # Walks are steered towards the tools used least; the tools a round leaves unreached get
    # further rounds (other seeds, the steering carried over, at least two tasks per tool
    # still unreached), while a round reaches anything.
    coverage = Coverage()
    asked = n
    for round_ in range(TASK_ROUNDS):
        report = SamplingReport()
        round_seed = seed if round_ == 0 else seed * 7919 + round_
        made = run.step(
            "tasks",
            lambda s=round_seed, k=asked, r=report: _sample(
                domain, data, s, size, k, max_length, instructions, r, coverage
            ),
        )
        if made is None:
            return
        sampled.extend(made)
        used.update(report.used)
        if report.shortfall():
            shortfalls.append(report.shortfall() or "")
        unreached = [t for t in tools if not used[t]]
        if not unreached or not report.used:
            break  # every tool reached, or a round that reached none: more would not help
        asked = max(n, 2 * len(unreached))
    run.figures.update(
        tasks_asked=n,
        task_rounds=round_ + 1,
        tasks_sampled=len(sampled),
        chain_lengths=_counts(len(task.gold_calls) for task in sampled),
        task_kinds=_counts(task.kind for task in sampled),
    )
    if not sampled:
        run.fail("tasks", shortfalls[0] if shortfalls else "no task could be sampled")
    replayed = run.step("replay", lambda: _replay(domain, data, sampled))
    if replayed is not None:
        run.figures["tasks_replayed"] = replayed
        if replayed < len(sampled):
            run.fail(
                "replay",
                f"{len(sampled) - replayed} of {len(sampled)} tasks did not replay to their "
                "gold outputs and state",
            )
    reached = [t for t in tools if used[t]]
    run.figures.update(tools_reached=len(reached), tools_total=len(tools))
    unreached = [t for t in tools if not used[t]]
    if unreached:
        run.fail(
            "reach",
            f"{len(unreached)} of {len(tools)} tools no task reaches ({len(sampled)} tasks "
            f"in {round_ + 1} rounds): "
            + _listed(unreached)
            + (f" ({shortfalls[-1]})" if shortfalls else ""),
        )


def _check(run: _Run, source: str, file: str, path: Path | None) -> Compilation | None:
    c = analyze(source, file, path)
    items = sorted_diagnostics(c.diagnostics)
    run.diagnostics.extend(d.render(source if d.span.file == file else None) for d in items)
    errors = [d for d in items if d.severity == "error"]
    if errors or c.ir is None:
        shown = "; ".join(f"{d.code} {d.message} (line {d.span.line})" for d in errors[:_SHOWN])
        more = f"; and {len(errors) - _SHOWN} more" if len(errors) > _SHOWN else ""
        run.fail("check", f"{len(errors)} error{'s' if len(errors) != 1 else ''}: {shown}{more}")
        return None
    return c


def _compile(c: Compilation, source: str) -> Domain:
    c.ir.spec_hash = spec_hash(source, c.extra_sources)
    return Domain(generate(c.ir))


def _instructions(draft: SpecDraft) -> dict | None:
    return tomllib.loads(draft.instructions) if draft.instructions else None


def _data(run: _Run, domain: Domain, seed: int, size: int) -> dict[str, list[dict]] | None:
    notes: list[str] = []
    data = generate_data(domain, seed, size, notes=notes)
    run.figures["data_counts"] = {entity: len(records) for entity, records in data.items()}
    if notes:
        run.figures["data_notes"] = notes[:10]
    if not any(data.values()):
        run.fail("data", "no record of any entity could be generated: " + _listed(notes))
        return None
    env = Environment.create(domain, data)  # loading judges every check and invariant
    try:
        broken = [
            f"{name}: {message}"
            for name, check in sorted(domain.tools_module.INVARIANTS.items())
            if (message := check_invariant(check, env.db)) is not None
        ]
    finally:
        env.close()
    if broken:
        run.fail("data", f"invariants broken by the generated data: {_listed(broken)}")
        return None
    return data


def _read_data(path: Path) -> dict[str, list[dict]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DataError([f"{path}: not records per entity"])
    return data


def _properties(
    run: _Run, c: Compilation, domain: Domain, data: dict[str, list[dict]], seed: int
) -> None:
    classes = classify(c, domain.manifest)
    env = Environment.create(domain, data, enforce_policies=False)
    try:
        results = check_properties(domain, env, classes, seed)
    finally:
        env.close()
    run.figures["write_kinds"] = {name: cls.kind for name, cls in sorted(classes.items())}
    run.figures["properties"] = {
        "tested": sum(len(held) for held in results.tested.values()),
        "untested": sorted(results.untested),
        "failed": len(results.failures),
    }
    if results.failures:
        run.fail("properties", _listed(results.failures, _SHOWN, "; "))


def _sample(
    domain: Domain,
    data: dict[str, list[dict]],
    seed: int,
    size: int,
    n: int,
    max_length: int,
    instructions: dict | None,
    report: SamplingReport,
    coverage: Coverage,
) -> list[Task]:
    def factory() -> Environment:
        return Environment.create(domain, data)

    factory.initial_state = {"generated": {"seed": seed, "size": size}}  # type: ignore[attr-defined]
    return sample_tasks(
        domain,
        factory,
        n,
        seed=seed,
        max_length=max_length,
        instructions=instructions,
        max_attempts=ATTEMPTS_PER_TASK * n + 20,
        report=report,
        coverage=coverage,
    )


def _replay(domain: Domain, data: dict[str, list[dict]], tasks: list[Task]) -> int:
    """How many tasks replay, on a fresh environment, to their gold outputs and final state."""
    env = Environment.create(domain, data)
    try:
        same = 0
        for task in tasks:
            outputs, final = replay_task(domain, task, env=env)
            same += outputs == task.gold_outputs and final == task.gold_state_hash
        return same
    finally:
        env.close()


def _counts(values: Any) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(values).items())}


def _listed(items: list[str], shown: int = 8, sep: str = ", ") -> str:
    more = f"{sep}and {len(items) - shown} more" if len(items) > shown else ""
    return sep.join(items[:shown]) + more


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
