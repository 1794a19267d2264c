"""What scripted dialogues hold: kept episodes, each kind of deliberate mistake, failed calls
left out of the loss, and records a task makes that the user names before they exist.

    python benchmarks/dialogues.py [--quick] [--tasks 200] [SPEC...]

For each spec (default: every shipped spec), the generate job runs `--tasks` tasks once each
(seed 0, the spec's seed data or generated data, scripted agent and user: what
`envscale generate SPEC --tasks N --workers 1` does) and it prints, per domain: episodes
kept by all three filters; dialogues carrying each mistake kind (misstated then corrected,
missing argument then asked, wrong record then the right one); dialogues with a failed call;
failed calls whose assistant turn `mask_failed_calls` leaves out of the loss (all of them,
or the trainer would learn the mistakes); and, for tasks whose later calls name a record an
earlier call made, how many instructions or user turns say its id before the agent has it
(0 is right). `--quick` runs 20 tasks of clinic.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.jobs.generate import Job, generate  # noqa: E402
from envscale.records import Trajectory, read_jsonl  # noqa: E402
from envscale.rollout.mistakes import KINDS  # noqa: E402
from envscale.runtime.load import load  # noqa: E402
from envscale.tasks.states import initial_environment  # noqa: E402
from envscale.trainer.render import failed_call_turns  # noqa: E402

SHIPPED = ("clinic", "retail", "airline", "delivery")


def made_ids(task: dict, start: str) -> set[str]:
    """Ids a later call names that first appear in an earlier call's output and nowhere in
    the task's starting records (`start`, as JSON text)."""
    out: set[str] = set()
    outputs = [o["content"] for o in task["gold_outputs"]]
    for i, call in enumerate(task["gold_calls"]):
        for name, value in call["arguments"].items():
            if not (isinstance(value, str) and name.endswith("id")) or f'"{value}"' in start:
                continue
            if any(f'"{value}"' in text for text in outputs[:i]):
                out.add(value)
    return out


def early_mentions(messages: list[dict], ids: set[str]) -> int:
    """User turns that say one of `ids` before a tool result has shown it."""
    shown: set[str] = set()
    count = 0
    for m in messages:
        text = m.get("content") or ""
        if m["role"] == "tool":
            shown |= {i for i in ids if i in text}
        elif m["role"] == "user" and any(i in text and i not in shown for i in ids):
            count += 1
    return count


def measure(spec: Path, tasks: int, scratch: Path) -> dict:
    out = scratch / spec.stem
    generate(Job([str(spec)], out, tasks=tasks, seed=0, workers=1, progress=False))
    domain = load(spec)
    by_id, starts = {}, {}
    for line in (out / "tasks.jsonl").read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        by_id[task["id"]] = task
        key = json.dumps(task["initial_state"], sort_keys=True)
        if key not in starts:
            env = initial_environment(domain, task["initial_state"], spec)
            starts[key] = json.dumps(env.export(), ensure_ascii=False)
            env.close()
    row: Counter = Counter()
    for record in read_jsonl(out / "trajectories.jsonl", Trajectory):
        traj = record.to_dict()
        row["episodes"] += 1
        row["kept"] += all(traj["filters"].values())
        row[traj["meta"].get("mistake") or "none"] += 1
        messages = traj["messages"]
        results = {m.get("tool_call_id"): m.get("content") or "" for m in messages}
        failed = [
            i
            for i, m in enumerate(messages)
            if m["role"] == "assistant"
            for c in m.get("tool_calls") or []
            if results.get(c["id"], "").startswith("Error: ")
        ]
        masked = failed_call_turns(messages)
        row["with failed call"] += bool(failed)
        row["failed calls"] += len(failed)
        row["masked"] += sum(1 for i in failed if i in masked)
        task = by_id[traj["task_id"]]
        ids = made_ids(task, starts[json.dumps(task["initial_state"], sort_keys=True)])
        if ids:
            row["made records"] += 1
            said = task["instruction"]
            row["id in instruction"] += any(i in said for i in ids)
            row["user says it early"] += early_mentions(messages, ids) > 0
    return {"domain": spec.stem, **row}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", metavar="SPEC")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 tasks of clinic")
    args = parser.parse_args()
    specs = [Path(s) for s in args.specs] or [
        ROOT / "specs" / f"{n}.domain" for n in SHIPPED if (ROOT / "specs" / f"{n}.domain").exists()
    ]
    tasks = args.tasks
    if args.quick:
        specs, tasks = [ROOT / "specs" / "clinic.domain"], 20
    scratch = Path(tempfile.mkdtemp(prefix="envscale-dialogues-"))
    columns = [
        "episodes",
        "kept",
        *KINDS,
        "with failed call",
        "failed calls",
        "masked",
        "made records",
        "id in instruction",
        "user says it early",
    ]
    try:
        rows = [measure(spec, tasks, scratch) for spec in specs]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'domain':9}" + "".join(f"{c:>{max(len(c), 5) + 2}}" for c in columns))
    for row in rows:
        cells = "".join(f"{row.get(c, 0):>{max(len(c), 5) + 2}}" for c in columns)
        print(f"{row['domain']:9}{cells}")
    print(f"({tasks} tasks per spec, one episode each, scripted agent and user, seed 0)")
    unmasked = sum(r.get("failed calls", 0) - r.get("masked", 0) for r in rows)
    early = sum(r.get("id in instruction", 0) + r.get("user says it early", 0) for r in rows)
    return 1 if unmasked or early else 0


if __name__ == "__main__":
    raise SystemExit(main())
