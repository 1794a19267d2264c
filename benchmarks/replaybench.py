"""What the replay benchmarks share: their arguments, the timed episode loop, and the table
they print (ours beside the reference's way, measured in the same run)."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

STAGES = ("reset", "call", "check", "episode")


def parse_args(doc: str, argv: list[str] | None = None) -> argparse.Namespace:
    """--shared (the folder with conformance/), --repeat, --quick."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(ROOT.parent / "shared"), help="the shared folder with conformance/"
    )
    parser.add_argument("--repeat", type=int, default=1, help="replays of every case")
    parser.add_argument("--quick", action="store_true", help="a few seconds' run, for the tests")
    return parser.parse_args(argv)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6 if samples else float("nan")


@dataclass
class Timings:
    """Per-stage samples in seconds: reset, each call, the final check, the whole episode."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def medians(self) -> dict[str, float]:
        return {stage: median_us(values) for stage, values in self.samples.items()}


def time_episodes(
    cases: Iterable[dict],
    repeat: int,
    reset: Callable[[], Any],
    play: Callable[[dict, Callable[[Callable[[], Any]], Any]], Any],
    check: Callable[[], Any],
    by_tool: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """Median microseconds of each stage over `repeat` replays of every case. `play(case,
    timed)` runs a case's calls, passing each call (a thunk) through `timed`, which times it;
    `timed(call, tool)` also adds the sample to `by_tool[tool]` when `by_tool` is given."""
    cases = list(cases)
    timings = Timings()
    calls = timings.samples["call"]

    def timed(call: Callable[[], Any], tool: str | None = None) -> Any:
        t0 = time.perf_counter()
        try:
            return call()
        finally:
            spent = time.perf_counter() - t0
            calls.append(spent)
            if by_tool is not None and tool is not None:
                by_tool.setdefault(tool, []).append(spent)

    for _ in range(repeat):
        for case in cases:
            start = time.perf_counter()
            reset()
            timings.samples["reset"].append(time.perf_counter() - start)
            play(case, timed)
            t0 = time.perf_counter()
            check()
            timings.samples["check"].append(time.perf_counter() - t0)
            timings.samples["episode"].append(time.perf_counter() - start)
    return timings.medians()


def time_reference(
    samples: int, reload: Callable[[], Any], digest: Callable[[Any], Any]
) -> dict[str, float]:
    """The reference's reset (`reload()`, the database read into dicts again) and final check
    (`digest(db)`, the whole database hashed), median microseconds of each."""
    reloads, hashes = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        db = reload()
        reloads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        digest(db)
        hashes.append(time.perf_counter() - t0)
    return {"reset": median_us(reloads), "check": median_us(hashes)}


class Table:
    """The printed comparison: a row of ours per domain, the reference's row under it."""

    def __init__(self, label_width: int) -> None:
        self.width = label_width

    def header(self) -> None:
        print(
            f"{'domain':8} {'cases':>6} {'':{self.width}} {'reset':>10} {'call':>9} "
            f"{'final check':>12} {'episode':>10}"
        )

    def ours(self, domain: str, cases: int, stats: dict[str, float]) -> None:
        print(
            f"{domain:8} {cases:>6} {'envscale':{self.width}} {stats['reset']:>8.1f}µs "
            f"{stats['call']:>7.1f}µs {stats['check']:>10.1f}µs {stats['episode']:>8.1f}µs"
        )

    def reference(
        self,
        ref: dict[str, float],
        note: str,
        episode: bool = True,
        ours: dict[str, float] | None = None,
    ) -> None:
        """The reference's row; with `episode`, its reload + hash in the episode column, and
        with `ours` as well, how many times faster our episode is."""
        total = f"{(ref['reset'] + ref['check']) / 1000:>8.1f}ms" if episode else f"{'':>10}"
        if episode and ours is not None and ours["episode"] > 0:
            times = (ref["reset"] + ref["check"]) / ours["episode"]
            note += f"; {times:,.0f}x our episode" if times >= 10 else f"; {times:.2f}x our episode"
        call = f"{ref['call']:>7.1f}µs" if "call" in ref else f"{'':>9}"
        print(
            f"{'':8} {'':>6} {'reload+hash':{self.width}} {ref['reset'] / 1000:>8.1f}ms "
            f"{call} {ref['check'] / 1000:>10.1f}ms {total}   ({note})"
        )

    def per_tool(self, ours: dict[str, list[float]], theirs: dict[str, list[float]]) -> None:
        """Median call per tool, ours beside the reference's (when it timed the tool), most
        called first."""
        print(f"{'':8} {'tool':32} {'calls':>6} {'envscale':>10} {'reference':>10} {'ratio':>7}")
        for tool, samples in sorted(ours.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            mine = median_us(samples)
            other = median_us(theirs[tool]) if theirs.get(tool) else None
            shown = f"{other:>8.1f}µs" if other is not None else f"{'-':>10}"
            ratio = f"{mine / other:>6.2f}x" if other else f"{'':>7}"
            print(f"{'':8} {tool:32} {len(samples):>6} {mine:>8.1f}µs {shown} {ratio}")
