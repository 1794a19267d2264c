"""Training throughput and memory: envscale's trainer against TRL's SFTTrainer.

Both train the tiny offline model on the same trajectory files, rendered with the same chat
template, with packing and assistant-only loss, the same packed-row length and rows per
step, optimizer and schedule. Each runs in its own process. Reported:
supervised tokens per second over the steps after warm-up, and peak memory (CUDA: peak
allocated; CPU: peak resident memory above the process's size before the trainer starts).

    pip install trl "torch==2.13.0"     # TRL is a benchmark-only dependency; keep torch pinned
    HF_HUB_OFFLINE=1 python benchmarks/train_throughput.py [--steps 30] [--max-length 2048]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class PeakMemory:
    """Peak CUDA allocation, or peak RSS above the starting RSS, sampled in a thread."""

    def __init__(self) -> None:
        import torch

        self.cuda = torch.cuda.is_available()
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self) -> PeakMemory:
        import torch

        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.cuda:
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())

    @property
    def used_mib(self) -> float:
        return (self.peak - self.base) / 2**20


def run_ours(args: argparse.Namespace) -> dict:
    # Libraries load before the measured window, as TRL's do in run_trl.
    import accelerate  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import peft  # noqa: F401
    import transformers  # noqa: F401

    import envscale.trainer.loop  # noqa: F401
    from envscale.trainer import train
    from envscale.trainer.metrics import read_metrics

    out = Path(tempfile.mkdtemp(prefix="bench-ours-"))
    config = {
        "output_dir": str(out),
        "model": {"base": "tiny", "dtype": "auto"},
        "training": {"progress": False, "merge_final": False, "max_grad_norm": 1.0},
        "phases": [
            {
                "name": "bench",
                "data": [f"{args.data}/*/*.jsonl"],
                "eval_fraction": 0.0,
                "steps": args.warmup + args.steps,
                "lr": args.lr,
                "schedule": "cosine",
                "warmup": 1,
                "max_length": args.max_length,
                "tokens_per_batch": args.max_length * args.accumulation,
            }
        ],
    }
    with PeakMemory() as memory:
        train(config)
    every = [r for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "train"]
    records = every[args.warmup :]
    supervised = sum(r["supervised_tokens"] for r in records)
    seconds = sum(r["step_s"] for r in records)
    return {
        "supervised_tokens_per_s": supervised / seconds,
        "peak_mib": memory.used_mib,
        "steps": len(records),
        "mean_loss": sum(r["loss"] for r in every) / len(every),
    }


def run_trl(args: argparse.Namespace) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from envscale.trainer.config import ModelConfig
    from envscale.trainer.modeling import load_tokenizer
    from envscale.trainer.tiny import tiny_model_path

    # The raw trajectories, as TRL takes them: it renders them with the same chat template.
    # Arguments stay JSON text (Arrow cannot hold dicts of differing keys); tools go as JSON.
    rows = [
        json.loads(line)
        for path in sorted(Path(args.data).glob("*/*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    rows = [r for r in rows if all(r["filters"].values())]
    dataset = Dataset.from_list(
        [
            {
                "messages": [
                    {
                        "role": m["role"],
                        "content": m.get("content") or "",
                        "tool_calls": m.get("tool_calls"),
                    }
                    for m in r["messages"]
                ],
                "tools": json.dumps(r["tools"]),
            }
            for r in rows
        ]
    )
    tokenizer = load_tokenizer(ModelConfig(base="tiny"))
    cuda = torch.cuda.is_available()
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-trl-"),
        max_steps=args.warmup + args.steps,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=args.accumulation,
        learning_rate=args.lr,
        lr_scheduler_type="cosine",
        warmup_steps=1,
        max_grad_norm=1.0,
        weight_decay=0.0,
        packing=True,
        max_length=args.max_length,
        assistant_only_loss=True,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        logging_steps=10_000,
        save_strategy="no",
        report_to=[],
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    supervised_per_batch: list[int] = []
    step_ends: list[float] = []

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            step_ends.append(time.perf_counter())

        def on_step_end(self, *a, **k):
            step_ends.append(time.perf_counter())

    with PeakMemory() as memory:
        model = AutoModelForCausalLM.from_pretrained(tiny_model_path(), attn_implementation="sdpa")
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[Clock()],
        )
        collate = trainer.data_collator

        def counting(examples):
            batch = collate(examples)
            supervised_per_batch.append(int((batch["labels"][..., 1:] != -100).sum()))
            return batch

        trainer.data_collator = counting
        result = trainer.train()
    accumulation = args.accumulation
    per_step = [
        sum(supervised_per_batch[i * accumulation : (i + 1) * accumulation])
        for i in range(len(step_ends) - 1)
    ]
    intervals = [b - a for a, b in itertools.pairwise(step_ends)]
    measured = slice(args.warmup, None)
    return {
        "supervised_tokens_per_s": sum(per_step[measured]) / sum(intervals[measured]),
        "peak_mib": memory.used_mib,
        "steps": len(intervals[measured]),
        "mean_loss": result.training_loss,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description="envscale trainer vs TRL SFTTrainer: throughput and memory"
    )
    ap.add_argument("--steps", type=int, default=30, help="measured optimizer steps")
    ap.add_argument("--warmup", type=int, default=3, help="steps run before measuring")
    ap.add_argument("--max-length", type=int, default=2048, help="packed row length in tokens")
    ap.add_argument("--accumulation", type=int, default=4, help="rows per optimizer step")
    ap.add_argument("--per-domain", type=int, default=80, help="example trajectories per domain")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--worker", choices=["ours", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="a short run, for the tests")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.warmup, args.max_length, args.per_domain = 2, 1, 1024, 4

    if args.worker:
        result = run_ours(args) if args.worker == "ours" else run_trl(args)
        print("RESULT " + json.dumps(result))
        return 0

    workers = ["ours", "trl"]
    try:
        import trl  # noqa: F401
    except ImportError:
        workers.remove("trl")
        print(
            "TRL is not installed, so only envscale is measured; for the comparison: "
            "pip install trl 'torch==2.13.0'",
            file=sys.stderr,
        )

    data = tempfile.mkdtemp(prefix="bench-data-")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "make_example_trajectories.py"),
            "--out",
            data,
            "--n",
            str(args.per_domain),
        ],
        check=True,
        capture_output=True,
    )
    results = {}
    for worker in workers:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            worker,
            "--data",
            data,
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
            "--max-length",
            str(args.max_length),
            "--accumulation",
            str(args.accumulation),
            "--lr",
            str(args.lr),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode or line is None:
            print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n")
            return 1
        results[worker] = json.loads(line[len("RESULT ") :])

    import torch

    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({os.cpu_count()} cores)"
    )
    memory = "peak CUDA memory allocated" if torch.cuda.is_available() else "peak RSS above start"
    print(
        f"tiny model, {args.max_length}-token packed rows x {args.accumulation} per step, "
        f"{args.steps} measured steps after {args.warmup}, on {device}"
    )
    print(f"{'trainer':<10} {'supervised tok/s':>17} {memory + ' (MiB)':>36} {'mean loss':>11}")
    for name, label in (("ours", "envscale"), ("trl", "TRL SFT")):
        if name not in results:
            continue
        r = results[name]
        print(
            f"{label:<10} {r['supervised_tokens_per_s']:>17,.0f} {r['peak_mib']:>36,.1f} "
            f"{r['mean_loss']:>11.3f}"
        )
    if "trl" not in results:
        return 0
    ours, theirs = results["ours"], results["trl"]
    print(
        "throughput ratio envscale/TRL: "
        f"{ours['supervised_tokens_per_s'] / theirs['supervised_tokens_per_s']:.2f}x; "
        f"memory ratio: {ours['peak_mib'] / max(theirs['peak_mib'], 1e-9):.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
