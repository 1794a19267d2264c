"""Replay the visible tau2-bench cases on the tau2 versions of the retail and airline specs,
and on the telecom spec.

Prints, per domain, the median per-case time of reset, one tool call, the final-state check
(the database diff, its canonical hash, and the state hash), and the whole episode; and,
measured in the same run on the same machine, the same steps done tau2's way, implemented
here since tau2's code is not: reset by loading the database's JSON into dicts again, and the
final check by `sha256(json.dumps(db, sort_keys=True))` of the whole database (both of
telecom's). It also checks, on a sample of cases, that the whole database after our replay
hashes, tau2's way, to the case's `final_db_hash` (and `final_user_db_hash`). A telecom
episode includes its initialization actions and its assertions.

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
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.conformance.replay import canonical, read_cases  # noqa: E402
from envscale.conformance.tau2 import (  # noqa: E402
    AGENT,
    USER,
    Side,
    Tau2Domain,
    environment,
)

DOMAINS = ("retail", "airline", "telecom")
# The databases of a domain as tau2 reads them: its files, and the case's hash of each.
DATABASES = {"telecom": (("db.toml", "final_db_hash"), ("user_db.toml", "final_user_db_hash"))}
JSON_DATABASE = (("db.json", "final_db_hash"),)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6 if samples else float("nan")


def tau2_hash(db: dict) -> str:
    """tau2's `get_db_hash`: SHA-256 of the whole database's JSON, keys sorted."""
    return hashlib.sha256(json.dumps(db, sort_keys=True, default=str).encode()).hexdigest()


def load_domain(data: Path, name: str) -> Tau2Domain:
    specs = ROOT / "specs"
    version = name + ".tau2" if (specs / f"{name}.tau2.domain").exists() else name
    return environment(specs / f"{version}.domain", specs / f"{version}.layout.json", data)


def read_database(path: Path) -> Any:
    if path.suffix == ".toml":
        with path.open("rb") as f:
            return tomllib.load(f)
    return json.loads(path.read_text(encoding="utf-8"))


def requestor(action: dict, key: str) -> str:
    return USER if action.get(key) == USER else AGENT


def episode(domain: Tau2Domain, case: dict, t_call: list[float] | None = None) -> None:
    """A case's initialization actions, its calls (each timed into t_call) and assertions."""
    for action in (case.get("initial_state") or {}).get("initialization_actions") or []:
        domain.call(
            requestor(action, "env_type"), action["func_name"], action["arguments"], any_tool=True
        )
    for action in case["actions"]:
        t0 = time.perf_counter()
        domain.call(requestor(action, "requestor"), action["name"], action.get("kwargs"))
        if t_call is not None:
            t_call.append(time.perf_counter() - t0)
    for assertion in case.get("env_assertions") or []:
        domain.call(
            requestor(assertion, "env_type"),
            assertion["func_name"],
            assertion["arguments"],
            any_tool=True,
        )


def bench_domain(domain: Tau2Domain, cases: list[dict], repeat: int) -> dict:
    t_reset: list[float] = []
    t_call: list[float] = []
    t_check: list[float] = []
    t_episode: list[float] = []
    for _ in range(repeat):
        for case in cases:
            start = time.perf_counter()
            domain.reset()
            t_reset.append(time.perf_counter() - start)
            episode(domain, case, t_call)
            t0 = time.perf_counter()
            for side in domain.sides.values():
                hashlib.sha256(canonical(side.own_diff()).encode()).hexdigest()
            domain.state()
            t_check.append(time.perf_counter() - t0)
            t_episode.append(time.perf_counter() - start)
    return {
        "reset": median_us(t_reset),
        "call": median_us(t_call),
        "check": median_us(t_check),
        "episode": median_us(t_episode),
    }


def bench_reference(data: Path, name: str, samples: int) -> dict:
    """tau2's way: the databases' files loaded into dicts again, and hashed whole."""
    reloads, hashes = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        dbs = [read_database(data / file) for file, _ in DATABASES.get(name, JSON_DATABASE)]
        reloads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for db in dbs:
            tau2_hash(db)
        hashes.append(time.perf_counter() - t0)
    return {"reset": median_us(reloads), "check": median_us(hashes)}


def tau2_document(side: Side, raw: dict) -> dict:
    """A side's whole database as tau2 dumps it: tables that tau2 holds as lists as lists
    (in key order), one-record tables as the record."""
    exported = side.layout.export(side.env)
    out = {}
    for table in side.layout.tables:
        shown = exported[table.name]
        if table.record is not None:
            out[table.name] = shown[table.record]
        elif isinstance(raw.get(table.name), list):
            out[table.name] = list(shown.values())
        else:
            out[table.name] = shown
    return out


def hashes_agree(domain: Tau2Domain, data: Path, name: str, cases: list[dict]) -> tuple[int, int]:
    """Cases whose whole databases after our replay hash, tau2's way, to the case's hashes."""
    files = DATABASES.get(name, JSON_DATABASE)
    raws = [read_database(data / file) for file, _ in files]
    sides = [domain.sides[AGENT], domain.sides.get(USER)]
    agreed = 0
    for case in cases:
        domain.reset()
        episode(domain, case)
        agreed += all(
            tau2_hash(tau2_document(side, raw)) == case[key]
            for side, raw, (_, key) in zip(sides, raws, files, strict=False)
            if side is not None
        )
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
        if args.quick:  # about 20 cases a domain
            cases = cases[:: max(10, len(cases) // 20)]
        domain = load_domain(data, name)
        ours = bench_domain(domain, cases, args.repeat)
        ref = bench_reference(data, name, samples=2 if args.quick else 20)
        agreed, checked = hashes_agree(
            domain, data, name, list(itertools.islice(cases, 3 if args.quick else 20))
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
