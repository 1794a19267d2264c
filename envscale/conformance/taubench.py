"""Replay tau-bench cases on an envscale spec and compare every output and the final state.

A case is one JSON line: `actions` (tool name, kwargs and the output tau-bench gave) and
`final_diff` (per table, the whole new record of each key that changed, None for one that
disappeared). Sealed cases give SHA-256 hashes of canonical forms instead of the values.
JSON outputs are compared by their canonical form, so 100 and 100.0 differ as they would
in a hash; other text is compared exactly.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.runtime.environment import Environment
from envscale.runtime.layout import Layout
from envscale.runtime.load import load


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_output(text: str) -> str:
    """A tool output's canonical form: parsed JSON re-serialised, or the text itself."""
    try:
        return canonical(json.loads(text))
    except (json.JSONDecodeError, ValueError):
        return text


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Mismatch:
    case: str
    where: str  # "action 3 (cancel_pending_order)" or "final state"
    expected: str | None  # None for sealed cases
    actual: str

    def render(self) -> str:
        lines = [f"  {self.case}: {self.where} differs"]
        if self.expected is None:
            lines.append(f"    got (sealed case, expected value unknown): {_clip(self.actual)}")
            return "\n".join(lines)
        expected, actual = _pretty(self.expected), _pretty(self.actual)
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "envscale", lineterm="", n=2
        )
        lines.extend("    " + line for line in list(diff)[:40])
        return "\n".join(lines)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=1, sort_keys=True, ensure_ascii=False)
    except (json.JSONDecodeError, ValueError):
        return text


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass
class FileResult:
    path: str
    total: int = 0
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


def read_cases(path: str | Path) -> Iterator[dict]:
    """The cases of a JSON-lines file; a malformed one is a ValueError naming its line."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"line {number}: invalid JSON: {error.msg}") from None
            actions = case.get("actions", []) if isinstance(case, dict) else None
            if not isinstance(actions, list) or not all(
                isinstance(a, dict) and isinstance(a.get("name"), str) for a in actions
            ):
                raise ValueError(
                    f"line {number}: a case is an object whose 'actions' each have a 'name'"
                )
            case.setdefault("task_id", f"{Path(path).name}:{number}")
            yield case


def replay_case(env: Any, layout: Layout, case: dict) -> list[Mismatch]:
    """Replay one case from the initial state; the mismatches found (first one per kind)."""
    env.reset()
    task = str(case["task_id"])
    found: list[Mismatch] = []
    for i, action in enumerate(case.get("actions", [])):
        result = env.call(action["name"], action.get("kwargs", {}))
        ours = canonical_output(result.text)
        where = f"action {i} ({action['name']})"
        if "output_sha256" in action:
            if sha256(ours) != action["output_sha256"]:
                found.append(Mismatch(task, where, None, result.text))
        elif "output" in action and canonical_output(action["output"]) != ours:
            found.append(Mismatch(task, where, action["output"], result.text))
    diff = canonical(layout.document_diff(env))
    if "final_diff_sha256" in case:
        if sha256(diff) != case["final_diff_sha256"]:
            found.append(Mismatch(task, "final state", None, diff))
    elif "final_diff" in case and canonical(case["final_diff"]) != diff:
        found.append(Mismatch(task, "final state", canonical(case["final_diff"]), diff))
    return found


def replay_file(env: Any, layout: Layout, path: str | Path) -> FileResult:
    result = FileResult(str(path))
    for case in read_cases(path):
        mismatches = replay_case(env, layout, case)
        result.total += 1
        if mismatches:
            result.mismatches.extend(mismatches)
        else:
            result.matched += 1
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
