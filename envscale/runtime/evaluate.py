"""Evaluation: each task K times, pass^k by tau-bench's definition, success by chain length,
failure reasons, the episodes that hit an internal error of the environment (a bug in
envscale: they stay in pass^k, and their failures count as `internal_error`, not as the
agent's); JSON, and PNG plots when matplotlib is installed.

pass^k is the chance that k independent trials of a task all succeed, estimated without bias
from n >= k trials with c successes as C(c, k) / C(n, k), then averaged over tasks.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from math import comb
from pathlib import Path
from typing import Any

from envscale.runtime import jsonl
from envscale.runtime.commandline import EXIT_USAGE, module_main, run_reporting_errors


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


def hit_internal_error(trajectory: dict) -> bool:
    return int((trajectory.get("meta") or {}).get("internal_errors", 0)) > 0


def failure_reason(trajectory: dict) -> str:
    meta = trajectory.get("meta") or {}
    if hit_internal_error(trajectory):
        return "internal_error"
    if meta.get("end") == "turn_limit":
        return "turn_limit"
    filters = trajectory.get("filters") or {}
    if not filters.get("state"):
        return "state_mismatch"
    if not filters.get("exact"):
        return "call_mismatch"
    return "other"


def evaluate(trajectories: list[dict], tasks: list[dict], trials: int) -> dict:
    chain = {str(t["id"]): len(t.get("gold_calls") or []) for t in tasks}
    per_task: dict[str, list[int]] = {tid: [0, 0] for tid in chain}
    reasons: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    internal: list[str] = []
    for t in trajectories:
        tid = str(t["task_id"])
        if tid not in per_task:
            continue
        if hit_internal_error(t):
            internal.append(t["id"])
        ok = float(t.get("reward", 0.0)) >= 1.0
        per_task[tid][0] += ok
        per_task[tid][1] += 1
        if not ok:
            reason = failure_reason(t)
            reasons[reason] += 1
            if len(examples[reason]) < 5:
                examples[reason].append(t["id"])
    complete = {tid: (c, n) for tid, (c, n) in per_task.items() if n > 0}
    k_max = min((n for _, n in complete.values()), default=0)
    k_max = min(k_max, trials) if trials else k_max
    by_length: dict[int, dict[str, Any]] = {}
    for length in sorted(set(chain.values())):
        ids = [tid for tid in complete if chain[tid] == length]
        c = sum(complete[tid][0] for tid in ids)
        n = sum(complete[tid][1] for tid in ids)
        by_length[length] = {"tasks": len(ids), "episodes": n, "successes": c,
                             "success_rate": c / n if n else None,
                             "pass^1": pass_hat_k({tid: complete[tid] for tid in ids}, 1) if ids else None}
    episodes = sum(n for _, n in complete.values())
    return {
        "tasks": len(complete), "trials": trials, "episodes": episodes,
        # Episodes a backend failure lost (a rerun retries them); pass^k is over the others.
        "missing_episodes": max(0, len(chain) * trials - episodes),
        "successes": sum(c for c, _ in complete.values()),
        "pass^k": {str(k): pass_hat_k(complete, k) for k in range(1, k_max + 1)},
        "by_chain_length": {str(k): v for k, v in by_length.items()},
        "failure_reasons": dict(reasons.most_common()),
        "failure_examples": dict(examples),
        # Episodes in which a call failed on a bug in envscale, successful or not.
        "internal_error_episodes": len(internal),
        "internal_error_examples": internal[:5],
        "per_task": {tid: {"successes": c, "trials": n, "chain_length": chain[tid]} for tid, (c, n) in complete.items()},
    }


def plot(report: dict, out: Path) -> list[Path]:
    """pass^k against k, and success rate by chain length; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    ks = [int(k) for k in report["pass^k"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ks, [report["pass^k"][str(k)] for k in ks], marker="o")
    ax.set(xlabel="k", ylabel="pass^k", ylim=(0, 1.05), title=f"pass^k over {report['tasks']} tasks")
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(out / "pass_k.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    lengths = [k for k, v in report["by_chain_length"].items() if v["episodes"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(lengths, [report["by_chain_length"][k]["success_rate"] for k in lengths])
    ax.set(xlabel="gold chain length (calls)", ylabel="success rate", ylim=(0, 1.05), title="success by chain length")
    fig.tight_layout()
    written.append(out / "by_chain_length.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written


def cmd_eval(args: Any) -> int:
    if args.trials < 1:
        print("error: --trials must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    return run_reporting_errors(lambda: _evaluate_job(args), resumable=True)


def _evaluate_job(args: Any) -> int:
    from envscale.runtime.generate import job_from, run_tasks

    out = Path(args.out)
    try:
        tasks = list(jsonl.read(Path(args.tasks)))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read tasks: {error}") from None
    result = run_tasks(job_from(args, out, list(args.specs), trials=args.trials), tasks)
    report = evaluate(list(jsonl.read(result.path)), tasks, args.trials)
    report["lineage"] = json.loads((out / "job.json").read_text(encoding="utf-8"))
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plots = plot(report, out)
    print(json.dumps({"pass^k": report["pass^k"], "failure_reasons": report["failure_reasons"]}, indent=2))
    print(f"wrote {out / 'eval.json'}" + "".join(f", {p}" for p in plots))
    if report["internal_error_episodes"]:
        examples = ", ".join(report["internal_error_examples"])
        print(f"warning: {report['internal_error_episodes']} episodes hit an internal error of the "
              f"environment (a bug in envscale), e.g. {examples}", file=sys.stderr)
    if report["missing_episodes"]:
        print(f"warning: {report['missing_episodes']} episodes failed on a backend error (see errors.jsonl); "
              "run the same command again to retry them", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    from envscale.runtime.generate import add_backend_arguments, add_run_arguments

    p = subparsers.add_parser(
        "eval", help="run an agent K times on each task and report pass^k",
        description="Run each task K times and report pass^k for k = 1..K (tau-bench's definition), "
        "success by chain length and failure reasons, as eval.json and PNG plots. Resumable.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="the *.domain files of the tasks")
    p.add_argument("--tasks", required=True, metavar="FILE.jsonl", help="tasks, e.g. from envscale generate")
    p.add_argument("--trials", type=int, default=4, metavar="K", help="trials per task (default 4)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_run_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=cmd_eval)


def main(argv: list[str] | None = None) -> int:
    """`python -m envscale.runtime.evaluate SPEC... --tasks FILE --out DIR` (the same as `envscale eval`)."""
    return module_main(register, "eval", argv)


if __name__ == "__main__":
    sys.exit(main())
