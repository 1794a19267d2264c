"""Does envscale's data teach a model to act? A small model trained from scratch, evaluated as
an agent with the scripted user on tasks it never saw.

    nice python benchmarks/learning.py [--quick] [--seeds 3] [--steps 700] [--jobs 2]
    nice python benchmarks/learning.py --scaling [--apis ../shared/apis/apis.jsonl.gz --limit N]
        [--counts 3 30 300] [--train-tasks 8] [--scaling-steps 300] [--in-sample 10]

Everything is built offline, in code: domains synthesised from a tool collection (by default
the shipped examples/apis/demo.jsonl) are the general data, and one shipped spec (clinic)
is the vertical one. Trajectories come from `generate` with the scripted agent (without its
deliberate mistakes) and user. They are rendered with the trainer's compact chat format (a
tool is one line, `name(arg, ...)`; the policy is left out; a tool result is cut to
--result-chars characters; an agent's text is its last sentence, the one the scripted user
acts on), and a byte-level BPE tokenizer is trained on them: every digit a token of its own,
and `verbatim` (a space closes the piece before it, a double quote is a token), so a value is
the same tokens in the user's sentence and in the call that copies it; clinic samples are
~390 tokens. The model is a Qwen2-architecture network of about a million parameters,
randomly initialised per seed.

Arms, each with the same total number of optimizer steps:
- untrained: the initialised model;
- vertical only: every step on the vertical trajectories;
- general then vertical: half the steps on general trajectories, half on vertical ones
  (two phases, as the paper trains);
- general only: every step on general trajectories.

Each arm is evaluated with `evaluate_job` (the `envscale eval` path, `hf` agent) on held-out
vertical tasks (sampled with another seed, and none whose calls and initial state equal a
training task's) and on held-out general domains that no arm trained on; pass^k for k up to
--trials. Each arm also reports its teacher-forced next-token accuracy on vertical training
samples (on the digits of the calls' arguments, the tools' names, the rest), a signal that
moves long before pass^k. With --scaling it also trains general-only models on 1, ..., N
training domains at a fixed number of steps (--scaling-steps, so a fixed token budget) and
evaluates them on the held-out domains; arms and points share the --jobs processes.
Prints the tables, writes learning.json and learning.png (and scaling.png) under --out.
--in-sample N adds a set of N of the vertical training tasks, to tell a model that has not
fitted its data from one that does not generalise.

What is kept between runs: the synthesis in --out/synth/<collection>-<sha256 prefix>-<limit>
(keyed by the collection's content and the limit, so another collection gets its own and a
rerun resumes it), and per domain the sampled tasks and their trajectories (reused while
the request, tasks, seed, states, chain and sampling, is the same), and each arm's and
point's result (`result.json` in its folder, reused while its arm, seed, phases, settings
and held-out tasks are the same, files compared by content, so not by where the checkout
is): a run cut short resumes, and a rerun with more --seeds trains only the new ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from envscale.jobs.evaluate import evaluate_job  # noqa: E402
from envscale.jobs.generate import (  # noqa: E402
    Job,
    job_initial_states,
    load_domains,
    run_tasks,
    sample_job_tasks,
)
from envscale.records import Task, Trajectory, load_jsonl, read_jsonl  # noqa: E402
from envscale.rollout.dialogue import BackendConfig  # noqa: E402
from envscale.synth.run import SynthOptions, synthesise  # noqa: E402
from envscale.trainer import train  # noqa: E402
from envscale.trainer.chat import ChatFormat, chat_template  # noqa: E402
from envscale.trainer.data import chat_messages, chat_tools  # noqa: E402
from envscale.trainer.tiny import train_tokenizer  # noqa: E402

VERTICAL = ROOT / "specs" / "clinic.domain"
COLLECTION = ROOT / "examples" / "apis" / "demo.jsonl"
HELD_OUT_DOMAINS = 2  # general domains no arm trains on
TAG_TOKENS = ["<tool_call>", "</tool_call>"]
# The scripted agent without its deliberate mistakes: a small model learns from clean
# demonstrations; the held-out episodes (a model as the agent) have none either.
CLEAN = BackendConfig("scripted", options=(("failure_rate", 0.0),))
ARMS = ("untrained", "vertical only", "general then vertical", "general only")

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Settings:
    seeds: int
    steps: int
    trials: int
    train_tasks: int  # per general domain
    vertical_tasks: int  # of the vertical spec
    vertical_eval_tasks: int
    eval_tasks: int  # per held-out general domain
    max_turns: int
    max_tokens: int
    vocab: int
    hidden: int
    layers: int
    heads: int
    tokens_per_batch: int
    max_length: int
    lr: float
    warmup: float  # share of a phase's steps
    result_chars: int  # a tool result is cut to this many characters
    chain: int  # most calls per sampled task
    states: int  # generated initial states a spec's tasks are spread over; 0: its seed data
    # Loss weight of a tool call's tokens against the other tokens. At 700 steps, 4 against 1
    # raised teacher-forced call digits from 0.46 to 0.51 and tool names from 0.79 to 0.83.
    call_weight: float = 4.0


# Chain 2 and 600 vertical tasks over 150 states: on a clinic state a chain-2 request gives
# about four tasks where a chain-1 request gives one (most single calls fail there). 700
# steps of the ~390-token samples (results cut to 120 characters) fill about 13 minutes of
# an arm at load 5-6 on two cores; 128 tokens a turn fit the longest calls.
FULL = Settings(
    3, 700, 4, 40, 600, 10, 2, 10, 128, 2048, 128, 3, 4, 2048, 1024, 6e-3, 0.05, 120, 2, 150
)
QUICK = Settings(1, 4, 2, 6, 18, 2, 1, 3, 24, 512, 32, 1, 4, 2048, 768, 3e-3, 0.05, 300, 2, 3)
# Data seeds of the held-out tasks' generated states, far from the training ones (0, 1, ...).
HELD_OUT_DATA_SEED = 100_000


# ---- data


def template(s: Settings) -> str:
    """The compact rendering: a tool is one line, the policy is left out, results cut short."""
    fmt = ChatFormat(tools="line", system=False, results="plain", result_chars=s.result_chars)
    return chat_template(fmt)


def synthesis_folder(root: Path, apis: Path, limit: int | None) -> Path:
    """Where the synthesis of `apis` (its first `limit` tools) is kept: a folder named by the
    collection's content and the limit, so another collection or limit gets its own and a
    rerun resumes (or reuses) this one wherever --out is."""
    digest = hashlib.sha256(apis.read_bytes()).hexdigest()[:12]
    return root / f"{apis.name.split('.')[0]}-{digest}-{limit if limit else 'all'}"


def synthesised_domains(root: Path, apis: Path, limit: int | None) -> list[Path]:
    out = synthesis_folder(root, apis, limit)
    report = synthesise(
        SynthOptions(
            inputs=[apis], out=out, seed=0, min_size=2, tasks=8, limit=limit, progress=False
        )
    )
    return sorted(out / entry.spec for entry in report.kept)


def sampling_job(specs: list[Path], out: Path, tasks: int, seed: int, s: Settings, data_seed: int):
    """A job sampling `tasks` per spec, spread over `s.states` generated initial states (data
    seeds from `data_seed`; each task on a state of its own when there are fewer tasks), so
    the ids, names and dates differ between tasks and only what the dialogue says can tell
    the agent which ones to use. With `s.states` 0 every task starts from the spec's data."""
    varied = s.states > 0
    return Job(
        [str(spec) for spec in specs],
        out,
        tasks=tasks,
        seed=seed,
        agent=CLEAN,
        workers=1,
        max_length=s.chain,
        data="generated" if varied else "auto",
        data_seed=data_seed if varied else 0,
        data_states=min(tasks, s.states) if varied else 1,
        progress=False,
    )


def varied_tasks(spec: Path, n: int, seed: int, data_seed: int, s: Settings) -> list[Task]:
    """n tasks of one spec spread over `s.states` generated states (data seeds from
    `data_seed`); `sample_over_states` walks each state with a seed of its own, so the ids,
    names and dates differ from task to task and a model cannot memorise one table of them."""
    job = sampling_job([spec], Path("."), n, seed, s, data_seed)
    return sample_job_tasks(job, load_domains([str(spec)]), job_initial_states(job))


def trajectories(specs: list[Path], out: Path, tasks: int, seed: int, s: Settings) -> list[Path]:
    """Scripted trajectories, one file per domain, as the compact template shows them. The
    sampled tasks are kept beside them and reused while the request is the same."""
    files = []
    for spec in specs:
        folder = out / spec.stem
        folder.mkdir(parents=True, exist_ok=True)
        request = json.dumps(
            {"tasks": tasks, "seed": seed, "states": s.states, "chain": s.chain, "sampling": 2}
        )
        tasks_file, request_file = folder / "tasks.jsonl", folder / "request.json"
        if request_file.exists() and request_file.read_text() == request:
            sampled = load_jsonl(tasks_file, Task)
        else:
            shutil.rmtree(folder)
            folder.mkdir(parents=True)
            sampled = varied_tasks(spec, tasks, seed, 0, s)
            tasks_file.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in sampled))
            request_file.write_text(request)
        run_tasks(sampling_job([spec], folder, len(sampled), seed, s, 0), sampled)
        target = folder / "compact.jsonl"
        files.append(compact(folder / "trajectories.jsonl", target, s.result_chars))
    return files


def compact(source: Path, target: Path, result_chars: int) -> Path:
    """The trajectories as the compact format shows them: the policy and the end of long tool
    results taken out (so the trainer's audit holds every message to its rendering), and the
    agent's text cut to its last sentence."""
    lines = []
    for trajectory in read_jsonl(source, Trajectory):
        record = trajectory.to_dict()
        for message in record["messages"]:
            if message["role"] == "system":
                message["content"] = ""
            elif message["role"] == "tool":
                message["content"] = (message.get("content") or "")[:result_chars]
            elif message["role"] == "assistant" and message.get("content"):
                message["content"] = last_sentence(message["content"])
        lines.append(json.dumps(record, ensure_ascii=False))
    target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return target


def last_sentence(text: str) -> str:
    """What the scripted user acts on: the last sentence of what the agent says (its question,
    or the offer of more help). The rest restates tool results, which the tokens of a small
    model are better spent on reading than on repeating."""
    return SENTENCE_END.split(text.strip())[-1]


def instance(task: Task) -> str:
    calls = [c.to_dict() for c in task.gold_calls]
    return json.dumps([task.domain, task.initial_state, calls], sort_keys=True)


def held_out_tasks(specs: list[Path], n: int, seed: int, seen: set[str], s: Settings) -> list[Task]:
    """n tasks per spec sampled with another seed (and, with varied states, on states of
    data seeds no training task has), none whose instance a training task has."""
    one_each = replace(s, states=min(s.states, n))  # n states: one per task kept
    domains = load_domains([str(spec) for spec in specs])
    sampled = [
        t for spec in specs for t in varied_tasks(spec, 4 * n, seed, HELD_OUT_DATA_SEED, one_each)
    ]
    fresh = [t for t in sampled if instance(t) not in seen]
    # The first task of each state before the second of any, so the n kept differ in state.
    rank: dict[str, int] = {}
    order = []
    for task in fresh:
        key = json.dumps([task.domain, task.initial_state], sort_keys=True)
        rank[key] = rank.get(key, -1) + 1
        order.append(rank[key])
    fresh = [t for _, t in sorted(zip(order, fresh, strict=True), key=lambda pair: pair[0])]
    return [t for d in domains for t in [t for t in fresh if t.domain == d.name][:n]]


def training_instances(files: list[Path]) -> set[str]:
    seen = set()
    for file in files:
        for task in load_jsonl(file.parent / "tasks.jsonl", Task):
            seen.add(instance(task))
    return seen


# ---- the model


def rendered_texts(files: list[Path], s: Settings) -> list[str]:
    from transformers.utils.chat_template_utils import render_jinja_template

    texts = []
    for file in files:
        for traj in load_jsonl(file, Trajectory):
            rendered, _ = render_jinja_template(
                [chat_messages(traj)], tools=chat_tools(traj), chat_template=template(s)
            )
            texts.append(rendered[0])
    return texts


def build_tokenizer(texts: list[str], s: Settings):
    return train_tokenizer(texts, s.vocab, template(s), TAG_TOKENS, verbatim=True)


def build_model(directory: Path, tokenizer, settings: Settings, seed: int) -> Path:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden,
        intermediate_size=3 * settings.hidden,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        num_key_value_heads=max(1, settings.heads // 2),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def parameters(directory: Path) -> int:
    from transformers import AutoModelForCausalLM

    return sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(directory).parameters())


# ---- arms


def phase(name: str, files: list[Path], steps: int, settings: Settings) -> dict:
    return {
        "name": name,
        "data": [str(f) for f in files],
        "eval_fraction": 0.0,
        "steps": steps,
        "lr": settings.lr,
        "schedule": "cosine",
        "warmup": settings.warmup,
        "tokens_per_batch": settings.tokens_per_batch,
        "max_length": settings.max_length,
    }


def train_arm(
    base: Path, out: Path, phases: list[dict], seed: int, s: Settings
) -> tuple[Path, float]:
    started = time.perf_counter()
    summary = train(
        {
            "output_dir": str(out),
            "seed": seed,
            "model": {"base": str(base)},
            "training": {"progress": False, "merge_final": True, "call_weight": s.call_weight},
            "phases": phases,
        }
    )
    return Path(summary["final_model"]), time.perf_counter() - started


def evaluate(
    model: Path, specs: list[Path], tasks: list[Task], out: Path, settings: Settings
) -> dict:
    agent = BackendConfig("hf", model=str(model), max_tokens=settings.max_tokens)
    job = Job(
        [str(s) for s in specs],
        out,
        seed=0,
        agent=agent,
        trials=settings.trials,
        workers=1,
        max_steps=settings.max_turns,
        progress=False,
    )
    report, _ = evaluate_job(job, tasks, settings.trials)
    return {
        "pass^k": report.pass_k,
        "first_gold_call": first_gold_call_rate(out / "trajectories.jsonl", tasks),
        "failure_reasons": report.failure_reasons,
        "tasks": report.tasks,
        "episodes": report.episodes,
    }


ASSISTANT_TURN = re.compile(r"<\|im_start\|>assistant\n(.*?)<\|im_end\|>", re.S)
CALL_ARGUMENTS = re.compile(r'"arguments": (\{.*?\})\}</tool_call>')
CALL_NAME = re.compile(r'"name": "([^"]+)"')
TEACHER_FORCED = "teacher_forced.json"


def teacher_forced(model_dir: Path, files: list[Path], s: Settings, n: int = 60) -> dict:
    """Next-token accuracy on the assistant turns of the first `n` samples of `files`, fed the
    demonstration itself: on the digits of the calls' arguments (the ids and dates copied from
    the dialogue), on the tokens of the tools' names and on the rest. A finer signal than
    pass^k, which needs every token of every call right."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    counts = {"call digits": [0, 0], "call names": [0, 0], "other": [0, 0]}
    for text in rendered_texts(files, s)[:n]:
        encoded = tokenizer(text, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"][: s.max_length], encoded["offset_mapping"]
        with torch.no_grad():
            predicted = model(torch.tensor([ids])).logits[0].argmax(-1).tolist()
        turns = [m.span(1) for m in ASSISTANT_TURN.finditer(text)]
        arguments = [m.span(1) for m in CALL_ARGUMENTS.finditer(text)]
        names = [m.span(1) for m in CALL_NAME.finditer(text)]
        for i in range(1, len(ids)):
            start, end = offsets[i]
            if not any(a <= start < b for a, b in turns):
                continue
            if text[start:end].isdigit() and any(a <= start < b for a, b in arguments):
                kind = "call digits"
            elif any(a <= start < b for a, b in names):
                kind = "call names"
            else:
                kind = "other"
            counts[kind][0] += predicted[i - 1] == ids[i]
            counts[kind][1] += 1
    return {kind: right / total if total else 0.0 for kind, (right, total) in counts.items()}


def first_gold_call_rate(path: Path, tasks: list[Task]) -> float:
    """The share of episodes in which the agent made its task's first gold call, name and
    arguments exactly: whether it copies the ids the dialogue gives into a call."""
    first = {}
    for task in tasks:
        calls = [c for c in task.gold_calls if c.side == "agent"]
        if calls:
            first[task.id] = (calls[0].name, calls[0].arguments)
    made = total = 0
    for trajectory in load_jsonl(path, Trajectory):
        if trajectory.task_id not in first:
            continue
        total += 1
        for message in trajectory.to_dict()["messages"]:
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    continue
                if (function.get("name"), arguments) == first[trajectory.task_id]:
                    made += 1
                    break
            else:
                continue
            break
    return made / total if total else 0.0


def arm_phases(arm: str, general: list[Path], vertical: list[Path], s: Settings) -> list[dict]:
    if arm == "vertical only":
        return [phase("vertical", vertical, s.steps, s)]
    if arm == "general only":
        return [phase("general", general, s.steps, s)]
    half = s.steps // 2
    return [phase("general", general, half, s), phase("vertical", vertical, s.steps - half, s)]


@dataclass
class Unit:
    """One model to train (None phases: the untrained one) and evaluate on the held-out sets."""

    label: str
    seed: int
    phases: list[dict] | None
    base: Path
    folder: Path
    sets: dict[str, tuple[list[Path], list[Task]]]
    settings: Settings
    threads: int
    probe: list[Path] = field(default_factory=list)  # samples to measure teacher-forced on


RESULT = "result.json"


def file_digest(path: str | Path) -> str:
    """A file by its name and content, not its place: a key holds in another checkout."""
    path = Path(path)
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"


def unit_key(unit: Unit) -> str:
    """What a unit's result depends on: its arm, seed, phases (their data by content),
    settings and held-out sets (their specs by content, their tasks by id)."""
    sets = {
        name: [[file_digest(spec) for spec in specs], [t.id for t in tasks]]
        for name, (specs, tasks) in unit.sets.items()
    }
    phases = (
        [{**p, "data": [file_digest(f) for f in p["data"]]} for p in unit.phases]
        if unit.phases is not None
        else None
    )
    settings = {k: v for k, v in unit.settings.__dict__.items() if k != "seeds"}
    request = [unit.label, unit.seed, phases, settings, sets]
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def kept_result(unit: Unit) -> tuple[dict, float] | None:
    """The scores and training seconds an earlier run wrote for this same unit, if any."""
    path = unit.folder / RESULT
    if not path.exists():
        return None
    kept = json.loads(path.read_text())
    return (kept["scores"], kept["seconds"]) if kept.get("key") == unit_key(unit) else None


def run_unit(unit: Unit) -> tuple[Unit, dict, float]:
    import torch

    torch.set_num_threads(unit.threads)
    shutil.rmtree(unit.folder, ignore_errors=True)  # an earlier run's episodes are not reused
    model, seconds = unit.base, 0.0
    if unit.phases is not None:
        model, seconds = train_arm(
            unit.base, unit.folder / "run", unit.phases, unit.seed, unit.settings
        )
    scores = {
        name: evaluate(model, specs, tasks, unit.folder / f"eval-{name}", unit.settings)
        for name, (specs, tasks) in unit.sets.items()
    }
    if unit.probe:
        measured = teacher_forced(model, unit.probe, unit.settings)
        (unit.folder / TEACHER_FORCED).write_text(json.dumps(measured))
    result = {"key": unit_key(unit), "scores": scores, "seconds": seconds}
    (unit.folder / RESULT).write_text(json.dumps(result, indent=2))
    return unit, scores, seconds


def run_units(units: list[Unit], jobs: int) -> Iterator[tuple[Unit, dict, float]]:
    """Each unit's result as it finishes; `jobs` processes at once (forked, so the data and the
    tokenizer are shared). A unit an earlier run finished with the same request is not run
    again: its result is read back, so a run cut short resumes and seeds can be added."""
    todo = []
    for unit in units:
        kept = kept_result(unit)
        if kept is None:
            todo.append(unit)
        else:
            print(f"seed {unit.seed} {unit.label}: kept from an earlier run", flush=True)
            yield unit, *kept
    units = todo
    if jobs <= 1:
        yield from map(run_unit, units)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for future in as_completed([pool.submit(run_unit, unit) for unit in units]):
            yield future.result()


# ---- reporting


def spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def table(results: dict, sets: list[str], k: int) -> str:
    ks = sorted({1, k})
    lines = [f"{'arm':24}" + "".join(f"{s + ' pass^' + str(j):>26}" for s in sets for j in ks)]
    for arm, by_set in results.items():
        row = f"{arm:24}"
        for name in sets:
            for j in ks:
                values = [seed[name]["pass^k"][str(j)] for seed in by_set]
                sd = spread(values)
                row += f"{sd['mean']:>14.3f} [{sd['min']:.2f}-{sd['max']:.2f}]".rjust(26)
        lines.append(row)
    return "\n".join(lines)


def plot(results: dict, sets: list[str], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / len(sets)
    for j, name in enumerate(sets):
        means, errors = [], [[], []]
        for by_set in results.values():
            values = [seed[name]["pass^k"]["1"] for seed in by_set]
            mean = statistics.fmean(values)
            means.append(mean)
            errors[0].append(mean - min(values))
            errors[1].append(max(values) - mean)
        xs = [i + j * width for i in range(len(results))]
        ax.bar(xs, means, width, yerr=errors, capsize=3, label=name)
    ax.set_xticks([i + width * (len(sets) - 1) / 2 for i in range(len(results))])
    ax.set_xticklabels(list(results), fontsize=8)
    ax.set(ylabel="pass^1 (min-max over seeds)", ylim=(0, 1.05), title="held-out tasks")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_scaling(points: dict[int, list[float]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ns = sorted(points)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ns, [statistics.fmean(points[n]) for n in ns], marker="o")
    ax.fill_between(ns, [min(points[n]) for n in ns], [max(points[n]) for n in ns], alpha=0.2)
    ax.set(
        xlabel="training domains",
        ylabel="pass^1 on held-out domains",
        ylim=(0, 1.05),
        xscale="log" if ns[-1] >= 10 else "linear",
    )
    ax.set_xticks(ns)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---- the run

SCALING = "scaling:"  # the label prefix of a scaling point's unit


def scaling_counts(args: argparse.Namespace, available: int) -> list[int]:
    counts = sorted({1, max(1, available // 2), available})
    if not args.quick and available >= 30:
        counts = sorted({1, 3, 10, 30, available})
    if args.counts:
        counts = sorted({min(n, available) for n in args.counts})
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a minute-scale smoke run")
    parser.add_argument("--seeds", type=int, help="seeds per arm (default 3)")
    parser.add_argument("--steps", type=int, help="optimizer steps per arm (default 700)")
    parser.add_argument("--trials", type=int, help="trials per held-out task, the largest k")
    parser.add_argument("--lr", type=float, help="peak learning rate (default 6e-3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="models trained at once (default 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "learning")
    parser.add_argument(
        "--arms", nargs="+", choices=ARMS, default=list(ARMS), metavar="ARM", help="arms to run"
    )
    parser.add_argument("--scaling", action="store_true", help="also the scaling curve")
    parser.add_argument("--scaling-seeds", type=int, help="seeds per point (default --seeds)")
    parser.add_argument(
        "--scaling-steps", type=int, help="optimizer steps per point (default --steps)"
    )
    parser.add_argument("--no-arms", action="store_true", help="only the scaling curve")
    parser.add_argument(
        "--counts", type=int, nargs="+", help="training-domain counts of the scaling curve"
    )
    parser.add_argument(
        "--train-tasks", type=int, help="training tasks per general domain (default 40)"
    )
    parser.add_argument(
        "--vertical-tasks", type=int, help="training tasks of the vertical spec (default 600)"
    )
    parser.add_argument("--eval-tasks", type=int, help="held-out vertical tasks (default 10)")
    parser.add_argument("--chain", type=int, help="most calls per sampled task (default 2)")
    parser.add_argument("--hidden", type=int, help="the model's hidden size (default 128)")
    parser.add_argument("--layers", type=int, help="the model's layers (default 3)")
    parser.add_argument("--heads", type=int, help="attention heads (default 4)")
    parser.add_argument("--tokens-per-batch", type=int, help="tokens a step (default 2048)")
    parser.add_argument("--result-chars", type=int, help="tool results cut to (default 120)")
    parser.add_argument("--max-tokens", type=int, help="tokens a model turn (default 128)")
    parser.add_argument("--warmup", type=float, help="warm-up share of a phase (default 0.05)")
    parser.add_argument(
        "--call-weight", type=float, help="loss weight of tool-call tokens (default 4)"
    )
    parser.add_argument(
        "--in-sample",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate on N of the vertical training tasks (whether the model fits them)",
    )
    parser.add_argument(
        "--states",
        type=int,
        help="generated initial states each spec's tasks are spread over (default 150; the "
        "held-out tasks get states of their own); 0: every task on the spec's seed data",
    )
    parser.add_argument("--apis", type=Path, default=COLLECTION, help="tool collection")
    parser.add_argument("--limit", type=int, help="the collection's first N tools only")
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    s = QUICK if args.quick else FULL
    s = Settings(
        **{
            **s.__dict__,
            **{k: v for k, v in (("seeds", args.seeds), ("steps", args.steps)) if v},
            **({"trials": args.trials} if args.trials else {}),
            **({"lr": args.lr} if args.lr else {}),
            **({"train_tasks": args.train_tasks} if args.train_tasks else {}),
            **{
                key: value
                for key, value in (
                    ("vertical_tasks", args.vertical_tasks),
                    ("vertical_eval_tasks", args.eval_tasks),
                    ("chain", args.chain),
                    ("hidden", args.hidden),
                    ("layers", args.layers),
                    ("heads", args.heads),
                    ("tokens_per_batch", args.tokens_per_batch),
                    ("warmup", args.warmup),
                    ("result_chars", args.result_chars),
                    ("max_tokens", args.max_tokens),
                    ("call_weight", args.call_weight),
                )
                if value
            },
            **({"states": args.states} if args.states is not None else {}),
        }
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    domains = synthesised_domains(out / "synth", args.apis, args.limit)
    if len(domains) <= HELD_OUT_DOMAINS:
        print(f"only {len(domains)} synthesised domains: too few to hold some out", file=sys.stderr)
        return 1
    held_domains = domains[-HELD_OUT_DOMAINS:] if args.quick else domains[::4][:HELD_OUT_DOMAINS]
    general_domains = [d for d in domains if d not in held_domains]
    general = trajectories(general_domains, out / "data" / "general", s.train_tasks, 1, s)
    vertical = trajectories([VERTICAL], out / "data" / "vertical", s.vertical_tasks, 1, s)
    seen = training_instances(general + vertical)
    vertical_tasks = held_out_tasks([VERTICAL], s.vertical_eval_tasks, 101, seen, s)
    general_tasks = held_out_tasks(held_domains, s.eval_tasks, 101, seen, s)
    texts = rendered_texts(general + vertical, s)
    tokenizer = build_tokenizer(texts, s)
    lengths = sorted(len(tokenizer(t)["input_ids"]) for t in texts)
    n_vertical = len(load_jsonl(vertical[0], Trajectory))
    print(
        f"data: {len(general_domains)} general domains ({len(texts) - n_vertical} "
        f"trajectories), vertical {VERTICAL.stem} ({n_vertical}); "
        f"held out: {len(vertical_tasks)} vertical tasks, {len(general_tasks)} tasks of "
        f"{', '.join(d.stem for d in held_domains)}; tokenizer {len(tokenizer)} tokens, "
        f"median sample {lengths[len(lengths) // 2]} tokens, longest {lengths[-1]}"
    )
    sets = {"vertical": ([VERTICAL], vertical_tasks), "general": (held_domains, general_tasks)}
    if args.in_sample:
        trained_on = load_jsonl(vertical[0].parent / "tasks.jsonl", Task)
        sets["vertical (train)"] = (
            [VERTICAL],
            trained_on[:: max(1, len(trained_on) // args.in_sample)][: args.in_sample],
        )
    results: dict[str, list[dict]] = {}
    timings: dict[str, list[float]] = {}
    seeds = max(s.seeds, (args.scaling_seeds or s.seeds) if args.scaling else 0)
    bases = [build_model(out / f"seed{i}" / "base", tokenizer, s, i) for i in range(seeds)]
    size = parameters(bases[0])
    record: dict = {
        "settings": s.__dict__,
        "parameters": size,
        "vertical": VERTICAL.stem,
        "general_domains": [d.stem for d in general_domains],
        "held_out_domains": [d.stem for d in held_domains],
        "held_out_tasks": {"vertical": len(vertical_tasks), "general": len(general_tasks)},
        "arms": results,
        "train_seconds": timings,
    }

    def save() -> None:  # after every arm, so a run cut short keeps what it measured
        record["seconds"] = time.perf_counter() - started
        (out / "learning.json").write_text(json.dumps(record, indent=2))

    units = [
        Unit(
            arm,
            seed,
            None if arm == "untrained" else arm_phases(arm, general, vertical, s),
            bases[seed],
            out / f"seed{seed}" / arm.replace(" ", "-"),
            sets,
            s,
            args.threads,
            vertical,
        )
        for seed in range(s.seeds)
        for arm in ([] if args.no_arms else args.arms)
    ]
    counts = scaling_counts(args, len(general_domains)) if args.scaling else []
    scaling_steps = args.scaling_steps or s.steps
    held = {"general": (held_domains, general_tasks)}
    units += [
        Unit(
            f"{SCALING}{n}",
            seed,
            [phase("general", general[:n], scaling_steps, s)],
            bases[seed],
            out / f"seed{seed}" / f"scaling-{n}",
            held,
            s,
            args.threads,
        )
        for n in counts
        for seed in range(args.scaling_seeds or s.seeds)
    ]
    points: dict[int, list[float]] = {}
    done: dict[tuple[str, int], tuple[dict, float]] = {}
    # Arms and scaling points share one pool, so no process waits for the other kind.
    for unit, scores, seconds in run_units(units, args.jobs):
        if unit.label.startswith(SCALING):
            n = int(unit.label.removeprefix(SCALING))
            points.setdefault(n, []).append(scores["general"]["pass^k"]["1"])
            record["scaling"] = {str(k): points[k] for k in sorted(points)}
            record.setdefault("scaling_train_seconds", {}).setdefault(str(n), []).append(seconds)
            print(
                f"scaling: {n} training domains: held-out pass^1 {points[n]} "
                f"(trained in {seconds:.0f} s)",
                flush=True,
            )
            save()
            continue
        done[unit.label, unit.seed] = scores, seconds
        forced = unit.folder / TEACHER_FORCED
        if forced.exists():
            measured = json.loads(forced.read_text())
            record.setdefault("teacher_forced", {}).setdefault(unit.label, []).append(measured)
            print(
                f"seed {unit.seed} {unit.label}: teacher-forced on vertical training samples: "
                + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()),
                flush=True,
            )
        for arm in args.arms:  # in the order of the arms and the seeds, whatever finished first
            finished = [done[arm, i] for i in range(s.seeds) if (arm, i) in done]
            if finished:
                results[arm] = [scores for scores, _ in finished]
                timings[arm] = [seconds for _, seconds in finished]
        said = ", ".join(
            f"{n} pass^1 {v['pass^k']['1']:.3f} (first gold call {v['first_gold_call']:.2f})"
            for n, v in scores.items()
        )
        print(f"seed {unit.seed} {unit.label}: {said} (trained in {seconds:.0f} s)", flush=True)
        save()

    if results:
        print(f"\n{s.steps} steps per arm, {s.seeds} seed(s), model of {size:,} parameters")
        print("pass^1 and pass^k: mean [min-max] over seeds")
        print(table(results, list(sets), s.trials))
        if plot(results, list(sets), out / "learning.png"):
            print(f"plot: {out / 'learning.png'}")

    if counts:
        budget = scaling_steps * s.tokens_per_batch
        print(
            f"\ntraining domains -> held-out domains pass^1 (mean over seeds; {scaling_steps} "
            f"steps of {s.tokens_per_batch} tokens, at most {budget:,} tokens, per point)"
        )
        for n in counts:
            print(f"{n:>6} -> {statistics.fmean(points[n]):.3f}  {points[n]}")
        if plot_scaling(points, out / "scaling.png"):
            print(f"plot: {out / 'scaling.png'}")

    save()
    print(f"wrote {out / 'learning.json'} ({record['seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
