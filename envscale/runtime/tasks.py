"""Tasks: tool chains sampled from the tool graph and executed, with their gold results.

A task holds everything needed to replay and verify it later: where its initial state comes
from, the gold calls, what each returned, and the hash of the final state. One JSON line:

    {"id": "clinic-3f9c0a1b2c4d", "domain": "clinic", "spec_hash": "…", "seed": 7,
     "initial_state": {"data": "clinic.data.json"}, "initial_state_hash": "…",
     "instruction": "I'd like to …",
     "gold_calls": [{"name": "get_patient", "arguments": {"patient_id": "P004"}}],
     "gold_outputs": [{"ok": true, "content": "{\\"patient_id\\": \\"P004\\", …}"}],
     "gold_state_hash": "…", "kind": "read", "length": 1, "invalid_calls": [],
     "enforce_policies": true}

`initial_state` is one of: `{"data": PATH}` (a data file; a relative path is relative to the
spec's folder; a spec's own seed data is `<stem>.data.json` beside it),
`{"generated": {"seed": S, "size": N}}` (made by
`datagen.generate_data`; `size` may be a count per entity), or the records themselves (an
inline snapshot, a dict of entity -> records). `gold_outputs[i].content` is the text the
agent reads for call i (`CallResult.text`); `invalid_calls` lists the calls made invalid on
purpose; `kind` is "read" when every call is a read tool's, else "write" (and then the final
state differs from the initial one).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envscale.runtime import jsonl
from envscale.runtime.errors import DataError
from envscale.runtime.instructions import InstructionRenderer
from envscale.runtime.taskwalk import Walker
from envscale.runtime.toolgraph import ToolGraph


@dataclass
class Task:
    id: str
    domain: str
    spec_hash: str
    seed: int
    initial_state: dict
    instruction: str
    gold_calls: list[dict]
    gold_outputs: list[dict]
    gold_state_hash: str
    initial_state_hash: str = ""
    kind: str = "write"
    length: int = 0
    invalid_calls: list[int] = field(default_factory=list)
    enforce_policies: bool = True

    def to_dict(self) -> dict:
        order = ["id", "domain", "spec_hash", "seed", "initial_state", "initial_state_hash", "instruction",
                 "gold_calls", "gold_outputs", "gold_state_hash", "kind", "length", "invalid_calls",
                 "enforce_policies"]
        values = asdict(self)
        return {name: values[name] for name in order}

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


# ---- initial states

DATA_CHOICES = ("auto", "generated", "file")


def seed_data_file(spec_path: str | Path) -> Path:
    """Where a spec's seed data lives: `<stem>.data.json` beside it."""
    spec = Path(spec_path)
    return spec.with_name(f"{spec.stem}.data.json")


def initial_state_for(spec_path: str | Path, data: str = "auto", seed: int = 0, size: int = 20) -> dict:
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
            raise DataError([f"{spec_path} has no seed data: {seed_file} not found (use --data generated)"])
        return {"data": seed_file.name}  # looked up beside the spec, so a task file can move with it
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


def initial_environment(domain: Any, initial_state: dict, spec_path: str | Path | None = None,
                        enforce_policies: bool = True) -> Any:
    """A fresh environment in a task's initial state."""
    from envscale.runtime.datagen import generate_data
    from envscale.runtime.environment import Environment

    if set(initial_state) == {"data"}:
        data: Any = _data_path(initial_state["data"], spec_path)
    elif set(initial_state) == {"generated"}:
        spec = initial_state["generated"]
        like = spec.get("like")
        like_data = json.loads(_data_path(like, spec_path).read_text(encoding="utf-8")) if like else None
        data = generate_data(domain, int(spec["seed"]), spec.get("size", 10), like=like_data)
    else:
        data = initial_state
    return Environment.create(domain, data, enforce_policies=enforce_policies)


def _data_path(name: str, spec_path: str | Path | None) -> Path:
    """A task's data file: a relative name is relative to the spec's folder."""
    path = Path(name)
    if not path.is_absolute() and spec_path is not None:
        return Path(spec_path).parent / path
    return path


class EnvFactory:
    """Makes environments in one described initial state; `initial_state` goes into each task."""

    def __init__(self, domain: Any, initial_state: dict, spec_path: str | Path | None = None,
                 enforce_policies: bool = True):
        self.domain = domain
        self.initial_state = initial_state
        self.spec_path = spec_path
        self.enforce_policies = enforce_policies

    def __call__(self) -> Any:
        return initial_environment(self.domain, self.initial_state, self.spec_path, self.enforce_policies)


# ---- sampling

def sample_tasks(domain: Any, env_factory: Callable[[], Any], n: int, seed: int = 0, max_length: int = 4,
                 invalid_share: float = 0.1, read_only_share: float = 0.3, *, min_length: int = 1,
                 instructions: dict | str | Path | None = None, max_attempts: int | None = None) -> list[Task]:
    """Up to `n` distinct tasks from random walks on the tool graph (fewer only when the
    attempts run out). A share `read_only_share` walks read tools only; the others must
    change the state. Each call is invalid on purpose with probability `invalid_share`.
    `instructions` refines the step templates (see `instructions.py`)."""
    if not 1 <= min_length <= max_length:
        raise ValueError("need 1 <= min_length <= max_length")
    graph = ToolGraph.from_manifest(domain.manifest)
    walker = Walker(domain, graph)
    renderer = InstructionRenderer(domain.tool_schemas, instructions)
    env = env_factory()
    initial_state = getattr(env_factory, "initial_state", None) or env.export()
    initial_hash = env.state_hash()
    tasks: list[Task] = []
    seen: set[str] = set()
    attempts = max_attempts if max_attempts is not None else 20 * n + 20
    has_reads = any(node.kind == "read" for node in graph.nodes.values())
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
        walk = walker.walk(env, rng, rng.randint(min_length, max_length), kinds, invalid_share)
        if not any(step.ok for step in walk.steps):
            continue
        wrote = any(step.ok and domain.tool_kinds[step.name] == "write" for step in walk.steps)
        if wrote == read_only:
            continue
        chain = _canonical(walk.calls)
        if chain in seen:
            continue
        task = _execute(domain, env, walk.calls, seed, initial_state, initial_hash)
        recorded = [{"ok": s.ok, "content": s.content} for s in walk.steps]
        if task.gold_outputs != recorded or (task.kind == "write" and task.gold_state_hash == initial_hash):
            continue  # a write task must change the state
        seen.add(chain)
        task.invalid_calls = [i for i, step in enumerate(walk.steps) if step.invalid]
        # The user asks for what the valid calls do; a deliberately invalid call is the
        # agent's slip, corrected by the valid call of the same tool that follows it.
        wanted = [c for i, c in enumerate(task.gold_calls) if i not in task.invalid_calls]
        task.instruction = renderer.render(wanted)
        tasks.append(task)
    env.close()
    return tasks


def _execute(domain: Any, env: Any, calls: list[dict], seed: int, initial_state: dict, initial_hash: str) -> Task:
    """Run the chain from the initial state and record the gold outputs and final hash."""
    outputs, final_hash = _run_from_reset(env, calls)
    wrote = any(o["ok"] and domain.tool_kinds[c["name"]] == "write" for c, o in zip(calls, outputs, strict=True))
    digest = hashlib.sha256(f"{domain.spec_hash}\0{initial_hash}\0{_canonical(calls)}".encode()).hexdigest()
    return Task(
        id=f"{domain.name}-{digest[:12]}", domain=domain.name, spec_hash=domain.spec_hash, seed=seed,
        initial_state=initial_state, instruction="", gold_calls=calls, gold_outputs=outputs,
        gold_state_hash=final_hash, initial_state_hash=initial_hash, kind="write" if wrote else "read",
        length=len(calls), enforce_policies=env.enforce_policies,
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---- files and verification

def write_tasks(path: str | Path, tasks: list[Task]) -> Path:
    out = Path(path)
    jsonl.write_atomic(out, (task.to_dict() for task in tasks))
    return out


def read_tasks(path: str | Path) -> list[Task]:
    tasks = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            tasks.append(Task.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a task: {error}") from None
    return tasks


def replay_task(domain: Any, task: Task, spec_path: str | Path | None = None, env: Any = None) -> tuple[list[dict], str]:
    """(outputs, final state hash) of the task's gold calls, from its initial state."""
    own = env is None
    if env is None:
        env = initial_environment(domain, task.initial_state, spec_path, task.enforce_policies)
    try:
        return _run_from_reset(env, task.gold_calls)
    finally:
        if own:
            env.close()


def _run_from_reset(env: Any, calls: list[dict]) -> tuple[list[dict], str]:
    """(what each call returned, the final state hash) of calls run from the initial state."""
    env.reset()
    outputs = []
    for call in calls:
        result = env.call(call["name"], call["arguments"])
        outputs.append({"ok": result.ok, "content": result.text})
    return outputs, env.state_hash()


def verify_task(domain: Any, task: Task, spec_path: str | Path | None = None) -> bool:
    """Whether replaying the gold calls from the initial state gives the gold outputs and final hash."""
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


# ---- command line

def add_data_arguments(p: Any, paths: bool = True) -> None:
    """--data, --data-seed and --size, shared by `envscale tasks` and `envscale generate`."""
    p.add_argument("--data", default="auto", metavar="auto|generated|file" + ("|FILE" if paths else ""),
                   choices=None if paths else DATA_CHOICES,
                   help="initial states: 'auto' (default) takes the spec's seed data, <stem>.data.json beside "
                        "it, when that exists and generated data otherwise; 'generated' always generates "
                        "(--data-seed, --size); 'file' requires the seed data"
                        + ("; or the path of a data file" if paths else ""))
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated data (default 0)")
    p.add_argument("--size", type=int, default=20, help="records per entity of the generated data (default 20)")


def cmd_tasks(args: Any) -> int:
    from envscale.runtime.commandline import EXIT_USAGE, run_reporting_errors

    if not args.out and not args.verify:
        print("error: give --out FILE.jsonl (or --verify FILE.jsonl)", file=sys.stderr)
        return EXIT_USAGE
    return run_reporting_errors(lambda: _verify_file(args) if args.verify else _sample_file(args))


def _verify_file(args: Any) -> int:
    from envscale.api import load

    domain = load(args.spec)
    tasks = read_tasks(args.verify)
    failed = [t.id for t in tasks if not verify_task(domain, t, args.spec)]
    print(f"{args.verify}: {len(tasks) - len(failed)}/{len(tasks)} tasks replay to their gold outputs and state")
    for task_id in failed[:10]:
        print(f"  mismatch: {task_id}")
    return 1 if failed else 0


def _sample_file(args: Any) -> int:
    from envscale.api import load
    from envscale.runtime.instructions import load_instructions

    domain = load(args.spec)
    initial_state = initial_state_for(args.spec, args.data, args.data_seed, args.size)
    factory = EnvFactory(domain, initial_state, args.spec, enforce_policies=not args.no_policies)
    tasks = sample_tasks(domain, factory, args.n, seed=args.seed, max_length=args.max_length,
                         invalid_share=args.invalid_share, read_only_share=args.read_only_share,
                         instructions=load_instructions(args.spec))
    write_tasks(args.out, tasks)
    reads = sum(1 for t in tasks if t.kind == "read")
    print(f"wrote {len(tasks)} tasks to {args.out} ({reads} read-only, {len(tasks) - reads} with writes; "
          f"initial state {json.dumps(initial_state)})")
    return 0


def register(subparsers: Any) -> None:
    """Add `envscale tasks SPEC --out FILE.jsonl [...]` and `envscale tasks SPEC --verify FILE.jsonl`."""
    p = subparsers.add_parser("tasks", help="sample tasks (tool chains with gold calls and gold state) from a spec",
                              description="Sample tasks by random walks on the tool graph, executed for their "
                                          "gold outputs and final state hash; or verify a task file by replaying it.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--out", metavar="FILE.jsonl", help="where to write the tasks")
    p.add_argument("--verify", metavar="FILE.jsonl", help="replay the tasks of a file and compare")
    p.add_argument("-n", type=int, default=100, help="number of tasks (default 100)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    add_data_arguments(p)
    p.add_argument("--max-length", type=int, default=4, help="most calls per task")
    p.add_argument("--invalid-share", type=float, default=0.1, help="share of calls made invalid on purpose")
    p.add_argument("--read-only-share", type=float, default=0.3, help="share of read-only tasks")
    p.add_argument("--no-policies", action="store_true", help="sample without enforcing the spec's policies")
    p.set_defaults(func=cmd_tasks)
