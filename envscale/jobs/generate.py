"""A generation job: tasks per spec, one episode per task and trial, filters, trajectories.jsonl.

The output folder holds `job.json` (what the job is), `tasks.jsonl` (written once, whole) and
`trajectories.jsonl` (appended by this process only, whole lines in task order, fsync'd after
each batch; what the trajectories of a domain share, a preamble line before the first).
Running the same job again continues where it stopped: episodes whose ids are already in the
file are skipped, preambles it holds are not written again, and an unterminated tail left by a
kill is cut off first.
Because lines are written in task order and every episode is seeded by (job seed, task id,
trial), an interrupted and resumed job writes the same bytes as one that ran straight through
(unless a backend failed: its episodes go to `errors.jsonl` and a rerun appends them later).
An endpoint that cannot be reached stops the job (`EndpointUnreachable`); when no episode was
written by then, the folder is left as if the job had never started, so a corrected command
is not refused as another job.
Initial states default to each spec's seed data when it has some (`tasks.initial_state_for`);
with `data_states` above 1 each spec's tasks are spread over that many generated states.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envscale import __version__, jsonl
from envscale.jobs.executors import Outcome, WorkerSetup, WorkItem, run_inline, run_pool, run_ray
from envscale.jobs.progress import DomainCounts, Progress, summary_table
from envscale.records import (
    EpisodeError,
    Task,
    Trajectory,
    TrajectoryReader,
    TrajectoryWriter,
    load_jsonl,
)
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import episode_id
from envscale.rollout.filters import STAGES
from envscale.rollout.openai_client import unreachable_in
from envscale.runtime.domain import Domain
from envscale.runtime.limits import DEFAULT_LIMITS, Limits
from envscale.runtime.load import load
from envscale.tasks.instructions import load_instructions
from envscale.tasks.sampling import sample_over_states
from envscale.tasks.states import EnvFactory, initial_states_for

TASKS_FILE = "tasks.jsonl"
TRAJECTORIES_FILE = "trajectories.jsonl"
JOB_FILE = "job.json"
ERRORS_FILE = (
    "errors.jsonl"  # episodes a backend failure stopped in the last run; a rerun retries them
)


_STAGE_NAMES = {"valid": "validity", "state": "the state check", "exact": "the exact match"}


class JobError(RuntimeError):
    pass


class EndpointUnreachable(JobError):
    """A model endpoint refused every connection: the job stops instead of losing each episode."""


@dataclass
class Job:
    specs: list[str]
    out: Path
    tasks: int = 10  # per spec, when sampling
    data: str = "auto"  # initial states, as `tasks.initial_state_for` reads it
    data_seed: int = 0
    data_size: int = 20
    data_states: int = 1  # generated initial states the tasks of a spec are spread over
    max_length: int = 4  # most calls per sampled task
    seed: int = 0
    agent: BackendConfig = field(default_factory=BackendConfig)
    user: BackendConfig = field(default_factory=BackendConfig)
    trials: int = 1
    workers: int = 1
    executor: str = "local"  # local | ray
    ray_address: str | None = None
    max_steps: int = 30
    chunk_size: int = 0  # 0: chosen from the amount of work
    progress: bool = True
    trajectories_file: str = TRAJECTORIES_FILE
    limits: Limits = DEFAULT_LIMITS  # of the episodes' environments


@dataclass
class JobResult:
    counts: dict[str, DomainCounts]
    ran: int
    seconds: float
    path: Path

    def table(self) -> str:
        return summary_table(self.counts, self.seconds, self.ran)

    def shortfalls(self, tasks: int | None, trials: int) -> list[str]:
        """One line per domain that made fewer tasks (`tasks` asked per domain, None when the
        tasks were given) or kept fewer trajectories than asked for, with the reasons."""
        lines = []
        for domain, c in self.counts.items():
            if tasks is not None and c.tasks < tasks:
                lines.append(
                    f"{domain}: {c.tasks} of {tasks} tasks: the random walks found no more "
                    "distinct chains that pass"
                )
            asked = c.tasks * trials
            kept = c.stages[STAGES[-1]]
            if kept >= asked:
                continue
            passed = [c.episodes, *(c.stages[s] for s in STAGES)]
            lost = [
                f"{passed[i] - passed[i + 1]} failed {_STAGE_NAMES.get(s, s)}"
                for i, s in enumerate(STAGES)
            ]
            if c.errors:
                lost.append(f"{c.errors} lost to backend errors (see {ERRORS_FILE})")
            if (missing := asked - c.episodes - c.errors) > 0:
                lost.append(f"{missing} not run")
            common = "; ".join(f"{n} × {why}" for why, n in c.failures.most_common(3))
            lines.append(
                f"{domain}: {kept} of {asked} trajectories kept: {', '.join(lost)}"
                + (f" (most often: {common})" if common else "")
            )
        return lines


def load_domains(specs: Sequence[str]) -> list[Domain]:
    return [load(spec) for spec in specs]


def _describe(job: Job, domains: list[Domain], task_source: str | dict) -> dict:
    return {
        "envscale": __version__,
        "specs": [
            {"path": str(spec), "domain": d.name, "spec_hash": d.spec_hash}
            for spec, d in zip(job.specs, domains, strict=True)
        ],
        "tasks": task_source,
        "seed": job.seed,
        "trials": job.trials,
        "max_steps": job.max_steps,
        # Only limits set away from the defaults, so a job file from before limits still matches.
        **({"limits": job.limits.changed()} if job.limits.changed() else {}),
        "agent": {
            **job.agent.describe(),
            "temperature": job.agent.temperature,
            "options": dict(job.agent.options),
        },
        "user": {
            **job.user.describe(),
            "temperature": job.user.temperature,
            "options": dict(job.user.options),
        },
    }


def job_identity(described: dict) -> dict:
    """What makes a job the same job: its description without where its files are. A spec is
    known by its domain and hash, a synthesised directory by the domains it holds (each
    checked in its own folder), so a job resumes from another checkout or under another
    spelling of the same path."""
    same = {k: v for k, v in described.items() if k != "directory"}
    if "specs" in same:
        same["specs"] = [{k: v for k, v in s.items() if k != "path"} for s in same["specs"]]
    return same


def check_job_file(path: Path, described: dict) -> None:
    """Write the job's description, or refuse a folder that holds another job's."""
    if path.exists():
        found = job_identity(json.loads(path.read_text(encoding="utf-8")))
        wanted = job_identity(described)
        if found != wanted:
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise JobError(
                f"{path.parent} holds another job (it differs in: {', '.join(changed)}); "
                "use another --out, or remove the folder to start over"
            )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(described, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def job_initial_states(job: Job) -> list[list[dict]]:
    """Per spec, the initial states its tasks are spread over."""
    return [
        initial_states_for(spec, job.data, job.data_seed, job.data_size, job.data_states)
        for spec in job.specs
    ]


def sample_job_tasks(
    job: Job, domains: list[Domain], initial_states: list[list[dict]]
) -> list[Task]:
    tasks: list[Task] = []
    for spec, domain, states in zip(job.specs, domains, initial_states, strict=True):
        sampled = sample_over_states(
            domain,
            [EnvFactory(domain, state, spec) for state in states],
            job.tasks,
            seed=job.seed,
            max_length=job.max_length,
            instructions=load_instructions(spec),
        )
        tasks.extend(sampled)
    return tasks


def generate(job: Job) -> JobResult:
    """Sample (or reread) the tasks, then run the episodes not yet in the output."""
    domains = load_domains(job.specs)
    initial_states = job_initial_states(job)
    job.out.mkdir(parents=True, exist_ok=True)
    # One state per spec is described as it always was, so an older job folder still matches.
    described = [s[0] if len(s) == 1 else s for s in initial_states]
    source = {"sampled": job.tasks, "max_length": job.max_length, "initial_states": described}
    check_job_file(job.out / JOB_FILE, _describe(job, domains, source))
    tasks_path = job.out / TASKS_FILE
    if tasks_path.exists():
        tasks = load_jsonl(tasks_path, Task)
    else:
        tasks = sample_job_tasks(job, domains, initial_states)
        jsonl.write_atomic(tasks_path, (task.to_dict() for task in tasks))
    return run_episodes(job, domains, tasks)


def run_tasks(job: Job, tasks: list[Task]) -> JobResult:
    """Run episodes of given tasks (evaluation): no sampling, same resumable output."""
    domains = load_domains(job.specs)
    digest = jsonl.dumps({"tasks": [t.id for t in tasks]})
    source = "given:" + hashlib.sha256(digest.encode()).hexdigest()[:16]
    job.out.mkdir(parents=True, exist_ok=True)
    check_job_file(job.out / JOB_FILE, _describe(job, domains, source))
    return run_episodes(job, domains, tasks)


def _domain_keys(job: Job, domains: list[Domain]) -> dict[str, str]:
    """Domain name and spec hash -> the key workers know the domain by."""
    return {f"{d.name}:{d.spec_hash}": str(i) for i, d in enumerate(domains)}


def run_episodes(job: Job, domains: list[Domain], tasks: list[Task]) -> JobResult:
    keys = _domain_keys(job, domains)
    by_name = {d.name: str(i) for i, d in enumerate(domains)}
    path = job.out / job.trajectories_file
    jsonl.repair(path)
    done: set[str] = set()
    counts: dict[str, DomainCounts] = {d.name: DomainCounts() for d in domains}
    reader = TrajectoryReader()
    if path.exists():
        for record in reader.read(path):
            done.add(record.id)
            counts.setdefault(record.domain, DomainCounts()).add(record)
    writer = TrajectoryWriter(known=reader.preambles)
    items: list[WorkItem] = []
    for task in tasks:
        key = keys.get(f"{task.domain}:{task.spec_hash}") or by_name.get(task.domain)
        if key is None:
            raise JobError(
                f"task {task.id} is for domain {task.domain!r}, which no given spec defines"
            )
        counts.setdefault(task.domain, DomainCounts()).tasks += 1
        for trial in range(job.trials):
            if episode_id(task.id, trial) not in done:
                items.append(WorkItem(key, task, trial))
    setup = WorkerSetup(
        domains=tuple(
            (str(i), str(spec), tuple(sorted(d.files.items())))
            for i, (spec, d) in enumerate(zip(job.specs, domains, strict=True))
        ),
        agent=job.agent,
        user=job.user,
        seed=job.seed,
        max_steps=job.max_steps,
        limits=job.limits,
    )
    total = len(tasks) * job.trials
    progress = Progress(total, total - len(items), enabled=job.progress)
    started = time.perf_counter()
    # The errors of an earlier run are retried now: only this run's belong in the file.
    (job.out / ERRORS_FILE).unlink(missing_ok=True)
    try:
        with jsonl.Appender(path) as out, jsonl.Appender(job.out / ERRORS_FILE) as errors:
            ran = _drain(job, setup, items, out, writer, errors, progress, counts)
    except EndpointUnreachable:
        progress.close()
        _forget_if_empty(job.out, path)
        raise
    progress.close()
    return JobResult(counts, ran, time.perf_counter() - started, path)


def _forget_if_empty(out: Path, trajectories: Path) -> None:
    """A job that wrote no trajectory leaves no job description, tasks or files behind."""
    if trajectories.exists() and trajectories.stat().st_size:
        return
    for name in (JOB_FILE, TASKS_FILE, ERRORS_FILE, trajectories.name):
        (out / name).unlink(missing_ok=True)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def _chunks(items: list[WorkItem], job: Job) -> list[list[WorkItem]]:
    size = job.chunk_size or max(1, min(32, len(items) // max(1, 4 * job.workers)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _drain(
    job: Job,
    setup: WorkerSetup,
    items: list[WorkItem],
    out: jsonl.Appender,
    writer: TrajectoryWriter,
    errors: jsonl.Appender,
    progress: Progress,
    counts: dict[str, DomainCounts],
) -> int:
    if not items:
        return 0
    chunks = _chunks(items, job)
    if job.executor == "ray":
        results = run_ray(setup, chunks, job.workers, job.ray_address)
    elif job.executor == "local" and job.workers > 1 and len(chunks) > 1:
        results = run_pool(setup, chunks, min(job.workers, len(chunks)))
    elif job.executor == "local":
        results = run_inline(setup, chunks)
    else:
        raise JobError(f"unknown executor '{job.executor}' (local or ray)")
    try:
        return _collect(results, out, writer, errors, progress, counts)
    finally:
        results.close()  # a stopped job stops its workers


def _collect(
    results: Iterator[tuple[int, list[Outcome]]],
    out: jsonl.Appender,
    writer: TrajectoryWriter,
    errors: jsonl.Appender,
    progress: Progress,
    counts: dict[str, DomainCounts],
) -> int:
    """Write the outcomes in chunk order as they come; stop at an unreachable endpoint."""
    waiting: dict[int, list[Outcome]] = {}
    following = 0
    ran = 0
    for n, trajectories in results:
        waiting[n] = trajectories
        batch: list[Outcome] = []
        while following in waiting:
            batch.extend(waiting.pop(following))
            following += 1
        if batch:
            finished = [t for t in batch if isinstance(t, Trajectory)]
            failed = [t for t in batch if isinstance(t, EpisodeError)]
            out.write(writer.lines(finished))
            if failed:
                errors.write(e.to_dict() for e in failed)
            kept = 0
            for t in finished:
                counts[t.domain].add(t)
                kept += all(t.filters.values())
            for e in failed:
                counts[e.domain].errors += 1
            ran += len(batch)
            progress.update(len(batch), kept)
            for e in failed:
                if (why := unreachable_in(e.error)) is not None:
                    raise EndpointUnreachable(why)
    return ran
