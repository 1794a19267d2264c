"""The main job on embedded defaults: compile the shipped specs, play tool calls on each,
synthesise domains from a small tool collection shipped with the project, generate filtered
trajectories (the synthesised domains as the general phase, the shipped specs as the vertical
one), train a tiny model in two phases, and compare the untrained and the trained model as
agents on a few held-out tasks. A spec without seed data (`<name>.data.json`
beside it) is played on generated data.

Run it with `make demo` (or `python -m envscale.demo`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tomllib
from pathlib import Path

from envscale.api import compile_file, load
from envscale.cli import main as envscale
from envscale.dsl.diagnostics import render_all
from envscale.jobs.generate import Job, job_initial_states, load_domains, sample_job_tasks
from envscale.records import Task, load_jsonl
from envscale.synth.run import SynthOptions, synthesise
from envscale.tasks.datagen import generate_data
from envscale.tasks.toolgraph import ToolGraph
from envscale.trainer import train as run_training
from envscale.trainer.tiny import tiny_model_path

SPECS = Path(__file__).resolve().parent.parent / "specs"
# A few dozen tools of several kinds of API (a library's records, hotel bookings, weather and
# exchange rates, team chat, parcel shipping), in the OpenAI tool format.
COLLECTION = Path(__file__).resolve().parent.parent / "examples" / "apis" / "demo.jsonl"
GENERATED_SEED = 7
GENERATED_SIZE = 6


def _short(value: object, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def candidate_arguments(schema: dict, data: dict, limit: int = 12) -> list[dict]:
    """Argument sets for a tool drawn from the seed data: each required parameter takes the
    values of same-named fields in the records (or its enum's members). Empty when a
    parameter has no source."""
    parameters = schema["function"]["parameters"]
    pools = []
    for name in parameters["required"]:
        enum = parameters["properties"][name].get("enum")
        values = list(enum) if enum else []
        if not values:
            seen = []
            for records in data.values():
                for record in records:
                    value = record.get(name)
                    if (
                        value is not None
                        and not isinstance(value, list | dict)
                        and value not in seen
                    ):
                        seen.append(value)
            values = seen
        if not values:
            return []
        pools.append((name, values))
    return [
        {name: values[(i * (j + 1)) % len(values)] for j, (name, values) in enumerate(pools)}
        for i in range(limit)
    ]


def first_success(env, tool: str, candidates: list[dict]):
    """Try argument sets in turn; failed calls roll back, so only the success stays."""
    result, args, refused = None, None, []
    for args in candidates:
        result = env.call(tool, args)
        if result.ok:
            break
        refused.append(result.error)
    return result, args, refused


def play(spec: Path, build: Path) -> None:
    files, diagnostics, sources = compile_file(spec)
    if files is None:
        print(render_all(diagnostics, sources))
        raise SystemExit(1)
    out = build / spec.stem
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    domain = load(spec)
    manifest = domain.manifest
    agents = [t for t in manifest.tools if t.side == "agent"]  # what the demo's agent may call
    reads = [t for t in agents if t.kind == "read"]
    writes = [t for t in agents if t.kind == "write"]
    print(f"\n== {manifest.domain}: {manifest.description}")
    print(
        f"   compiled to {out}/: {len(manifest.entities)} entities, {len(reads)} read tools, "
        f"{len(writes)} write tools"
    )
    data_file = spec.with_suffix(".data.json")
    if data_file.exists():
        data = json.loads(data_file.read_text(encoding="utf-8"))
        source = data_file.name
    else:
        data = generate_data(domain, GENERATED_SEED, GENERATED_SIZE)
        source = f"generated data (seed {GENERATED_SEED}, {GENERATED_SIZE} per entity)"
    counts = ", ".join(f"{len(records)} {name}" for name, records in data.items())
    print(f"   initial state from {source}: {counts}")
    graph = ToolGraph.from_domain(domain, data)
    print(f"   tool graph: {len(graph.edges)} pairs of tools where an output can feed an argument")
    env = domain.environment(data=data, enforce_policies=False)
    schemas = {s["function"]["name"]: s for s in domain.tool_schemas}
    initial = env.state_hash()
    played = 0
    for tool in reads[:4] + writes[:4]:
        result, args, refused = first_success(
            env, tool.name, candidate_arguments(schemas[tool.name], data)
        )
        if result is None:
            continue
        if refused and result.ok:
            print(
                f"   [err] {tool.name}: {len(refused)} refused call(s) rolled back first, e.g. "
                f"{refused[0]}"
            )
        mark = "ok " if result.ok else "err"
        shown = _short(result.content) if result.ok else result.error
        print(f"   [{mark}] {tool.name}({_short(args, 80)}) -> {shown}")
        played += 1
    bad = env.call(reads[0].name, {"no_such_argument": 1}) if reads else None
    if bad is not None:
        print(f"   [err] {bad.tool}(no_such_argument=1) -> {bad.error}")
    changes = env.diff()
    print(
        f"   {played} calls, {len(changes)} record(s) changed; state hash {env.state_hash()[:16]}…"
    )
    for change in changes[:5]:
        print(f"     {change['kind']:6} {change['entity']} {change['key']}")
    env.reset()
    assert env.state_hash() == initial
    print(f"   reset: state hash back to {initial[:16]}…")


# The demo's choices: the synthesised domains are the general phase and these shipped specs
# the vertical one; how many tasks each contributes, and the training run (both phases on the
# tiny model built offline).
VERTICAL = ("clinic", "retail", "airline")
TASKS_PER_SPEC = 20
TASKS_PER_DOMAIN = 8  # per synthesised domain
SYNTH_TASKS = 8  # tasks sampled and replayed to verify each synthesised domain
SYNTH_MIN_SIZE = 2  # a pair of tools may be a domain: the collection is small
# The models are compared as agents on a handful of held-out tasks of this vertical spec:
# sampled with another seed, none the same as a training task.
HELD_OUT_SPEC = "clinic"
HELD_OUT_TASKS = 3
HELD_OUT_SEED = 2
EVAL_TURNS = 4
EVAL_TOKENS = 48

# The training run is examples/demo.toml (`envscale train examples/demo.toml` repeats it),
# without the progress bar.
TRAINING_FILE = COLLECTION.parents[1] / "demo.toml"
with TRAINING_FILE.open("rb") as _file:
    TRAINING = tomllib.load(_file)
TRAINING.setdefault("training", {})["progress"] = False


def synthesise_collection(build: Path) -> Path:
    """Domains synthesised from the shipped collection: ingest, tool graph, communities, a
    spec each, verification; prints what was kept, rejected and left out."""
    out = build / "demo" / "synth"
    print(f"\n== synthesise domains from {COLLECTION.relative_to(COLLECTION.parents[2])}")
    options = SynthOptions(
        inputs=[COLLECTION],
        out=out,
        seed=0,
        min_size=SYNTH_MIN_SIZE,
        tasks=SYNTH_TASKS,
        progress=False,
        stream=sys.stdout,
    )
    report = synthesise(options)
    tools = report.report["tools"]
    kept = report.kept
    print(
        f"   {tools['ingested']} tools -> {len(report.entries)} domains: {len(kept)} kept, "
        f"{len(report.entries) - len(kept)} rejected; {tools['in_communities']} tools in "
        f"domains ({report.seconds:.1f} s)"
    )
    for entry in report.entries:
        names = ", ".join(t["name"] for t in entry.tools)
        if entry.status == "kept":
            f = entry.figures
            print(
                f"   [kept] {entry.name}: {len(entry.tools)} tools ({f.get('writes', 0)} write), "
                f"entities {', '.join(entry.entities)}; {f.get('tasks_replayed', 0)} tasks "
                f"replayed, {f.get('tools_reached', 0)}/{f.get('tools_total', 0)} tools reached"
            )
            print(f"          {names}")
        else:
            why = entry.reasons[0] if entry.reasons else "no reason recorded"
            print(f"   [rejected] {entry.name} ({names}): {why}")
    for line in (out / "dropped.jsonl").read_text(encoding="utf-8").splitlines():
        dropped = json.loads(line)
        print(f"   [left out] {dropped['tool']}: {dropped['reason']}")
    if not kept:
        print("no synthesised domain was kept", file=sys.stderr)
        raise SystemExit(1)
    return out


def _generate(out: Path, inputs: list[str], tasks: int, label: str) -> Path:
    print(f"\n== generate {label}")
    code = envscale(
        ["generate", *inputs, "--tasks", str(tasks), "--seed", "1", "--out", str(out), "-q"]
    )
    if code != 0:
        raise SystemExit(code)
    return out / "trajectories.jsonl"


def generate(build: Path, synthesised: Path) -> list[Path]:
    """Trajectories from scripted users and agents, filtered: the synthesised domains for the
    general phase, the shipped specs for the vertical one."""
    general = _generate(
        build / "demo" / "general",
        [str(synthesised)],
        TASKS_PER_DOMAIN,
        f"general trajectories: every kept domain of {synthesised}",
    )
    vertical = _generate(
        build / "demo" / "vertical",
        [str(SPECS / f"{spec}.domain") for spec in VERTICAL],
        TASKS_PER_SPEC,
        f"vertical trajectories: {', '.join(VERTICAL)}",
    )
    return [general, vertical]


def train() -> dict | None:
    """Both training phases on the generated trajectories, or None without the train extra."""
    try:
        import torch  # noqa: F401  (the optional 'train' extra; imported only to see it is there)
    except ImportError:
        print("\n== train: skipped (install the 'train' extra)")
        return None
    print("\n== train: phase 1 on general trajectories, phase 2 on vertical ones (tiny model, CPU)")
    summary = run_training(TRAINING)
    for phase in summary["phases"]:
        print(
            f"   {phase['name']:9} {phase['steps']} steps, {phase['trajectories']} trajectories, "
            f"{phase['supervised_tokens']} supervised of {phase['tokens']} tokens, "
            f"train loss {phase['final_train_loss']:.3f}, eval loss {phase['final_eval_loss']:.3f}"
        )
    print(
        f"   model, metrics and loss curves in {TRAINING['output_dir']}/ (final/, metrics.jsonl, "
        "loss.png)"
    )
    return summary


def held_out_tasks(build: Path) -> Path:
    """A few tasks of the held-out spec whose calls and initial state no training task has."""

    def instance(task: Task) -> str:
        calls = [c.to_dict() for c in task.gold_calls]
        return json.dumps([task.domain, task.initial_state, calls], sort_keys=True)

    seen = {instance(t) for t in load_jsonl(build / "demo" / "vertical" / "tasks.jsonl", Task)}
    spec = str(SPECS / f"{HELD_OUT_SPEC}.domain")
    job = Job([spec], build / "demo" / "heldout", tasks=4 * HELD_OUT_TASKS, seed=HELD_OUT_SEED)
    fresh = sample_job_tasks(job, load_domains(job.specs), job_initial_states(job))
    chosen = [t for t in fresh if instance(t) not in seen][:HELD_OUT_TASKS]
    path = build / "demo" / "heldout" / "tasks.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(t.to_json() + "\n" for t in chosen), encoding="utf-8")
    return path


def evaluate_models(build: Path, trained: str) -> dict[str, float]:
    """The untrained and the trained model as agents (`envscale eval --agent hf`), with the
    scripted user, on held-out tasks; their pass^1."""
    tasks = held_out_tasks(build)
    count = len(tasks.read_text(encoding="utf-8").splitlines())
    print(
        f"\n== evaluate: the untrained and the trained model as agents on {count} held-out "
        f"{HELD_OUT_SPEC} tasks (scripted user, {EVAL_TURNS} turns at most)"
    )
    rates = {}
    for label, model in (("untrained", str(tiny_model_path())), ("trained", trained)):
        out = build / "demo" / f"eval-{label}"
        args = ["eval", str(SPECS / f"{HELD_OUT_SPEC}.domain"), "--tasks", str(tasks)]
        args += ["--trials", "1", "--out", str(out), "--workers", "1", "-q"]
        args += ["--agent", "hf", "--agent-model", model, "--max-turns", str(EVAL_TURNS)]
        args += ["--agent-max-tokens", str(EVAL_TOKENS)]
        with contextlib.redirect_stdout(io.StringIO()):  # the JSON report; eval.json has it
            code = envscale(args)
        if code != 0:
            raise SystemExit(code)
        report = json.loads((out / "eval.json").read_text(encoding="utf-8"))
        rates[label] = report["pass^k"]["1"]
        reasons = ", ".join(f"{n} {why}" for why, n in report["failure_reasons"].items())
        print(
            f"   {label:9} pass^1 {rates[label]:.2f}" + (f" (failed: {reasons})" if reasons else "")
        )
    print(f"   episodes in {build / 'demo'}/eval-*/trajectories.jsonl")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m envscale.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--no-train", action="store_true", help="stop after generating trajectories"
    )
    args = parser.parse_args(argv)
    specs = sorted(SPECS.glob("*.domain"))
    if not specs:
        print("no specs found", file=sys.stderr)
        return 1
    build = Path("build")
    shutil.rmtree(build / "demo", ignore_errors=True)  # each demo run starts from nothing
    print(f"envscale demo: {len(specs)} shipped spec(s)")
    for spec in specs:
        play(spec, build)
    generate(build, synthesise_collection(build))
    if not args.no_train:
        summary = train()
        if summary is not None:
            evaluate_models(build, summary["final_model"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
