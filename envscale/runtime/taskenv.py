"""The environment a task starts from, built once per distinct initial state and reused.

A task's `initial_state` is records per entity (a dict of lists), or a reference to them:
`{"data": "file.json"}` (relative to the spec's folder when not absolute).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any


def state_key(initial_state: Any) -> str:
    text = json.dumps(initial_state, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def initial_data(domain: Any, initial_state: Any, spec_path: str | None = None) -> dict | str | Path:
    if isinstance(initial_state, dict) and set(initial_state) == {"data"}:
        path = Path(initial_state["data"])
        if not path.is_absolute() and spec_path is not None and not path.exists():
            path = Path(spec_path).parent / path
        return path
    if isinstance(initial_state, dict):
        return initial_state
    raise ValueError(f"unsupported initial_state: {type(initial_state).__name__}")


def environment_for(domain: Any, task: dict, cache: MutableMapping, spec_path: str | None = None):
    """(environment, cache key) for the task's initial state; the caller resets it."""
    initial_state = task.get("initial_state")
    key = state_key(initial_state)
    env = cache.get(key)
    if env is None:
        env = domain.environment(data=initial_data(domain, initial_state, spec_path))
        cache[key] = env
    return env, key
