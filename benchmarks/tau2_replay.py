"""Replay the visible tau2-bench cases on the tau2 versions of the retail and airline specs.

Prints, per domain, the median per-case time of reset, one tool call, the final-state check
(the database diff, its canonical hash, and the state hash), and the whole episode; and,
measured in the same run on the same machine, the same steps done tau2's way, implemented
here since tau2's code is not: reset by loading the database's JSON into dicts again, and the
final check by `sha256(json.dumps(db, sort_keys=True))` of the whole database. It also checks,
on a sample of cases, that the whole database after our replay hashes, tau2's way, to the
case's `final_db_hash`.

    python benchmarks/tau2_replay.py [--shared ../shared] [--repeat 1] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.conformance.replay import canonical, read_cases  # noqa: E402
from envscale.conformance.tau2 import AGENT, Tau2Domain, environment  # noqa: E402

DOMAINS = ("retail", "airline")


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6 if samples else float("nan")


def tau2_hash(db: dict) -> str:
    """tau2's `get_db_hash`: SHA-256 of the whole database's JSON, keys sorted."""
    return hashlib.sha256(json.dumps(db, sort_keys=True, default=str).encode()).hexdigest()


def load_domain(data: Path, name: str) -> Tau2Domain:
    specs = ROOT / "specs"
    return environment(specs / f"{name}.tau2.domain", specs / f"{name}.tau2.layout.json", data)


def bench_domain(domain: Tau2Domain, cases: list[dict], repeat: int) -> dict:
    side = domain.sides[AGENT]
    t_reset, t_call, t_check, t_episode = [], [], [], []
    for _ in range(repeat):
        for case in cases:
            start = time.perf_counter()
            domain.reset()
            t_reset.append(time.perf_counter() - start)
            for action in case["actions"]:
                t0 = time.perf_counter()
                domain.call(AGENT, action["name"], action.get("kwargs"))
                t_call.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hashlib.sha256(canonical(side.own_diff()).encode()).hexdigest()
            side.env.state_hash()
            t_check.append(time.perf_counter() - t0)
            t_episode.append(time.perf_counter() - start)
    return {
        "reset": median_us(t_reset),
        "call": median_us(t_call),
        "check": median_us(t_check),
        "episode": median_us(t_episode),
    }


def bench_reference(data: Path, samples: int) -> dict:
    """tau2's way: the database's JSON loaded into dicts again, and hashed whole."""
    reloads, hashes = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        db = json.loads((data / "db.json").read_text(encoding="utf-8"))
        reloads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tau2_hash(db)
        hashes.append(time.perf_counter() - t0)
    return {"reset": median_us(reloads), "check": median_us(hashes)}


def hashes_agree(domain: Tau2Domain, cases: list[dict]) -> tuple[int, int]:
    """Cases whose whole database after our replay hashes, tau2's way, to final_db_hash."""
    side = domain.sides[AGENT]
    agreed = 0
    for case in cases:
        domain.reset()
        for action in case["actions"]:
            domain.call(AGENT, action["name"], action.get("kwargs"))
        agreed += tau2_hash(side.layout.export(side.env)) == case["final_db_hash"]
    return agreed, len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", default=str(ROOT.parent / "shared"), help="the shared folder with conformance/"
    )
    parser.add_argument("--repeat", type=int, default=1, help="replays of every case")
    parser.add_argument("--quick", action="store_true", help="a few seconds' run, for the tests")
    args = parser.parse_args()
    base = Path(args.shared) / "conformance" / "tau2"
    print(
        f"{'domain':8} {'cases':>6} {'':12} {'reset':>10} {'call':>9} {'final check':>12} "
        f"{'episode':>10}"
    )
    for name in DOMAINS:
        data = base / name
        cases = [c for f in ("tasks.jsonl", "probes.jsonl") for c in read_cases(data / f)]
        if args.quick:
            cases = cases[::10]
        domain = load_domain(data, name)
        ours = bench_domain(domain, cases, args.repeat)
        ref = bench_reference(data, samples=2 if args.quick else 20)
        agreed, checked = hashes_agree(
            domain, list(itertools.islice(cases, 3 if args.quick else 20))
        )
        print(
            f"{name:8} {len(cases):>6} {'envscale':12} {ours['reset']:>8.1f}µs "
            f"{ours['call']:>7.1f}µs {ours['check']:>10.1f}µs {ours['episode']:>8.1f}µs"
        )
        print(
            f"{'':8} {'':>6} {'reload+hash':12} {ref['reset'] / 1000:>8.1f}ms {'':>9} "
            f"{ref['check'] / 1000:>10.1f}ms {(ref['reset'] + ref['check']) / 1000:>8.1f}ms"
            "   (tau2's way, same machine; its calls not counted)"
        )
        print(f"{'':8} whole-database hash equals tau2's final_db_hash: {agreed}/{checked} cases")


if __name__ == "__main__":
    main()
