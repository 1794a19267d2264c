"""The `envscale train` subcommand."""

from __future__ import annotations

import argparse
import json
import os
import sys

from envscale.errors import DataError

from .audit import AuditError
from .config import ConfigError
from .templates import TemplateError

EXIT_USAGE = 2  # the configuration, the command line or the data named cannot be used


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune a model on trajectories, in phases (needs the 'train' extra)",
        description="Two-phase supervised fine-tuning with loss on assistant tokens only. "
        "Run several processes with `accelerate launch -m envscale.trainer CONFIG.toml`.",
    )
    p.add_argument("config", metavar="CONFIG.toml", help="training configuration")

    mode = p.add_argument_group("mode")
    mode.add_argument(
        "--audit",
        action="store_true",
        help="check every sample's loss mask, print a few with the supervised "
        "spans marked, and exit without training",
    )
    mode.add_argument(
        "--audit-samples",
        type=int,
        default=2,
        metavar="N",
        help="rendered samples to print per phase with --audit (default 2)",
    )
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in the output directory",
    )

    over = p.add_argument_group("overrides")
    over.add_argument("--output-dir", metavar="DIR", help="where checkpoints and outputs go")
    over.add_argument("--model", metavar="PATH", help="base model: a directory, hub name or 'tiny'")
    over.add_argument("--seed", type=int, help="random seed")
    over.add_argument(
        "--keep-failed-calls",
        action="store_true",
        help="train on assistant turns whose tool call failed too (by default they get no "
        "loss; same as --set training.mask_failed_calls=false)",
    )
    over.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config value, e.g. --set phases.general.lr=1e-4 or "
        "--set training.checkpoint_every=50 (repeatable)",
    )
    p.set_defaults(func=run)


def overrides_from(args: argparse.Namespace) -> list[str]:
    # A JSON string is a TOML basic string, so any path survives (quotes, backslashes).
    out = []
    if args.output_dir:
        out.append(f"output_dir={json.dumps(args.output_dir)}")
    if args.model:
        out.append(f"model.base={json.dumps(args.model)}")
    if args.seed is not None:
        out.append(f"seed={args.seed}")
    if getattr(args, "keep_failed_calls", False):
        out.append("training.mask_failed_calls=false")
    return out + list(args.set)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torch  # noqa: F401
    except ImportError:
        print(
            "envscale train needs the training extra: pip install 'envscale[train]'",
            file=sys.stderr,
        )
        return 2
    from .loop import audit_report, train  # imports torch, transformers and accelerate

    overrides = overrides_from(args)
    try:
        if args.audit:
            print(
                audit_report(
                    args.config, overrides, samples=args.audit_samples, color=sys.stdout.isatty()
                )
            )
            return 0
        summary = train(args.config, resume=args.resume, overrides=overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DataError as e:
        print(f"error: {'; '.join(e.problems[:3])}", file=sys.stderr)
        return EXIT_USAGE
    except (AuditError, TemplateError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not summary.get("already_finished"):
        print(summary_text(summary))
    if summary["halted"]:
        print(f"stopped after step {summary['global_step']}; continue with --resume")
    return 0


def summary_text(summary: dict) -> str:
    """What a run did, a line per phase, and where its model is."""
    lines = [f"trained {summary['global_step']} steps in {len(summary['phases'])} phase(s):"]
    for p in summary["phases"]:
        eval_loss = p["final_eval_loss"]
        lines.append(
            f"  {p['name']}: {p['steps']} steps, {p['samples']} samples "
            f"({p['replayed_samples']} replayed), {p['supervised_tokens']} supervised of "
            f"{p['tokens']} tokens, train loss {p['final_train_loss']:.4f}, eval loss "
            + (f"{eval_loss:.4f}" if eval_loss is not None else "- (nothing held out)")
            + (f"; {p['truncated']} samples truncated" if p.get("truncated") else "")
            + (f", {p['dropped_too_long']} too long" if p.get("dropped_too_long") else "")
        )
    if "final_model" in summary:
        lines.append(f"model: {summary['final_model']}")
    elif summary["phases"]:
        lines.append(f"model: {summary['phases'][-1]['output']} (the last phase's output)")
    return "\n".join(lines)
