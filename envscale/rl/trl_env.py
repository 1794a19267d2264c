"""TRL's GRPOTrainer environments (`environment_factory`, trl 1.16) over a domain's tasks.

`TRLEnvironments(domain, tasks)` makes the pieces a GRPO run takes:

- `.factory`: the class GRPOTrainer instantiates once per rollout. Its public methods are
  what the trainer offers the model as tools: one per agent tool of the domain, typed and
  documented from the compiled schemas (transformers builds the schemas the chat template
  shows from the signatures and docstrings), and `message_user(message)`, whose result is
  the simulated user's reply. `reset(task_id=...)` starts the row's task and returns the
  user's opening line, which the trainer appends to the prompt's last user message.
- `.dataset()`: a `datasets.Dataset` with a `prompt` (the policy as the system prompt, then
  an empty user turn) and a `task_id` per task.
- `.verified_reward`: the reward function. It hands the completion's final answer to the user, ends
  the episode where it stands and returns the verified reward of each rollout's environment.

A failed tool call returns its `Error: ...` text like any result, so the trainer sees it as
the model's doing, not as a failure of the tool machinery.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, Optional

from envscale.records import Task
from envscale.rl.environment import Say, TaskEnvironment, ToolCall
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DEFAULT_MAX_STEPS
from envscale.rollout.users import User
from envscale.runtime.domain import Domain
from envscale.runtime.load import load

MESSAGE_TOOL = "message_user"
_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict,
    "null": type(None),
}


class TRLEpisode:
    """One rollout's environment; GRPOTrainer lists the public functions of its class as
    tools, so everything else here is private."""

    _make: Callable[[], TaskEnvironment]

    def __init__(self) -> None:
        self._episode = self._make()

    def reset(self, task_id: str | None = None, **_: Any) -> str:
        return self._episode.reset(task_id).text

    @property
    def episode(self) -> TaskEnvironment:
        return self._episode

    def _act(self, name: str, arguments: dict[str, Any]) -> str:
        return self._episode.step(ToolCall(name, arguments)).observation.text

    def _say(self, message: str) -> str:
        return self._episode.step(Say(message)).observation.text

    def _score(self, final_answer: str | None) -> float:
        if final_answer and not self._episode.done:
            self._episode.step(Say(final_answer))
        return self._episode.finish().reward


class TRLEnvironments:
    """A domain's tasks as GRPOTrainer environments (see the module's docstring)."""

    def __init__(
        self,
        domain: Domain | str | Path,
        tasks: Iterable[Task],
        *,
        spec_path: str | Path | None = None,
        user: Callable[[], User] | BackendConfig | None = None,
        max_turns: int = DEFAULT_MAX_STEPS,
        seed: int = 0,
    ) -> None:
        if not isinstance(domain, Domain):
            spec_path = spec_path if spec_path is not None else domain
            domain = load(domain)
        self.domain = domain
        self.tasks = list(tasks)
        names = {t["function"]["name"] for t in domain.tool_schemas}
        if MESSAGE_TOOL in names:
            raise ValueError(
                f"the domain has a tool named {MESSAGE_TOOL!r}, which the adapter adds"
            )

        def make() -> TaskEnvironment:
            return TaskEnvironment(
                domain,
                self.tasks,
                spec_path=spec_path,
                user=user() if callable(user) else user,
                max_turns=max_turns,
                seed=seed,
            )

        members: dict[str, Any] = {"_make": staticmethod(make), "__doc__": TRLEpisode.__doc__}
        for schema in domain.tool_schemas:
            method = tool_method(schema["function"])
            members[method.__name__] = method
        members[MESSAGE_TOOL] = message_user
        name = "".join(part.capitalize() for part in domain.name.split("_")) + "Episode"
        self.factory: type[TRLEpisode] = type(name, (TRLEpisode,), members)

    def dataset(self) -> Any:
        """One row per task: the prompt (policy, then an empty user turn the user's opening
        line fills) and the task's id, which reaches `reset`."""
        from datasets import Dataset

        prompt = [
            {"role": "system", "content": self.domain.policy},
            {"role": "user", "content": ""},
        ]
        return Dataset.from_dict(
            {"prompt": [prompt] * len(self.tasks), "task_id": [t.id for t in self.tasks]}
        )

    @staticmethod
    def verified_reward(
        completions: list[Any], environments: list[TRLEpisode] | None = None, **_: Any
    ) -> list[float]:
        """Each rollout's verified reward: its final answer goes to the user, then the
        episode ends and is verified as generated episodes are."""
        if environments is None:
            raise ValueError("the reward needs the rollouts' environments (environment_factory)")
        return [
            env._score(final_answer(completion))
            for env, completion in zip(environments, completions, strict=True)
        ]


def message_user(self, message: str) -> str:  # unannotated self: read as the receiver
    """Send a message to the user and read their reply.

    Args:
        message: What to tell or ask the user.
    """
    return self._say(message)


def final_answer(completion: Any) -> str | None:
    """The text of a completion's last assistant message when it holds no tool calls."""
    if isinstance(completion, str):
        return completion
    if not completion:
        return None
    last = completion[-1]
    if last.get("role") != "assistant" or last.get("tool_calls"):
        return None
    content = last.get("content")
    return content if isinstance(content, str) and content.strip() else None


def tool_method(function: dict[str, Any]) -> Callable[..., str]:
    """A method calling the tool `function` (an OpenAI function schema) on the rollout's
    episode, with the signature and Google-style docstring transformers reads tool schemas
    from: parameters typed from their JSON schemas, required ones first, the optional ones
    defaulting to None (left out of the call)."""
    name = function["name"]
    parameters = function.get("parameters") or {}
    properties: dict[str, dict] = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    ordered = sorted(properties, key=lambda p: p not in required)

    def call(self: TRLEpisode, **arguments: Any) -> str:
        given = {k: v for k, v in arguments.items() if k in required or v is not None}
        return self._act(name, given)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    lines = []
    for pname in ordered:
        hint = python_type(properties[pname])
        if pname not in required:
            hint = Optional[hint]  # noqa: UP045 - a runtime object, read by get_type_hints
        annotations[pname] = hint
        params.append(
            inspect.Parameter(
                pname,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if pname in required else None,
                annotation=hint,
            )
        )
        described = " ".join(str(properties[pname].get("description") or pname).split())
        if shape := _fields(properties[pname]):
            described += f" ({shape})"
        lines.append(f"    {pname}: {described}")
    doc = " ".join(str(function.get("description") or f"Call {name}.").split())
    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc + ("\n\nArgs:\n" + "\n".join(lines) if lines else "")
    call.__annotations__ = {**annotations, "return": str}
    call.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    return call


def python_type(schema: dict[str, Any]) -> Any:
    """The Python type hint transformers turns back into (about) this JSON schema."""
    if "enum" in schema and all(isinstance(v, str | int | float | bool) for v in schema["enum"]):
        return Literal[tuple(schema["enum"])]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = tuple(python_type(s) for s in schema[key])
            return options[0] if len(options) == 1 else _union(options)
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union(tuple(_SCALARS.get(k, Any) for k in kind))
    if kind == "array":
        items = schema.get("items")
        return list[python_type(items)] if isinstance(items, dict) and items else list
    return _SCALARS.get(kind, Any) if isinstance(kind, str) else Any


def _fields(schema: dict[str, Any]) -> str | None:
    """The fields of an object, or of a list's objects, in words: a schema built from type
    hints says only "object" there."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        inner = _fields(schema["items"])
        return f"each {inner}" if inner else None
    fields = schema.get("properties") if schema.get("type") == "object" else None
    if not fields:
        return None
    required = set(schema.get("required") or [])
    said = [
        f"{name}: {spec.get('type', 'any')}" + ("" if name in required else ", optional")
        for name, spec in fields.items()
    ]
    return "an object with " + "; ".join(said)


def _union(options: tuple[Any, ...]) -> Any:
    if Any in options:
        return Any
    result = options[0]
    for option in options[1:]:
        result = result | option
    return result
