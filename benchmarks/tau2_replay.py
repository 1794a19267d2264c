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

import hashlib
import itertools
import json
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replaybench import Table, parse_args, time_episodes, time_reference  # noqa: E402

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


def untimed(call: Callable[[], Any]) -> Any:
    return call()


def episode(
    domain: Tau2Domain, case: dict, timed: Callable[[Callable[[], Any]], Any] = untimed
) -> None:
    """A case's initialization actions, its calls (each passed through `timed`) and
    assertions."""
    for action in (case.get("initial_state") or {}).get("initialization_actions") or []:
        domain.call(
            requestor(action, "env_type"), action["func_name"], action["arguments"], any_tool=True
        )
    for action in case["actions"]:
        timed(
            lambda action=action: domain.call(
                requestor(action, "requestor"), action["name"], action.get("kwargs")
            )
        )
    for assertion in case.get("env_assertions") or []:
        domain.call(
            requestor(assertion, "env_type"),
            assertion["func_name"],
            assertion["arguments"],
            any_tool=True,
        )


def bench_domain(domain: Tau2Domain, cases: list[dict], repeat: int) -> dict:
    def check() -> None:
        for side in domain.sides.values():
            hashlib.sha256(canonical(side.own_diff()).encode()).hexdigest()
        domain.state()

    return time_episodes(
        cases, repeat, domain.reset, lambda case, timed: episode(domain, case, timed), check
    )


def bench_reference(data: Path, name: str, samples: int) -> dict:
    """tau2's way: the databases' files loaded into dicts again, and hashed whole."""
    files = DATABASES.get(name, JSON_DATABASE)

    def digest(dbs: list[Any]) -> None:
        for db in dbs:
            tau2_hash(db)

    return time_reference(
        samples, lambda: [read_database(data / file) for file, _ in files], digest
    )


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
    args = parse_args(__doc__)
    base = Path(args.shared) / "conformance" / "tau2"
    table = Table(label_width=12)
    table.header()
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
        table.ours(name, len(cases), ours)
        table.reference(ref, "tau2's way, same machine; its calls not counted", ours=ours)
        print(f"{'':8} whole-database hash equals tau2's final_db_hash: {agreed}/{checked} cases")


if __name__ == "__main__":
    main()
