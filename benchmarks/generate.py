"""Generation throughput: verified trajectories per second per core, scripted user and agent.

    python benchmarks/generate.py [--tasks 200] [--trials 5] [--workers 4] [SPEC...]

For each spec (default: the tau-bench retail port and the clinic example), tasks are
sampled once on generated data, then every task runs `--trials` episodes through the real
job (filters, ordered fsync'd JSON lines): first in this process alone (the per-core rate),
then on `--workers` local processes. Peak memory is the maximum resident set size of this
process and of any one worker. KiB/line is the trajectory file's size per episode, its
preamble included; "inline" the size each line would take holding its tool schemas and
system message itself (format 1).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale import jsonl  # noqa: E402
from envscale.jobs.generate import (  # noqa: E402
    Job,
    job_initial_states,
    load_domains,
    run_episodes,
    sample_job_tasks,
)
from envscale.records import Trajectory, read_jsonl  # noqa: E402

DEFAULT_SPECS = [ROOT / "specs" / "retail.domain", ROOT / "specs" / "clinic.domain"]


def peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def inline_size(path: Path) -> int:
    """The bytes the file would take with every line holding its tool schemas and system
    message (format 1, as trajectory files were before preambles)."""
    return sum(
        len((jsonl.dumps(t.to_dict()) + "\n").encode()) for t in read_jsonl(path, Trajectory)
    )


def measure(spec: Path, tasks_n: int, trials: int, workers: int, scratch: Path) -> list[dict]:
    job = Job([str(spec)], scratch / "sample", tasks=tasks_n, seed=0, progress=False)
    domains = load_domains(job.specs)
    started = time.perf_counter()
    # The states the generate command starts from: each spec's seed data, else generated data.
    tasks = sample_job_tasks(job, domains, job_initial_states(job))
    sampling = time.perf_counter() - started
    rows = []
    for w in (1, workers):
        out = scratch / f"{spec.stem}-{w}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        run = Job([str(spec)], out, seed=0, trials=trials, workers=w, progress=False)
        result = run_episodes(run, domains, tasks)
        kept = result.counts[domains[0].name].stages["exact"]
        rows.append(
            {
                "domain": domains[0].name,
                "workers": w,
                "tasks": len(tasks),
                "episodes": result.ran,
                "kept": kept,
                "seconds": result.seconds,
                "kept_per_s": kept / result.seconds,
                "per_core": kept / result.seconds / w,
                "sampling_s": sampling,
                "mib_per_episode": (out / "trajectories.jsonl").stat().st_size
                / 2**20
                / max(1, result.ran),
                "mib_per_episode_inline": inline_size(out / "trajectories.jsonl")
                / 2**20
                / max(1, result.ran),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path, default=DEFAULT_SPECS)
    parser.add_argument("--tasks", type=int, default=200, help="tasks sampled per spec")
    parser.add_argument("--trials", type=int, default=5, help="episodes per task")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--quick", action="store_true", help="a few seconds' run, for the tests")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.trials, args.workers = 4, 1, 1
    scratch = Path(tempfile.mkdtemp(prefix="envscale-bench-"))
    try:
        rows = [
            row
            for spec in args.specs
            for row in measure(spec, args.tasks, args.trials, args.workers, scratch)
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"{'domain':8} {'workers':>7} {'tasks':>6} {'episodes':>8} {'kept':>6} {'seconds':>8} "
        f"{'kept/s':>8} {'kept/s/core':>11} {'sampling s':>10} {'KiB/line':>8} {'inline':>7}"
    )
    for r in rows:
        print(
            f"{r['domain']:8} {r['workers']:>7} {r['tasks']:>6} {r['episodes']:>8} {r['kept']:>6} "
            f"{r['seconds']:>8.2f} {r['kept_per_s']:>8.0f} {r['per_core']:>11.0f} "
            f"{r['sampling_s']:>10.2f} "
            f"{r['mib_per_episode'] * 1024:>8.1f} {r['mib_per_episode_inline'] * 1024:>7.1f}"
        )
    print(
        f"peak memory: this process {peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
        f"largest worker {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB  ({os.cpu_count()} cores "
        "here)"
    )


if __name__ == "__main__":
    main()
