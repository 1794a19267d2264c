"""A Gymnasium (1.4) environment over a domain's tasks, text in and text out.

The action is what a model writes in one turn: prose goes to the user, Hermes
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks are tool calls, run in order
(text holding a block that is no well-formed call is prose, as in generated episodes). The
observation is the user's reply or the calls' outputs. `reset(seed=..., options={"task": ID})`
starts a task's episode (without one, a task drawn from the seeded generator); its info holds
the agent's tools and the policy. Both spaces are text of any Unicode characters up to a
length (`UnicodeText`: Gymnasium's `Text` samples from a character set, but the text a model
writes or a tool returns is not confined to one).

Importing this module registers the environment as `envscale/TaskEnv-v0` with gymnasium
(when it is installed), so `gymnasium.make("envscale.rl.gym_env:envscale/TaskEnv-v0",
spec=...)` works without importing envscale first; `make_environment` says what it takes.
"""

from __future__ import annotations

import functools
import importlib.util
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from envscale.records import Task, load_jsonl
from envscale.rl.environment import Step, TaskEnvironment, ToolCall, Turn
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DEFAULT_MAX_STEPS
from envscale.rollout.toolcalls import parse_hermes
from envscale.runtime.domain import Domain
from envscale.runtime.load import load
from envscale.tasks.sampling import sample_tasks
from envscale.tasks.states import EnvFactory, initial_state_for

# Characters, far above a tool result's default limit of 1,000,000 bytes.
MAX_TEXT = 1 << 21


@functools.cache
def _classes() -> tuple[type, type]:
    import gymnasium

    class UnicodeText(gymnasium.spaces.Text):
        """Text of `min_length` to `max_length` characters, any Unicode ones; samples are
        drawn from printable ASCII."""

        def __init__(self, max_length: int, *, min_length: int = 0) -> None:
            super().__init__(max_length, min_length=min_length, charset=string.printable)

        def contains(self, x: Any) -> bool:
            return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    class TaskEnv(gymnasium.Env):
        metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

        def __init__(self, episodes: TaskEnvironment, render_mode: str | None = None) -> None:
            self.episodes = episodes
            self.render_mode = render_mode
            self.observation_space = UnicodeText(MAX_TEXT)
            self.action_space = UnicodeText(MAX_TEXT)

        def reset(
            self, *, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[str, dict[str, Any]]:
            super().reset(seed=seed)
            task = (options or {}).get("task")
            if task is None:
                ids = sorted(self.episodes.tasks)
                task = ids[int(self.np_random.integers(len(ids)))] if ids else None
            seen = self.episodes.reset(task, seed=int(self.np_random.integers(2**31)))
            info = {
                "task_id": self.episodes.task.id,
                "tools": self.episodes.tools,
                "policy": self.episodes.policy,
            }
            return seen.text, info

        def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
            prose, calls = parse_hermes(action)
            turn = Turn(
                prose if calls else (prose or action),
                tuple(ToolCall(c["function"]["name"], c["function"]["arguments"]) for c in calls),
            )
            step: Step = self.episodes.step(turn)
            info = {**step.info, "source": step.observation.source, "ok": step.observation.ok}
            return step.observation.text, step.reward, step.done, step.truncated, info

        def render(self) -> str | None:
            if self.render_mode != "ansi":
                return None
            return "\n\n".join(
                f"[{m['role']}] {m.get('content') or ''}"
                + "".join(
                    f"\n  -> {c['function']['name']}({c['function']['arguments']})"
                    for c in m.get("tool_calls") or []
                )
                for m in self.episodes.messages
            )

        def close(self) -> None:
            self.episodes.close()

    return UnicodeText, TaskEnv


def gymnasium_environment(
    domain: Domain | str | Path,
    tasks: Iterable[Task],
    *,
    spec_path: str | Path | None = None,
    user: BackendConfig | None = None,
    max_turns: int = DEFAULT_MAX_STEPS,
    render_mode: str | None = None,
) -> Any:
    """A `gymnasium.Env` over `tasks` (see the module's docstring)."""
    episodes = TaskEnvironment(domain, tasks, spec_path=spec_path, user=user, max_turns=max_turns)
    return _classes()[1](episodes, render_mode=render_mode)


def unicode_text(max_length: int = MAX_TEXT) -> Any:
    """The text space of the environment's actions and observations."""
    return _classes()[0](max_length)


ENV_ID = "envscale/TaskEnv-v0"


def make_environment(
    spec: str | Path,
    tasks: Iterable[Task] | str | Path | None = None,
    *,
    n_tasks: int = 8,
    task_seed: int = 0,
    user: BackendConfig | None = None,
    max_turns: int = DEFAULT_MAX_STEPS,
    render_mode: str | None = None,
) -> Any:
    """What `gymnasium.make(ENV_ID, ...)` makes: the environment over a spec's tasks, given
    as records or a tasks.jsonl file, or else `n_tasks` sampled from the spec's initial
    state with `task_seed`."""
    domain = load(spec)
    if tasks is None:
        factory = EnvFactory(domain, initial_state_for(spec), spec)
        tasks = sample_tasks(domain, factory, n=n_tasks, seed=task_seed)
    elif isinstance(tasks, str | Path):
        tasks = load_jsonl(tasks, Task)
    return gymnasium_environment(
        domain, tasks, spec_path=spec, user=user, max_turns=max_turns, render_mode=render_mode
    )


def register() -> None:
    """Register ENV_ID with gymnasium, once."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(ENV_ID, entry_point=make_environment)


if importlib.util.find_spec("gymnasium") is not None:
    register()
