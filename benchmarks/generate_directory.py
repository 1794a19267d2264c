"""`envscale generate` over a synthesised directory: wall time and peak memory at scale.

    python benchmarks/generate_directory.py [--domains 200] [--tasks 3] [--workers 2] [--dir D]

Without `--dir`, the directory is written first: `--domains` copies of the shipped specs,
renamed (clinic_0, retail_1, airline_2, delivery_3, ...), with their seed data and policies,
listed as kept in index.jsonl beside one rejected entry. Then the directory job runs over it
(scripted user and agent, tasks per domain `--tasks`), and again to show that a finished job
resumes in no time. Peak memory is the resident set of this process (which only reads the
index and collects counts) and of the largest worker.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.jobs.directory import INDEX_FILE, generate_directory  # noqa: E402
from envscale.jobs.generate import Job  # noqa: E402
from envscale.records import DomainEntry  # noqa: E402

SPECS = ROOT / "specs"
SHIPPED = ("clinic", "retail", "airline", "delivery")


def copy_spec(spec: Path, name: str, domains: Path) -> Path:
    """A shipped spec as a domain of another name, its policy, seed data and instructions
    beside it under the new name."""
    text = spec.read_text(encoding="utf-8")
    text = re.sub(r"^domain \w+", f"domain {name}", text, count=1, flags=re.M)
    policy = re.search(r'policy from "([^"]+)"', text)
    if policy:
        policy_text = (spec.parent / policy.group(1)).read_text(encoding="utf-8")
        (domains / f"{name}.policy.md").write_text(policy_text, encoding="utf-8")
        text = text.replace(policy.group(0), f'policy from "{name}.policy.md"')
    for suffix in (".data.json", ".instructions.toml"):
        extra = spec.with_suffix("").with_suffix(suffix)
        if extra.exists():
            (domains / f"{name}{suffix}").write_text(extra.read_text("utf-8"), encoding="utf-8")
    target = domains / f"{name}.domain"
    target.write_text(text, encoding="utf-8")
    return target


def write_directory(root: Path, names: list[tuple[str, str]], rejected: list[str]) -> Path:
    """A synthesised directory: (shipped spec, new name) pairs kept, `rejected` names not."""
    domains = root / "domains"
    domains.mkdir(parents=True, exist_ok=True)
    entries = []
    for shipped, name in names:
        copy_spec(SPECS / f"{shipped}.domain", name, domains)
        entries.append(DomainEntry(name=name, status="kept", spec=f"domains/{name}.domain"))
    for name in rejected:
        entries.append(
            DomainEntry(name=name, status="rejected", reasons=["replay: a task missed its state"])
        )
    (root / INDEX_FILE).write_text("".join(e.to_json() + "\n" for e in entries), "utf-8")
    return root


def peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=3, help="tasks per domain")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="a synthesised directory to run over instead")
    parser.add_argument("--quick", action="store_true", help="4 domains, 1 task each")
    args = parser.parse_args(argv)
    if args.quick:
        args.domains, args.tasks = 4, 1
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir
        if directory is None:
            names = [
                (SHIPPED[i % len(SHIPPED)], f"{SHIPPED[i % len(SHIPPED)]}_{i}")
                for i in range(args.domains)
            ]
            directory = write_directory(Path(scratch) / "synth", names, ["left_out"])
        job = Job([], Path(scratch) / "out", tasks=args.tasks, workers=args.workers, progress=False)
        started = time.perf_counter()
        result = generate_directory(directory, job)
        wall = time.perf_counter() - started
        again = time.perf_counter()
        resumed = generate_directory(directory, job)
        resume_s = time.perf_counter() - again
        trajectories = sum(1 for _ in result.trajectories_path.open(encoding="utf-8"))
        kept = sum(c.stages["exact"] for c in result.counts.values())
        size = result.trajectories_path.stat().st_size / 2**20
    domains = len(result.outcomes)
    print(result.table())
    print(
        json.dumps(
            {
                "domains": domains,
                "rejected": result.selection.rejected,
                "failed": sum(1 for o in result.outcomes.values() if o.error),
                "tasks_per_domain": args.tasks,
                "workers": args.workers,
                "trajectories": trajectories,
                "kept": kept,
                "trajectories_mib": round(size, 1),
            }
        )
    )
    print(
        f"{domains} domains in {wall:.1f} s wall ({wall / max(domains, 1):.2f} s per domain, "
        f"{args.workers} workers); resumed run skipped {resumed.skipped} in {resume_s:.1f} s"
    )
    print(
        f"peak memory: parent {peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
        f"largest worker {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
