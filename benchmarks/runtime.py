"""Runtime speed on the shipped example domain at 1x, 10x and 100x its seed data.

Prints the median time of reset, one tool call, the state hash (right after the episode's
calls, and again), the diff and the whole episode for each size, and the episode as the sum
of its steps' medians (reset and hash must not grow with the data; of the episode's calls,
those whose queries find more records in scaled data do, and the line after the growth
names them), and the time to check and compile the spec: cold (a fresh process), warm
(parser built, no cache) and from the in-process cache; then the median check and compile
(to all five artifacts) of every shipped spec on one core, with the hand-written parser and
with Lark alone, and where that time goes: parsing, the checking passes, lowering and the
generator of each artifact.

    python benchmarks/runtime.py [--spec specs/clinic.domain] [--repeat 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import envscale  # noqa: E402
from envscale.api import compile_file  # noqa: E402
from envscale.compiler.codegen import GENERATORS, generate  # noqa: E402
from envscale.compiler.context import Compilation  # noqa: E402
from envscale.compiler.pipeline import CHECKS, LOWERING, Parser, analyze  # noqa: E402
from envscale.dsl.parser import parse, parse_with_lark  # noqa: E402
from envscale.records import Manifest  # noqa: E402
from envscale.runtime.load import _CACHE  # noqa: E402

# What a domain of the size of specs/retail.domain may take to check and compile, on one core.
COMPILE_BUDGET_MS = 15.0


def scale(data: dict, manifest: Manifest, factor: int) -> dict:
    """The seed data repeated `factor` times, keys, references and unique values renamed per
    copy."""
    out: dict[str, list[dict]] = {}
    for entity, records in data.items():
        spec = manifest.entities[entity]
        renamed = set(spec.key) | {f.name for f in spec.fields if f.unique or f.ref}
        kinds = {f.name: f.kind for f in spec.fields}
        rows = []
        for copy in range(factor):
            for record in records:
                row = dict(record)
                if copy:
                    for name in renamed:
                        value = row.get(name)
                        if isinstance(value, str) and kinds[name] in ("str", "ref"):
                            row[name] = f"{value}~{copy}"
                        elif isinstance(value, int) and kinds[name] in ("int", "ref"):
                            row[name] = value + copy * 1_000_000
                rows.append(row)
        out[entity] = rows
    return out


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def episode_calls(domain, data: dict) -> list[tuple[str, dict]]:
    """One call of each tool whose required arguments the seed data supplies (successful or not)."""
    from envscale.demo import candidate_arguments

    schemas = {s["function"]["name"]: s for s in domain.tool_schemas}
    calls = []
    for tool in domain.manifest.tools:
        candidates = candidate_arguments(schemas[tool.name], data, limit=1)
        if candidates:
            calls.append((tool.name, candidates[0]))
    return calls


def bench_size(domain, data: dict, factor: int, repeat: int) -> dict:
    scaled = scale(data, domain.manifest, factor)
    rows = sum(len(v) for v in scaled.values())
    env = domain.environment(data=scaled, enforce_policies=False)
    del scaled
    env.state_hash()  # the initial hash is computed once per environment
    # Long-lived objects out of the collector's way, so its pauses do not land in the timings.
    gc.collect()
    gc.freeze()
    calls = episode_calls(domain, data)
    samples: dict[str, list[float]] = {
        k: [] for k in ("reset", "call", "hash", "hash_again", "diff", "episode")
    }
    per_tool: dict[str, list[float]] = {name: [] for name, _ in calls}
    result_bytes = {name: len(env.call(name, args).text) for name, args in calls}
    env.reset()

    def timed(kind: str, step) -> None:
        t0 = time.perf_counter()
        step()
        samples[kind].append(time.perf_counter() - t0)

    for _ in range(repeat):
        start = time.perf_counter()
        for name, args in calls:
            timed("call", lambda name=name, args=args: env.call(name, args))
            per_tool[name].append(samples["call"][-1])
        timed("hash", env.state_hash)
        # The same hash again: what it costs once the caches no longer hold the episode's reads.
        timed("hash_again", env.state_hash)
        timed("diff", env.diff)
        timed("reset", env.reset)
        samples["episode"].append(time.perf_counter() - start)
    env.close()
    gc.unfreeze()
    return {
        "factor": factor,
        "rows": rows,
        "calls": len(calls),
        **{k: median_us(v) for k, v in samples.items()},
        "tools": {name: median_us(v) for name, v in per_tool.items()},
        # An episode as the sum of its steps' medians: what preemption on a busy machine,
        # which lands in some episode's step or other, does not inflate.
        "steps": sum(median_us(v) for v in per_tool.values())
        + sum(median_us(samples[k]) for k in ("hash", "hash_again", "diff", "reset")),
        "result_bytes": result_bytes,
    }


def compile_times(spec: Path, repeat: int) -> dict:
    code = (
        "import time,sys; t=time.perf_counter(); from envscale.api import compile_file; "
        f"compile_file({str(spec)!r}); print(time.perf_counter()-t)"
    )
    cold = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
        )
        cold.append(float(out.stdout.strip()))
    compile_file(spec)
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        compile_file(spec)
        warm.append(time.perf_counter() - t0)
    _CACHE.clear()
    envscale.load(spec)
    cached = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        envscale.load(spec)
        cached.append(time.perf_counter() - t0)
    return {
        "cold_process_ms": statistics.median(cold) * 1e3,
        "warm_ms": statistics.median(warm) * 1e3,
        "cached_ms": statistics.median(cached) * 1e3,
    }


def compile_ms(spec: Path, parser: Parser, repeat: int) -> float:
    """The median time to check a spec and generate all its artifacts, in milliseconds of CPU
    time: what one core spends, which other work on a busy machine does not inflate."""
    source = spec.read_text(encoding="utf-8")

    def once() -> None:
        c = analyze(source, str(spec), spec, parser=parser)
        assert c.ir is not None, [d.message for d in c.diagnostics]
        generate(c.ir)

    once()
    samples = []
    for _ in range(repeat):
        t0 = time.process_time()
        once()
        samples.append(time.process_time() - t0)
    return statistics.median(samples) * 1e3


def stage_ms(spec: Path, repeat: int) -> dict[str, float]:
    """The median CPU time of each stage of check+compile with the fast parser, in
    milliseconds: parsing, the checking passes, lowering, and the generator of each artifact."""
    source = spec.read_text(encoding="utf-8")
    samples: dict[str, list[float]] = {"parse": [], "checks": [], "lowering": []}
    samples.update({name: [] for name in GENERATORS})

    def once(record: bool) -> None:
        marks = [time.process_time()]
        module, _ = parse(source, str(spec))
        assert module is not None
        marks.append(time.process_time())
        c = Compilation(module, spec)
        for run in CHECKS:
            run(c)
        marks.append(time.process_time())
        for run in LOWERING:
            run(c)
        marks.append(time.process_time())
        assert c.ir is not None, [d.message for d in c.diagnostics]
        for generator in GENERATORS.values():
            generator(c.ir)
            marks.append(time.process_time())
        if record:
            for kind, start, end in zip(samples, marks[:-1], marks[1:], strict=True):
                samples[kind].append(end - start)

    once(False)
    for _ in range(repeat):
        once(True)
    return {kind: statistics.median(v) * 1e3 for kind, v in samples.items()}


def stage_table(repeat: int) -> None:
    """Where the check+compile time of each shipped spec goes, stage by stage."""
    specs = sorted((ROOT / "specs").glob("*.domain"))
    stages = {spec.name: stage_ms(spec, repeat) for spec in specs}
    kinds = list(next(iter(stages.values())))
    print(f"median CPU ms per stage of {repeat}, fast parser, one core:")
    print(f"{'spec':>16} " + " ".join(f"{kind:>13}" for kind in kinds))
    for name, times in stages.items():
        print(f"{name:>16} " + " ".join(f"{times[kind]:>13.2f}" for kind in kinds))


def compile_table(repeat: int) -> None:
    """Median check+compile per shipped spec, with the fast parser and with Lark alone, on one
    core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"check+compile to all artifacts, median CPU time of {repeat}, one core:")
    print(f"{'spec':>16} {'lines':>6} {'fast parser ms':>15} {'Lark only ms':>13}")
    for spec in sorted((ROOT / "specs").glob("*.domain")):
        lines = len(spec.read_text(encoding="utf-8").splitlines())
        fast, lark = compile_ms(spec, parse, repeat), compile_ms(spec, parse_with_lark, repeat)
        verdict = "within" if fast <= COMPILE_BUDGET_MS else "OVER"
        print(
            f"{spec.name:>16} {lines:>6} {fast:>15.1f} {lark:>13.1f}   ({verdict} "
            f"{COMPILE_BUDGET_MS:.0f} ms)"
        )
    stage_table(repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "specs" / "clinic.domain"))
    parser.add_argument("--repeat", type=int, default=200, help="episodes per size")
    parser.add_argument(
        "--compile-only", action="store_true", help="only the compile times of the shipped specs"
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds' run, for the tests")
    args = parser.parse_args()
    compiles = 3 if args.quick else 100
    if args.quick:
        args.repeat = 3
    if args.compile_only:
        compile_table(compiles)
        return
    spec = Path(args.spec)
    data = json.loads(spec.with_suffix(".data.json").read_text(encoding="utf-8"))
    domain = envscale.load(spec)
    print(f"runtime on {spec.name} ({domain.manifest.domain}), median of {args.repeat} episodes")
    print(
        f"{'data':>6} {'rows':>8} {'calls':>5} {'reset µs':>9} {'call µs':>9} {'hash µs':>9} "
        f"{'again µs':>9} "
        f"{'diff µs':>9} {'episode µs':>11} {'steps µs':>9}"
    )
    results = []
    for factor in (1, 10, 100):
        r = bench_size(domain, data, factor, args.repeat)
        results.append(r)
        print(
            f"{str(factor) + 'x':>6} {r['rows']:>8} {r['calls']:>5} {r['reset']:>9.1f} "
            f"{r['call']:>9.1f} "
            f"{r['hash']:>9.1f} {r['hash_again']:>9.1f} {r['diff']:>9.1f} {r['episode']:>11.1f} "
            f"{r['steps']:>9.1f}"
        )
    kinds = ("reset", "hash", "hash_again", "diff", "episode", "steps")
    growth = {k: results[-1][k] / results[0][k] for k in kinds}
    print("growth 1x -> 100x: " + ", ".join(f"{k} {v:.2f}x" for k, v in growth.items()))
    small, large = results[0], results[-1]
    grown = [t for t in small["tools"] if large["result_bytes"][t] != small["result_bytes"][t]]
    if grown:
        # Their results hold more records at 100x (copies share the names they search by).
        rest = [t for t in small["tools"] if t not in grown]
        same = sum(large["tools"][t] for t in rest) / sum(small["tools"][t] for t in rest)
        print(
            f"calls whose results grow with the data: {', '.join(grown)} "
            f"({', '.join(str(large['result_bytes'][t]) for t in grown)} bytes at 100x); "
            f"the other {len(rest)} calls, summed: {same:.2f}x"
        )
    c = compile_times(spec, 2 if args.quick else 20)
    print(
        f"check+compile {spec.name}: cold process {c['cold_process_ms']:.1f} ms (includes imports "
        "and the parser build), "
        f"warm {c['warm_ms']:.1f} ms, from cache {c['cached_ms'] * 1000:.1f} µs"
    )
    compile_table(compiles)


if __name__ == "__main__":
    main()
