"""Trajectory files read for training: the trajectories that passed the required filters,
and their messages in the shape chat templates expect."""

from __future__ import annotations

import glob
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envscale.errors import DataError
from envscale.records import Trajectory, TrajectoryReader


@dataclass
class FileInfo:
    path: str
    sha256: str
    lines: int
    kept: int
    spec_hashes: dict[str, str]  # domain -> spec hash


def expand_globs(patterns: Sequence[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise DataError([f"no trajectory file matches {pattern!r}"])
        paths.extend(m for m in matches if m not in paths)
    return paths


def load_trajectories(
    patterns: Sequence[str], require_filters: Sequence[str]
) -> tuple[list[Trajectory], list[FileInfo]]:
    """Read every matching file; keep the trajectories that passed all `require_filters`."""
    trajectories: list[Trajectory] = []
    infos: list[FileInfo] = []
    for path in expand_globs(patterns):
        raw = Path(path).read_bytes()
        kept = 0
        lines = 0
        spec_hashes: dict[str, str] = {}
        reader = TrajectoryReader()  # puts back what a line shares with others (its preamble)
        # A generation job killed mid-write may leave its last line unfinished: it is not data yet.
        complete = raw[: raw.rfind(b"\n") + 1]
        for lineno, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError([f"{where}: not JSON: {e}"]) from e
            if isinstance(record, dict) and reader.take(record, where):
                continue
            lines += 1
            # Lines that did not pass are skipped before they are validated, as they are not read.
            filters = (record.get("filters") if isinstance(record, dict) else None) or {}
            if not all(filters.get(name) is True for name in require_filters):
                continue
            if isinstance(record, dict):
                record.setdefault("id", where)
                record = reader.expand(record, where)
            traj = Trajectory.from_dict(record, where)
            spec_hashes.setdefault(traj.domain, traj.spec_hash)
            trajectories.append(traj)
            kept += 1
        infos.append(FileInfo(path, hashlib.sha256(raw).hexdigest(), lines, kept, spec_hashes))
    return trajectories, infos


def chat_messages(traj: Trajectory) -> list[dict[str, Any]]:
    """The trajectory's messages as the agent saw them (a dual-control user's own tool calls
    left out), as chat templates take them (see `normalize_message`)."""
    return [normalize_message(m, traj.source) for m in traj.agent_messages()]


def chat_tools(traj: Trajectory) -> list[dict[str, Any]]:
    """The trajectory's tool schemas as chat templates take them."""
    return [tool.to_dict() for tool in traj.tools]


def normalize_message(message: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Copy a message into the shape chat templates expect: arguments as dicts, not JSON text."""
    role = message.get("role")
    if role not in ("system", "user", "assistant", "tool"):
        raise DataError([f"{where}: unknown role {role!r}"])
    out = dict(message)
    if out.get("content") is None:
        out["content"] = ""
    calls = message.get("tool_calls") or []
    if calls:
        if role != "assistant":
            raise DataError([f"{where}: a {role} message carries tool_calls"])
        parsed = []
        for call in calls:
            fn = dict(call["function"])
            args = fn.get("arguments")
            if isinstance(args, str):
                try:
                    fn["arguments"] = json.loads(args) if args.strip() else {}
                except json.JSONDecodeError as e:
                    raise DataError([f"{where}: tool call arguments are not JSON: {e}"]) from e
            parsed.append({**call, "function": fn})
        out["tool_calls"] = parsed
    else:
        out.pop("tool_calls", None)
    return out


def split_eval(
    items: list[Trajectory], fraction: float, seed: int
) -> tuple[list[Trajectory], list[Trajectory]]:
    """Hold out a deterministic share of trajectories, whole tasks at a time, chosen by hashing
    task ids: the trials of a task all land on one side, so evaluation is on unseen tasks."""
    if fraction <= 0 or len(items) < 2:
        return items, []

    def task(t: Trajectory) -> tuple[str, str]:
        return t.domain, t.task_id or t.id

    sizes: dict[tuple[str, str], int] = {}
    for t in items:
        sizes[task(t)] = sizes.get(task(t), 0) + 1
    ranked = sorted(sizes, key=lambda k: hashlib.sha256(f"{seed}:{k[0]}:{k[1]}".encode()).digest())
    wanted = max(1, round(len(items) * fraction))
    held: set[tuple[str, str]] = set()
    count = 0
    for key in ranked[:-1]:  # at least one task stays for training
        if count >= wanted:
            break
        held.add(key)
        count += sizes[key]
    return [t for t in items if task(t) not in held], [t for t in items if task(t) in held]


def sample_replay(pool: list[Any], n_current: int, share: float, seed: int) -> list[Any]:
    """Draw earlier-phase items so that they make up `share` of the mixed set."""
    if share <= 0 or not pool:
        return []
    n = min(len(pool), round(n_current * share / (1 - share)))
    return random.Random(seed).sample(pool, n)
