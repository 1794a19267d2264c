"""Replay every visible tau-bench case on the shipped retail and airline specs.

Prints, per domain, the median per-case time of reset, one tool call, the final-state
check (the document diff and its canonical hash), and the whole episode; and, measured in
the same run on the same machine, the same steps done the way tau-bench does them: reset by
reloading the JSON documents, each call by tau-bench's own tool code on its dicts (the
reference in ../shared, when it is there), and the final check by hashing the whole
database. Then the median call per tool, ours beside tau-bench's.

    python benchmarks/taubench_replay.py [--shared ../shared] [--repeat 1] [--quick]

tau-bench's own implementation, measured on this kind of machine (from the issue):
reset 23 ms (retail) / 53 ms (airline), a tool call 53 µs, final hash 99 / 338 ms,
reward evaluation 386 / 768 ms per episode.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replaybench import Table, median_us, parse_args, time_episodes, time_reference  # noqa: E402

from envscale.conformance.taubench import canonical, read_cases  # noqa: E402
from envscale.conformance.taubench import environment as conformance_environment  # noqa: E402

CASES = {
    "retail": ["tasks.train.jsonl", "tasks.dev.jsonl", "probes.jsonl"],
    "airline": ["tasks.jsonl", "probes.jsonl"],
}


# The documents tau-bench's write tools change in place, and the field of their records that
# names the user whose record the same call may change too.
MUTATED = {"retail": ("orders", "users"), "airline": ("reservations", "users")}


def read_domain_cases(domain: str, data: Path) -> list[dict]:
    return [c for name in CASES[domain] for c in read_cases(data / name)]


def bench_domain(domain: str, data: Path, repeat: int) -> dict:
    env, layout = conformance_environment(
        ROOT / "specs" / f"{domain}.domain", ROOT / "specs" / f"{domain}.layout.json", data
    )
    cases = read_domain_cases(domain, data)
    by_tool: dict[str, list[float]] = {}

    def play(case: dict, timed: Callable[..., Any]) -> None:
        for action in case["actions"]:
            timed(lambda action=action: env.call(action["name"], action["kwargs"]), action["name"])

    def check() -> None:
        hashlib.sha256(canonical(layout.document_diff(env)).encode()).hexdigest()
        env.state_hash()

    stats = time_episodes(cases, repeat, env.reset, play, check, by_tool)
    return {"cases": len(cases), **stats, "layout": layout, "by_tool": by_tool}


def reference_tools(shared: Path, domain: str) -> dict[str, Callable[..., str]] | None:
    """tau-bench's own tools of the domain by name (from the reference in ../shared), or None
    where it is not there."""
    folder = shared / "conformance" / "taubench" / "reference"
    if not (folder / "tau_bench").is_dir():
        return None
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    module = importlib.import_module(f"tau_bench.envs.{domain}.tools")
    return {tool.get_info()["function"]["name"]: tool.invoke for tool in module.ALL_TOOLS}


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def case_data(base: dict, case: dict, mutated: tuple[str, str]) -> dict:
    """tau-bench's data for one case, sharing the base's records except those the case's
    calls may change in place (the records its arguments name, and their users), which are
    copies: what tau-bench's reset gives, without reloading every document."""
    named = set().union(*(_strings(a["kwargs"]) for a in case["actions"])) if case else set()
    data = dict(base)
    owner_table, user_table = mutated
    owners = {k: copy.deepcopy(v) for k, v in base[owner_table].items() if k in named}
    users = named | {r.get("user_id") for r in owners.values()}
    data[owner_table] = {**base[owner_table], **owners}
    data[user_table] = {
        **base[user_table],
        **{k: copy.deepcopy(v) for k, v in base[user_table].items() if k in users},
    }
    return data


def bench_reference_calls(domain: str, data: Path, tools: dict[str, Callable[..., str]]) -> dict:
    """Each case's calls made by tau-bench's own tools on its dicts, timed one by one."""
    base = {
        name: json.loads((data / f"{name}.json").read_text(encoding="utf-8"))
        for name in {
            "retail": ("users", "orders", "products"),
            "airline": ("users", "flights", "reservations"),
        }[domain]
    }
    before = _digest(base)
    samples: list[float] = []
    by_tool: dict[str, list[float]] = {}
    for case in read_domain_cases(domain, data):
        db = case_data(base, case, MUTATED[domain])
        for action in case["actions"]:
            invoke = tools.get(action["name"])
            if invoke is None:
                continue
            kwargs = copy.deepcopy(action["kwargs"])  # tau-bench's tools may change them
            t0 = time.perf_counter()
            # tau-bench's environment turns an error a tool raises into its text.
            with contextlib.suppress(Exception):
                invoke(db, **kwargs)
            spent = time.perf_counter() - t0
            samples.append(spent)
            by_tool.setdefault(action["name"], []).append(spent)
    if _digest(base) != before:
        raise SystemExit(f"{domain}: a reference call changed a record shared between cases")
    return {"call": median_us(samples), "by_tool": by_tool}


def bench_reference(data: Path, layout, samples: int = 20) -> dict:
    """Reset by reloading the JSON documents and final check by hashing the whole database."""

    def reload() -> dict:
        return {
            t.name: json.loads((data / t.file).read_text(encoding="utf-8")) for t in layout.tables
        }

    def digest(db: dict) -> str:
        return _digest(copy.deepcopy(db))

    return time_reference(samples, reload, digest)


def _digest(db: dict) -> str:
    return hashlib.sha256(json.dumps(db, sort_keys=True, default=str).encode()).hexdigest()


def main() -> None:
    args = parse_args(__doc__)
    base = Path(args.shared) / "conformance" / "taubench"
    table = Table(label_width=10)
    per_tool = []
    table.header()
    for domain in CASES:
        ours = bench_domain(domain, base / domain, args.repeat)
        ref = bench_reference(base / domain, ours["layout"], samples=2 if args.quick else 20)
        tools = reference_tools(Path(args.shared), domain)
        calls = bench_reference_calls(domain, base / domain, tools) if tools else {}
        if tools is None:
            print(f"{domain}: no tau-bench reference tools in {args.shared}", file=sys.stderr)
        table.ours(domain, ours["cases"], ours)
        table.reference({**ref, **calls}, "tau-bench's way, same machine", ours=ours)
        per_tool.append((domain, ours["by_tool"], calls.get("by_tool", {})))
    for domain, mine, theirs in per_tool:
        print(f"\n{domain}: median call per tool")
        table.per_tool(mine, theirs)


if __name__ == "__main__":
    main()
