"""The RL environment: episodes of sampled tasks, rewarded as envscale verifies episodes."""

from __future__ import annotations

import pytest

import envscale
from envscale.records import Scoring, Task
from envscale.rl import Say, TaskEnvironment, ToolCall, Turn
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.users import ScriptedUser
from tests.rl.desk import desk_domain, desk_tasks
from tests.rl.dual import PHONE, roaming_task
from tests.rollout.episode_fixtures import CLINIC, clinic_domain, clinic_tasks


@pytest.fixture(scope="module")
def desk():
    domain = desk_domain()
    return domain, desk_tasks(domain)


def play_gold(env: TaskEnvironment, task: Task):
    """The gold calls, then the agent sums up until the user says it is done."""
    env.reset(task)
    for call in task.gold_calls:
        step = env.step(ToolCall(call.name, call.arguments))
        assert step.observation.source == "tool" and not step.done
    return close(env, "That is done. Is there anything else I can help with?")


def close(env: TaskEnvironment, text: str):
    """Say `text` until the user says it is done (a user may greet before stating a goal)."""
    for _ in range(4):
        step = env.step(Say(text))
        if step.done or step.truncated:
            break
    return step


def test_the_gold_chain_earns_the_reward(desk) -> None:
    domain, tasks = desk
    env = TaskEnvironment(domain, tasks)
    for task in tasks:
        step = play_gold(env, task)
        assert step.done and not step.truncated, step.info
        assert step.reward == 1.0 and step.info["filters"] == {
            "valid": True,
            "state": True,
            "exact": True,
        }
        assert env.state_hash() == task.gold_state_hash


def test_a_write_left_undone_earns_nothing(desk) -> None:
    domain, tasks = desk
    task = next(t for t in tasks if t.kind == "write")
    env = TaskEnvironment(domain, tasks)
    first = env.reset(task.id)
    assert first.source == "user" and first.text
    step = close(env, "I have looked into it. Is there anything else I can help with?")
    assert step.done and step.reward == 0.0
    assert step.info["failure"].startswith("state:")


def test_a_read_only_task_needs_the_exact_calls(desk) -> None:
    domain, tasks = desk
    task = next(t for t in tasks if t.kind == "read")
    env = TaskEnvironment(domain, tasks)
    env.reset(task)
    # The state stays the gold one whatever is read, so only the calls tell.
    env.step(ToolCall("get_ticket", {"ticket_id": "T3"}))
    step = close(env, "Found it. Is there anything else I can help with?")
    assert step.done and step.info["filters"]["state"] and not step.info["filters"]["exact"]
    assert step.reward == 0.0
    assert play_gold(env, task).reward == 1.0


def test_a_failed_call_is_data_and_changes_nothing(desk) -> None:
    domain, tasks = desk
    env = TaskEnvironment(domain, tasks)
    env.reset(tasks[0])
    before = env.state_hash()
    step = env.step(ToolCall("close_ticket", {"ticket_id": "T3"}))  # already closed
    assert step.observation == type(step.observation)(
        "Error: Only open tickets can be closed", "tool", ok=False
    )
    assert env.state_hash() == before and not step.done
    unknown = env.step(ToolCall("delete_everything", "{}"))
    assert not unknown.observation.ok and "unknown tool" in unknown.observation.text
    broken = env.step(ToolCall("get_ticket", '{"ticket_id": '))  # arguments cut off
    assert not broken.observation.ok and env.state_hash() == before


def test_a_turn_runs_its_calls_in_order(desk) -> None:
    domain, tasks = desk
    env = TaskEnvironment(domain, tasks)
    env.reset(tasks[0])
    step = env.step(
        Turn(
            "Let me look.",
            (
                ToolCall("get_ticket", {"ticket_id": "T1"}),
                ToolCall("get_ticket", '{"ticket_id": "T9"}'),
            ),
        )
    )
    first, second = step.observation.text.split("\n\n")
    assert '"Printer jams"' in first and second.startswith("Error: ")
    assert not step.observation.ok
    [message] = [m for m in env.messages if m.get("tool_calls")]
    assert message["content"] == "Let me look." and len(message["tool_calls"]) == 2


def test_the_facts_to_tell_the_user_count(desk) -> None:
    domain, tasks = desk
    base = next(t for t in tasks if t.kind == "write")
    scoring = Scoring(basis=["DB", "COMMUNICATE"], communicate=["printer jams"])
    task = base.model_copy(update={"id": "told", "scoring": scoring})
    env = TaskEnvironment(domain, [task])
    env.reset(task)
    for call in task.gold_calls:
        env.step(ToolCall(call.name, call.arguments))
    silent = close(env, "That is done. Is there anything else I can help with?")
    assert silent.done and silent.reward == 0.0
    assert silent.info["scores"]["COMMUNICATE"] == 0.0 and silent.info["scores"]["DB"] == 1.0
    env.reset(task)
    for call in task.gold_calls:
        env.step(ToolCall(call.name, call.arguments))
    told = close(env, "Your ticket 'Printer jams' is closed. Anything else I can help with?")
    assert told.done and told.reward == 1.0 and told.info["scores"]["COMMUNICATE"] == 1.0


def test_the_turn_limit_truncates(desk) -> None:
    domain, tasks = desk
    task = next(t for t in tasks if len(t.gold_calls) > 1)
    env = TaskEnvironment(domain, tasks, max_turns=1)
    env.reset(task)
    step = env.step(ToolCall(task.gold_calls[0].name, task.gold_calls[0].arguments))
    assert step.truncated and not step.done and step.reward == 0.0
    assert step.info["failure"].startswith("turn_limit: no end after 1 agent turns")
    after = env.step(ToolCall("close_ticket", {"ticket_id": "T1"}))
    assert after.observation.text.startswith("Error: the episode has ended")
    assert (after.truncated and env.state_hash() != task.gold_state_hash) or len(
        task.gold_calls
    ) == 1


def test_finish_ends_an_episode_where_it_stands(desk) -> None:
    domain, tasks = desk
    task = next(t for t in tasks if t.kind == "write")
    env = TaskEnvironment(domain, tasks)
    env.reset(task)
    for call in task.gold_calls:
        env.step(ToolCall(call.name, call.arguments))
    verdict = env.finish()
    # Filters score the state and the calls, whoever stopped.
    assert verdict.reward == 1.0 and verdict.end == "turn_limit"
    stopped = f"turn_limit: the rollout stopped after {len(task.gold_calls)} agent turns"
    assert verdict.failure == f"{stopped}; valid: the dialogue ends on a tool result"
    assert env.finish() is verdict


def test_no_episode_before_reset_and_unknown_tasks(desk) -> None:
    domain, tasks = desk
    env = TaskEnvironment(domain, tasks)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(Say("hello"))
    with pytest.raises(KeyError, match="unknown task"):
        env.reset("nope")
    drawn = {env.reset(seed=s) and env.task.id for s in range(12)}
    assert drawn <= {t.id for t in tasks} and len(drawn) > 1


def replay(env: TaskEnvironment, trajectory, task: Task):
    """Play a generated episode's agent turns again: the same user replies, the same reward."""
    env.reset(task)
    agent_turns = [m for m in trajectory.messages if m.role == "assistant" and m.side != "user"]
    step = None
    for m in agent_turns:
        calls = tuple(ToolCall(c.function.name, c.function.arguments) for c in (m.tool_calls or []))
        step = env.step(Turn(m.content, calls))
    assert step is not None
    return step


def test_a_generated_episode_replayed_gets_its_reward_and_verdict() -> None:
    domain = clinic_domain()
    tasks = clinic_tasks()
    runtime = DomainRuntime(domain, str(CLINIC))
    agent = ScriptedAgent(BackendConfig("scripted", options=(("failure_rate", 0.0),)))
    env = TaskEnvironment(domain, tasks, spec_path=CLINIC)
    for seed, task in enumerate(tasks):
        trajectory = run_episode(runtime, task, agent, ScriptedUser(), seed=seed)
        step = replay(TaskEnvironment(domain, tasks, spec_path=CLINIC, seed=seed), trajectory, task)
        assert step.done and step.reward == trajectory.reward
        assert step.info["filters"] == trajectory.filters
    env.close()


def test_dual_control_keeps_the_users_device_apart() -> None:
    domain = envscale.load(PHONE)
    task = roaming_task(domain)
    trajectory = run_episode(
        DomainRuntime(domain, str(PHONE)), task, ScriptedAgent(), ScriptedUser(), seed=0
    )
    assert trajectory.reward == 1.0
    env = TaskEnvironment(domain, [task], spec_path=PHONE)
    assert {t["function"]["name"] for t in env.tools} == set(domain.side_tools["agent"])
    step = replay(env, trajectory, task)
    assert step.done and step.reward == 1.0
    assert all(m.get("side") != "user" for m in env.messages)  # the agent's view
