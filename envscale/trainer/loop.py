"""Two-phase supervised fine-tuning on envscale trajectories.

Phase 1 trains on general-domain trajectories, phase 2 continues on vertical ones; the
loss covers assistant tokens only. `train` reads top to bottom: data, plans, where to start
(`find_start`), each phase (`train_phase`: its steps with evaluation and checkpoints, then
its output), then the merged model and the summary (`finish`).
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
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers.utils import logging as hf_logging

from envscale.records import Trajectory

from . import checkpoint as ckpt
from .audit import AuditError
from .config import PhaseConfig, TrainConfig, apply_overrides, load_config
from .data import FileInfo, load_trajectories, sample_replay, split_eval
from .metrics import MetricsLog, plot_losses, read_metrics
from .modeling import build_phase_model, final_model, load_tokenizer, phase_dir
from .packing import PhasePlan, collate, pack, plan_phase, supervised_in, weight_in
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


def render_all(
    renderer: Renderer, trajectories: Sequence[Trajectory], max_length: int
) -> tuple[list[Sample], int]:
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
            raise AuditError(
                f"phase {phase.name!r}: no trajectory passed the filters {phase.require_filters}"
            )
        train, dropped = render_all(renderer, trajs, phase.max_length)
        evals, _ = render_all(renderer, held, phase.max_length)
        if not train:
            raise AuditError(f"phase {phase.name!r}: no sample fits max_length={phase.max_length}")
        replay = sample_replay(
            [s for p in phases for s in p.train], len(train), phase.replay, seed=cfg.seed + index
        )
        data = PhaseData(
            train + replay, evals, files, dropped, sum(s.truncated for s in train), len(replay)
        )
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
    return token_losses(model, batch, device).sum()


def token_losses(model: Any, batch: Any, device: torch.device) -> torch.Tensor:
    """The cross-entropy of each of the row's targets."""
    input_ids = torch.tensor([batch.input_ids], device=device)
    position_ids = torch.tensor([batch.position_ids], device=device)
    keep = torch.tensor(batch.keep, device=device, dtype=torch.long)
    # Logits only at positions that are trained: the vocabulary projection is the largest
    # activation of a small model, and most positions of a trajectory are context.
    out = model(
        input_ids=input_ids, position_ids=position_ids, logits_to_keep=keep, use_cache=False
    )
    logits = out.logits.reshape(-1, out.logits.shape[-1]).float()
    targets = torch.tensor(batch.targets, device=device, dtype=torch.long)
    return F.cross_entropy(logits, targets, reduction="none")


def lr_lambda(phase: PhaseConfig, total: int) -> Callable[[int], float]:
    warmup = int(phase.warmup * total) if phase.warmup < 1 else int(phase.warmup)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if phase.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        decay = (
            1 - progress if phase.schedule == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
        )
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


# -----------------------------------------------------------------------------
# Where a run starts, and what its phases share


@dataclass
class Start:
    """Where a run begins: a phase and a step in it, and the phases earlier runs finished."""

    phase: int = 0
    step: int = 0
    global_step: int = 0
    done: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None  # loaded into phase `phase` before its first step


def find_start(
    cfg: TrainConfig, plans: Sequence[PhasePlan], out: Path, resume: bool, main: bool
) -> Start:
    """The beginning, or with `resume` just after the latest checkpoint under `out`."""
    checkpoint = ckpt.latest_checkpoint(out) if resume else None
    if checkpoint is None:
        if resume and main:
            print(f"no checkpoint under {out}; starting from the beginning")
        return Start()
    state = ckpt.read_state(checkpoint)
    if state["fingerprint"] != cfg.fingerprint():
        raise ValueError(f"{checkpoint} was written with a different configuration")
    start = Start(
        state["phase_index"],
        state["phase_step"],
        state["global_step"],
        state["phases_done"],
        checkpoint,
    )
    if start.step >= len(plans[start.phase]):
        # The checkpoint closes its phase: the next phase starts from its beginning.
        return Start(start.phase + 1, 0, start.global_step, start.done)
    return start


@dataclass
class PhaseModel:
    """What one phase trains: the model, its optimizer and its learning-rate schedule."""

    model: Any
    optimizer: Any
    scheduler: Any


@dataclass
class Run:
    """What the phases of one run share: the setup, and the counters they advance."""

    cfg: TrainConfig
    accelerator: Any
    out: Path
    tokenizer: Any
    metrics: MetricsLog
    global_step: int
    done: list[dict[str, Any]]  # one record per finished phase
    steps_this_run: int = 0
    halted: bool = False

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def halt_due(self) -> bool:
        """Whether this run has taken the steps that `training.halt_after_steps` allows."""
        limit = self.cfg.training.halt_after_steps
        return bool(limit) and self.steps_this_run >= limit

    def position(self, index: int, step: int) -> dict[str, Any]:
        """What a checkpoint records about where training stands."""
        return {
            "phase_index": index,
            "phase": self.cfg.phases[index].name,
            "phase_step": step,
            "global_step": self.global_step,
            "fingerprint": self.cfg.fingerprint(),
            "phases_done": list(self.done),
        }

    def save_checkpoint(self, trained: PhaseModel, index: int, step: int) -> None:
        ckpt.save_checkpoint(
            self.accelerator,
            trained.model,
            trained.optimizer,
            trained.scheduler,
            self.position(index, step),
            self.out,
            self.cfg.training.keep_checkpoints,
        )


# -----------------------------------------------------------------------------
# The run


def train(
    config: str | Path | dict[str, Any] | TrainConfig,
    *,
    resume: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Run every phase of `config`; return the summary (also written to summary.json)."""
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    cfg = resolve_config(config, overrides)
    accelerator = Accelerator(mixed_precision=mixed_precision(cfg.training.mixed_precision))
    tokenizer = load_tokenizer(cfg.model)
    renderer = Renderer(
        tokenizer,
        resolve_template(tokenizer, cfg.model.chat_template),
        mask_failed_calls=cfg.training.mask_failed_calls,
    )
    data = prepare_data(cfg, renderer)
    plans = plan_phases(cfg, data, accelerator.num_processes)
    # Only a run whose model and data load touches the output folder.
    out = prepare_output(cfg, accelerator, fresh=not resume)

    start = find_start(cfg, plans, out, resume, accelerator.is_main_process)
    if start.phase >= len(cfg.phases) and (out / "summary.json").exists():
        if accelerator.is_main_process:
            print(
                f"{out} holds a finished run ({start.global_step} steps); nothing to resume. "
                "Start it again without --resume, or set another output_dir"
            )
        summary = json.loads((out / "summary.json").read_text())
        return {**summary, "already_finished": True}
    metrics = MetricsLog(
        out / "metrics.jsonl",
        keep_until_step=start.global_step,
        enabled=accelerator.is_main_process,
    )
    run = Run(cfg, accelerator, out, tokenizer, metrics, start.global_step, start.done)
    for index in range(start.phase, len(cfg.phases)):
        checkpoint, step = (start.checkpoint, start.step) if index == start.phase else (None, 0)
        train_phase(run, index, plans[index], data[index], checkpoint, step)
        if run.halted:
            break
    return finish(run, data)


def resolve_config(
    config: str | Path | dict[str, Any] | TrainConfig, overrides: Sequence[str]
) -> TrainConfig:
    return (
        apply_overrides(load_config(config), list(overrides)) if overrides else load_config(config)
    )


def mixed_precision(setting: str) -> str:
    if setting != "auto":
        return setting
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def prepare_output(cfg: TrainConfig, accelerator: Any, fresh: bool) -> Path:
    """The output folder, holding this run's config.json; a fresh run drops older checkpoints."""
    out = Path(cfg.output_dir)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.model_dump_json(indent=2))
        if fresh:
            ckpt.clear_checkpoints(out)
    accelerator.wait_for_everyone()
    return out


def plan_phases(cfg: TrainConfig, data: Sequence[PhaseData], world_size: int) -> list[PhasePlan]:
    return [
        plan_phase(
            d.train,
            p.row_tokens,
            p.tokens_per_batch,
            world_size,
            p.epochs,
            p.steps,
            seed=f"{cfg.seed}:{i}",
        )
        for i, (p, d) in enumerate(zip(cfg.phases, data, strict=True))
    ]


# -----------------------------------------------------------------------------
# One phase: its model, its steps, its output


def train_phase(
    run: Run, index: int, plan: PhasePlan, data: PhaseData, checkpoint: Path | None, step: int
) -> None:
    """Train phase `index` from `step` (after loading `checkpoint`, when given) to its end,
    then save its output; or stop early when the run must halt (`run.halted`)."""
    phase = run.cfg.phases[index]
    trained = build_phase(run, index, len(plan))
    if checkpoint is not None:
        ckpt.load_checkpoint(
            run.accelerator, trained.model, trained.optimizer, trained.scheduler, checkpoint
        )
    if run.main:
        print(
            f"phase {index + 1}/{len(run.cfg.phases)} {phase.name!r}: {len(plan)} steps, "
            f"{plan.accumulation} rows of {phase.row_tokens} tokens per process and step, "
            f"{data.stats['samples']} samples ({data.stats['replayed_samples']} replayed), "
            f"{data.stats['eval_samples']} held out"
        )
        if data.truncated or data.dropped:
            print(
                f"  {data.truncated} samples cut to max_length={phase.max_length} (the turns "
                f"past it get no loss), {data.dropped} dropped (the first reply does not fit)"
            )
    last_loss, eval_loss = train_steps(run, index, plan, data, trained, step)
    if run.halted:
        return
    end_phase(run, index, plan, data, trained, last_loss, eval_loss)
    if run.halt_due() and index + 1 < len(run.cfg.phases):
        run.halted = True


def build_phase(run: Run, index: int, total_steps: int) -> PhaseModel:
    """Phase `index`'s model, AdamW (no weight decay on biases and norms) and schedule."""
    phase, tc = run.cfg.phases[index], run.cfg.training
    torch.manual_seed(run.cfg.seed + index)
    model = build_phase_model(run.cfg, index)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": tc.weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ],
        lr=phase.lr,
        betas=tc.betas,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(phase, total_steps))
    model, optimizer = run.accelerator.prepare(model, optimizer)
    return PhaseModel(model, optimizer, scheduler)


def train_steps(
    run: Run, index: int, plan: PhasePlan, data: PhaseData, trained: PhaseModel, step: int
) -> tuple[float, float | None]:
    """The phase's steps from `step`, logged, evaluated and checkpointed as configured;
    (the last training loss, the last evaluation loss)."""
    phase, tc, accelerator = run.cfg.phases[index], run.cfg.training, run.accelerator
    bar = tqdm(
        total=len(plan),
        initial=step,
        desc=phase.name,
        disable=not (run.main and tc.progress),
        dynamic_ncols=True,
    )
    last_loss = float("nan")
    eval_loss = None
    while step < len(plan):
        stats = optimizer_step(
            accelerator, trained, plan, data.train, step, tc.max_grad_norm, tc.call_weight
        )
        step += 1
        run.global_step += 1
        run.steps_this_run += 1
        last_loss = stats.loss
        bar.update(1)
        bar.set_postfix(loss=f"{last_loss:.4f}")
        if step % tc.log_every == 0 or step == len(plan):
            run.metrics.write(
                {
                    "kind": "train",
                    "phase": phase.name,
                    "step": step,
                    "global_step": run.global_step,
                    "epoch": (step - 1) // max(1, plan.steps_per_epoch),
                    "loss": last_loss,
                    "lr": trained.scheduler.get_last_lr()[0],
                    "grad_norm": stats.grad_norm,
                    "tokens": stats.tokens,
                    "supervised_tokens": stats.supervised,
                    "step_s": stats.seconds,
                    "tokens_per_s": stats.tokens / stats.seconds,
                    "supervised_tokens_per_s": stats.supervised / stats.seconds,
                }
            )
        if (tc.eval_every and step % tc.eval_every == 0) or step == len(plan):
            eval_loss = evaluate(accelerator, trained.model, data.eval, phase.row_tokens)
            if eval_loss is not None:
                run.metrics.write(
                    {
                        "kind": "eval",
                        "phase": phase.name,
                        "step": step,
                        "global_step": run.global_step,
                        "loss": eval_loss,
                    }
                )
        if step == len(plan):
            break  # the phase-end checkpoint follows the phase output
        halting = run.halt_due()
        if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or halting:
            run.save_checkpoint(trained, index, step)
        if halting:
            run.halted = True
            break
    bar.close()
    return last_loss, eval_loss


@dataclass
class StepStats:
    loss: float  # per supervised token of the step, over all processes
    grad_norm: float
    tokens: int
    supervised: int
    seconds: float


def optimizer_step(
    accelerator: Any,
    trained: PhaseModel,
    plan: PhasePlan,
    samples: list[Sample],
    step: int,
    max_grad_norm: float,
    call_weight: float = 1.0,
) -> StepStats:
    """One optimizer step on the rows of `plan.steps[step]`, this process's rows accumulated."""
    t0 = time.perf_counter()
    model = trained.model
    rows = plan.rows_for(step, accelerator.process_index)
    step_samples = [samples[i] for r in plan.steps[step] for i in r]
    n_supervised = supervised_in(step_samples)
    total_weight = weight_in(step_samples, call_weight)
    loss_sum = torch.zeros((), device=accelerator.device)
    for k, row in enumerate(rows):
        source = [samples[i] for i in (row if row is not None else plan.steps[step][0])]
        batch = collate(source, call_weight)
        if row is None:  # a filler so every process takes part in the gradient sync
            batch.keep, batch.targets, batch.weights = [], [], []
        sync = k == len(rows) - 1
        with accelerator.no_sync(model) if not sync else nullcontext(), accelerator.autocast():
            losses = token_losses(model, batch, accelerator.device)
            weights = torch.tensor(batch.weights, device=losses.device, dtype=losses.dtype)
            # DDP averages gradients over processes; scale so the result is the weighted
            # mean over every supervised token of the step, on all processes.
            weighted = (losses * weights).sum()
            accelerator.backward(weighted * accelerator.num_processes / max(1e-9, total_weight))
        loss_sum += losses.detach().sum()
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    trained.optimizer.step()
    trained.scheduler.step()
    trained.optimizer.zero_grad(set_to_none=True)
    mean_loss = (accelerator.reduce(loss_sum, "sum") / max(1, n_supervised)).item()
    seconds = time.perf_counter() - t0
    return StepStats(
        mean_loss, float(grad_norm), sum(len(s) for s in step_samples), n_supervised, seconds
    )


def end_phase(
    run: Run,
    index: int,
    plan: PhasePlan,
    data: PhaseData,
    trained: PhaseModel,
    last_loss: float,
    eval_loss: float | None,
) -> None:
    """The phase's output (adapter or full model) first, then a checkpoint saying so."""
    phase, accelerator = run.cfg.phases[index], run.accelerator
    target = phase_dir(run.out, index, phase.name)
    accelerator.wait_for_everyone()
    if run.main:
        accelerator.unwrap_model(trained.model).save_pretrained(target)
        run.tokenizer.save_pretrained(target)
    run.done.append(
        {
            "name": phase.name,
            "steps": len(plan),
            "output": str(target),
            "final_train_loss": last_loss,
            "final_eval_loss": eval_loss,
            "tokens": sum(len(data.train[i]) for s in plan.steps for r in s for i in r),
            "supervised_tokens": sum(
                supervised_in([data.train[i] for r in s for i in r]) for s in plan.steps
            ),
            **data.stats,
        }
    )
    run.save_checkpoint(trained, index, len(plan))
    accelerator.free_memory()


# -----------------------------------------------------------------------------
# The end: the summary, and the merged model when every phase is done


def finish(run: Run, data: Sequence[PhaseData]) -> dict[str, Any]:
    cfg, accelerator = run.cfg, run.accelerator
    summary = {
        "config": cfg.model_dump(mode="json"),
        "halted": run.halted,
        "global_step": run.global_step,
        "phases": run.done,
        "data": [
            {"phase": p.name, "files": [asdict(f) for f in d.files]}
            for p, d in zip(cfg.phases, data, strict=True)
        ],
    }
    if not run.halted:
        if cfg.training.merge_final and run.main:
            merged = final_model(cfg)
            merged.save_pretrained(run.out / "final")
            run.tokenizer.save_pretrained(run.out / "final")
            summary["final_model"] = str(run.out / "final")
        accelerator.wait_for_everyone()
    if run.main:
        plot_losses(read_metrics(run.out / "metrics.jsonl"), run.out / "loss.png")
        (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
    accelerator.wait_for_everyone()
    return summary


def audit_report(
    config: str | Path | TrainConfig,
    overrides: Sequence[str] = (),
    samples: int = 2,
    color: bool = False,
) -> str:
    """Render, audit every sample of every phase, and show a few with supervised spans marked."""
    cfg = resolve_config(config, overrides)
    tokenizer = load_tokenizer(cfg.model)
    template = resolve_template(tokenizer, cfg.model.chat_template)
    renderer = Renderer(tokenizer, template, mask_failed_calls=cfg.training.mask_failed_calls)
    lines = [
        "chat template: "
        f"{'model' if template.family is None else template.family + ' training template'}"
    ]
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
            _, rendered = renderer.render_trajectory(traj)
            lines.append(
                f"\n-- {traj.source} ({sum(rendered.mask)} of {len(rendered.mask)} tokens "
                "supervised)"
            )
            lines.append(rendered.marked(color))
    return "\n".join(lines)
