"""Evaluation: each task K times, pass^k by tau-bench's definition, success by chain length,
failure reasons, the episodes that hit an internal error of the environment (a bug in
envscale: they stay in pass^k, and their failures count as `internal_error`, not as the
agent's); JSON, and PNG plots when matplotlib is installed. Tasks with their own criteria
(tau2's) succeed when their reward is 1; the report counts, per part of their basis, the
episodes scored and passed, and the episodes whose basis named a part that is not scored.

pass^k is the chance that k independent trials of a task all succeed, estimated without bias
from n >= k trials with c successes as C(c, k) / C(n, k), then averaged over tasks.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from math import comb
from pathlib import Path

from envscale.jobs.generate import JOB_FILE, Job, run_tasks
from envscale.records import (
    EvalReport,
    LengthResult,
    PartScore,
    Task,
    TaskResult,
    Trajectory,
    load_jsonl,
)
from envscale.rollout.toolcalls import holds_malformed_call

# A task with its own criteria: the first failed part of its score names the failure.
_PART_FAILURES = {
    "stop": "no_stop",
    "DB": "state_mismatch",
    "ENV_ASSERTION": "assertion_failed",
    "COMMUNICATE": "not_communicated",
    "ACTION": "action_missing",
}


def pass_hat_k(successes: dict[str, tuple[int, int]], k: int) -> float:
    """Mean over tasks of C(c, k) / C(n, k); successes maps task id -> (c, n)."""
    if not successes:
        return 0.0
    values = []
    for c, n in successes.values():
        if n < k:
            raise ValueError(f"pass^{k} needs at least {k} trials per task, a task has {n}")
        values.append(comb(c, k) / comb(n, k))
    return sum(values) / len(values)


def hit_internal_error(trajectory: Trajectory) -> bool:
    return (trajectory.meta.internal_errors or 0) > 0


def failure_reason(trajectory: Trajectory) -> str:
    if hit_internal_error(trajectory):
        return "internal_error"
    # A model's tool call that did not parse: what went wrong first, whatever the end.
    if any(m.role == "assistant" and holds_malformed_call(m.content) for m in trajectory.messages):
        return "malformed_call"
    if trajectory.meta.end == "turn_limit":
        return "turn_limit"
    scores = trajectory.meta.scores
    if scores is not None:
        failed = [part for part, value in scores.items() if value == 0.0]
        return _PART_FAILURES.get(failed[0], "other") if failed else "other"
    filters = trajectory.filters
    if not filters.get("state"):
        return "state_mismatch"
    if not filters.get("exact"):
        return "call_mismatch"
    return "other"


def evaluate(trajectories: list[Trajectory], tasks: list[Task], trials: int) -> EvalReport:
    chain = {t.id: len(t.gold_calls) for t in tasks}
    per_task: dict[str, list[int]] = {tid: [0, 0] for tid in chain}
    reasons: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    internal: list[str] = []
    parts: dict[str, PartScore] = {}
    not_scored: Counter[str] = Counter()
    for t in trajectories:
        tid = t.task_id
        if tid not in per_task:
            continue
        if hit_internal_error(t):
            internal.append(t.id)
        for part, value in (t.meta.scores or {}).items():
            if value is None:
                not_scored[part] += 1
                continue
            score = parts.setdefault(part, PartScore(episodes=0, passed=0))
            score.episodes += 1
            score.passed += value >= 1.0
        ok = t.reward >= 1.0
        per_task[tid][0] += ok
        per_task[tid][1] += 1
        if not ok:
            reason = failure_reason(t)
            reasons[reason] += 1
            if len(examples[reason]) < 5:
                examples[reason].append(t.id)
    complete = {tid: (c, n) for tid, (c, n) in per_task.items() if n > 0}
    k_max = min((n for _, n in complete.values()), default=0)
    k_max = min(k_max, trials) if trials else k_max
    by_length: dict[int, LengthResult] = {}
    for length in sorted(set(chain.values())):
        ids = [tid for tid in complete if chain[tid] == length]
        c = sum(complete[tid][0] for tid in ids)
        n = sum(complete[tid][1] for tid in ids)
        by_length[length] = LengthResult(
            tasks=len(ids),
            episodes=n,
            successes=c,
            success_rate=c / n if n else None,
            pass_1=pass_hat_k({tid: complete[tid] for tid in ids}, 1) if ids else None,
        )
    episodes = sum(n for _, n in complete.values())
    return EvalReport(
        tasks=len(complete),
        trials=trials,
        episodes=episodes,
        # Episodes a backend failure lost (a rerun retries them); pass^k is over the others.
        missing_episodes=max(0, len(chain) * trials - episodes),
        successes=sum(c for c, _ in complete.values()),
        pass_k={str(k): pass_hat_k(complete, k) for k in range(1, k_max + 1)},
        by_chain_length={str(k): v for k, v in by_length.items()},
        failure_reasons=dict(reasons.most_common()),
        failure_examples=dict(examples),
        internal_error_episodes=len(internal),
        internal_error_examples=internal[:5],
        per_task={
            tid: TaskResult(successes=c, trials=n, chain_length=chain[tid])
            for tid, (c, n) in complete.items()
        },
        scores=dict(sorted(parts.items())),
        not_scored=dict(sorted(not_scored.items())),
    )


def plot(report: EvalReport, out: Path) -> list[Path]:
    """pass^k against k, and success rate by chain length; [] without matplotlib."""
    try:  # matplotlib is optional (the 'train' extra), imported only to draw
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    ks = [int(k) for k in report.pass_k]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ks, [report.pass_k[str(k)] for k in ks], marker="o")
    ax.set(xlabel="k", ylabel="pass^k", ylim=(0, 1.05), title=f"pass^k over {report.tasks} tasks")
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(out / "pass_k.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    lengths = [k for k, v in report.by_chain_length.items() if v.episodes]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(lengths, [report.by_chain_length[k].success_rate for k in lengths])
    ax.set(
        xlabel="gold chain length (calls)",
        ylabel="success rate",
        ylim=(0, 1.05),
        title="success by chain length",
    )
    fig.tight_layout()
    written.append(out / "by_chain_length.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written


def evaluate_job(job: Job, tasks: list[Task], trials: int) -> tuple[EvalReport, list[Path]]:
    """Run `trials` episodes of each task (resumably), then write eval.json and the plots."""
    result = run_tasks(job, tasks)
    report = evaluate(load_jsonl(result.path, Trajectory), tasks, trials)
    report.lineage = json.loads((job.out / JOB_FILE).read_text(encoding="utf-8"))
    (job.out / "eval.json").write_text(report.to_json(), encoding="utf-8")
    return report, [job.out / "eval.json", *plot(report, job.out)]
