"""One episode: a simulated user and an agent talk, the agent's calls run on the task's database.

The system prompt is the domain's policy. The episode ends when the user says it is done,
when a transfer tool is called successfully, or when the agent has taken `max_steps` turns.
The reply in which the user says it is done is not kept: the transcript ends on the agent's turn.
The result is one `records.Trajectory` (docs/design.md), with the filters' verdicts and the
episode's lineage in `meta`.

Dual control: when the domain has user tools, the agent is offered only its own and the user
only theirs. A user turn may call the user's tools (run on the same environment as the
user's calls); their results go back to the user, who acts again or speaks. Those calls and
results carry `side: "user"` and the agent never sees them; the agent's calls carry
`side: "agent"`. A task with its own criteria (`Task.scoring`) is scored by them
(rollout/criteria.py) instead of the state and exact-match filters.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from envscale import __version__
from envscale.records import (
    EpisodeUsage,
    Message,
    Task,
    ToolSchema,
    Trajectory,
    TrajectoryMeta,
    Usage,
    agent_view,
)
from envscale.rollout.agents import DEFAULT_FAILURE_RATE, Agent
from envscale.rollout.criteria import STATE_PARTS, score_episode
from envscale.rollout.dialogue import AgentReply, EpisodeContext, UserReply
from envscale.rollout.filters import (
    CallRecord,
    FilterResult,
    apply_filters,
    check_internal,
    check_validity,
    gold_succeeded,
    schema_defaults,
)
from envscale.rollout.mistakes import Mistake, Probe, plan_mistake
from envscale.rollout.toolcalls import parse_arguments
from envscale.rollout.users import User
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.tasks.states import environment_for

DEFAULT_MAX_STEPS = 30
# Tool calls a user may make in a row before it speaks; past it the episode ends.
MAX_USER_ACTS = 10


class BackendFailure(RuntimeError):
    """A model backend failed (an endpoint down, a model that would not load).

    The episode is lost.
    """


def _ask(participant: Agent | User, messages: list[dict]) -> AgentReply | UserReply:
    if participant.config.kind == "scripted":
        return participant.reply(messages)
    try:
        return participant.reply(messages)
    except Exception as error:
        raise BackendFailure(
            f"{participant.config.kind} {type(error).__name__}: {error}"
        ) from error


def is_transfer(tool: str) -> bool:
    return tool.startswith("transfer")


@dataclass
class DomainRuntime:
    """A loaded domain with its environments cached by initial state, reset between episodes."""

    domain: Domain
    spec_path: str | None = None
    capacity: int = 4
    _envs: OrderedDict[str, Environment] = field(default_factory=OrderedDict)
    _scratch: OrderedDict[str, Environment] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.tools = self.domain.tool_schemas  # the agent's
        self.user_tools = self.domain.side_schemas("user")
        self.kinds = dict(self.domain.tool_kinds)
        self.defaults = schema_defaults(self.tools + self.user_tools)
        # Validated once: every trajectory of the domain shares these records.
        self.tool_records = [ToolSchema.model_validate(t) for t in self.tools]
        self.user_tool_records = [ToolSchema.model_validate(t) for t in self.user_tools]

    def environment(self, task: Task) -> Environment:
        return self._cached(task, self._envs)

    def _cached(self, task: Task, cache: OrderedDict[str, Environment]) -> Environment:
        env, key = environment_for(self.domain, task, cache, self.spec_path)
        cache.move_to_end(key)
        while len(cache) > self.capacity:
            _, old = cache.popitem(last=False)
            old.close()
        env.reset()
        return env

    def close(self) -> None:
        """Close the cached environments."""
        for cache in (self._envs, self._scratch):
            while cache:
                cache.popitem()[1].close()

    def probe(self, task: Task) -> Probe:
        """Whether a call fails after given calls, tried on a scratch copy of the task's
        initial state (kept apart from the episode's environment)."""

        def fails(before: list[dict], call: dict) -> bool:
            env = self._cached(task, self._scratch)
            for earlier in before:
                env.call(earlier["name"], earlier["arguments"])
            result = env.call(call["name"], call["arguments"])
            env.reset()
            return not result.ok and not result.internal

        return fails

    def replay(self, task: Task, calls: list[CallRecord]) -> tuple[Environment, str | None]:
        """A scratch environment in the task's initial state after the episode's calls of
        write tools, in order and on their sides, policies off (reads are not replayed, so
        a rule that needs one would refuse); and the first replayed call whose result
        differs from the episode's, if any."""
        env = self._cached(task, self._scratch)
        policed, env.enforce_policies = env.enforce_policies, False
        diverged = None
        try:
            for i, call in enumerate(calls, start=1):
                if self.kinds.get(call.name) != "write" or call.arguments is None:
                    continue
                result = env.call(call.name, call.arguments, side=call.side)
                if result.text != call.text and diverged is None:
                    diverged = f"replaying call {i} ({call.name}) gave another result"
        finally:
            env.enforce_policies = policed
        return env, diverged


def episode_id(task_id: str, trial: int) -> str:
    return f"{task_id}.t{trial}"


@dataclass
class Dialogue:
    """What an episode's conversation produced, as it goes."""

    messages: list[dict]
    calls: list[CallRecord] = field(default_factory=list)
    agent_usage: Usage = field(default_factory=Usage)
    user_usage: Usage = field(default_factory=Usage)
    steps: int = 0  # agent turns
    end: str = "turn_limit"  # user_done | transfer | turn_limit
    dual: bool = False  # the user has tools of their own: calls carry their side


def run_episode(
    runtime: DomainRuntime,
    task: Task,
    agent: Agent,
    user: User,
    *,
    seed: int,
    trial: int = 0,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> Trajectory:
    domain = runtime.domain
    base = f"{seed}:{task.id}:{trial}"
    mistake = plan_episode_mistake(runtime, task, agent, user, random.Random(f"mistake:{base}"))
    env = runtime.environment(task)
    for participant, role in ((agent, "agent"), (user, "user")):
        rng = random.Random(f"{role}:{base}")
        participant.start(
            EpisodeContext(
                task,
                runtime.tools,
                runtime.kinds,
                domain.policy,
                rng,
                mistake,
                user_tools=runtime.user_tools,
            )
        )
    dialogue = converse(env, agent, user, domain.policy, max_steps, dual=bool(runtime.user_tools))
    final_hash = env.state_hash()
    verdict, reward, scores = verify_dialogue(runtime, task, dialogue, final_hash)
    failure = verdict.failure
    if dialogue.end == "turn_limit":
        failure = f"turn_limit: no end after {max_steps} agent turns" + (
            f"; {failure}" if failure else ""
        )
    return episode_record(
        runtime,
        task,
        dialogue,
        final_hash,
        filters=verdict.to_dict(),
        reward=reward,
        scores=scores,
        failure=failure,
        trial=trial,
        agent=agent.config.kind,
        agent_model=agent.config.model,
        user=user.config.kind,
        user_model=user.config.model,
        seed=seed,
        usage=EpisodeUsage(agent=dialogue.agent_usage, user=dialogue.user_usage),
        **({"mistake": mistake.kind} if mistake is not None and mistake.made else {}),
    )


def episode_record(
    runtime: DomainRuntime,
    task: Task,
    dialogue: Dialogue,
    final_hash: str,
    *,
    filters: dict[str, bool],
    reward: float,
    scores: dict[str, float | None] | None,
    failure: str | None,
    trial: int,
    **meta: Any,
) -> Trajectory:
    """The trajectory record of a verified dialogue whose environment ended in `final_hash`:
    what every episode records (its lineage and counts in `meta`), plus the `meta` keys the
    caller knows (the backends, the job seed, the usage)."""
    calls = dialogue.calls
    return Trajectory(
        id=episode_id(task.id, trial),
        domain=runtime.domain.name,
        spec_hash=runtime.domain.spec_hash,
        task_id=task.id,
        tools=runtime.tool_records,
        **({"user_tools": runtime.user_tool_records} if dialogue.dual else {}),
        messages=[Message.model_validate(m) for m in dialogue.messages],
        reward=reward,
        final_state_hash=final_hash,
        filters=filters,
        meta=TrajectoryMeta(
            task_seed=task.seed,
            trial=trial,
            envscale=__version__,
            end=dialogue.end,
            steps=dialogue.steps,
            calls=len(calls),
            failed_calls=sum(not c.ok for c in calls),
            internal_errors=sum(c.internal for c in calls),
            chain_length=len(task.gold_calls),
            failure=failure,
            **({"user_calls": sum(c.side == "user" for c in calls)} if dialogue.dual else {}),
            **({"scores": scores} if scores is not None else {}),
            **meta,
        ),
    )


def verify_dialogue(
    runtime: DomainRuntime, task: Task, dialogue: Dialogue, final_hash: str
) -> tuple[FilterResult, float, dict[str, float | None] | None]:
    """The filters' verdict and the reward of a dialogue whose environment ended in
    `final_hash`, and the criteria's scores when the task has its own (else None): the final
    state against the gold one, the exact calls, which alone tell a read-only task's success,
    or the task's criteria (the facts to tell the user among them)."""
    if task.scoring is not None:
        return score_by_criteria(runtime, task, dialogue)
    verdict = apply_filters(
        dialogue.messages,
        dialogue.calls,
        final_hash,
        task,
        runtime.defaults,
        ended_by_transfer=dialogue.end == "transfer",
    )
    # A read-only task leaves the state as it was, so only the calls can tell success.
    success = verdict.state and (verdict.exact or not is_read_only(task, runtime.kinds))
    return verdict, 1.0 if success else 0.0, None


def score_by_criteria(
    runtime: DomainRuntime, task: Task, dialogue: Dialogue
) -> tuple[FilterResult, float, dict[str, float | None]]:
    """The filters and reward of an episode of a task with its own criteria: `valid` as
    always, `state` the parts about the final state (DB, ENV_ASSERTION), `exact` the rest
    (the stop, COMMUNICATE, ACTION); the reward is the criteria's product."""
    assert task.scoring is not None
    score = score_episode(
        task,
        task.scoring,
        dialogue.messages,
        dialogue.calls,
        dialogue.end,
        lambda calls: runtime.replay(task, calls),
    )
    reasons: dict[str, str] = {}
    problem = check_internal(dialogue.calls) or check_validity(
        dialogue.messages, allow_final_tool=dialogue.end == "transfer"
    )
    if problem:
        reasons["valid"] = problem
    rest = [p for p in score.scores if p not in STATE_PARTS]
    for stage, parts in (("state", STATE_PARTS), ("exact", rest)):
        if why := score.failure(parts):
            reasons[stage] = why
    verdict = FilterResult(
        "valid" not in reasons, score.passed(STATE_PARTS), score.passed(rest), reasons
    )
    return verdict, score.reward, score.scores


def plan_episode_mistake(
    runtime: DomainRuntime, task: Task, agent: Agent, user: User, rng: random.Random
) -> Mistake | None:
    """The scripted agent's deliberate mistake for this episode, if it makes one: at its
    `failure_rate`, one that a trial run shows to fail. A misstated value needs a scripted
    user to say it."""
    if agent.config.kind != "scripted" or any(g.side != "agent" for g in task.gold_calls):
        return None  # a dual-control chain plays no deliberate mistake
    rate = float(agent.config.option("failure_rate", DEFAULT_FAILURE_RATE))
    if rng.random() >= rate:
        return None
    ok = gold_succeeded(task.gold_calls, task.gold_outputs)
    calls = [c.to_dict() for c, good in zip(task.gold_calls, ok, strict=True) if good]
    contents = [o.content for o in task.gold_outputs] + [""] * len(ok)
    outputs = [text for text, good in zip(contents, ok, strict=False) if good]
    return plan_mistake(
        calls,
        outputs,
        runtime.tools,
        task.instruction,
        rng,
        runtime.probe(task),
        customer_scripted=user.config.kind == "scripted",
        writes={name for name, kind in runtime.kinds.items() if kind == "write"},
    )


def converse(
    env: Environment,
    agent: Agent,
    user: User,
    policy: str,
    max_steps: int,
    dual: bool = False,
) -> Dialogue:
    """The user speaks first; each agent turn either calls tools, whose results it reads next,
    or answers the user, who replies or says it is done. With `dual`, a user turn may first
    call the user's tools, and the agent is shown only its own side of the dialogue."""
    dialogue = Dialogue([{"role": "system", "content": policy}], dual=dual)
    said = user_turn(env, user, dialogue)
    if said is None:
        return dialogue
    if said.done:  # a model user may stop before it has said anything
        dialogue.end = "user_done"
    else:
        dialogue.messages.append({"role": "user", "content": said.content})
    while not said.done and dialogue.steps < max_steps:
        answer = _ask(agent, agent_view(dialogue.messages) if dual else dialogue.messages)
        dialogue.steps += 1
        dialogue.agent_usage.add(answer.usage)
        message: dict = {"role": "assistant", "content": answer.content}
        if answer.tool_calls:
            message["tool_calls"] = answer.tool_calls
            if dual:
                message["side"] = "agent"
        dialogue.messages.append(message)
        if answer.tool_calls:
            if run_tool_calls(env, answer.tool_calls, dialogue):
                dialogue.end = "transfer"
                break
            continue
        said = user_turn(env, user, dialogue)
        if said is None:
            break
        if said.done:
            dialogue.end = "user_done"
            break
        dialogue.messages.append({"role": "user", "content": said.content})
    return dialogue


def user_turn(env: Environment, user: User, dialogue: Dialogue) -> UserReply | None:
    """The user's next reply, after the calls of their own tools it makes first (each round's
    results go back to the user); None when the user keeps calling past MAX_USER_ACTS."""
    for _ in range(MAX_USER_ACTS + 1):
        said = _ask(user, dialogue.messages)
        dialogue.user_usage.add(said.usage)
        if not said.tool_calls or said.done:
            return said
        if not dialogue.dual:
            # The user was offered no tools: a call is not an act on a device but text.
            return UserReply(said.content, said.done, Usage())
        dialogue.messages.append(
            {
                "role": "user",
                "content": said.content or None,
                "tool_calls": said.tool_calls,
                "side": "user",
            }
        )
        run_tool_calls(env, said.tool_calls, dialogue, side="user")
    dialogue.end = "turn_limit"
    return None


def run_tool_calls(
    env: Environment, tool_calls: list[dict], dialogue: Dialogue, side: str = "agent"
) -> bool:
    """Run one message's tool calls in order, as `side`; whether one transferred the user."""
    transferred = False
    for call in tool_calls:
        fn = call["function"]
        result = env.call(fn["name"], fn["arguments"], side=side)
        arguments = parse_arguments(fn["arguments"])
        text = result.text
        dialogue.calls.append(
            CallRecord(fn["name"], arguments, result.ok, result.internal, side, text)
        )
        message = {"role": "tool", "tool_call_id": call["id"], "content": text}
        if dialogue.dual:
            message["side"] = side
        dialogue.messages.append(message)
        transferred = transferred or (side == "agent" and result.ok and is_transfer(fn["name"]))
    return transferred


def is_read_only(task: Task, kinds: dict[str, str]) -> bool:
    """A task that does not say its kind is read-only when no gold call writes."""
    if "kind" in task.model_fields_set:
        return task.kind == "read"
    return not any(kinds.get(g.name) == "write" for g in task.gold_calls)
