"""Generation over a synthesised directory: every kept domain of DIR/index.jsonl, sharded.

Each kept domain is one unit of work: an ordinary generation job (`jobs/generate.py`) with its
own folder, `OUT/domains/<name>/` (job.json, tasks.jsonl, trajectories.jsonl), run by one of
`workers` processes (or Ray tasks) that compiles the domain, samples its tasks and runs its
episodes. The parent only reads the index and collects counts, so neither it nor any worker
holds more than the domains in hand: workers are recycled every `RECYCLE` domains, which bounds
the compiled modules a process accumulates. A domain is done when its folder holds `done.json`
(no episode lost to a backend failure); a rerun skips done domains and resumes the others, so
the job is resumable as a single-folder job is. At the end, the domains' tasks and
trajectories are concatenated in index order into `OUT/tasks.jsonl` and
`OUT/trajectories.jsonl`, the data of the trainer's general phase, and `OUT/summary.json`
lists per domain what was made and why anything was missing. Results do not depend on the
number of workers: tasks are seeded per domain and episodes per task.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envscale import __version__
from envscale.dsl.diagnostics import SpecError, sorted_diagnostics
from envscale.errors import DataError
from envscale.jobs.executors import map_pool, map_ray
from envscale.jobs.generate import (
    JOB_FILE,
    TASKS_FILE,
    TRAJECTORIES_FILE,
    Job,
    JobError,
    JobResult,
    check_job_file,
    generate,
)
from envscale.jobs.progress import DomainCounts, Progress, summary_table
from envscale.records import DomainEntry, read_jsonl
from envscale.rollout.filters import STAGES

INDEX_FILE = "index.jsonl"
DOMAINS_DIR = "domains"
DONE_FILE = "done.json"
SUMMARY_FILE = "summary.json"
RECYCLE = 32  # domains a worker process runs before it is replaced by a fresh one
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def is_synthesised(path: str | Path) -> bool:
    """Whether a path is a synthesised directory (a folder holding index.jsonl)."""
    p = Path(path)
    return p.is_dir() and (p / INDEX_FILE).is_file()


@dataclass(frozen=True)
class KeptDomain:
    name: str
    spec: str  # the .domain file's path
    spec_hash: str | None


@dataclass
class Selection:
    domains: list[KeptDomain]
    rejected: int = 0
    # Kept entries that cannot be run, with why (a spec file missing, a name used twice).
    unusable: list[tuple[str, str]] = field(default_factory=list)


def kept_domains(directory: Path) -> Selection:
    """The kept entries of DIR/index.jsonl, in index order, read one line at a time."""
    selection = Selection([])
    seen: set[str] = set()
    for entry in read_jsonl(directory / INDEX_FILE, DomainEntry):
        if entry.status != "kept":
            selection.rejected += 1
            continue
        spec = directory / (entry.spec or f"{DOMAINS_DIR}/{entry.name}.domain")
        if not _SAFE_NAME.match(entry.name):
            selection.unusable.append((entry.name, "the name cannot name a folder"))
        elif entry.name in seen:
            selection.unusable.append((entry.name, "a second entry of that name"))
        elif not spec.is_file():
            selection.unusable.append((entry.name, f"spec file not found: {spec}"))
        else:
            seen.add(entry.name)
            selection.domains.append(KeptDomain(entry.name, str(spec), entry.spec_hash))
    return selection


@dataclass
class DomainOutcome:
    name: str
    counts: DomainCounts | None = None
    ran: int = 0
    shortfalls: list[str] = field(default_factory=list)
    error: str | None = None  # why the domain made nothing (a spec that fails to load, ...)


@dataclass
class DirectoryResult:
    outcomes: dict[str, DomainOutcome]
    selection: Selection
    skipped: int  # done in an earlier run
    seconds: float
    tasks_path: Path
    trajectories_path: Path

    @property
    def counts(self) -> dict[str, DomainCounts]:
        return {n: o.counts for n, o in self.outcomes.items() if o.counts is not None}

    @property
    def ran(self) -> int:
        return sum(o.ran for o in self.outcomes.values())

    def table(self, limit: int = 20) -> str:
        """Per domain for a few domains, in total for many."""
        counts = self.counts
        if len(counts) <= limit:
            return summary_table(counts, self.seconds, self.ran)
        total = DomainCounts()
        for c in counts.values():
            total.merge(c)
        return summary_table({f"{len(counts)} domains": total}, self.seconds, self.ran)

    def problems(self) -> list[str]:
        """Lines for stderr: domains that made nothing, or fewer tasks or trajectories."""
        lines = [f"{name}: not run: {why}" for name, why in self.selection.unusable]
        for outcome in self.outcomes.values():
            if outcome.error:
                lines.append(f"{outcome.name}: failed: {outcome.error}")
            lines.extend(outcome.shortfalls)
        return lines


def _domain_job(base: Job, domain: KeptDomain) -> Job:
    return replace(
        base,
        specs=[domain.spec],
        out=base.out / DOMAINS_DIR / domain.name,
        workers=1,
        executor="local",
        progress=False,
    )


def run_domain(job: Job) -> DomainOutcome:
    """One domain's generation job, in whatever process runs it; never raises."""
    name = job.out.name
    try:
        result: JobResult = generate(job)
    except SpecError as error:
        first = sorted_diagnostics(error.diagnostics)[0]
        more = f" (and {len(error.diagnostics) - 1} more)" if len(error.diagnostics) > 1 else ""
        where = f"{first.span.file}:{first.span.line}:{first.span.column}"
        return DomainOutcome(
            name, error=f"the spec has errors: {where}: [{first.code}] {first.message}{more}"
        )
    except (JobError, DataError, OSError, ValueError) as error:
        return DomainOutcome(name, error=_one_line(error))
    except Exception as error:  # an envscale bug in one domain must not stop the others
        return DomainOutcome(name, error=f"internal error: {type(error).__name__}: {error}")
    counts = DomainCounts()
    for c in result.counts.values():  # one domain, under the name its spec declares
        counts.merge(c)
    outcome = DomainOutcome(name, counts, result.ran, result.shortfalls(job.tasks, job.trials))
    if counts.errors == 0:  # lost episodes are retried by the next run
        (job.out / DONE_FILE).write_text(json.dumps(_counts_dict(outcome)) + "\n", "utf-8")
    return outcome


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:500] if text else type(error).__name__


def _counts_dict(outcome: DomainOutcome) -> dict[str, Any]:
    c = outcome.counts or DomainCounts()
    return {
        "domain": outcome.name,
        "tasks": c.tasks,
        "episodes": c.episodes,
        "kept": c.stages[STAGES[-1]],
        "stages": dict(c.stages),
        "failed_calls": c.failed_calls,
        "internal_errors": c.internal_errors,
        "errors": c.errors,
        "failures": dict(c.failures),
        "shortfalls": outcome.shortfalls,
        **({"error": outcome.error} if outcome.error else {}),
    }


def _done(job: Job) -> DomainOutcome | None:
    path = job.out / DONE_FILE
    if not path.is_file() or not (job.out / JOB_FILE).is_file():
        return None
    try:
        saved = json.loads(path.read_text("utf-8"))
        counts = DomainCounts(
            tasks=saved["tasks"],
            episodes=saved["episodes"],
            stages={s: saved["stages"][s] for s in STAGES},
            failed_calls=saved["failed_calls"],
            internal_errors=saved["internal_errors"],
            failures=Counter(saved["failures"]),
        )
        return DomainOutcome(saved["domain"], counts, 0, list(saved["shortfalls"]))
    except (ValueError, KeyError, TypeError):
        return None  # a marker that does not read is no marker: the domain's job resumes


def _describe(base: Job, directory: Path) -> dict[str, Any]:
    return {
        "envscale": __version__,
        "directory": str(directory.resolve()),
        "tasks_per_domain": base.tasks,
        "data": [base.data, base.data_seed, base.data_size]
        + ([base.data_states] if base.data_states > 1 else []),
        "max_length": base.max_length,
        "seed": base.seed,
        "trials": base.trials,
        "max_steps": base.max_steps,
        "agent": base.agent.describe(),
        "user": base.user.describe(),
    }


def _outcomes(base: Job, jobs: list[Job]) -> Iterator[DomainOutcome]:
    if not jobs:
        return iter(())
    if base.executor == "ray":
        ran = map_ray(run_domain, jobs, base.workers, base.ray_address, recycle=RECYCLE)
        return (outcome for _, outcome in ran)
    if base.executor != "local":
        raise JobError(f"unknown executor '{base.executor}' (local or ray)")
    if base.workers > 1 or len(jobs) > RECYCLE:
        workers = max(1, min(base.workers, len(jobs)))
        return (outcome for _, outcome in map_pool(run_domain, jobs, workers, recycle=RECYCLE))
    return (run_domain(job) for job in jobs)


def _concatenate(out: Path, name: str, folders: list[Path]) -> Path:
    """The domains' files of one name, in order, as one file (written whole, then renamed)."""
    target = out / name
    tmp = out / f".{name}.tmp"
    with open(tmp, "wb") as sink:
        for folder in folders:
            part = folder / name
            if part.is_file():
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, sink)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(tmp, target)
    return target


def generate_directory(directory: Path, base: Job) -> DirectoryResult:
    """Generate over every kept domain of a synthesised directory; `base.tasks` is the budget
    per domain and `base.out` the output folder. Resumable: a rerun skips done domains."""
    selection = kept_domains(directory)
    if not selection.domains:
        raise JobError(
            f"{directory / INDEX_FILE} lists no kept domain that can run "
            f"({selection.rejected} rejected, {len(selection.unusable)} unusable)"
        )
    base.out.mkdir(parents=True, exist_ok=True)
    check_job_file(base.out / JOB_FILE, _describe(base, directory))
    jobs = [_domain_job(base, d) for d in selection.domains]
    outcomes: dict[str, DomainOutcome] = {}
    todo = []
    for job in jobs:
        done = _done(job)
        if done is not None:
            outcomes[job.out.name] = done
        else:
            todo.append(job)
    skipped = len(outcomes)
    progress = Progress(len(jobs), skipped, label="domains", enabled=base.progress)
    started = time.perf_counter()
    for outcome in _outcomes(base, todo):
        outcomes[outcome.name] = outcome
        # "kept" counts the domains that kept at least one trajectory.
        progress.update(1, int(bool(outcome.counts and outcome.counts.stages[STAGES[-1]])))
    progress.close()
    seconds = time.perf_counter() - started
    ordered = {job.out.name: outcomes[job.out.name] for job in jobs}
    folders = [job.out for job in jobs]
    tasks_path = _concatenate(base.out, TASKS_FILE, folders)
    trajectories_path = _concatenate(base.out, TRAJECTORIES_FILE, folders)
    summary = {
        "directory": str(directory),
        "domains": len(jobs),
        "rejected": selection.rejected,
        "unusable": [{"domain": n, "reason": why} for n, why in selection.unusable],
        "per_domain": [_counts_dict(o) for o in ordered.values()],
    }
    text = json.dumps(summary, indent=1, ensure_ascii=False) + "\n"
    (base.out / SUMMARY_FILE).write_text(text, "utf-8")
    return DirectoryResult(ordered, selection, skipped, seconds, tasks_path, trajectories_path)
