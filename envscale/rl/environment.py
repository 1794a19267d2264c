"""A compiled domain and its tasks as a reinforcement-learning environment.

`reset(task)` puts the task's initial state in place and returns what the simulated user
says first; `step(action)` takes the agent's next move, a tool call or a message to the user,
and returns what it observes: the tool's output (a failed call is an `Error: ...` text, the
state as before) or the user's reply. The episode ends when the user says it is done, when a
transfer tool succeeds, or after `max_turns` agent turns (truncated); `finish()` ends it
where it stands, for trainers whose rollout stops first. The reward, given when the episode
ends, is the one an episode of `envscale generate` gets (`rollout.episode.verify_dialogue`):
the final state hash against the task's gold one, the exact calls for a read-only task, or
the task's own criteria (the facts the agent must tell the user among them).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from envscale.records import Task, Trajectory, agent_view
from envscale.rollout.dialogue import BackendConfig, EpisodeContext
from envscale.rollout.episode import (
    DEFAULT_MAX_STEPS,
    Dialogue,
    DomainRuntime,
    episode_record,
    run_tool_calls,
    user_turn,
    verify_dialogue,
)
from envscale.rollout.toolcalls import make_call
from envscale.rollout.users import ScriptedUser, User, make_user
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.runtime.load import load

ENDED = "Error: the episode has ended; reset the environment to start another"


@dataclass(frozen=True)
class ToolCall:
    """The agent calls one of its tools; `arguments` is an object or JSON text as a model
    wrote it (text that is no JSON object makes a failed call)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    """The agent writes to the user."""

    content: str


@dataclass(frozen=True)
class Turn:
    """One message of the agent as a model writes it: text, tool calls, or both. With calls,
    the calls run in order and the text is kept with them; without, the text goes to the user."""

    content: str | None = None
    calls: tuple[ToolCall, ...] = ()


Action = ToolCall | Say | Turn


@dataclass(frozen=True)
class Observation:
    """What the agent reads next: `source` is "user" (the user's reply, or their opening
    line after a reset) or "tool" (the tools' output, one text per call, in order)."""

    text: str
    source: Literal["user", "tool"]
    ok: bool = True  # every call of the step succeeded (always true for the user's reply)


@dataclass(frozen=True)
class Verdict:
    """How the episode was verified: its reward, the filters' stages (valid, state, exact),
    the first reason it failed, and, for a task with its own criteria, each part's score."""

    reward: float
    filters: dict[str, bool]
    failure: str | None
    end: str
    scores: dict[str, float | None] | None = None


@dataclass(frozen=True)
class Step:
    observation: Observation
    reward: float  # 0.0 until the episode ends, then the verified reward
    done: bool  # ended by the user's stop or a transfer
    truncated: bool  # ended by the turn limit, or by `finish()` before the user stopped
    info: dict[str, Any]


class TaskEnvironment:
    """Episodes of a domain's tasks with a simulated user (the scripted one unless `user`
    says otherwise). `domain` is a loaded domain or a spec's path; `spec_path` locates the
    data files tasks name relative to the spec (given with a path, the path)."""

    def __init__(
        self,
        domain: Domain | str | Path,
        tasks: Iterable[Task] = (),
        *,
        spec_path: str | Path | None = None,
        user: User | BackendConfig | None = None,
        max_turns: int = DEFAULT_MAX_STEPS,
        seed: int = 0,
    ) -> None:
        if not isinstance(domain, Domain):
            spec_path = spec_path if spec_path is not None else domain
            domain = load(domain)
        self.domain = domain
        self.runtime = DomainRuntime(domain, str(spec_path) if spec_path is not None else None)
        self.tasks: dict[str, Task] = {t.id: t for t in tasks}
        self.user: User = (
            make_user(user) if isinstance(user, BackendConfig) else user or ScriptedUser()
        )
        self.max_turns = max_turns
        self.seed = seed
        self._rng = random.Random(f"envscale-rl:{seed}")
        self._env: Environment | None = None
        self._task: Task | None = None
        self._dialogue: Dialogue | None = None
        self._verdict: Verdict | None = None
        self._final_hash = ""
        self._seed = seed
        self._trial = 0
        self._truncated = False
        self._calls = 0

    @property
    def tools(self) -> list[dict]:
        """The agent's tools, OpenAI function schemas."""
        return self.runtime.tools

    @property
    def policy(self) -> str:
        """The domain's policy: the agent's system prompt."""
        return self.domain.policy

    @property
    def task(self) -> Task:
        if self._task is None:
            raise RuntimeError("no episode yet: call reset(task) first")
        return self._task

    @property
    def messages(self) -> list[dict]:
        """The dialogue so far, as the agent saw it (OpenAI messages, the policy first)."""
        dialogue = self._live()
        return agent_view(dialogue.messages) if dialogue.dual else list(dialogue.messages)

    @property
    def done(self) -> bool:
        return self._verdict is not None

    @property
    def verdict(self) -> Verdict | None:
        """The episode's verification, once it has ended."""
        return self._verdict

    def state_hash(self) -> str:
        """The hash of the episode's database as it is now."""
        if self._env is None:
            raise RuntimeError("no episode yet: call reset(task) first")
        return self._env.state_hash()

    def resolve(self, task: Task | str | dict | None, seed: int | None = None) -> Task:
        """A task given as a record, its JSON object, or the id of one of `tasks`; None draws
        one of `tasks` (by `seed` when given)."""
        if isinstance(task, Task):
            return task
        if isinstance(task, dict):
            return Task.model_validate(task)
        if not self.tasks:
            raise ValueError("no task given and the environment holds none")
        if task is None:
            rng = self._rng if seed is None else random.Random(f"envscale-rl-task:{seed}")
            return self.tasks[rng.choice(sorted(self.tasks))]
        try:
            return self.tasks[task]
        except KeyError:
            raise KeyError(f"unknown task {task!r}") from None

    def reset(
        self, task: Task | str | dict | None = None, *, seed: int | None = None, trial: int = 0
    ) -> Observation:
        """Start an episode of `task` in its initial state; the user's opening line. `seed`
        (default: the environment's) and `trial` seed the simulated user as `envscale
        generate` seeds a trial's (`--seed`); both are kept in the episode's trajectory."""
        chosen = self.resolve(task, seed)
        self._task = chosen
        self._env = self.runtime.environment(chosen)
        self._verdict = None
        self._final_hash = ""
        self._truncated = False
        self._calls = 0
        base = self.seed if seed is None else seed
        self._seed, self._trial = base, trial
        self.user.start(
            EpisodeContext(
                chosen,
                self.runtime.tools,
                self.runtime.kinds,
                self.domain.policy,
                random.Random(f"user:{base}:{chosen.id}:{trial}"),
                user_tools=self.runtime.user_tools,
            )
        )
        dialogue = Dialogue(
            [{"role": "system", "content": self.domain.policy}], dual=bool(self.runtime.user_tools)
        )
        self._dialogue = dialogue
        said = user_turn(self._env, self.user, dialogue)
        if said is None or said.done:
            dialogue.end = "turn_limit" if said is None else "user_done"
            self._end(truncated=said is None)
            return Observation(said.content if said is not None else "", "user")
        dialogue.messages.append({"role": "user", "content": said.content})
        return Observation(said.content, "user")

    def step(self, action: Action) -> Step:
        """The agent's next move and what it observes. After the end, a step changes nothing
        and observes that the episode has ended."""
        dialogue = self._live()
        if self._verdict is not None:
            return self._step(Observation(ENDED, "tool", ok=False))
        assert self._env is not None
        if isinstance(action, ToolCall):
            action = Turn(None, (action,))
        elif isinstance(action, Say):
            action = Turn(action.content)
        elif not isinstance(action, Turn):
            raise TypeError(f"an action is a ToolCall, Say or Turn, not {type(action).__name__}")
        dialogue.steps += 1
        message: dict[str, Any] = {"role": "assistant", "content": action.content}
        if action.calls:
            observation = self._run_calls(dialogue, message, action.calls)
        else:
            dialogue.messages.append(message)
            observation = self._user_reply(dialogue)
        if self._verdict is None and dialogue.steps >= self.max_turns:
            self._end(truncated=True)
        return self._step(observation)

    def finish(self) -> Verdict:
        """End the episode where it stands (a trainer's rollout stopped before the user did)
        and verify it; the verdict of an episode that has ended already."""
        self._live()
        if self._verdict is None:
            self._end(truncated=True, why="the rollout stopped")
        assert self._verdict is not None
        return self._verdict

    def trajectory(self, *, agent: str = "rl", agent_model: str | None = None) -> Trajectory:
        """The ended episode as a trajectory record, as `envscale generate` writes one: the
        whole dialogue (the user's own calls too, in dual control), the verdict and the
        reward; `agent` and `agent_model` name what chose the actions. `records.
        append_trajectories` writes it to a file that `envscale export`, `view` and `train`
        read."""
        dialogue = self._live()
        verdict = self._verdict
        if verdict is None:
            raise RuntimeError("the episode has not ended: step to its end or call finish()")
        return episode_record(
            self.runtime,
            self.task,
            dialogue,
            self._final_hash,
            filters=verdict.filters,
            reward=verdict.reward,
            scores=verdict.scores,
            failure=verdict.failure,
            trial=self._trial,
            agent=agent,
            agent_model=agent_model,
            user=self.user.config.kind,
            user_model=self.user.config.model,
            seed=self._seed,
        )

    def close(self) -> None:
        self.runtime.close()
        self._env = None

    def _live(self) -> Dialogue:
        if self._dialogue is None:
            raise RuntimeError("no episode yet: call reset(task) first")
        return self._dialogue

    def _run_calls(
        self, dialogue: Dialogue, message: dict[str, Any], calls: Sequence[ToolCall]
    ) -> Observation:
        assert self._env is not None
        tool_calls = []
        for call in calls:
            self._calls += 1
            tool_calls.append(make_call(f"call_{self._calls}", call.name, call.arguments))
        message["tool_calls"] = tool_calls
        if dialogue.dual:
            message["side"] = "agent"
        dialogue.messages.append(message)
        before = len(dialogue.calls)
        if run_tool_calls(self._env, tool_calls, dialogue):
            dialogue.end = "transfer"
            self._end(truncated=False)
        made = dialogue.calls[before:]
        text = "\n\n".join(c.text for c in made)
        return Observation(text, "tool", ok=all(c.ok for c in made))

    def _user_reply(self, dialogue: Dialogue) -> Observation:
        assert self._env is not None
        said = user_turn(self._env, self.user, dialogue)
        if said is None:  # the user kept acting on their device without a word
            self._end(truncated=True)
            return Observation("", "user")
        if said.done:
            # As in generated episodes, the reply that ends the dialogue is not kept in it.
            dialogue.end = "user_done"
            self._end(truncated=False)
            return Observation(said.content, "user")
        dialogue.messages.append({"role": "user", "content": said.content})
        return Observation(said.content, "user")

    def _end(self, truncated: bool, why: str = "no end") -> None:
        dialogue = self._live()
        assert self._env is not None and self._task is not None
        self._final_hash = self._env.state_hash()
        verdict, reward, scores = verify_dialogue(
            self.runtime, self._task, dialogue, self._final_hash
        )
        self._truncated = truncated
        failure = verdict.failure
        if dialogue.end == "turn_limit":
            stop = f"turn_limit: {why} after {dialogue.steps} agent turns"
            failure = stop + (f"; {failure}" if failure else "")
        self._verdict = Verdict(reward, verdict.to_dict(), failure, dialogue.end, scores)

    def _step(self, observation: Observation) -> Step:
        verdict = self._verdict
        info: dict[str, Any] = {"task_id": self.task.id, "turns": self._live().steps}
        if verdict is None:
            return Step(observation, 0.0, False, False, info)
        info.update(
            filters=verdict.filters, failure=verdict.failure, end=verdict.end, scores=verdict.scores
        )
        return Step(observation, verdict.reward, not self._truncated, self._truncated, info)
