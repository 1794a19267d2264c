"""Long fuzzing runs: every attack class of envscale.fuzz, with the number of inputs tried and
the problems found per class. Exits 1 if any attack found a problem.

    python benchmarks/fuzz.py [--calls 100000] [--specs 100000] [--expressions 20000]
                              [--episodes 200] [--jobs 2] [--seed 0] [--only NAME]
    python benchmarks/fuzz.py --quick      # a few hundred inputs per class
    python benchmarks/fuzz.py --quick --only layout --specs 40   # a count given still counts
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.fuzz.report import Attack, Tally  # noqa: E402

# Each module exposes ATTACKS: list[Attack].
MODULES = [
    "envscale.fuzz.calls",
    "envscale.fuzz.endpoints",
    "envscale.fuzz.semantics",
    "envscale.fuzz.spectext",
    "envscale.fuzz.oddspecs",
    "envscale.fuzz.layout",
]
FULL = {"calls": 100_000, "specs": 100_000, "expressions": 20_000, "episodes": 200}
QUICK = {"calls": 400, "specs": 300, "expressions": 300, "episodes": 10}
CHUNK = {"calls": 2000, "specs": 1000, "expressions": 2000, "episodes": 20}


def attacks(only: str | None) -> list[Attack]:
    found = []
    for module in MODULES:
        found.extend(importlib.import_module(module).ATTACKS)
    return [a for a in found if only is None or only in a.name]


def run_chunk(module_attack: tuple[str, int, int]) -> Tally:
    name, count, seed = module_attack
    attack = next(a for a in attacks(None) if a.name == name)
    return attack.run(count, seed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for unit, full in FULL.items():
        ap.add_argument(f"--{unit}", type=int, help=f"default {full:,}; {QUICK[unit]} with --quick")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="run only the attacks whose name contains this")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    given = {unit: getattr(args, unit) for unit in FULL}
    defaults = QUICK if args.quick else FULL
    budget = {unit: defaults[unit] if n is None else n for unit, n in given.items()}
    chosen = attacks(args.only)
    per_unit: dict[str, list[Attack]] = {}
    for attack in chosen:
        per_unit.setdefault(attack.unit, []).append(attack)
    work: list[tuple[str, int, int]] = []
    for unit, group in per_unit.items():
        total = budget[unit]
        weights = sum(a.share for a in group)
        shares = [int(total * a.share / weights) for a in group]
        for i in range(total - sum(shares)):  # what rounding left, one each
            shares[i % len(group)] += 1
        for attack, share in zip(group, shares, strict=True):
            for start in range(0, share, CHUNK[unit]):
                work.append((attack.name, min(CHUNK[unit], share - start), args.seed + start))
    tallies = {a.name: Tally(a.name) for a in chosen}
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_chunk, chunk): chunk for chunk in work}
        for done, future in enumerate(as_completed(futures), start=1):
            name, _, seed = futures[future]
            tally = future.result()
            tallies[name].merge(tally)
            # a progress line per chunk, so a run stopped early still says what it covered
            print(
                f"[{done}/{len(work)}] {name} seed {seed}: tried {tally.tried:,}, "
                f"problems {tally.problems:,} ({time.perf_counter() - began:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - began
    units = {a.name: a.unit for a in chosen}
    print(f"{'attack':<40} {'unit':<12} {'tried':>9} {'problems':>9}")
    for name, tally in tallies.items():
        print(f"{name:<40} {units[name]:<12} {tally.tried:>9,} {tally.problems:>9,}")
    for unit in per_unit:
        tried = sum(t.tried for n, t in tallies.items() if units[n] == unit)
        print(f"total {unit}: {tried:,}")
    problems = sum(t.problems for t in tallies.values())
    print(f"problems: {problems} in {elapsed:.0f} s with {args.jobs} process(es)")
    for tally in tallies.values():
        for kind, n in tally.counts.items():
            print(f"  {tally.attack}: {kind}: {n}")
        for p in tally.examples:
            print(f"    - {p.kind}: {p.detail}\n      {p.reproducer}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
