"""The work of a tool call on the tau-bench replays, counted rather than timed.

Prints, per domain and per tool, the Python function calls (cProfile's count) and the SQL
statements (apsw's statement trace) of each call of every visible tau-bench case, replayed
as `taubench_replay.py` replays them. The counts do not depend on the machine's load, so
two versions can be compared on a shared machine where timings swing by half.

    python benchmarks/callwork.py [--shared ../shared] [--quick]
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replaybench import parse_args  # noqa: E402
from taubench_replay import CASES, read_domain_cases  # noqa: E402

from envscale.conformance.taubench import environment as conformance_environment  # noqa: E402


def count_domain(domain: str, data: Path, quick: bool) -> dict[str, list[tuple[int, int]]]:
    """Per tool, (function calls, statements) of each of its calls."""
    env, _ = conformance_environment(
        ROOT / "specs" / f"{domain}.domain", ROOT / "specs" / f"{domain}.layout.json", data
    )
    cases = read_domain_cases(domain, data)
    if quick:
        cases = cases[:20]
    statements = [0]

    def traced(cursor: Any, sql: str, bindings: Any) -> bool:
        statements[0] += 1
        return True

    by_tool: dict[str, list[tuple[int, int]]] = {}
    for case in cases:
        env.reset()
        for action in case["actions"]:
            profile = cProfile.Profile()
            statements[0] = 0
            env.connection.exec_trace = traced
            profile.enable()
            env.call(action["name"], action["kwargs"])
            profile.disable()
            env.connection.exec_trace = None
            calls = pstats.Stats(profile).total_calls
            by_tool.setdefault(action["name"], []).append((calls, statements[0]))
    env.close()
    return by_tool


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    args = parse_args(__doc__)
    base = Path(args.shared) / "conformance" / "taubench"
    print(f"{'domain':8} {'tool':34} {'calls':>6} {'py calls/call':>14} {'SQL/call':>9}")
    for domain in CASES:
        by_tool = count_domain(domain, base / domain, args.quick)
        every = [sample for samples in by_tool.values() for sample in samples]
        print(
            f"{domain:8} {'(every call)':34} {len(every):>6} "
            f"{mean([c for c, _ in every]):>14.1f} {mean([s for _, s in every]):>9.2f}"
        )
        for tool, samples in sorted(by_tool.items(), key=lambda item: -len(item[1])):
            print(
                f"{'':8} {tool:34} {len(samples):>6} "
                f"{mean([c for c, _ in samples]):>14.1f} {mean([s for _, s in samples]):>9.2f}"
            )


if __name__ == "__main__":
    main()
