"""Generated odd-but-valid specs, run end to end.

Each spec of `specgen.odd_spec(seed)` must pass `check`; then it is compiled, loaded, given
generated data, sampled for tasks, and every tool is called with arguments drawn from the
data and with a few invalid ones. A problem is any of:

- `check` raising, or refusing a generated spec (a valid spec refused is reported as failing
  later than it should have passed: either the generator or the check is wrong);
- an exception at any later stage (loading, data generation, building environments from the
  data and from task initial states, sampling, replaying a task);
- generated data that the environment refuses (a check, a reference, an invariant), or an
  entity with fewer records than asked whose shortfall the generator did not explain;
- a call that raised or ended as an internal error; a failed call after which
  `state_hash()` or `export()` differ from before;
- a state, after the calls, whose export does not load again to the same hash.

Cost: 0.1 to 0.2 s of CPU per spec (175 ms measured on a loaded 2-core machine: compiling
and importing the generated modules, data generation, sampling, and the calls about a
quarter each), so 10,000 specs take about 15 minutes on 2 processes. Data stays small
(SIZE records per entity, an entity with none now and then) to keep it so.
"""

from __future__ import annotations

import contextlib
import io
import random
import traceback
from typing import Any

from envscale.compiler.build import compile_source
from envscale.fuzz.report import (
    ESCAPED_EXCEPTION,
    FAILED_LATER,
    HASH_EXPORT,
    STATE_CHANGED,
    Attack,
    Problem,
    Tally,
    shorten,
)
from envscale.fuzz.specgen import odd_spec
from envscale.runtime.domain import Domain
from envscale.runtime.environment import INTERNAL_ERRORS, Environment
from envscale.tasks.datagen import generate_data
from envscale.tasks.sampling import sample_tasks, verify_task
from envscale.tasks.states import EnvFactory, initial_environment
from envscale.tasks.toolgraph import ToolGraph
from envscale.tasks.walk import Walker

SPEC_FILE = "odd.domain"
SIZE = 4  # records per entity
TASKS = 3
DRAWS = 2  # valid draws per tool
ODD_VALUES: list[Any] = [
    "",
    "\u00e9\u65e5\U0001f600",
    "none",
    -1,
    0,
    2**40,
    1.5,
    True,
    None,
    [],
    {},
]


class _Stage(Exception):
    """A problem found at one stage; ends the spec's run."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def run_spec(text: str, seed: int) -> list[Problem]:
    """The problems of one spec text, run end to end."""
    problems: list[Problem] = []
    reproducer = f"odd_spec({seed}): {shorten(text, 400)}"
    stage = "check"
    try:
        try:
            files, diagnostics, _ = compile_source(text, SPEC_FILE)
        except Exception as error:
            raise _Stage(ESCAPED_EXCEPTION, f"check raised {_described(error)}") from error
        if files is None:
            first = next(d for d in diagnostics if d.severity == "error")
            raise _Stage(
                FAILED_LATER,
                f"check refused a valid generated spec: {first.code} {first.message} "
                f"(line {first.span.line})",
            )
        stage = "load"
        domain = Domain(files)
        stage = "data"
        notes: list[str] = []
        sizes = {name: SIZE for name in domain.manifest.entities}
        if seed % 7 == 0:  # an entity with no records at all
            sizes[random.Random(seed).choice(sorted(sizes))] = 0
        data = generate_data(domain, seed, sizes, notes=notes)
        _check_counts(data, sizes, notes)
        stage = "environment"
        env = _environment(domain, data)
        stage = "tasks"
        internal = INTERNAL_ERRORS.count
        # Tasks start from the records themselves: generating them again costs as much.
        factory = EnvFactory(domain, data, enforce_policies=seed % 2 == 0)
        tasks = sample_tasks(domain, factory, TASKS, seed=seed, max_length=3, max_attempts=8)
        _no_internal(internal, "sampling tasks")
        stage = "task states"
        if tasks and not verify_task(domain, tasks[0]):
            raise _Stage(FAILED_LATER, "a sampled task does not replay to its gold results")
        if seed % 3 == 0:  # a task's described state: the same seed and size, the same records
            described = {"generated": {"seed": seed, "size": sizes}}
            with contextlib.redirect_stderr(io.StringIO()):  # the data's notes, checked above
                regenerated = initial_environment(domain, described)
            if regenerated.export() != env.export():
                raise _Stage(FAILED_LATER, "the same seed and size generated other records")
            regenerated.close()
        stage = "calls"
        problems += _calls(domain, env, random.Random(f"oddspecs-calls:{seed}"))
        stage = "reload"
        again = _environment(domain, env.export(), "the state after the calls")
        if again.state_hash() != env.state_hash() or again.export() != env.export():
            problems.append(
                Problem(HASH_EXPORT, "an exported state loads to another hash", reproducer)
            )
        again.close()
        env.close()
    except _Stage as found:
        problems.append(Problem(found.kind, f"{stage}: {found.detail}", reproducer))
    except Exception as error:
        problems.append(Problem(FAILED_LATER, f"{stage}: {_described(error)}", reproducer))
    for problem in problems:
        if problem.reproducer != reproducer:
            problem.reproducer = f"{reproducer}\n      call: {problem.reproducer}"
    return problems


def _described(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
    return shorten(f"{type(error).__name__}: {error}{place}", 300)


def _check_counts(data: dict[str, list[dict]], sizes: dict[str, int], notes: list[str]) -> None:
    for entity, size in sizes.items():
        made = len(data.get(entity, []))
        if made < size and not any(note.startswith(f"{entity}:") for note in notes):
            raise _Stage(FAILED_LATER, f"{made} of {size} records of {entity}, and no word of why")


def _environment(domain: Domain, data: dict, what: str = "generated data") -> Environment:
    try:
        return Environment.create(domain, data, enforce_policies=False)
    except Exception as error:
        raise _Stage(FAILED_LATER, f"{what} refused: {_described(error)}") from error


def _no_internal(before: int, doing: str) -> None:
    new = INTERNAL_ERRORS.since(before)
    if new:
        raise _Stage(
            ESCAPED_EXCEPTION, f"{doing}: internal error in {new[0].tool}: {new[0].message}"
        )


def _calls(domain: Domain, env: Environment, rng: random.Random) -> list[Problem]:
    """Every tool, with drawn arguments and with invalid ones."""
    walker = Walker(domain, ToolGraph.from_manifest(domain.manifest))
    state = (env.state_hash(), _stored(env))
    for tool in domain.tools:
        calls: list[Any] = []
        for _ in range(DRAWS):
            try:
                arguments = walker.draw(env, rng, tool, None, [], [])
            except Exception as error:
                if type(error).__name__ != "_NoValue":  # no value to draw is no problem
                    raise
                continue
            calls.append(arguments)
            broken = walker.corrupt(env, rng, tool, arguments)
            if broken is not None:
                calls.append(broken)
        calls += _invalid(walker.schemas[tool], calls[0] if calls else {}, rng)
        for arguments in calls:
            what = f"{tool}({shorten(repr(arguments), 200)})"
            try:
                result = env.call(tool, arguments)
            except Exception as error:
                return [Problem(ESCAPED_EXCEPTION, f"env.call raised {_described(error)}", what)]
            if result.internal:
                detail = f"internal error: {shorten(result.error or '')}"
                return [Problem(ESCAPED_EXCEPTION, detail, what)]
            if result.ok:
                state = (env.state_hash(), _stored(env))
            elif env.state_hash() != state[0] or _stored(env) != state[1]:
                detail = f"failed with {shorten(result.error or '')}"
                return [Problem(STATE_CHANGED, detail, what)]
    return []


def _stored(env: Environment) -> list[list[tuple]]:
    """Every row as SQLite stores it: what `export()` reads, without decoding it."""
    return [
        list(env.connection.execute(f'SELECT * FROM "{name}" ORDER BY rowid'))
        for name in env.db.tables
    ]


def _invalid(schema: dict, valid: dict, rng: random.Random) -> list[Any]:
    """A few arguments that must fail: a wrong value, a missing one, an unknown one."""
    out: list[Any] = [{**valid, "not_a_parameter": 1}, "not json", [1]]
    required = schema.get("required", [])
    if required:
        out.append({k: v for k, v in valid.items() if k != rng.choice(required)})
    for param in list(schema.get("properties", {}))[:3]:
        out.append({**valid, param: rng.choice(ODD_VALUES)})
    return out


def run(count: int, seed: int) -> Tally:
    tally = Tally("oddspecs")
    for n in range(seed, seed + count):
        tally.tried += 1
        try:
            text = odd_spec(n)
        except Exception as error:  # the generator's own bug
            tally.add(Problem(FAILED_LATER, f"generator: {_described(error)}", f"odd_spec({n})"))
            continue
        for problem in run_spec(text, n):
            tally.add(problem)
    return tally


# A generated spec runs every stage end to end, about five times the cost of a mutant that
# mostly stops at check: a smaller share of a long run's spec texts.
ATTACKS = [Attack("oddspecs", "specs", run, share=0.3)]
