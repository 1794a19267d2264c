"""Replay every visible tau-bench case on the shipped retail and airline specs.

Prints, per domain, the median per-case time of reset, one tool call, the final-state
check (the document diff and its canonical hash), and the whole episode; and, measured in
the same run on the same machine, the same steps done the way tau-bench does them: reset by
reloading the JSON documents, and the final check by hashing the whole database.

    python benchmarks/taubench_replay.py [--shared ../shared] [--repeat 1]

tau-bench's own implementation, measured on this kind of machine (from the issue):
reset 23 ms (retail) / 53 ms (airline), a tool call 53 µs, final hash 99 / 338 ms,
reward evaluation 386 / 768 ms per episode.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.conformance.taubench import canonical, read_cases  # noqa: E402
from envscale.conformance.taubench import environment as conformance_environment  # noqa: E402

CASES = {
    "retail": ["tasks.train.jsonl", "tasks.dev.jsonl", "probes.jsonl"],
    "airline": ["tasks.jsonl", "probes.jsonl"],
}


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6 if samples else float("nan")


def bench_domain(domain: str, data: Path, repeat: int) -> dict:
    env, layout = conformance_environment(
        ROOT / "specs" / f"{domain}.domain", ROOT / "specs" / f"{domain}.layout.json", data
    )
    cases = [c for name in CASES[domain] for c in read_cases(data / name)]
    t_reset, t_call, t_check, t_episode = [], [], [], []
    for _ in range(repeat):
        for case in cases:
            start = time.perf_counter()
            env.reset()
            t_reset.append(time.perf_counter() - start)
            for action in case["actions"]:
                t0 = time.perf_counter()
                env.call(action["name"], action["kwargs"])
                t_call.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hashlib.sha256(canonical(layout.document_diff(env)).encode()).hexdigest()
            env.state_hash()
            t_check.append(time.perf_counter() - t0)
            t_episode.append(time.perf_counter() - start)
    return {
        "cases": len(cases),
        "reset": median_us(t_reset),
        "call": median_us(t_call),
        "check": median_us(t_check),
        "episode": median_us(t_episode),
        "layout": layout,
    }


def bench_reference(data: Path, layout, samples: int = 20) -> dict:
    """Reset by reloading the JSON documents and final check by hashing the whole database."""
    reloads, hashes = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        db = {
            t.name: json.loads((data / t.file).read_text(encoding="utf-8")) for t in layout.tables
        }
        reloads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hashlib.sha256(
            json.dumps(copy.deepcopy(db), sort_keys=True, default=str).encode()
        ).hexdigest()
        hashes.append(time.perf_counter() - t0)
    return {"reset": median_us(reloads), "check": median_us(hashes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(ROOT.parent / "shared"), help="the shared folder with conformance/"
    )
    parser.add_argument("--repeat", type=int, default=1, help="replays of every case")
    parser.add_argument("--quick", action="store_true", help="a few seconds' run, for the tests")
    args = parser.parse_args()
    base = Path(args.shared) / "conformance" / "taubench"
    print(
        f"{'domain':8} {'cases':>6} {'':10} {'reset':>10} {'call':>9} {'final check':>12} "
        f"{'episode':>10}"
    )
    for domain in CASES:
        ours = bench_domain(domain, base / domain, args.repeat)
        ref = bench_reference(base / domain, ours["layout"], samples=2 if args.quick else 20)
        print(
            f"{domain:8} {ours['cases']:>6} {'envscale':10} {ours['reset']:>8.1f}µs "
            f"{ours['call']:>7.1f}µs "
            f"{ours['check']:>10.1f}µs {ours['episode']:>8.1f}µs"
        )
        print(
            f"{'':8} {'':>6} {'reload+hash':10} {ref['reset'] / 1000:>8.1f}ms {'':>9} "
            f"{ref['check'] / 1000:>10.1f}ms "
            f"{'':>10}   (tau-bench's way, same machine)"
        )


if __name__ == "__main__":
    main()
