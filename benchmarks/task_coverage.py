"""What sampled tasks cover: tools used, chain lengths, instructions that copy a description.

    python benchmarks/task_coverage.py [--quick] [-n 400] [--seed 0] [--show N]
        [--shared ../shared] [SPEC...]

For each spec (default: clinic on its seed data, retail and airline on tau-bench's data
from `../shared` when present, and `specs/delivery.domain` on generated data when it
exists), `-n` tasks are sampled (seed 0, lengths up to 4) and it prints: tasks made, tools
covered of all, the tools never used, the histogram of chain lengths, how many instructions
share 8 consecutive words with a tool description, how many read as a form rather than
speech (a " - " list or a "key: value" fragment), and the seconds sampling took (this
machine's; not asserted anywhere). Instructions are worded with the spec's sidecar templates
when it has some, as `envscale tasks` words them. `--show N` prints the first N
instructions of each spec. `--quick` samples 60 tasks of clinic only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envscale.runtime.layout import Layout  # noqa: E402
from envscale.runtime.load import load  # noqa: E402
from envscale.tasks.instructions import (  # noqa: E402
    copied_words,
    load_instructions,
    reads_as_form,
    tool_descriptions,
)
from envscale.tasks.sampling import SamplingReport, sample_tasks  # noqa: E402
from envscale.tasks.states import EnvFactory, initial_state_for  # noqa: E402


def factory_for(spec: Path, shared: Path):
    domain = load(spec)
    folder = shared / "conformance" / "taubench" / spec.stem
    layout = spec.with_name(f"{spec.stem}.layout.json")
    if folder.is_dir() and layout.exists():
        data = Layout.read(layout).load(folder)
        return domain, (lambda: domain.environment(data=data)), "tau-bench data"
    state = initial_state_for(spec)
    return domain, EnvFactory(domain, state, spec), str(state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", metavar="SPEC")
    parser.add_argument("-n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print N instructions")
    parser.add_argument("--quick", action="store_true", help="60 tasks of clinic")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args()
    names = ["clinic", "retail", "airline", "delivery"]
    specs = [Path(s) for s in args.specs] or [
        ROOT / "specs" / f"{n}.domain" for n in names if (ROOT / "specs" / f"{n}.domain").exists()
    ]
    n = args.n
    if args.quick:
        specs, n = [ROOT / "specs" / "clinic.domain"], 60
    for spec in specs:
        domain, factory, source = factory_for(spec, Path(args.shared))
        report = SamplingReport()
        started, cpu = time.perf_counter(), time.process_time()
        tasks = sample_tasks(
            domain, factory, n, seed=args.seed, report=report, instructions=load_instructions(spec)
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        lengths = Counter(len(t.gold_calls) for t in tasks)
        descriptions = tool_descriptions(domain.tool_schemas)
        copies = sum(1 for t in tasks if copied_words(t.instruction, descriptions))
        forms = sum(1 for t in tasks if reads_as_form(t.instruction))
        covered = len(report.tools) - len(report.unused)
        print(
            f"{spec.name} ({source}): {len(tasks)}/{n} tasks in {seconds:.1f} s ({cpu:.1f} s CPU)"
        )
        print(f"  tools covered {covered}/{len(report.tools)}; unused: {report.unused or 'none'}")
        print(f"  chain lengths: {dict(sorted(lengths.items()))}")
        print(f"  instructions sharing 8 consecutive words with a description: {copies}")
        print(f"  instructions reading as a form (' - ' list or 'key: value'): {forms}")
        uses = report.used.most_common()
        print(f"  calls per tool: {', '.join(f'{t} {c}' for t, c in uses)}")
        for task in tasks[: args.show]:
            print(f"    {task.instruction}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
