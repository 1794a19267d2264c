"""Initial states: how a task names the state it starts from, and the environment built from it.

`initial_state` is one of: `{"data": PATH}` (a data file; a relative path is relative to the
spec's folder; a spec's own seed data is `<stem>.data.json` beside it),
`{"generated": {"seed": S, "size": N}}` (made by `datagen.generate_data`; `size` may be a
count per entity), `{"documents": FOLDER, "layout": FILE}` (another implementation's
documents, read through a document layout, `runtime/layout.py`; `"user_layout": FILE` adds
the documents of the user's own database, a phone, to the same environment), or the records
themselves (an inline snapshot, a dict of entity -> records). Any of them but the snapshot may add
`"actions": [{"name", "arguments"}, ...]`: set-up calls run in order after loading, as the
set-up code's side (`internal`, which may call any tool but sync blocks and assertions),
policies off; a failing one is a DataError. The state they leave is the initial state.
This module is the one place that builds an environment from one; environments are
built once per distinct initial state and reused (reset between episodes).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from envscale.records import Task
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.runtime.errors import DataError
from envscale.runtime.layout import Layout
from envscale.tasks.datagen import generate_data

DATA_CHOICES = ("auto", "generated", "file")


def seed_data_file(spec_path: str | Path) -> Path:
    """Where a spec's seed data lives: `<stem>.data.json` beside it."""
    spec = Path(spec_path)
    return spec.with_name(f"{spec.stem}.data.json")


def initial_state_for(
    spec_path: str | Path, data: str = "auto", seed: int = 0, size: int = 20
) -> dict:
    """The initial state of tasks sampled from a spec. `data` is "auto" (the spec's seed data
    when it has some, else generated data), "generated" (`seed`, `size`), "file" (the spec's
    seed data) or the path of a data file."""
    seed_file = seed_data_file(spec_path)
    if data == "auto":
        data = "file" if seed_file.exists() else "generated"
    if data == "generated":
        return {"generated": {"seed": seed, "size": size}}
    if data == "file":
        if not seed_file.exists():
            raise DataError(
                [f"{spec_path} has no seed data: {seed_file} not found (use --data generated)"]
            )
        return {
            "data": seed_file.name
        }  # looked up beside the spec, so a task file can move with it
    # A path given on the command line is found from the working directory, else beside the
    # spec; the task names it relative to the spec's folder when it lies inside it, else
    # absolutely, so the task file resolves it the same way from any working directory.
    folder = Path(spec_path).resolve().parent
    path = Path(data)
    if not path.exists() and not path.is_absolute() and (folder / path).exists():
        path = folder / path
    if not path.exists():
        raise DataError([f"data file not found: {data}"])
    path = path.resolve()
    try:
        return {"data": str(path.relative_to(folder))}
    except ValueError:
        return {"data": str(path)}


def initial_states_for(
    spec_path: str | Path, data: str = "auto", seed: int = 0, size: int = 20, states: int = 1
) -> list[dict]:
    """The initial states tasks are spread over: one as `initial_state_for` reads `data`, or,
    with `states` above 1, that many generated ones (data seeds `seed`, `seed` + 1, ...), so
    the ids, names and dates a task holds differ from task to task."""
    if states <= 1:
        return [initial_state_for(spec_path, data, seed, size)]
    if data not in ("auto", "generated"):
        raise DataError([f"{states} initial states need generated data, not --data {data}"])
    return [{"generated": {"seed": seed + i, "size": size}} for i in range(states)]


def initial_environment(
    domain: Domain,
    initial_state: dict,
    spec_path: str | Path | None = None,
    enforce_policies: bool = True,
) -> Environment:
    """A fresh environment in a task's initial state."""
    described = set(initial_state) - {"actions"}
    as_models = False
    if described == {"data"}:
        data: Any = _data_path(initial_state["data"], spec_path)
    elif described == {"generated"}:
        spec = initial_state["generated"]
        data = _generated(domain, spec, spec_path)
    elif described in ({"documents", "layout"}, {"documents", "layout", "user_layout"}):
        folder = _data_path(initial_state["documents"], spec_path)
        data = {}
        for which in ("layout", "user_layout"):  # the agent's documents, then the user's
            if which in initial_state:
                layout = Layout.read(_data_path(initial_state[which], spec_path))
                layout.check(domain.manifest)
                data.update(layout.load(folder))
                as_models = as_models or layout.as_models
    else:
        data = initial_state
        described = set()
    actions = initial_state.get("actions") if described else None
    policies = False if actions else enforce_policies
    # Documents validated into models are stored as the models hold them (runtime/layout.py).
    stored = {"as_models": True} if as_models else {}
    env = Environment.create(domain, data, enforce_policies=policies, **stored)
    if actions:
        env = _after_actions(domain, env, actions, enforce_policies)
    return env


# The latest data generated per (spec hash, generation settings, sample data): an episode's
# environment and its scratch copy (probes, replays) start from the same state, and
# generating it is most of building either. Environments only read the data they load.
_GENERATED: OrderedDict[str, dict] = OrderedDict()
_GENERATED_KEPT = 4


def _generated(domain: Domain, spec: dict, spec_path: str | Path | None) -> dict:
    like = spec.get("like")
    like_text = _data_path(like, spec_path).read_text(encoding="utf-8") if like else None
    like_digest = hashlib.sha256(like_text.encode()).hexdigest() if like_text else None
    key = json.dumps([domain.spec_hash, spec, like_digest], sort_keys=True, default=str)
    data = _GENERATED.get(key)
    if data is None:
        like_data = json.loads(like_text) if like_text else None
        data = generate_data(domain, int(spec["seed"]), spec.get("size", 10), like=like_data)
        _GENERATED[key] = data
        while len(_GENERATED) > _GENERATED_KEPT:
            _GENERATED.popitem(last=False)
    _GENERATED.move_to_end(key)
    return data


def _after_actions(
    domain: Domain, env: Environment, actions: list, enforce_policies: bool
) -> Environment:
    """A fresh environment holding the state that `actions` leave: they run on `env`, whose
    state is then loaded as the new one's data (so a reset comes back to it)."""
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("name"), str):
            env.close()
            raise DataError([f"initial state: action {i} is not an object with a 'name'"])
        result = env.call(action["name"], action.get("arguments") or {}, side="internal")
        if not result.ok:
            env.close()
            raise DataError(
                [f"initial state: action {i} ({action['name']}) failed: {result.error}"]
            )
    state = env.export()
    env.close()
    return Environment.create(domain, state, enforce_policies=enforce_policies)


def _data_path(name: str, spec_path: str | Path | None) -> Path:
    """A task's data file: a relative name is relative to the spec's folder."""
    path = Path(name)
    if not path.is_absolute() and spec_path is not None:
        return Path(spec_path).parent / path
    return path


class EnvFactory:
    """Makes environments in one described initial state; `initial_state` goes into each task."""

    def __init__(
        self,
        domain: Domain,
        initial_state: dict,
        spec_path: str | Path | None = None,
        enforce_policies: bool = True,
    ):
        self.domain = domain
        self.initial_state = initial_state
        self.spec_path = spec_path
        self.enforce_policies = enforce_policies

    def __call__(self) -> Environment:
        return initial_environment(
            self.domain, self.initial_state, self.spec_path, self.enforce_policies
        )


def state_key(task: Task) -> str:
    text = json.dumps(
        [task.initial_state, task.enforce_policies], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def environment_for(
    domain: Domain,
    task: Task,
    cache: MutableMapping[str, Environment],
    spec_path: str | None = None,
) -> tuple[Environment, str]:
    """(environment, cache key) for the task's initial state; the caller resets it."""
    key = state_key(task)
    env = cache.get(key)
    if env is None:
        env = initial_environment(
            domain, task.initial_state, spec_path, enforce_policies=task.enforce_policies
        )
        cache[key] = env
    return env, key
