"""Synthesis over a tool collection, stage by stage: wall time and peak memory per stage,
the graph stage's growth with the collection, and how the communities look.

    python benchmarks/synth.py [--quick] [--limit N] [--apis ../shared/apis/apis.jsonl.gz]

Stages run in the order of `STAGES` (ingest, vectorise, graph, partition, domains); a later
stage appends itself there and reads what the earlier ones left in `State`. The domains stage
drafts and verifies the communities (`--domains N` of them picked at random, all by default)
on `--workers` processes, as `envscale synth` does, into a temporary folder. After the stages,
each function of `REPORTS` prints its figures: the graph stage's time at growing sizes
(`--sizes`, random whole source groups up to each size), the communities' sizes, the share
of tools with parameters that end in a community, purity and NMI of the communities against
the source groups (scikit-learn), the communities that join tools of different sources, and
`--show` communities picked at random, as tool lists, to judge their coherence; then the
domains kept after verification and the reasons for the rest, the tools, entities, write
tools and reachable chain lengths per kept domain, and the time and peak memory of drafting
and of verifying one domain (measured in this process on `--sample` communities).

`--limit N` keeps N tools (random whole source groups, seeded); `--quick` is `--limit 3000`
with graph-stage sizes 500, 1000 and 3000, 16 domains of 5 tasks and 4 measured one by one.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.synth import graph as graphs  # noqa: E402
from envscale.synth import partition as partitions  # noqa: E402
from envscale.synth.ingest import IngestReport, ingest  # noqa: E402
from envscale.synth.pipeline import SynthOptions, synthesise_communities  # noqa: E402
from envscale.synth.records import ApiTool  # noqa: E402
from envscale.synth.specwriter import draft_spec  # noqa: E402
from envscale.synth.vectors import make_vectoriser  # noqa: E402
from envscale.synth.verify import verify  # noqa: E402

PAGE = 4096


@dataclass
class State:
    args: argparse.Namespace
    tools: list[ApiTool] = field(default_factory=list)
    ingest_report: IngestReport | None = None
    vectoriser: Any = None
    vectors: Any = None
    graph: Any = None
    partition: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # what later stages keep


@dataclass
class Stage:
    name: str
    run: Callable[[State], str]  # does the stage's work, returns a one-line summary


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakMemory:
    """The largest resident set seen while the block runs, sampled every 20 ms."""

    def __enter__(self) -> PeakMemory:
        self.peak = rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.02)

    def __exit__(self, *_: object) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss())


def by_groups(tools: list[ApiTool], size: int, seed: int) -> list[ApiTool]:
    """Whole source groups picked at random until `size` tools, in the collection's order."""
    if size >= len(tools):
        return tools
    groups: dict[str, list[int]] = {}
    for i, tool in enumerate(tools):
        p = tool.provenance[0]
        groups.setdefault(f"{p.source}|{p.group}", []).append(i)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    chosen: list[int] = []
    for key in keys:
        if len(chosen) >= size:
            break
        chosen.extend(groups[key][: size - len(chosen)])
    return [tools[i] for i in sorted(chosen)]


def stage_ingest(state: State) -> str:
    tools, report = ingest([state.args.apis])
    for line in report.warnings():
        print(line, file=sys.stderr)
    if state.args.limit:
        tools = by_groups(tools, state.args.limit, state.args.seed)
    state.tools, state.ingest_report = tools, report
    return f"{report.summary()}; kept {len(tools)}"


def stage_vectorise(state: State) -> str:
    state.vectoriser = make_vectoriser(state.args.vectoriser)
    state.vectors = state.vectoriser.vectorise(state.tools)
    shape = state.vectors.shape
    return f"{state.args.vectoriser}: {shape[0]} x {shape[1]}"


def graph_of(state: State, tools: list[ApiTool], vectors: Any = None) -> Any:
    a = state.args
    return graphs.similarity_graph(
        tools, state.vectoriser, a.threshold, a.neighbours, max_df=a.max_df, vectors=vectors
    )


def stage_graph(state: State) -> str:
    state.graph = graph_of(state, state.tools, state.vectors)
    r = state.graph.graph["report"]
    return (
        f"{r['edges']} edges, {r['pairs_scored']} pairs scored, {r['isolated']} isolated, "
        f"{r['no_parameters_linked']}/{r['no_parameters']} tools without parameters linked"
    )


def stage_partition(state: State) -> str:
    a = state.args
    state.partition = partitions.partition(
        state.tools, state.graph, a.resolution, a.min_size, a.max_size, a.seed
    )
    f = state.partition.figures
    return (
        f"{f['communities']} communities (louvain {f['louvain']}, split {f.get('split', 0)}, "
        f"merged {f.get('merged', 0)}), {f['dropped_tools']} tools dropped"
    )


def stage_domains(state: State) -> str:
    """Draft and verify the communities on worker processes, as `envscale synth` does."""
    a = state.args
    communities = list(state.partition.communities)
    if a.domains and a.domains < len(communities):
        picked = random.Random(a.seed).sample(range(len(communities)), a.domains)
        communities = [communities[i] for i in sorted(picked)]
    with tempfile.TemporaryDirectory() as out:
        options = SynthOptions(
            inputs=[],
            out=Path(out),
            seed=a.seed,
            workers=a.workers,
            tasks=a.tasks,
            drafter=draft_spec,
            progress=False,
            stream=io.StringIO(),
        )
        result = synthesise_communities(options, communities, {})
    state.extra["domains"] = result
    d = result.report["domains"]
    workers = result.report["stages"]["domains"]["peak_rss_mb"]
    return (
        f"{d['kept']} kept of {d['communities']} communities on {a.workers} workers "
        f"(largest worker {workers:.0f} MB)"
    )


STAGES: list[Stage] = [
    Stage("ingest", stage_ingest),
    Stage("vectorise", stage_vectorise),
    Stage("graph", stage_graph),
    Stage("partition", stage_partition),
    Stage("domains", stage_domains),
]


def report_scaling(state: State) -> None:
    print("\ngraph stage (vectorise + graph) by collection size:")
    print(f"{'tools':>8} {'seconds':>8} {'edges':>8} {'us/tool':>8}")
    for size in state.args.sizes:
        tools = by_groups(state.tools, size, state.args.seed)
        start = time.perf_counter()
        graph = graph_of(state, tools)
        took = time.perf_counter() - start
        print(
            f"{len(tools):>8} {took:>8.2f} {graph.number_of_edges():>8} "
            f"{1e6 * took / len(tools):>8.0f}"
        )


def label(tool: ApiTool) -> str:
    p = tool.provenance[0]
    return f"{p.source.split('@')[0]}|{p.group}"


def report_communities(state: State) -> None:
    from sklearn.metrics import normalized_mutual_info_score

    result = state.partition
    tools = state.tools
    sizes = sorted(len(m) for m in result.members)
    with_params = {i for i, t in enumerate(tools) if t.parameters.get("properties")}
    placed = {i for m in result.members for i in m}
    labels, ids, majority = [], [], 0
    cross = 0
    for cid, members in enumerate(result.members):
        counts = Counter(label(tools[i]) for i in members)
        majority += counts.most_common(1)[0][1]
        sources = {p.source.split("@")[0] for i in members for p in tools[i].provenance}
        cross += len(sources) > 1
        labels.extend(label(tools[i]) for i in members)
        ids.extend([cid] * len(members))
    print("\ncommunities:")
    print(f"  count {len(sizes)}")
    if sizes:
        typical = sum(1 for s in sizes if 5 <= s <= 30)
        print(
            f"  sizes min {sizes[0]} median {sizes[len(sizes) // 2]} "
            f"p90 {sizes[int(0.9 * (len(sizes) - 1))]} max {sizes[-1]}; "
            f"5-30 tools: {typical} ({100 * typical / len(sizes):.0f}%)"
        )
    share = len(placed & with_params) / max(1, len(with_params))
    print(
        f"  tools with parameters in a community: {len(placed & with_params)}/"
        f"{len(with_params)} ({100 * share:.1f}%); all tools: {len(placed)}/{len(tools)}"
    )
    purity = majority / max(1, len(labels))
    nmi = normalized_mutual_info_score(labels, ids) if labels else 0.0
    print(f"  purity against source groups {purity:.3f}, NMI {nmi:.3f}")
    print(f"  communities joining tools of different sources: {cross}")
    reasons = Counter(reason.split(":")[0].split(",")[0] for _, reason in result.dropped)
    for reason, n in reasons.most_common():
        print(f"  dropped: {n} tools: {reason}")
    pick = random.Random(state.args.seed).sample(
        range(len(result.communities)), min(state.args.show, len(result.communities))
    )
    for cid in sorted(pick):
        community = result.communities[cid]
        groups = Counter(label(t).split("|", 1)[1] for t in community.tools)
        print(f"\n  {community.name} ({len(community.tools)} tools; groups: ", end="")
        print(", ".join(f"{g} x{n}" for g, n in groups.most_common(3)) + ")")
        print("    " + ", ".join(t.name for t in community.tools))


def _spread(values: list[int]) -> str:
    if not values:
        return "none"
    return (
        f"mean {statistics.mean(values):.1f}  median {statistics.median(values):g}  "
        f"min {min(values)}  max {max(values)}"
    )


def report_verification(state: State) -> None:
    result = state.extra["domains"]
    report = result.report
    domains, rejected = report["domains"], report["rejected"]
    print(
        f"\nkept after verification: {domains['kept']} of {domains['communities']} domains "
        f"({100 * domains['kept_share']:.0f}%)"
    )
    for step, count in rejected["by_step"].items():
        print(f"  rejected at {step:<12} {count}")
    for reason, count in list(rejected["by_reason"].items())[:12]:
        print(f"  {count:5d} x {reason}")
    seconds = report["stages"]["domains"]["seconds"]
    for name, t in seconds.items():
        print(
            f"  {name} per domain: mean {t['mean']:.3f} s, median {t['p50']:.3f} s, "
            f"max {t['max']:.2f} s"
        )
    steps = report["stages"]["domains"]["verify_steps"]
    print(
        "  verify steps, total seconds: "
        + ", ".join(f"{k} {v['total']:.1f}" for k, v in steps.items() if v["total"] >= 0.05)
    )
    kept = [e for e in result.entries if e.status == "kept"]
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


def report_draft_verify(state: State) -> None:
    """Time and peak memory of drafting and of verifying one domain, in this process."""
    communities = list(state.partition.communities)
    chosen = random.Random(state.args.seed + 1).sample(
        communities, min(state.args.sample, len(communities))
    )
    rows: dict[str, list[tuple[float, float]]] = {"draft": [], "verify": []}
    for community in chosen:
        tracemalloc.start()
        started = time.perf_counter()
        draft = draft_spec(community)
        rows["draft"].append((time.perf_counter() - started, tracemalloc.get_traced_memory()[1]))
        tracemalloc.reset_peak()
        started = time.perf_counter()
        verify(draft, state.args.seed, state.args.tasks)
        rows["verify"].append((time.perf_counter() - started, tracemalloc.get_traced_memory()[1]))
        tracemalloc.stop()
    print(f"one domain, {len(chosen)} measured (tracemalloc's peak; slower with it on):")
    for name, values in rows.items():
        if values:
            seconds = [s for s, _ in values]
            peaks = [p / 2**20 for _, p in values]
            print(
                f"  {name:<7} seconds mean {statistics.mean(seconds):.3f} max {max(seconds):.3f}"
                f"   peak MB mean {statistics.mean(peaks):.1f} max {max(peaks):.1f}"
            )


REPORTS: list[Callable[[State], None]] = [
    report_communities,
    report_scaling,
    report_verification,
    report_draft_verify,
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 tools, small sizes")
    parser.add_argument("--limit", type=int, default=0, help="keep N tools (whole groups)")
    parser.add_argument("--apis", default=str(ROOT.parent / "shared" / "apis" / "apis.jsonl.gz"))
    parser.add_argument("--vectoriser", default="hashed")
    parser.add_argument("--threshold", type=float, default=graphs.THRESHOLD)
    parser.add_argument("--neighbours", type=int, default=graphs.NEIGHBOURS)
    parser.add_argument("--max-df", type=int, default=graphs.MAX_DF)
    parser.add_argument("--resolution", type=float, default=partitions.RESOLUTION)
    parser.add_argument("--min-size", type=int, default=partitions.MIN_SIZE)
    parser.add_argument("--max-size", type=int, default=partitions.MAX_SIZE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=10, help="communities printed")
    parser.add_argument("--sizes", default="1000,8000,all", help="graph-stage sizes")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--domains", type=int, default=0, help="communities verified (0: all)")
    parser.add_argument("--tasks", type=int, default=10, help="tasks per domain, at least")
    parser.add_argument("--workers", type=int, default=2, help="processes of the domains stage")
    parser.add_argument("--sample", type=int, default=20, help="domains measured one by one")
    args = parser.parse_args()
    if args.quick:
        args.limit = args.limit or 3000
        args.sizes = "500,1000,3000"
        args.domains, args.tasks, args.sample = args.domains or 16, 5, 4
    args.sizes = [10**9 if s == "all" else int(s) for s in args.sizes.split(",")]
    if not Path(args.apis).exists():
        print(f"no collection at {args.apis}", file=sys.stderr)
        return 2
    state = State(args)
    print(f"{'stage':12} {'seconds':>8} {'peak MB':>8}  summary")
    for stage in STAGES:
        start = time.perf_counter()
        with PeakMemory() as memory:
            summary = stage.run(state)
        took = time.perf_counter() - start
        print(f"{stage.name:12} {took:>8.2f} {memory.peak / 2**20:>8.0f}  {summary}", flush=True)
    for report in REPORTS:
        if report is report_scaling and args.no_scaling:
            continue
        report(state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
