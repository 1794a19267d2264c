"""tau2-bench's tasks as envscale tasks: a tau2 checkout's `tasks.json`
(`data/tau2/domains/<domain>/tasks.json`, a JSON array of tau2 tasks) or JSON lines in the
form of the conformance data (`tasks.jsonl`: `task_id`, `instruction`, `initial_state`,
`actions` with `kwargs` and `requestor`, `env_assertions`, `communicate_info`,
`nl_assertions`, `reward_basis`), read into `records.Task` with `Task.scoring` set, so that
`envscale eval` scores their episodes as tau2 does (rollout/criteria.py).

- The instruction is the text tau2 gives its user simulator (`str(task.user_scenario)`:
  the persona, then the instructions, each part indented by a tab).
- The initial state is the domain's documents read through the spec's document layout
  (`<spec>.layout.json` beside the spec, or one given; with the user's documents through
  `<spec>.user.layout.json` beside it, when there is one), plus the task's initialisation
  actions, called as the set-up side. tau2's `initialization_data` and `message_history`
  are refused: no tau2 task of retail, airline or telecom has them.
- Gold calls are the task's actions in order (`requestor: user` is the user's side); their
  outputs and the gold state hash come from running them on the spec's environment, each on
  its side, policies off (tau2 enforces its policies by words only). A gold action that
  fails is kept in the chain and marked failed, as tau2's gold replay skips it.
- Scoring: the reward basis (tau2's default `[DB, COMMUNICATE]` when the task names none),
  the environment assertions (the domain's assertion of the same name), the facts to
  communicate and the natural-language assertions (not scored). As in tau2, a task whose
  criteria give neither actions nor assertions passes the DB and assertion parts whatever
  the state, so they are left out of its basis.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envscale.records import Assertion, GoldCall, GoldOutput, Scoring, Task
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.runtime.errors import DataError
from envscale.tasks.states import initial_environment

DEFAULT_BASIS = ["DB", "COMMUNICATE"]
ENV_PARTS = ("DB", "ENV_ASSERTION")


def is_tau2_file(path: str | Path) -> bool:
    """Whether a task file is tau2's (a JSON array, or lines with `task_id` and `actions`)
    rather than envscale's own tasks.jsonl."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = line.strip()
            if not text:
                continue
            if text.startswith("["):
                return True
            try:
                first = json.loads(text)
            except json.JSONDecodeError:
                return False
            return isinstance(first, dict) and "task_id" in first and "gold_calls" not in first
    return False


def read_tau2(path: str | Path) -> Iterator[tuple[str, dict]]:
    """(where, task in the conformance lines' form) for each task of a tau2 task file."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            tasks = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError([f"{path}: not JSON: {error}"]) from None
        if not isinstance(tasks, list):
            raise DataError([f"{path}: expected a JSON array of tau2 tasks"])
        for i, task in enumerate(tasks):
            where = f"{path}[{i}]"
            yield where, _from_tasks_json(task, where)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            task = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError([f"{where}: not JSON: {error}"]) from None
        if not isinstance(task, dict) or "task_id" not in task:
            raise DataError([f"{where}: not a tau2 task line (no task_id)"])
        yield where, task


def _from_tasks_json(task: Any, where: str) -> dict:
    """A task of tau2's tasks.json in the conformance lines' form."""
    if not isinstance(task, dict) or "id" not in task or "user_scenario" not in task:
        raise DataError([f"{where}: not a tau2 task (it needs id and user_scenario)"])
    criteria = task.get("evaluation_criteria")
    out: dict[str, Any] = {
        "task_id": str(task["id"]),
        "instruction": scenario_text(task["user_scenario"]),
        "initial_state": task.get("initial_state"),
    }
    if criteria is None:
        return {**out, "actions": [], "reward_basis": [], "no_env_criteria": True}
    actions = criteria.get("actions")
    assertions = criteria.get("env_assertions")
    return {
        **out,
        "actions": [
            {
                "name": a["name"],
                "kwargs": a.get("arguments") or {},
                "requestor": a.get("requestor", "assistant"),
                **(
                    {"compare_args": a["compare_args"]} if a.get("compare_args") is not None else {}
                ),
            }
            for a in actions or []
        ],
        "env_assertions": assertions or [],
        "communicate_info": criteria.get("communicate_info"),
        "nl_assertions": criteria.get("nl_assertions"),
        "reward_basis": criteria.get("reward_basis", DEFAULT_BASIS),
        "no_env_criteria": actions is None and assertions is None,
    }


def scenario_text(scenario: Any) -> str:
    """tau2's `str(UserScenario)`: what its user simulator is told."""
    if isinstance(scenario, str):
        return scenario
    lines = []
    if scenario.get("persona") is not None:
        lines += ["Persona:", textwrap.indent(scenario["persona"], "\t")]
    lines += ["Instructions:", textwrap.indent(_instructions_text(scenario["instructions"]), "\t")]
    return "\n".join(lines)


def _instructions_text(instructions: Any) -> str:
    if isinstance(instructions, str):
        return instructions
    tab = "\t"
    lines = [
        f"Domain: {instructions['domain']}",
        f"Reason for call:\n{textwrap.indent(instructions['reason_for_call'], tab)}",
    ]
    for key, title in (("known_info", "Known info"), ("unknown_info", "Unknown info")):
        if instructions.get(key) is not None:
            lines.append(f"{title}:\n{textwrap.indent(instructions[key], tab)}")
    lines.append(f"Task instructions:\n{textwrap.indent(instructions['task_instructions'], tab)}")
    return "\n".join(lines)


def default_layout(spec_path: str | Path) -> Path:
    """The document layout beside a spec: `retail.tau2.domain` -> `retail.tau2.layout.json`."""
    spec = Path(spec_path)
    return spec.with_name(spec.name.removesuffix(".domain") + ".layout.json")


def user_layout_beside(layout: Path) -> Path:
    """The layout of the user's documents (a phone) beside a domain's layout:
    `telecom.layout.json` -> `telecom.user.layout.json`."""
    return layout.with_name(layout.name.removesuffix(".layout.json") + ".user.layout.json")


def tau2_tasks(
    domain: Domain,
    spec_path: str | Path,
    path: str | Path,
    data: str | Path | None = None,
    layout: str | Path | None = None,
) -> list[Task]:
    """The tasks of a tau2 task file for one spec. `data` is the folder of tau2's documents
    (default: the task file's folder, as in a tau2 checkout), `layout` the document layout
    (default: the one beside the spec)."""
    folder = Path(data) if data is not None else Path(path).parent
    layout_path = Path(layout) if layout is not None else default_layout(spec_path)
    if not layout_path.exists():
        raise DataError([f"{layout_path}: no document layout for {spec_path} (give one)"])
    base = {"documents": str(folder.resolve()), "layout": str(layout_path.resolve())}
    user_layout = user_layout_beside(layout_path)
    if user_layout.exists():
        base["user_layout"] = str(user_layout.resolve())
    envs: dict[str, Environment] = {}  # by initial state: tasks without set-up share one
    try:
        return [
            _task(domain, spec_path, base, line, where, envs) for where, line in read_tau2(path)
        ]
    finally:
        for env in envs.values():
            env.close()


def _task(
    domain: Domain,
    spec_path: str | Path,
    base: dict,
    line: dict,
    where: str,
    envs: dict[str, Environment],
) -> Task:
    initial = line.get("initial_state") or {}
    for unsupported in ("initialization_data", "message_history"):
        if initial.get(unsupported):
            raise DataError([f"{where}: tau2's {unsupported} is not supported"])
    actions = [
        {"name": a["func_name"], "arguments": a.get("arguments") or {}}
        for a in initial.get("initialization_actions") or []
    ]
    state = {**base, **({"actions": actions} if actions else {})}
    gold = [
        GoldCall(
            name=a["name"],
            arguments=a.get("kwargs") or {},
            **({"side": "user"} if a.get("requestor") == "user" else {}),
            **({"compare_args": a["compare_args"]} if "compare_args" in a else {}),
        )
        for a in line.get("actions") or []
    ]
    basis = list(line.get("reward_basis") or [])
    if line.get("no_env_criteria"):
        basis = [part for part in basis if part not in ENV_PARTS]
    scoring = Scoring(
        basis=basis,
        assertions=[
            Assertion(
                name=a["func_name"],
                arguments=a.get("arguments") or {},
                expect=a.get("assert_value", True),
                **({"message": a["message"]} if a.get("message") else {}),
            )
            for a in line.get("env_assertions") or []
        ],
        communicate=list(line.get("communicate_info") or []),
        nl_assertions=list(line.get("nl_assertions") or []),
        source="tau2",
    )
    try:
        return criteria_task(
            domain,
            spec_path,
            str(line["task_id"]),
            state,
            line.get("instruction") or "",
            gold,
            scoring,
            envs,
        )
    except DataError as error:
        raise DataError([f"{where}: {p}" for p in error.problems]) from None


def criteria_task(
    domain: Domain,
    spec_path: str | Path | None,
    task_id: str,
    initial_state: dict,
    instruction: str,
    gold: list[GoldCall],
    scoring: Scoring,
    envs: dict[str, Environment] | None = None,
) -> Task:
    """A task scored by its own criteria, its gold outputs and state from running `gold` on
    the initial state, each call on its side, policies off. `envs` caches environments by
    initial state across calls (the caller closes them); a state with set-up actions of its
    own is not kept."""
    key = json.dumps(initial_state, sort_keys=True)
    cache = envs if envs is not None else {}
    if key not in cache:
        cache[key] = initial_environment(domain, initial_state, spec_path, enforce_policies=False)
    env = cache[key]
    env.reset()
    initial_hash = env.state_hash()
    outputs = []
    for call in gold:
        result = env.call(call.name, call.arguments, side=call.side)
        outputs.append(GoldOutput(ok=result.ok, content=result.text))
    final_hash = env.state_hash()
    env.reset()
    if envs is None or "actions" in initial_state:
        cache.pop(key).close()
    writes = any(domain.tool_kinds.get(c.name) == "write" for c in gold)
    return Task(
        id=task_id,
        domain=domain.name,
        spec_hash=domain.spec_hash,
        seed=0,
        initial_state=initial_state,
        initial_state_hash=initial_hash,
        instruction=instruction,
        gold_calls=gold,
        gold_outputs=outputs,
        gold_state_hash=final_hash,
        kind="write" if writes else "read",
        length=len(gold),
        invalid_calls=[i for i, o in enumerate(outputs) if not o.ok],
        enforce_policies=False,
        scoring=scoring,
    )
