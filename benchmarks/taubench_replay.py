"""Replay every visible tau-bench case on the shipped retail and airline specs.

Prints, per domain, the median per-case time of reset, one tool call, the final-state
check (the document diff and its canonical hash), and the whole episode; and, measured in
the same run on the same machine, the same steps done the way tau-bench does them: reset by
reloading the JSON documents, and the final check by hashing the whole database.

    python benchmarks/taubench_replay.py [--shared ../shared] [--repeat 1] [--quick]

tau-bench's own implementation, measured on this kind of machine (from the issue):
reset 23 ms (retail) / 53 ms (airline), a tool call 53 µs, final hash 99 / 338 ms,
reward evaluation 386 / 768 ms per episode.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replaybench import Table, parse_args, time_episodes, time_reference  # noqa: E402

from envscale.conformance.taubench import canonical, read_cases  # noqa: E402
from envscale.conformance.taubench import environment as conformance_environment  # noqa: E402

CASES = {
    "retail": ["tasks.train.jsonl", "tasks.dev.jsonl", "probes.jsonl"],
    "airline": ["tasks.jsonl", "probes.jsonl"],
}


def bench_domain(domain: str, data: Path, repeat: int) -> dict:
    env, layout = conformance_environment(
        ROOT / "specs" / f"{domain}.domain", ROOT / "specs" / f"{domain}.layout.json", data
    )
    cases = [c for name in CASES[domain] for c in read_cases(data / name)]

    def play(case: dict, timed: Callable[[Callable[[], Any]], Any]) -> None:
        for action in case["actions"]:
            timed(lambda action=action: env.call(action["name"], action["kwargs"]))

    def check() -> None:
        hashlib.sha256(canonical(layout.document_diff(env)).encode()).hexdigest()
        env.state_hash()

    stats = time_episodes(cases, repeat, env.reset, play, check)
    return {"cases": len(cases), **stats, "layout": layout}


def bench_reference(data: Path, layout, samples: int = 20) -> dict:
    """Reset by reloading the JSON documents and final check by hashing the whole database."""

    def reload() -> dict:
        return {
            t.name: json.loads((data / t.file).read_text(encoding="utf-8")) for t in layout.tables
        }

    def digest(db: dict) -> str:
        return hashlib.sha256(
            json.dumps(copy.deepcopy(db), sort_keys=True, default=str).encode()
        ).hexdigest()

    return time_reference(samples, reload, digest)


def main() -> None:
    args = parse_args(__doc__)
    base = Path(args.shared) / "conformance" / "taubench"
    table = Table(label_width=10)
    table.header()
    for domain in CASES:
        ours = bench_domain(domain, base / domain, args.repeat)
        ref = bench_reference(base / domain, ours["layout"], samples=2 if args.quick else 20)
        table.ours(domain, ours["cases"], ours)
        table.reference(ref, "tau-bench's way, same machine", ours=ours)


if __name__ == "__main__":
    main()
