"""`envscale export TRAJECTORIES... --format openai|sharegpt|hf -o OUT`: trajectories as a
fine-tuning dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envscale.cli.common import EXIT_OK, EXIT_USAGE, error, run_reporting_errors
from envscale.exports.convert import Selection
from envscale.exports.write import FORMATS, export
from envscale.rollout.filters import STAGES


def run(args: argparse.Namespace) -> int:
    require = [s for s in args.require.split(",") if s] if args.require else list(STAGES)
    unknown = sorted(set(require) - set(STAGES))
    if unknown:
        error(f"--require: unknown filter stage {', '.join(unknown)} (of {', '.join(STAGES)})")
        return EXIT_USAGE
    missing = [p for p in args.trajectories if not Path(p).is_file()]
    if missing:
        error(f"no trajectory file {missing[0]}")
        return EXIT_USAGE
    selection = Selection(require=require, everything=args.all)
    return run_reporting_errors(lambda: _export(args, selection))


def _export(args: argparse.Namespace, selection: Selection) -> int:
    paths = [Path(p) for p in args.trajectories]
    tally, written = export(paths, args.format, Path(args.out), selection, args.name)
    print(
        f"{tally.written} examples from {tally.read} trajectories -> "
        + ", ".join(str(p) for p in written)
    )
    if tally.written < tally.read:
        why = []
        if tally.not_passed:
            stages = "every filter stage" if not args.require else f"--require {args.require}"
            why.append(f"{tally.not_passed} did not pass {stages} (--all keeps them)")
        if tally.no_turn:
            why.append(f"{tally.no_turn} have no turn of the agent")
        print(
            f"{tally.read - tally.written} trajectories left out: {'; '.join(why)}", file=sys.stderr
        )
    if tally.dropped_text:
        print(
            f"note: {tally.dropped_text} agent turns said text beside their tool calls; "
            "ShareGPT's function_call turn cannot hold it, and it was left out",
            file=sys.stderr,
        )
    if tally.cut:
        print(
            f"note: {tally.cut} conversations stop where turns of one side followed each other "
            "(LLaMA-Factory requires them to alternate)",
            file=sys.stderr,
        )
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "export",
        help="write trajectories as a fine-tuning dataset (OpenAI, ShareGPT, Hugging Face)",
        description="Write the trajectories that passed the filters, as the agent saw them, "
        "in one dataset layout: openai (a JSON-lines fine-tuning file: messages, tools, "
        "parallel_tool_calls), sharegpt (LLaMA-Factory: OUT/NAME.jsonl and the "
        "OUT/dataset_info.json entry that names it) or hf (a Hugging Face datasets folder, "
        "read by datasets.load_from_disk and datasets.load_dataset; needs the `export` extra).",
    )
    p.add_argument("trajectories", nargs="+", help="trajectory files (trajectories.jsonl)")
    p.add_argument("--format", "-f", required=True, choices=FORMATS)
    p.add_argument("-o", "--out", required=True, help="the file (openai) or folder to write")
    p.add_argument(
        "--require",
        default="",
        help=f"filter stages a trajectory must have passed, comma-separated (default: all of "
        f"{','.join(STAGES)})",
    )
    p.add_argument("--all", action="store_true", help="keep every trajectory, passed or not")
    p.add_argument(
        "--name", default="envscale", help="the dataset's name in dataset_info.json (sharegpt)"
    )
    p.set_defaults(func=run)
