"""Options shared by several commands: initial states, backends, and how a job runs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from envscale.jobs.generate import Job
from envscale.rollout.dialogue import BackendConfig
from envscale.runtime.limits import DEFAULT_LIMITS, Limits
from envscale.synth.llm import LlmConfig, LlmImprover
from envscale.tasks.states import DATA_CHOICES


def _limit_setting(text: str) -> str:
    try:
        DEFAULT_LIMITS.with_settings([text])
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None
    return text


def add_limit_arguments(p: argparse.ArgumentParser) -> None:
    """--limit NAME=VALUE, repeatable: what one tool call may take in and do."""
    defaults = ", ".join(f"{k}={v}" for k, v in DEFAULT_LIMITS.to_dict().items())
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        type=_limit_setting,
        metavar="NAME=VALUE",
        help=f"a limit on each tool call, repeatable (defaults: {defaults}); a call over one "
        "fails, rolled back",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    return DEFAULT_LIMITS.with_settings(args.limit)


def add_data_arguments(
    p: argparse.ArgumentParser, paths: bool = True, states: bool = False
) -> None:
    """--data, --data-seed and --size, shared by `envscale tasks` and `envscale generate`
    (and --states, where tasks are sampled)."""
    p.add_argument(
        "--data",
        default="auto",
        metavar="auto|generated|file" + ("|FILE" if paths else ""),
        choices=None if paths else DATA_CHOICES,
        help="initial states: 'auto' (default) takes the spec's seed data, <stem>.data.json "
        "beside it, when that exists and generated data otherwise; 'generated' always generates "
        "(--data-seed, --size); 'file' requires the seed data"
        + ("; or the path of a data file" if paths else ""),
    )
    p.add_argument(
        "--data-seed", type=int, default=0, help="seed of the generated data (default 0)"
    )
    p.add_argument(
        "--size", type=int, default=20, help="records per entity of the generated data (default 20)"
    )
    if states:
        p.add_argument(
            "--states",
            type=int,
            default=1,
            metavar="N",
            help="spread the tasks over N generated initial states (data seeds --data-seed, "
            "--data-seed + 1, ...), so their ids, names and dates differ; default 1",
        )


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    for role in ("agent", "user"):
        g = p.add_argument_group(f"{role} backend")
        g.add_argument(
            f"--{role}",
            default="scripted",
            choices=["scripted", "openai", "hf"],
            help=f"the {role}: scripted (no model), openai (a chat-completions endpoint) "
            "or hf (a local model)",
        )
        g.add_argument(
            f"--{role}-model", metavar="NAME|DIR", help="model name (openai) or directory (hf)"
        )
        g.add_argument(
            f"--{role}-base-url",
            metavar="URL",
            help="endpoint base URL, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL)",
        )
        g.add_argument(
            f"--{role}-api-key-env",
            default="OPENAI_API_KEY",
            metavar="VAR",
            help="environment variable holding the API key (default OPENAI_API_KEY)",
        )
        g.add_argument(f"--{role}-temperature", type=float, default=0.0, metavar="T")
        g.add_argument(
            f"--{role}-max-tokens", type=int, default=512, metavar="N", help="tokens per reply"
        )
    g = p.add_argument_group("requests")
    g.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="seconds per HTTP request"
    )
    g.add_argument(
        "--retries", type=int, default=4, help="retries of a failed request, with backoff"
    )
    g.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="requests in flight per worker"
    )


def backend_from(args: argparse.Namespace, role: str) -> BackendConfig:
    def option(name: str) -> Any:
        return getattr(args, f"{role}_{name}")

    return BackendConfig(
        kind=getattr(args, role),
        model=option("model"),
        base_url=option("base_url"),
        api_key_env=option("api_key_env"),
        temperature=option("temperature"),
        max_tokens=option("max_tokens"),
        timeout=args.timeout,
        retries=args.retries,
        concurrency=args.concurrency,
    )


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seed", type=int, default=0, help="job seed: fixes tasks and episodes (default 0)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="W",
        help="worker processes (default: one per core)",
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local processes (default) or a Ray cluster",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster address (default: start a local instance)",
    )
    p.add_argument(
        "--max-turns",
        type=int,
        default=30,
        metavar="N",
        help="agent turns before an episode is cut",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_limit_arguments(p)


def job_from(
    args: argparse.Namespace, out: Path, specs: list[str], tasks: int = 0, trials: int = 1
) -> Job:
    return Job(
        specs=specs,
        out=out,
        tasks=tasks,
        seed=args.seed,
        agent=backend_from(args, "agent"),
        user=backend_from(args, "user"),
        trials=trials,
        workers=max(1, args.workers),
        executor=args.executor,
        ray_address=args.ray_address,
        max_steps=args.max_turns,
        progress=not args.quiet,
        limits=limits_from(args),
    )


def add_llm_arguments(p: argparse.ArgumentParser) -> None:
    """The LLM mode of `envscale synth`: a model revises each heuristic draft."""
    g = p.add_argument_group("LLM mode (a model revises each draft; off without --llm-model)")
    g.add_argument("--llm-model", metavar="NAME", help="model name at the endpoint")
    g.add_argument(
        "--llm-base-url",
        metavar="URL",
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (default: "
        "$OPENAI_BASE_URL)",
    )
    g.add_argument(
        "--llm-api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key (default OPENAI_API_KEY)",
    )
    g.add_argument(
        "--llm-rounds",
        type=int,
        default=3,
        metavar="N",
        help="answers per domain, the first one included; diagnostics and failed "
        "verifications go back each round (default 3)",
    )
    g.add_argument("--llm-temperature", type=float, default=0.0, metavar="T")
    g.add_argument("--llm-max-tokens", type=int, default=8192, metavar="N")
    g.add_argument(
        "--llm-timeout", type=float, default=300.0, metavar="S", help="seconds per request"
    )


def llm_improver_from(args: argparse.Namespace) -> LlmImprover | None:
    if not args.llm_model:
        return None
    config = LlmConfig(
        base_url=args.llm_base_url or os.environ.get("OPENAI_BASE_URL") or "",
        model=args.llm_model,
        api_key_env=args.llm_api_key_env,
        temperature=args.llm_temperature,
        max_tokens=args.llm_max_tokens,
        timeout=args.llm_timeout,
        seed=getattr(args, "seed", None),
    )
    if not config.base_url:
        raise ValueError("--llm-model needs --llm-base-url (or $OPENAI_BASE_URL)")
    return LlmImprover(config, max(1, args.llm_rounds))
