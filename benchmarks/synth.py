"""Synthesis of domains from a tool collection, stage by stage.

    python benchmarks/synth.py                          # the whole of ../shared/apis (minutes)
    python benchmarks/synth.py --limit 8000 --workers 2 # the first 8,000 tools
    python benchmarks/synth.py --quick                  # the first 300 tools: the tests' check

The run is `envscale synth` itself (`envscale.synth.run.synthesise`) into a temporary folder
(or `--out`); its report.json gives per stage the wall time and peak memory. Printed after
it, for the domain stages: how many communities became kept domains and why the others were
rejected (by step, then the commonest reasons); per kept domain the tools, entities, write
tools and the lengths of the chains its sampled tasks reach; the time and peak memory of
drafting and of verifying one domain, measured in this process on a sample of communities
(tracemalloc's peak of Python allocations, and the wall time of each call).

Each stage is one function, so that the earlier stages' own measurements (the graph's
growth with the number of tools, agreement with source groups) sit beside these.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.records import DomainEntry, read_jsonl  # noqa: E402
from envscale.synth.output import COMMUNITIES_FILE, INDEX_FILE, load_communities  # noqa: E402
from envscale.synth.records import Community  # noqa: E402
from envscale.synth.run import SynthOptions, synthesise  # noqa: E402
from envscale.synth.specwriter import draft_spec  # noqa: E402
from envscale.synth.verify import verify  # noqa: E402

APIS = ROOT.parent / "shared" / "apis" / "apis.jsonl.gz"


def run_pipeline(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The whole synthesis; its report.json."""
    options = SynthOptions(
        inputs=[Path(p) for p in args.input],
        out=out,
        seed=args.seed,
        workers=args.workers,
        tasks=args.tasks,
        limit=args.limit,
        progress=not args.quiet,
    )
    result = synthesise(options)
    print(result.table())
    print()
    return result.report


def print_stages(report: dict[str, Any]) -> None:
    print("stage          seconds  peak MB  figures")
    for name, stage in report["stages"].items():
        if name == "domains":
            seconds = stage.get("wall_seconds", 0.0)
            figures = f"{stage['kept']} kept of {stage['communities']} communities"
        else:
            seconds = stage.get("seconds", 0.0)
            figures = f"in {stage.get('in', '')}, out {stage.get('out', '')}"
        print(f"{name:<13} {seconds:8.1f} {stage.get('peak_rss_mb', 0.0):8.0f}  {figures}")
    print()


def print_verification(report: dict[str, Any]) -> None:
    domains, rejected = report["domains"], report["rejected"]
    share = 100 * domains["kept_share"]
    print(
        f"kept after verification: {domains['kept']} of "
        f"{domains['kept'] + domains['rejected']} domains ({share:.0f}%)"
    )
    for step, count in rejected["by_step"].items():
        print(f"  rejected at {step:<11} {count}")
    for reason, count in list(rejected["by_reason"].items())[:10]:
        print(f"  {count:5d} × {reason}")
    tools = report["tools"]
    print(
        f"tools with parameters that end in a kept domain: {tools['with_parameters_kept']} of "
        f"{tools['with_parameters']} ({100 * tools['share_with_parameters_kept']:.0f}%)"
    )
    print()


def _spread(values: list[int]) -> str:
    if not values:
        return "none"
    return (
        f"mean {statistics.mean(values):.1f}  median {statistics.median(values):g}  "
        f"min {min(values)}  max {max(values)}"
    )


def print_kept_domains(entries: list[DomainEntry]) -> None:
    kept = [e for e in entries if e.status == "kept"]
    figures = [e.figures for e in kept]
    print(f"per kept domain ({len(kept)}):")
    for label, key in (
        ("tools", "tools"),
        ("entities", "entities"),
        ("write tools", "writes"),
        ("tasks", "tasks_sampled"),
    ):
        print(f"  {label:<12} {_spread([int(f.get(key, 0)) for f in figures])}")
    lengths: Counter[int] = Counter()
    longest = []
    for f in figures:
        counts = {int(k): v for k, v in (f.get("chain_lengths") or {}).items()}
        lengths.update(counts)
        if counts:
            longest.append(max(counts))
    print(
        "  chain lengths reached: "
        + ", ".join(f"{k}: {lengths[k]}" for k in sorted(lengths))
        + f"; longest per domain {_spread(longest)}"
    )
    effects = Counter(t.get("effect") for e in kept for t in e.tools if t.get("effect"))
    print(f"  write effects: {dict(sorted(effects.items()))}")
    print()


def measure_draft_verify(communities: list[Community], sample: int, tasks: int) -> None:
    """Time and peak memory of drafting and of verifying one domain, in this process."""
    step = max(1, len(communities) // max(1, sample))
    chosen = communities[::step][:sample]
    rows: dict[str, list[tuple[float, float]]] = {"draft": [], "verify": []}
    for community in chosen:
        tracemalloc.start()
        started = time.perf_counter()
        draft = draft_spec(community)
        rows["draft"].append((time.perf_counter() - started, tracemalloc.get_traced_memory()[1]))
        tracemalloc.reset_peak()
        started = time.perf_counter()
        verify(draft, 0, tasks)
        rows["verify"].append((time.perf_counter() - started, tracemalloc.get_traced_memory()[1]))
        tracemalloc.stop()
    print(f"one domain, on {len(chosen)} communities (tracemalloc on, so slower than the run):")
    for name, values in rows.items():
        if not values:
            continue
        seconds = [s for s, _ in values]
        peaks = [p / 2**20 for _, p in values]
        print(
            f"  {name:<7} seconds mean {statistics.mean(seconds):.3f} max {max(seconds):.3f}"
            f"   peak MB mean {statistics.mean(peaks):.1f} max {max(peaks):.1f}"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="+", default=[str(APIS)], help="tool collections")
    parser.add_argument("--limit", type=int, default=None, help="the first N tools only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=10, help="tasks per domain, at least")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=20, help="domains measured one by one")
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="300 tools, 5 tasks, 4 samples")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.tasks, args.sample, args.quiet = args.limit or 300, 5, 4, True
    missing = [p for p in args.input if not Path(p).exists()]
    if missing:
        print(f"no such input: {', '.join(missing)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        report = run_pipeline(args, out)
        print_stages(report)
        print_verification(report)
        print_kept_domains(list(read_jsonl(out / INDEX_FILE, DomainEntry)))
        communities = load_communities(out) or []
        measure_draft_verify(communities, args.sample, args.tasks)
        if args.out:
            print(f"wrote {out / INDEX_FILE}, {out / COMMUNITIES_FILE} and {out / 'report.json'}")
        print(json.dumps({"kept": report["domains"]["kept"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
