"""Replay tau-bench cases on an envscale spec and compare every output and the final state.

The case format and the comparisons are those of `conformance/replay.py`: each action's
output (JSON by its canonical form, other text exactly) and the final documents' diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envscale.conformance.replay import (
    FileResult,
    Mismatch,
    canonical,
    canonical_output,
    compare_diff,
    compare_output,
    read_cases,
    sha256,
)
from envscale.runtime.environment import Environment
from envscale.runtime.layout import Layout
from envscale.runtime.load import load


def replay_case(env: Any, layout: Layout, case: dict) -> list[Mismatch]:
    """Replay one case from the initial state; the mismatches found (first one per kind)."""
    env.reset()
    task = str(case["task_id"])
    found: list[Mismatch] = []
    for i, action in enumerate(case.get("actions", [])):
        result = env.call(action["name"], action.get("kwargs", {}))
        mismatch = compare_output(task, f"action {i} ({action['name']})", action, result.text)
        if mismatch is not None:
            found.append(mismatch)
    mismatch = compare_diff(task, case, "final_diff", layout.document_diff(env), "final state")
    if mismatch is not None:
        found.append(mismatch)
    return found


def replay_file(env: Any, layout: Layout, path: str | Path) -> FileResult:
    result = FileResult(str(path))
    for case in read_cases(path):
        result.add(replay_case(env, layout, case))
    return result


def environment(
    spec: str | Path, layout_path: str | Path, data: str | Path
) -> tuple[Environment, Layout]:
    """The spec's environment on tau-bench's documents, policies off (tau-bench has none)."""
    domain = load(spec)
    layout = Layout.read(layout_path)
    layout.check(domain.manifest)
    env = domain.environment(data=layout.load(data), enforce_policies=False)
    return env, layout


__all__ = [
    "FileResult",
    "Mismatch",
    "canonical",
    "canonical_output",
    "environment",
    "read_cases",
    "replay_case",
    "replay_file",
    "sha256",
]
