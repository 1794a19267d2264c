"""Two-phase supervised fine-tuning on envscale trajectories.

Phase 1 trains on general-domain trajectories, phase 2 continues on vertical ones; the
loss covers assistant tokens only. Reads top to bottom: data, plans, then each phase's
loop with evaluation and checkpoints, then the merged model and the summary.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import checkpoint as ckpt
from .audit import AuditError
from .config import PhaseConfig, TrainConfig, apply_overrides, load_config
from .data import FileInfo, load_trajectories, sample_replay, split_eval
from .metrics import MetricsLog, plot_losses, read_metrics
from .modeling import build_phase_model, final_model, load_tokenizer, phase_dir
from .packing import collate, pack, plan_phase, supervised_in
from .render import Renderer, Sample
from .templates import resolve_template


@dataclass
class PhaseData:
    train: list[Sample]
    eval: list[Sample]
    files: list[FileInfo]
    dropped: int = 0  # samples whose first assistant turn does not fit max_length
    truncated: int = 0
    replayed: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


# -----------------------------------------------------------------------------
# Data: read, render with the model's chat template, audit every mask


def render_all(renderer: Renderer, trajectories: Sequence[Any], max_length: int) -> tuple[list[Sample], int]:
    samples, dropped = [], 0
    for traj in trajectories:
        sample = renderer.sample(traj, max_length)
        if sample is None:
            dropped += 1
        else:
            samples.append(sample)
    return samples, dropped


def prepare_data(cfg: TrainConfig, renderer: Renderer) -> list[PhaseData]:
    phases: list[PhaseData] = []
    for index, phase in enumerate(cfg.phases):
        trajs, files = load_trajectories(phase.data, phase.require_filters)
        if phase.eval_data:
            held, eval_files = load_trajectories(phase.eval_data, phase.require_filters)
            files += eval_files
        else:
            trajs, held = split_eval(trajs, phase.eval_fraction, cfg.seed)
        if not trajs:
            raise AuditError(f"phase {phase.name!r}: no trajectory passed the filters {phase.require_filters}")
        train, dropped = render_all(renderer, trajs, phase.max_length)
        evals, _ = render_all(renderer, held, phase.max_length)
        if not train:
            raise AuditError(f"phase {phase.name!r}: no sample fits max_length={phase.max_length}")
        replay = sample_replay(
            [s for p in phases for s in p.train], len(train), phase.replay, seed=cfg.seed + index
        )
        data = PhaseData(train + replay, evals, files, dropped, sum(s.truncated for s in train), len(replay))
        data.stats = {
            "trajectories": len(trajs),
            "samples": len(data.train),
            "eval_samples": len(evals),
            "replayed_samples": len(replay),
            "dropped_too_long": dropped,
            "truncated": data.truncated,
            "tokens_per_epoch": sum(len(s) for s in data.train),
            "supervised_tokens_per_epoch": supervised_in(data.train),
        }
        phases.append(data)
    return phases


# -----------------------------------------------------------------------------
# One forward/backward on a packed row; loss is summed, normalized by the caller


def row_loss(model: Any, batch: Any, device: torch.device) -> torch.Tensor:
    input_ids = torch.tensor([batch.input_ids], device=device)
    position_ids = torch.tensor([batch.position_ids], device=device)
    keep = torch.tensor(batch.keep, device=device, dtype=torch.long)
    # Logits only at positions that are trained: the vocabulary projection is the largest
    # activation of a small model, and most positions of a trajectory are context.
    out = model(input_ids=input_ids, position_ids=position_ids, logits_to_keep=keep, use_cache=False)
    logits = out.logits.reshape(-1, out.logits.shape[-1]).float()
    targets = torch.tensor(batch.targets, device=device, dtype=torch.long)
    return F.cross_entropy(logits, targets, reduction="sum")


def lr_lambda(phase: PhaseConfig, total: int) -> Callable[[int], float]:
    warmup = int(phase.warmup * total) if phase.warmup < 1 else int(phase.warmup)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if phase.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        decay = 1 - progress if phase.schedule == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
        return phase.min_lr_ratio + (1 - phase.min_lr_ratio) * decay

    return factor


@torch.no_grad()
def evaluate(accelerator: Any, model: Any, samples: list[Sample], row_tokens: int) -> float | None:
    if not samples:
        return None
    model.eval()
    rows = pack([len(s) for s in samples], row_tokens, range(len(samples)))
    loss_sum = torch.zeros((), device=accelerator.device)
    count = torch.zeros((), device=accelerator.device)
    for row in rows[accelerator.process_index :: accelerator.num_processes]:
        batch = collate([samples[i] for i in row])
        if batch.keep:
            with accelerator.autocast():
                loss_sum += row_loss(model, batch, accelerator.device)
            count += len(batch.keep)
    loss_sum, count = accelerator.reduce(loss_sum, "sum"), accelerator.reduce(count, "sum")
    model.train()
    return (loss_sum / count.clamp(min=1)).item()


def position(cfg: TrainConfig, index: int, step: int, global_step: int,
             done: list[dict[str, Any]]) -> dict[str, Any]:
    """What a checkpoint records about where training stands."""
    return {"phase_index": index, "phase": cfg.phases[index].name, "phase_step": step,
            "global_step": global_step, "fingerprint": cfg.fingerprint(), "phases_done": list(done)}


# -----------------------------------------------------------------------------
# The run


def train(
    config: str | Path | dict[str, Any] | TrainConfig,
    *,
    resume: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Run every phase of `config`; return the summary (also written to summary.json)."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    cfg = apply_overrides(load_config(config), list(overrides)) if overrides else load_config(config)
    tc = cfg.training
    mixed = tc.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=mixed)
    main = accelerator.is_main_process
    out = Path(cfg.output_dir)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.model_dump_json(indent=2))
        if not resume:
            ckpt.clear_checkpoints(out)
    accelerator.wait_for_everyone()

    tokenizer = load_tokenizer(cfg.model)
    renderer = Renderer(tokenizer, resolve_template(tokenizer, cfg.model.chat_template))
    data = prepare_data(cfg, renderer)
    plans = [
        plan_phase(d.train, p.row_tokens, p.tokens_per_batch, accelerator.num_processes,
                   p.epochs, p.steps, seed=f"{cfg.seed}:{i}")
        for i, (p, d) in enumerate(zip(cfg.phases, data, strict=True))
    ]

    # Where to start: the beginning, or just after the latest checkpoint.
    start_phase, start_step, global_step = 0, 0, 0
    done: list[dict[str, Any]] = []
    resume_from = ckpt.latest_checkpoint(out) if resume else None
    if resume and resume_from is None and main:
        print(f"no checkpoint under {out}; starting from the beginning")
    if resume_from is not None:
        state = ckpt.read_state(resume_from)
        if state["fingerprint"] != cfg.fingerprint():
            raise ValueError(f"{resume_from} was written with a different configuration")
        start_phase, start_step, global_step = state["phase_index"], state["phase_step"], state["global_step"]
        done = state["phases_done"]
        if start_step >= len(plans[start_phase]):
            start_phase, start_step, resume_from = start_phase + 1, 0, None
    metrics = MetricsLog(out / "metrics.jsonl", keep_until_step=global_step, enabled=main)

    steps_this_run = 0
    halted = False
    for index in range(start_phase, len(cfg.phases)):
        phase, plan, pdata = cfg.phases[index], plans[index], data[index]
        torch.manual_seed(cfg.seed + index)
        model = build_phase_model(cfg, index)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": [p for p in params if p.ndim >= 2], "weight_decay": tc.weight_decay},
             {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
            lr=phase.lr, betas=tc.betas,
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(phase, len(plan)))
        model, optimizer = accelerator.prepare(model, optimizer)
        step = 0
        if resume_from is not None and index == start_phase:
            ckpt.load_checkpoint(accelerator, model, optimizer, scheduler, resume_from)
            step = start_step
        if main:
            print(f"phase {index + 1}/{len(cfg.phases)} {phase.name!r}: {len(plan)} steps, "
                  f"{plan.accumulation} rows of {phase.row_tokens} tokens per process and step, "
                  f"{pdata.stats['samples']} samples ({pdata.stats['replayed_samples']} replayed), "
                  f"{pdata.stats['eval_samples']} held out")

        bar = tqdm(total=len(plan), initial=step, desc=phase.name,
                   disable=not (main and tc.progress), dynamic_ncols=True)
        last_loss = float("nan")
        eval_loss = None
        while step < len(plan):
            t0 = time.perf_counter()
            rows = plan.rows_for(step, accelerator.process_index)
            step_samples = [pdata.train[i] for r in plan.steps[step] for i in r]
            n_supervised = supervised_in(step_samples)
            loss_sum = torch.zeros((), device=accelerator.device)
            for k, row in enumerate(rows):
                batch = collate([pdata.train[i] for i in (row if row is not None else plan.steps[step][0])])
                if row is None:  # a filler so every process takes part in the gradient sync
                    batch.keep, batch.targets = [], []
                sync = k == len(rows) - 1
                with accelerator.no_sync(model) if not sync else nullcontext(), accelerator.autocast():
                    loss = row_loss(model, batch, accelerator.device)
                    # DDP averages gradients over processes; scale so the result is the mean
                    # over every supervised token of the step, on all processes.
                    accelerator.backward(loss * accelerator.num_processes / max(1, n_supervised))
                loss_sum += loss.detach()
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), tc.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            global_step += 1
            steps_this_run += 1
            last_loss = (accelerator.reduce(loss_sum, "sum") / max(1, n_supervised)).item()
            elapsed = time.perf_counter() - t0
            n_tokens = sum(len(s) for s in step_samples)
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}")
            if step % tc.log_every == 0 or step == len(plan):
                metrics.write({
                    "kind": "train", "phase": phase.name, "step": step, "global_step": global_step,
                    "epoch": (step - 1) // max(1, plan.steps_per_epoch), "loss": last_loss,
                    "lr": scheduler.get_last_lr()[0], "grad_norm": float(grad_norm),
                    "tokens": n_tokens, "supervised_tokens": n_supervised,
                    "step_s": elapsed, "tokens_per_s": n_tokens / elapsed,
                    "supervised_tokens_per_s": n_supervised / elapsed,
                })
            if (tc.eval_every and step % tc.eval_every == 0) or step == len(plan):
                eval_loss = evaluate(accelerator, model, pdata.eval, phase.row_tokens)
                if eval_loss is not None:
                    metrics.write({"kind": "eval", "phase": phase.name, "step": step,
                                   "global_step": global_step, "loss": eval_loss})
            if step == len(plan):
                break  # the phase-end checkpoint follows the phase output
            halting = bool(tc.halt_after_steps) and steps_this_run >= tc.halt_after_steps
            if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or halting:
                ckpt.save_checkpoint(accelerator, model, optimizer, scheduler,
                                     position(cfg, index, step, global_step, done), out, tc.keep_checkpoints)
            if halting:
                halted = True
                break
        bar.close()
        if halted:
            break

        # Phase end: its output (adapter or full model) first, then a checkpoint saying so.
        target = phase_dir(out, index, phase.name)
        accelerator.wait_for_everyone()
        if main:
            accelerator.unwrap_model(model).save_pretrained(target)
            tokenizer.save_pretrained(target)
        done.append({
            "name": phase.name, "steps": len(plan), "output": str(target),
            "final_train_loss": last_loss, "final_eval_loss": eval_loss,
            "tokens": sum(len(pdata.train[i]) for s in plan.steps for r in s for i in r),
            "supervised_tokens": sum(supervised_in([pdata.train[i] for r in s for i in r]) for s in plan.steps),
            **pdata.stats,
        })
        ckpt.save_checkpoint(accelerator, model, optimizer, scheduler,
                             position(cfg, index, step, global_step, done), out, tc.keep_checkpoints)
        accelerator.free_memory()
        del model, optimizer
        halting = bool(tc.halt_after_steps) and steps_this_run >= tc.halt_after_steps
        if halting and index + 1 < len(cfg.phases):
            halted = True
            break

    summary = {
        "config": cfg.model_dump(mode="json"),
        "halted": halted,
        "global_step": global_step,
        "phases": done,
        "data": [
            {"phase": p.name, "files": [asdict(f) for f in d.files]}
            for p, d in zip(cfg.phases, data, strict=True)
        ],
    }
    if not halted:
        if tc.merge_final and main:
            merged = final_model(cfg)
            merged.save_pretrained(out / "final")
            tokenizer.save_pretrained(out / "final")
            summary["final_model"] = str(out / "final")
        accelerator.wait_for_everyone()
    if main:
        plot_losses(read_metrics(out / "metrics.jsonl"), out / "loss.png")
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    accelerator.wait_for_everyone()
    return summary


def audit_report(config: str | Path | TrainConfig, overrides: Sequence[str] = (), samples: int = 2,
                 color: bool = False) -> str:
    """Render, audit every sample of every phase, and show a few with supervised spans marked."""
    cfg = apply_overrides(load_config(config), list(overrides)) if overrides else load_config(config)
    tokenizer = load_tokenizer(cfg.model)
    template = resolve_template(tokenizer, cfg.model.chat_template)
    renderer = Renderer(tokenizer, template)
    lines = [f"chat template: {'model' if template.family is None else template.family + ' training template'}"]
    for phase in cfg.phases:
        # Held-out files are rendered for evaluation too, so their masks are audited with the rest.
        trajs, _ = load_trajectories([*phase.data, *phase.eval_data], phase.require_filters)
        kept, dropped = render_all(renderer, trajs, phase.max_length)
        total = sum(len(s) for s in kept)
        sup = sum(s.supervised for s in kept)
        lines.append(
            f"\n== phase {phase.name!r}: {len(trajs)} trajectories, all masks pass the audit; "
            f"{total} tokens, {sup} supervised ({sup / max(1, total):.1%}); "
            f"{sum(s.truncated for s in kept)} truncated, {dropped} too long"
        )
        for traj in trajs[:samples]:
            rendered = renderer.render(traj.messages, traj.tools)
            lines.append(f"\n-- {traj.source} ({sum(rendered.mask)} of {len(rendered.mask)} tokens supervised)")
            lines.append(rendered.marked(color))
    return "\n".join(lines)

