"""OpenEnv (openenv-core 0.3) environments over a domain's tasks.

`openenv_types()` gives the Action, Observation and State models (subclasses of
`openenv.core.env_server`'s), the `Environment` subclass and an `EnvClient` subclass, made on
first use so that openenv is imported only then. An action is a tool call (`tool` and
`arguments`) or a message to the user (`message`); the observation is the tool's output or
the user's reply, with the verified reward and `done` when the episode ends (`truncated`
says it ended by the turn limit). `reset(task_id=..., seed=...)` starts a task's episode (a
task drawn by the seed without one) and its observation carries the agent's tools and the
policy. `openenv_app(...)` is the FastAPI app of OpenEnv's server, one isolated environment
per WebSocket session; `OpenEnvTypes.client(url)` connects to one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from envscale.records import Task
from envscale.rl.environment import Observation as CoreObservation
from envscale.rl.environment import Say, TaskEnvironment, ToolCall
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DEFAULT_MAX_STEPS
from envscale.runtime.domain import Domain
from envscale.runtime.load import load


@dataclass(frozen=True)
class OpenEnvTypes:
    action: type
    observation: type
    state: type
    environment: type
    client: type


@functools.cache
def openenv_types() -> OpenEnvTypes:
    from openenv.core.client_types import StepResult
    from openenv.core.env_client import EnvClient
    from openenv.core.env_server import Action, Environment, Observation, State
    from openenv.core.env_server.types import EnvironmentMetadata

    class EnvscaleAction(Action):
        """A tool call (`tool`, `arguments`: an object, or JSON text as a model wrote it) or
        a message to the user (`message`)."""

        tool: str | None = Field(default=None, description="The tool to call")
        arguments: dict[str, Any] | str = Field(
            default_factory=dict, description="The call's arguments"
        )
        message: str | None = Field(default=None, description="A message to the user")

        @model_validator(mode="after")
        def _one_kind(self) -> EnvscaleAction:
            if (self.tool is None) == (self.message is None):
                raise ValueError("an action has either a tool or a message")
            return self

    class EnvscaleObservation(Observation):
        """The user's reply or the tool's output (a failed call: `Error: ...`, `ok` false);
        at the end, the verified reward, the filters and the failure."""

        text: str = ""
        source: Literal["user", "tool"] = "user"
        ok: bool = True
        task_id: str | None = None
        truncated: bool = False
        tools: list[dict[str, Any]] = Field(default_factory=list)  # on reset
        policy: str | None = None  # on reset
        filters: dict[str, bool] | None = None
        failure: str | None = None

    class EnvscaleState(State):
        task_id: str | None = None
        state_hash: str | None = None
        end: str | None = None
        reward: float | None = None

    class EnvscaleEnvironment(Environment[EnvscaleAction, EnvscaleObservation, EnvscaleState]):
        """Episodes of a domain's tasks; each instance has its own databases."""

        SUPPORTS_CONCURRENT_SESSIONS = True

        def __init__(self, episodes: TaskEnvironment) -> None:
            super().__init__()
            self.episodes = episodes
            self._state = EnvscaleState()

        def reset(
            self,
            seed: int | None = None,
            episode_id: str | None = None,
            task_id: str | None = None,
            **_: Any,
        ) -> EnvscaleObservation:
            seen = self.episodes.reset(task_id, seed=seed)
            task = self.episodes.task
            self._state = EnvscaleState(episode_id=episode_id or task.id, task_id=task.id)
            return self._observe(seen, policy=self.episodes.policy, tools=self.episodes.tools)

        def step(
            self, action: EnvscaleAction, timeout_s: float | None = None, **_: Any
        ) -> EnvscaleObservation:
            move = (
                Say(action.message)
                if action.message is not None
                else ToolCall(action.tool or "", action.arguments)
            )
            step = self.episodes.step(move)
            self._state.step_count += 1
            return self._observe(step.observation)

        @property
        def state(self) -> EnvscaleState:
            if self._state.task_id is not None:
                self._state.state_hash = self.episodes.state_hash()
                verdict = self.episodes.verdict
                self._state.end = verdict.end if verdict else None
                self._state.reward = verdict.reward if verdict else None
            return self._state

        def get_metadata(self) -> EnvironmentMetadata:
            domain = self.episodes.domain
            return EnvironmentMetadata(
                name=domain.name,
                description=domain.manifest.description or f"envscale domain {domain.name}",
                version=domain.spec_hash[:12],
            )

        def close(self) -> None:
            self.episodes.close()

        def _observe(self, seen: CoreObservation, **extra: Any) -> EnvscaleObservation:
            verdict = self.episodes.verdict
            return EnvscaleObservation(
                text=seen.text,
                source=seen.source,
                ok=seen.ok,
                task_id=self.episodes.task.id,
                done=verdict is not None,
                reward=verdict.reward if verdict else 0.0,
                truncated=verdict is not None and verdict.end == "turn_limit",
                filters=verdict.filters if verdict else None,
                failure=verdict.failure if verdict else None,
                **extra,
            )

    class EnvscaleClient(EnvClient[EnvscaleAction, EnvscaleObservation, EnvscaleState]):
        """A client of the server `openenv_app` makes (over its WebSocket)."""

        def _step_payload(self, action: EnvscaleAction) -> dict[str, Any]:
            return action.model_dump(exclude={"metadata"})

        def _parse_result(self, payload: dict[str, Any]) -> StepResult[EnvscaleObservation]:
            observation = EnvscaleObservation(
                **payload.get("observation", {}),
                done=payload.get("done", False),
                reward=payload.get("reward"),
            )
            return StepResult(observation, observation.reward, observation.done)

        def _parse_state(self, payload: dict[str, Any]) -> EnvscaleState:
            return EnvscaleState(**payload)

    return OpenEnvTypes(
        EnvscaleAction, EnvscaleObservation, EnvscaleState, EnvscaleEnvironment, EnvscaleClient
    )


def openenv_environment(
    domain: Domain | str | Path,
    tasks: Iterable[Task],
    *,
    spec_path: str | Path | None = None,
    user: Callable[[], Any] | BackendConfig | None = None,
    max_turns: int = DEFAULT_MAX_STEPS,
    seed: int = 0,
) -> Callable[[], Any]:
    """A factory of OpenEnv environments over `tasks` (what OpenEnv's server takes): each
    call makes one with databases of its own. `user` makes the simulated user (scripted by
    default)."""
    if not isinstance(domain, Domain):
        spec_path = spec_path if spec_path is not None else domain
        domain = load(domain)
    tasks = list(tasks)
    environment = openenv_types().environment
    loaded = domain

    def make() -> Any:
        episodes = TaskEnvironment(
            loaded,
            tasks,
            spec_path=spec_path,
            user=user() if callable(user) else user,
            max_turns=max_turns,
            seed=seed,
        )
        return environment(episodes)

    return make


def openenv_app(
    domain: Domain | str | Path,
    tasks: Iterable[Task],
    *,
    max_concurrent_envs: int = 8,
    **options: Any,
) -> Any:
    """OpenEnv's FastAPI app serving environments over `tasks` (HTTP and WebSocket; each
    WebSocket session gets its own), up to `max_concurrent_envs` at once. `options` go to
    `openenv_environment`."""
    from openenv.core.env_server import create_fastapi_app

    types = openenv_types()
    factory = openenv_environment(domain, tasks, **options)
    return create_fastapi_app(
        factory, types.action, types.observation, max_concurrent_envs=max_concurrent_envs
    )
