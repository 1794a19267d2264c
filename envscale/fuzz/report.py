"""The records every attack returns: how many inputs it tried and the problems it found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# The kinds of problem an attack may report. A problem is a defect in envscale, never in the
# attacking input: an input that is rejected cleanly is a success.
ESCAPED_EXCEPTION = "escaped exception"  # an exception left env.call, check, a job or the CLI
STATE_CHANGED = "state changed after a failed call"
HASH_EXPORT = "hash/export disagreement"  # equal hashes for different exports, or the reverse
SQL_PYTHON = "SQL/Python disagreement"  # one expression, two answers
TRACEBACK = "traceback"  # a command printed a Python traceback
# a spec that checks clean but then fails to compile, load, generate data or run a call
FAILED_LATER = "passed check, failed later"
WRONG_POSITION = "diagnostic at the wrong place"
# `envscale fmt` output that compiles to other artifacts, changes again when formatted, or is
# refused as not saying what its input says
FORMAT_CHANGED = "formatting changed the spec"
# an episode a job did not record exactly once where it belongs (with its reason when lost),
# or that a rerun asked for again although it had finished
EPISODE_RECORD = "episode recorded wrong"
KINDS = (
    ESCAPED_EXCEPTION,
    STATE_CHANGED,
    HASH_EXPORT,
    SQL_PYTHON,
    TRACEBACK,
    FAILED_LATER,
    WRONG_POSITION,
    EPISODE_RECORD,
    FORMAT_CHANGED,
)

EXAMPLES_KEPT = 5  # per kind, so a long run's report stays readable


@dataclass
class Problem:
    kind: str
    detail: str  # what went wrong, one line
    reproducer: str  # the input that shows it (a call, a spec text, an expression), shortened


@dataclass
class Tally:
    attack: str
    tried: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(self.counts.values())

    def add(self, problem: Problem) -> None:
        if problem.kind not in KINDS:
            raise ValueError(f"unknown problem kind {problem.kind!r}")
        self.counts[problem.kind] = self.counts.get(problem.kind, 0) + 1
        if sum(1 for p in self.examples if p.kind == problem.kind) < EXAMPLES_KEPT:
            self.examples.append(problem)

    def merge(self, other: Tally) -> None:
        self.tried += other.tried
        for problem in other.examples:
            if sum(1 for p in self.examples if p.kind == problem.kind) < EXAMPLES_KEPT:
                self.examples.append(problem)
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n


@dataclass(frozen=True)
class Attack:
    """One class of attack. `unit` says what `run` counts (calls, specs, expressions,
    episodes); `run(count, seed)` tries `count` inputs drawn from `seed` and must itself never
    raise: whatever goes wrong is a Problem in the tally. `share` weighs the attack's part of
    its unit's total against the other attacks of that unit (an input that costs more to try
    gets a smaller share)."""

    name: str
    unit: str
    run: Callable[[int, int], Tally]
    share: float = 1.0


def shorten(text: str, limit: int = 300) -> str:
    text = text if len(text) <= limit else text[: limit - 20] + f"... ({len(text)} chars)"
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")
