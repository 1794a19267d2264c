"""The domain stages of a synthesis, for communities however they were made: a spec per
community, an optional model's revision, verification, and the output folder (see
`output.py`): results written as domains finish, then the index, report.json and plots.
`run.py` puts the earlier stages (ingest, graph, partition) in front of it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from envscale import __version__
from envscale.jobs.progress import Progress
from envscale.records import DomainEntry
from envscale.synth.domains import DomainJob, Drafter, Improver, community_hash, peak_rss_mb
from envscale.synth.graph import NEIGHBOURS, THRESHOLD
from envscale.synth.output import (
    PLOTS_FOLDER,
    REPORT_FILE,
    load_outcomes,
    save_outcome,
    write_index,
    write_json,
)
from envscale.synth.parallel import run_jobs
from envscale.synth.partition import MAX_SIZE, MIN_SIZE, RESOLUTION
from envscale.synth.records import ApiTool, Community
from envscale.synth.summary import build_report, reason_kind, summary_table, write_plots

DEFAULT_TASKS = 20


@dataclass
class SynthOptions:
    inputs: list[Path]
    out: Path
    seed: int = 0
    workers: int = 1
    executor: str = "local"  # local | ray
    ray_address: str | None = None
    vectoriser: str = "hashed"
    threshold: float = THRESHOLD  # cosine similarity above which two tools are linked
    neighbours: int = NEIGHBOURS  # nearest neighbours searched per tool
    resolution: float = RESOLUTION  # Louvain's
    min_size: int = MIN_SIZE
    max_size: int = MAX_SIZE
    tasks: int = DEFAULT_TASKS  # tasks sampled per domain, at least (see verify)
    limit: int | None = None  # the first N tools only
    improve: Improver | None = None  # a model's revision of each draft
    improve_description: dict[str, Any] = field(default_factory=dict)  # for run.json
    drafter: Drafter | None = None  # None: the heuristic spec writer (run.py)
    progress: bool = True
    stream: TextIO | None = None  # progress and warnings; stderr by default


@dataclass
class SynthReport:
    out: Path
    entries: list[DomainEntry]
    report: dict[str, Any]
    made: int  # domains made by this run (the others were on disk)
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[DomainEntry]:
        return [e for e in self.entries if e.status == "kept"]

    def table(self) -> str:
        return summary_table(self.report)


def as_dict(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_dict(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): as_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    if isinstance(value, Counter):
        return dict(value)
    return value


def _inputs_digest(paths: Sequence[Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out.append({"path": str(path), "sha256": digest.hexdigest()})
    return out


def describe(options: SynthOptions) -> dict[str, Any]:
    """What run.json holds: everything that shapes the output."""
    return {
        "envscale": __version__,
        "inputs": _inputs_digest(options.inputs),
        "seed": options.seed,
        "vectoriser": options.vectoriser,
        "threshold": options.threshold,
        "neighbours": options.neighbours,
        "resolution": options.resolution,
        "min_size": options.min_size,
        "max_size": options.max_size,
        "tasks": options.tasks,
        "limit": options.limit,
        "drafter": _name(options.drafter),
        "improve": options.improve_description or None,
    }


def _name(function: Any) -> str | None:
    if function is None:
        return None
    inner = getattr(function, "func", function)  # a functools.partial
    return f"{inner.__module__}.{inner.__qualname__}"


class _StageBar(Progress):
    """A stage that runs as one call: its bar fills when it ends, with its wall time."""

    def render(self, now: float) -> str:
        width = 24
        filled = width * self.done // self.total if self.total else width
        elapsed = max(now - self.started, 0.0)
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.label}  {elapsed:.1f} s"


class Stages:
    """Wall time and peak memory (the process's high-water mark so far) of each stage."""

    def __init__(self, options: SynthOptions, stream: TextIO) -> None:
        self.options = options
        self.stream = stream
        self.figures: dict[str, dict[str, Any]] = {}

    def run(self, name: str, body: Callable[[], Any], **counts: Any) -> Any:
        bar = _StageBar(1, label=name, stream=self.stream, enabled=self.options.progress)
        started = time.perf_counter()
        value = body()
        bar.update(1, 1)
        bar.close()
        self.figures[name] = {
            **counts,
            "seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": peak_rss_mb(),
        }
        return value


def has_parameters(tool: ApiTool) -> bool:
    return bool((tool.parameters or {}).get("properties"))


def synthesise_communities(
    options: SynthOptions, communities: Sequence[Community], stage_figures: dict[str, Any]
) -> SynthReport:
    """The domain stages alone, for communities made elsewhere (`stage_figures` as
    stages.json holds them: `stages`, `tools_total`, `tools_with_parameters`)."""
    stream = options.stream or sys.stderr
    options.out.mkdir(parents=True, exist_ok=True)
    return domain_stages(options, list(communities), stage_figures, stream, time.perf_counter())


def domain_stages(
    options: SynthOptions,
    communities: list[Community],
    saved: dict[str, Any],
    stream: TextIO,
    started: float,
) -> SynthReport:
    out = options.out
    outcomes = load_outcomes(out)
    todo = [
        c
        for c in communities
        if c.name not in outcomes
        or outcomes[c.name].community_hash != community_hash(c, options.seed, options.tasks)
    ]
    assert options.drafter is not None, "no drafter given"
    drafter = options.drafter
    jobs = [DomainJob(c, options.seed, options.tasks, drafter, options.improve) for c in todo]
    progress = Progress(
        len(communities),
        len(communities) - len(todo),
        label="domains",
        stream=stream,
        enabled=options.progress,
    )
    stage_started = time.perf_counter()
    for _, outcome in run_jobs(jobs, options.workers, options.executor, options.ray_address):
        save_outcome(out, outcome)
        outcomes[outcome.entry.name] = outcome
        progress.update(1, int(outcome.entry.status == "kept"))
    progress.close()
    domain_seconds = time.perf_counter() - stage_started
    write_started = time.perf_counter()
    entries = [outcomes[c.name].entry for c in communities]
    write_index(out, entries)
    figures = dict(saved.get("stages") or {})
    report = build_report(
        communities,
        outcomes,
        figures,
        int(saved.get("tools_total") or sum(len(c.tools) for c in communities)),
        int(
            saved.get("tools_with_parameters")
            or sum(1 for c in communities for t in c.tools if has_parameters(t))
        ),
    )
    report["stages"]["domains"]["wall_seconds"] = round(domain_seconds, 3)
    report["stages"]["domains"]["made_this_run"] = len(todo)
    report["stages"]["domains"]["workers"] = options.workers
    report["stages"]["domains"]["executor"] = options.executor
    plots = write_plots(report, out / PLOTS_FOLDER)
    report["plots"] = [str(p.relative_to(out)) for p in plots]
    report["stages"]["write"] = {
        "in": len(entries),
        "out": len(entries),
        "seconds": round(time.perf_counter() - write_started, 3),
        "peak_rss_mb": peak_rss_mb(),
    }
    write_json(out / REPORT_FILE, report)
    warnings = list(saved.get("warnings") or [])
    kept = sum(1 for e in entries if e.status == "kept")
    if kept < len(communities):
        reasons = Counter(reason_kind(r) for e in entries for r in e.reasons)
        common = "; ".join(f"{n} × {why}" for why, n in reasons.most_common(5))
        warnings.append(
            f"{kept} of {len(communities)} communities became kept domains; the others were "
            f"rejected (most often: {common or 'no reason recorded'}); see {out / 'index.jsonl'}"
        )
    for line in warnings:
        print(f"warning: {line}", file=stream)
    return SynthReport(
        out=out,
        entries=entries,
        report=report,
        made=len(todo),
        seconds=time.perf_counter() - started,
        warnings=warnings,
    )


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
