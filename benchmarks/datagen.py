"""Generated data of the shipped specs: does every entity get the count asked for, does every
invariant hold, and what do the records look like?

    python benchmarks/datagen.py                 # size 50, every shipped spec
    python benchmarks/datagen.py --size 20 --show 20 --spec delivery
    python benchmarks/datagen.py --quick         # size 8: the check the test suite runs

Prints per spec and entity `asked / made`, the reasons of any shortfall, whether the data
loads (models, schema, CHECKs, foreign keys, every invariant), and, with --show N, the first N
records of each entity as JSON lines for reading. Exits 1 when an entity falls short or the
data does not load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import envscale  # noqa: E402
from envscale.runtime.errors import DataError  # noqa: E402
from envscale.tasks.datagen import generate_data  # noqa: E402

SPECS = ("clinic", "retail", "airline", "delivery")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", action="append", choices=SPECS)
    parser.add_argument("--show", type=int, default=0, help="records of each entity to print")
    parser.add_argument("--quick", action="store_true", help="size 8")
    args = parser.parse_args()
    size = 8 if args.quick else args.size
    failed = False
    for name in args.spec or SPECS:
        domain = envscale.load(ROOT / "specs" / f"{name}.domain")
        notes: list[str] = []
        started = time.perf_counter()
        data = generate_data(domain, args.seed, size, notes=notes)
        seconds = time.perf_counter() - started
        print(f"{name}.domain  size {size}  seed {args.seed}  {seconds:.1f}s")
        for entity, records in data.items():
            mark = "" if len(records) == size else "   SHORT"
            print(f"  {entity:<16} asked {size:>4}  made {len(records):>4}{mark}")
            failed |= len(records) != size
        for note in notes:
            print(f"  note: {note}")
        try:
            domain.environment(data=data).close()
            print("  loads: yes (models, schema, checks, references, every invariant)")
        except DataError as error:
            print(f"  loads: NO: {error}")
            failed = True
        for entity, records in data.items():
            for record in records[: args.show]:
                print(f"  {entity} {json.dumps(record, ensure_ascii=False)}")
    print("datagen: every entity made as asked" if not failed else "datagen: SHORTFALLS")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
