"""What every replay of recorded cases shares: reading case files, canonical forms, hashes of
sealed values, mismatches and their report.

A case is one JSON line with `actions` (tool name, kwargs and the output recorded) and a final
state (`final_diff`: per table, the whole new record of each key that changed, None for one
that disappeared). Sealed cases give SHA-256 hashes of canonical forms instead of the values.
JSON outputs are compared by their canonical form, so 100 and 100.0 differ as they would in a
hash; other text is compared exactly.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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

    def add(self, mismatches: list[Mismatch]) -> None:
        self.total += 1
        if mismatches:
            self.mismatches.extend(mismatches)
        else:
            self.matched += 1


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


def compare_output(task: str, where: str, action: dict, text: str) -> Mismatch | None:
    """Our output against the action's recorded one (or its sealed hash)."""
    ours = canonical_output(text)
    if "output_sha256" in action:
        if sha256(ours) != action["output_sha256"]:
            return Mismatch(task, where, None, text)
    elif "output" in action and canonical_output(action["output"]) != ours:
        return Mismatch(task, where, action["output"], text)
    return None


def compare_diff(task: str, case: dict, name: str, diff: dict, where: str) -> Mismatch | None:
    """Our final (or initial) diff against the case's `name` (or `name`_sha256, sealed)."""
    text = canonical(diff)
    if f"{name}_sha256" in case:
        if sha256(text) != case[f"{name}_sha256"]:
            return Mismatch(task, where, None, text)
    elif name in case and canonical(case[name]) != text:
        return Mismatch(task, where, canonical(case[name]), text)
    return None
