"""Heuristic drafts of domain specs for communities of real tools: how many check and
compile, and how many pass basic verification (generated data loads, tasks are sampled and
replay to their gold results)?

    python benchmarks/synth_specs.py --groups 2000 --seed 0    # the figures of docs/design.md
    python benchmarks/synth_specs.py --quick                   # 40 groups: the test suite's check
    python benchmarks/synth_specs.py --show 5 --max-tools 6    # print five short drafts

Communities are the source groups of ../shared/apis/apis.jsonl.gz (the `group` field) with
3 to 40 tools that take parameters, sampled with the seed. Per draft: check and compile,
data of 6 records per entity (seeded), 4 tasks sampled and each replayed. Prints the shares,
tools / entities / write tools per draft, agreement of the draft's read/write kinds with the
compiled manifest, the failures grouped by reason, and the time per draft. Exits 1 when a
draft raises or two drafts of one community differ.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envscale.compiler.build import compile_source  # noqa: E402
from envscale.runtime.domain import Domain  # noqa: E402
from envscale.runtime.environment import INTERNAL_ERRORS, Environment  # noqa: E402
from envscale.synth.records import ApiTool, Community, Provenance, SpecDraft  # noqa: E402
from envscale.synth.specwriter import draft_spec  # noqa: E402
from envscale.tasks.datagen import generate_data  # noqa: E402
from envscale.tasks.sampling import SamplingReport, sample_tasks, verify_task  # noqa: E402
from envscale.tasks.states import EnvFactory  # noqa: E402

APIS = ROOT.parent / "shared" / "apis" / "apis.jsonl.gz"
_BAD = re.compile(r"[^a-zA-Z0-9_-]+")


def communities(path: Path, low: int = 3, high: int = 40) -> list[Community]:
    """One community per source group with `low` to `high` tools that take parameters, names
    made to meet OpenAI's rule and unique within the community, in file order."""
    groups: dict[str, list[ApiTool]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            row = json.loads(line)
            function = row.get("function") or {}
            params = function.get("parameters") or {}
            if not isinstance(params, dict) or not params.get("properties"):
                continue
            group = row.get("group") or ""
            taken = {t.name for t in groups[group]}
            name = _BAD.sub("_", str(function.get("name") or "tool")).strip("_")[:60] or "tool"
            base, n = name, 2
            while name in taken:
                name, n = f"{base}_v{n}", n + 1
            groups[group].append(
                ApiTool(
                    name=name,
                    description=function.get("description") or "",
                    parameters=params,
                    returns=row.get("returns"),
                    provenance=[
                        Provenance(
                            source=row.get("source") or "",
                            group=group or None,
                            category=row.get("category"),
                            original_name=str(function.get("name")),
                            line=line_no,
                        )
                    ],
                )
            )
    out: list[Community] = []
    names: set[str] = set()
    for group, tools in groups.items():
        if not low <= len(tools) <= high:
            continue
        slug = re.sub(r"[^a-z0-9]+", "_", group.lower()).strip("_") or "group"
        name, n = slug, 2
        while name in names:
            name, n = f"{slug}_{n}", n + 1
        names.add(name)
        out.append(Community(name=name, tools=tools))
    return out


def verify(draft: SpecDraft, seed: int, tasks: int) -> tuple[str, str, dict]:
    """(stage reached, reason of the failure or "", figures) for one draft."""
    figures: dict = {}
    files, diagnostics, _ = compile_source(draft.source, f"{draft.name}.domain")
    if files is None:
        first = next(d for d in diagnostics if d.severity == "error")
        return "check", f"{first.code} {first.message}", figures
    domain = Domain(files)
    kinds = {t.name: t.kind for t in domain.manifest.tools}
    figures["kind_mismatch"] = sorted(n for n, k in draft.tool_kinds.items() if kinds.get(n) != k)
    notes: list[str] = []
    try:
        data = generate_data(domain, seed, 6, notes=notes)
        env = Environment.create(domain, data, enforce_policies=False)
        env.close()
    except Exception as error:  # a refused state is a finding, reported by its reason
        return "data", f"{type(error).__name__}: {_short(str(error))}", figures
    before = INTERNAL_ERRORS.count
    report = SamplingReport()
    try:
        made = sample_tasks(
            domain,
            EnvFactory(domain, data),
            tasks,
            seed=seed,
            max_length=3,
            report=report,
            max_attempts=10 * tasks,
        )
    except Exception as error:
        return "tasks", f"sampling raised {type(error).__name__}: {_short(str(error))}", figures
    internal = INTERNAL_ERRORS.since(before)
    if internal:
        return "tasks", f"internal error in a tool: {_short(internal[0].message)}", figures
    figures["tasks"] = len(made)
    figures["reached"] = len(set(report.used)) / max(len(report.tools), 1)
    if not made:
        why = report.rejected.most_common(1)[0][0] if report.rejected else "no walk started"
        return "tasks", f"no task sampled: {why}", figures
    if not all(verify_task(domain, task) for task in made):
        return "replay", "a sampled task does not replay to its gold results", figures
    return "ok", "", figures


def _short(text: str) -> str:
    text = re.sub(r"'[^']*'", "'…'", text.splitlines()[0] if text else "")
    return re.sub(r"\d+", "N", text)[:120]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apis", type=Path, default=APIS)
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--show", type=int, default=0, help="drafts to print")
    parser.add_argument("--max-tools", type=int, default=40, help="of the drafts printed")
    parser.add_argument("--quick", action="store_true", help="40 groups")
    args = parser.parse_args()
    if not args.apis.exists():
        print(f"no collection at {args.apis}; nothing measured", file=sys.stderr)
        return 0
    every = communities(args.apis)
    picked = random.Random(args.seed).sample(
        every, min(40 if args.quick else args.groups, len(every))
    )
    stages: Counter = Counter()
    reasons: Counter = Counter()
    sizes: list[tuple[int, int, int]] = []
    mismatched = 0
    reached: list[float] = []
    shown = 0
    problems = 0
    started = time.perf_counter()
    for community in picked:
        try:
            draft = draft_spec(community)
            again = draft_spec(community)
        except Exception as error:
            problems += 1
            print(f"draft_spec raised on {community.name}: {type(error).__name__}: {error}")
            stages["raised"] += 1
            continue
        if again.source != draft.source:
            problems += 1
            print(f"{community.name}: two drafts differ")
        with contextlib.redirect_stderr(io.StringIO()):
            stage, reason, figures = verify(draft, args.seed, args.tasks)
        stages[stage] += 1
        if reason:
            reasons[f"{stage}: {_short(reason)}"] += 1
        writes = sum(1 for k in draft.tool_kinds.values() if k == "write")
        sizes.append((len(draft.tool_kinds), len(draft.entities), writes))
        mismatched += bool(figures.get("kind_mismatch"))
        if "reached" in figures:
            reached.append(figures["reached"])
        if shown < args.show and len(community.tools) <= args.max_tools and stage == "ok":
            shown += 1
            print(f"==== {community.name} ({len(community.tools)} tools)\n{draft.source}")
    seconds = time.perf_counter() - started
    n = len(picked)
    compiled = n - stages["check"] - stages["raised"]
    print(
        f"groups {n}  seed {args.seed}  {seconds:.0f}s ({seconds / max(n, 1) * 1000:.0f} ms/draft)"
    )
    print(f"checks and compiles: {compiled}/{n} ({compiled / max(n, 1):.1%})")
    print(f"passes basic verification: {stages['ok']}/{n} ({stages['ok'] / max(n, 1):.1%})")
    print("stages reached: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
    if sizes:
        for i, what in enumerate(("tools", "entities", "write tools")):
            values = [s[i] for s in sizes]
            print(
                f"{what} per draft: mean {statistics.mean(values):.1f}  "
                f"median {statistics.median(values):g}  max {max(values)}"
            )
    if reached:
        print(f"tools reached by 4 tasks: mean {statistics.mean(reached):.0%}")
    print(f"drafts whose read/write kinds differ from the compiled manifest: {mismatched}")
    print("failures by reason:")
    for reason, count in reasons.most_common(25):
        print(f"  {count:>5}  {reason}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
