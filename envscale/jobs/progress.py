"""A progress bar on stderr and the summary table of a generation job."""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from envscale.records import Trajectory
from envscale.rollout.filters import STAGES


class Progress:
    """Redraws in place on a terminal; elsewhere prints a line at every tenth of the way."""

    def __init__(
        self,
        total: int,
        done: int = 0,
        label: str = "episodes",
        stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:
        self.total, self.done, self.start_done = total, done, done
        self.kept = 0
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.last_draw = 0.0
        self.last_tenth = -1

    def update(self, episodes: int, kept: int) -> None:
        self.done += episodes
        self.kept += kept
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty and now - self.last_draw >= 0.1:
            self.last_draw = now
            self.stream.write("\r" + self.render(now) + "\x1b[K")
            self.stream.flush()
        elif not self.tty and (tenth := self.done * 10 // self.total) != self.last_tenth:
            self.last_tenth = tenth
            self.stream.write(self.render(now) + "\n")
            self.stream.flush()

    def render(self, now: float) -> str:
        width = 24
        filled = width * self.done // self.total if self.total else width
        elapsed = max(now - self.started, 1e-9)
        ran = self.done - self.start_done
        rate = ran / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        share = f" ({100 * self.kept / ran:.0f}%)" if ran else ""
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {self.label}"
            f"  {rate:.1f}/s  kept {self.kept}{share}  elapsed {_clock(elapsed)}  eta {_clock(eta)}"
        )

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\r" + self.render(time.perf_counter()) + "\x1b[K\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


@dataclass
class DomainCounts:
    tasks: int = 0
    episodes: int = 0
    stages: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(STAGES, 0)
    )  # passed it and all before
    failed_calls: int = 0
    internal_errors: int = 0  # calls that failed on a bug in envscale; their episodes are not kept
    tokens: int = 0
    estimated: bool = False
    errors: int = 0  # episodes a backend failure stopped, this run
    failures: Counter[str] = field(default_factory=Counter)  # why episodes were not kept

    def add(self, trajectory: Trajectory) -> None:
        self.episodes += 1
        passed = True
        for stage in STAGES:
            passed = passed and bool(trajectory.filters.get(stage))
            self.stages[stage] += passed
        meta = trajectory.meta
        if not passed:
            self.failures[failure_kind(meta.failure)] += 1
        self.failed_calls += meta.failed_calls or 0
        self.internal_errors += meta.internal_errors or 0
        if meta.usage is not None:
            for usage in (meta.usage.agent, meta.usage.user):
                self.tokens += usage.completion_tokens + usage.prompt_tokens
                self.estimated = self.estimated or usage.estimated

    def merge(self, other: DomainCounts) -> None:
        self.tasks += other.tasks
        self.episodes += other.episodes
        for stage in STAGES:
            self.stages[stage] += other.stages[stage]
        self.failed_calls += other.failed_calls
        self.internal_errors += other.internal_errors
        self.tokens += other.tokens
        self.estimated = self.estimated or other.estimated
        self.errors += other.errors
        self.failures.update(other.failures)


def failure_kind(failure: str | None) -> str:
    """A trajectory's failure with its particulars (numbers, quoted values) left out, so
    that episodes failing the same way count together."""
    if not failure:
        return "no reason recorded"
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\([^)]*\)", "…", failure.split(";")[0])
    return re.sub(r"\d+", "N", text)[:120]


def _row(name: str, c: DomainCounts) -> list[str]:
    return [
        name,
        str(c.tasks),
        str(c.episodes),
        *(str(c.stages[s]) for s in STAGES),
        str(c.failed_calls),
        str(c.internal_errors),
        f"{'~' if c.estimated else ''}{c.tokens}",
        str(c.errors),
    ]


def summary_table(counts: dict[str, DomainCounts], seconds: float, ran: int) -> str:
    header = [
        "domain",
        "tasks",
        "episodes",
        "valid",
        "+state",
        "+exact=kept",
        "failed calls",
        "internal errors",
        "tokens",
        "errors",
    ]
    total = DomainCounts()
    for c in counts.values():
        total.merge(c)
    cells = [header, *(_row(name, c) for name, c in counts.items())]
    if len(counts) > 1:
        cells.append(_row("total", total))
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rate = ran / seconds if seconds > 0 else 0.0
    lines.append(
        f"this run: {ran} episodes in {seconds:.1f} s ({rate:.1f}/s)"
        + ("; tokens marked ~ are word counts of scripted turns" if total.estimated else "")
    )
    if total.internal_errors:
        lines.append(
            f"{total.internal_errors} calls failed on an internal error of the environment "
            "(a bug in envscale; their episodes fail the validity filter): see the tool "
            "messages that read 'Error: internal error: ...'"
        )
    if total.errors:
        lines.append(
            f"{total.errors} episodes stopped on a backend or internal error (see errors.jsonl); "
            "run the same command again to retry them"
        )
    return "\n".join(lines)
