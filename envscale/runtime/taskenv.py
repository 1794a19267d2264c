"""The environment a task starts from, built once per distinct initial state and reused.

`initial_state` takes the forms that `tasks.initial_environment` reads: a data file, a
generated state (seed and size), or the records themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from typing import Any


def state_key(task: dict) -> str:
    text = json.dumps([task.get("initial_state"), task.get("enforce_policies", True)], sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def environment_for(domain: Any, task: dict, cache: MutableMapping, spec_path: str | None = None):
    """(environment, cache key) for the task's initial state; the caller resets it."""
    from envscale.runtime.tasks import initial_environment

    key = state_key(task)
    env = cache.get(key)
    if env is None:
        env = initial_environment(domain, task.get("initial_state") or {}, spec_path,
                                  enforce_policies=bool(task.get("enforce_policies", True)))
        cache[key] = env
    return env, key
