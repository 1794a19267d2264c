"""Dual-control episodes on a small phone domain: the user acts on their own phone, the agent
guides them, and episodes are scored by the task's own criteria (rollout/criteria.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import envscale
from envscale.records import Assertion, GoldCall, Scoring, Trajectory
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.criteria import action_matched, communicated
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.filters import CallRecord, check_validity
from envscale.rollout.users import ScriptedUser
from envscale.tasks.tau2tasks import criteria_task
from envscale.trainer.data import chat_messages, chat_tools

HERE = Path(__file__).parent / "dual"
SPEC = HERE / "phone.domain"
BROKEN = {"data": "phone.data.json", "actions": [{"name": "break_phone", "arguments": {}}]}
INSTRUCTION = "I'm abroad and my phone has no data. My line is L1."
# The gold solution: the agent lets the line roam, the user switches airplane mode off and
# data roaming on.
GOLD = [
    GoldCall(name="enable_roaming", arguments={"line_id": "L1"}),
    GoldCall(name="toggle_airplane_mode", arguments={}, side="user"),
    GoldCall(name="toggle_data_roaming", arguments={}, side="user"),
]
ONLINE = Assertion(name="assert_online", arguments={"expected": True}, message="phone online")


@pytest.fixture(scope="module")
def runtime() -> DomainRuntime:
    return DomainRuntime(envscale.load(SPEC), str(SPEC))


def task(runtime: DomainRuntime, basis: list, gold=GOLD, **criteria):
    scoring = Scoring(basis=basis, assertions=[ONLINE], **criteria)
    return criteria_task(runtime.domain, SPEC, "t", BROKEN, INSTRUCTION, gold, scoring)


def episode(runtime: DomainRuntime, t, **kwargs):
    return run_episode(runtime, t, ScriptedAgent(), ScriptedUser(), seed=0, **kwargs)


def test_the_initial_state_runs_the_set_up_actions(runtime: DomainRuntime) -> None:
    t = task(runtime, ["ENV_ASSERTION"])
    env = runtime.environment(t)
    assert env.export()["Phone"][0]["airplane"] is True
    env.call("toggle_airplane_mode", side="user")
    env.reset()  # back to the state the set-up left, not to the data file's
    assert env.export()["Phone"][0]["airplane"] is True


def test_a_scripted_dual_control_episode(runtime: DomainRuntime) -> None:
    t = task(runtime, ["ENV_ASSERTION", "ACTION"])
    traj = episode(runtime, t)
    assert traj.reward == 1.0 and traj.meta.failure is None
    assert traj.meta.scores == {"stop": 1.0, "ENV_ASSERTION": 1.0, "ACTION": 1.0}
    assert traj.filters == {"valid": True, "state": True, "exact": True}
    # Each side is offered its own tools, and the trajectory says which are whose.
    assert [s.function.name for s in traj.tools] == ["get_line", "enable_roaming"]
    assert [s.function.name for s in traj.user_tools] == [
        "check_phone",
        "toggle_airplane_mode",
        "toggle_data_roaming",
    ]
    messages = [m.to_dict() for m in traj.messages]
    user_calls = [
        c["function"]["name"]
        for m in messages
        if m["role"] == "user" and m.get("side") == "user"
        for c in m["tool_calls"]
    ]
    assert user_calls == ["toggle_airplane_mode", "toggle_data_roaming"]
    assert traj.meta.user_calls == 2 and traj.meta.calls == 3
    assert all(
        m.get("side") == "user" for m in messages if m.get("tool_call_id", "").startswith("user_")
    )
    assert check_validity(messages) is None
    # The agent saw only its side, in the OpenAI layout.
    seen = traj.agent_messages()
    assert all("side" not in m for m in seen)
    assert not any(m["role"] == "user" and m.get("tool_calls") for m in seen)
    assert [c["function"]["name"] for m in seen for c in m.get("tool_calls") or []] == [
        "enable_roaming"
    ]
    asks = [m["content"] for m in seen if m["role"] == "assistant" and m["content"]]
    assert any("toggle airplane mode" in a for a in asks)
    # The user told the agent what the phone showed.
    told = [m["content"] for m in seen if m["role"] == "user"]
    assert any('"airplane": false' in said for said in told)


def test_the_scores_follow_the_basis_and_the_stop(runtime: DomainRuntime) -> None:
    # The agent's writes reach the gold state; the user's calls, missing here, decide the
    # assertion.
    agent_only = [g for g in GOLD if g.side == "agent"]
    t = task(runtime, ["DB", "ENV_ASSERTION", "NL_ASSERTION"], gold=agent_only)
    traj = episode(runtime, t)
    assert traj.meta.scores == {"stop": 1.0, "DB": 1.0, "ENV_ASSERTION": 0.0, "NL_ASSERTION": None}
    assert traj.reward == 0.0 and traj.filters["state"] is False
    assert "ENV_ASSERTION: does not hold: phone online" in traj.meta.failure
    # Cut before anyone stops: 0, whatever the rest.
    cut = episode(runtime, task(runtime, ["ENV_ASSERTION"]), max_steps=1)
    assert cut.meta.end == "turn_limit" and cut.reward == 0.0
    assert cut.meta.scores["stop"] == 0.0 and cut.filters["exact"] is False


def test_any_path_to_the_gold_state_passes_the_db_part(runtime: DomainRuntime) -> None:
    # The agent looks the line up first; the gold state comes from the gold chain without it.
    t = task(runtime, ["DB"], gold=[GOLD[0]])
    looked = t.model_copy(
        update={
            "gold_calls": [GoldCall(name="get_line", arguments={"line_id": "L1"}), GOLD[0]],
            "gold_outputs": [],
        }
    )
    traj = episode(runtime, looked)
    assert traj.meta.scores["DB"] == 1.0 and traj.reward == 1.0
    other = t.model_copy(update={"gold_calls": [], "gold_outputs": []})  # leaves roaming off
    assert episode(runtime, other).meta.scores["DB"] == 0.0


def test_communicate_and_action_are_compared_as_tau2_compares_them() -> None:
    said = ["The refund of $1,093.34 is on its way.", "Anything else?"]
    assert communicated("1093.34", said) and communicated("REFUND", said)
    assert not communicated("1,093.34", said)  # the message loses its commas, the fact keeps them
    calls = [CallRecord("get_line", {"line_id": "L1", "extra": 1}, ok=False)]
    assert action_matched(GoldCall(name="get_line", arguments={"line_id": "L1"}), []) is False
    gold = GoldCall(name="get_line", arguments={"line_id": "L1", "extra": 1})
    assert action_matched(gold, calls)  # a failed call counts
    picky = GoldCall(
        name="get_line", arguments={"line_id": "L2", "extra": 1}, compare_args=["extra"]
    )
    assert action_matched(picky, calls)
    assert not action_matched(GoldCall(name="get_line", arguments={"line_id": "L2"}), calls)


def test_the_scripted_agent_says_what_must_be_communicated(runtime: DomainRuntime) -> None:
    t = task(runtime, ["COMMUNICATE"], communicate=["roaming is now allowed", "L1"])
    traj = episode(runtime, t)
    assert traj.meta.scores == {"stop": 1.0, "COMMUNICATE": 1.0}
    said = [m.content for m in traj.messages if m.role == "assistant" and m.content]
    assert "roaming is now allowed; L1" in said[-1]


def test_the_trainer_reads_the_agents_side_in_the_openai_layout(runtime: DomainRuntime) -> None:
    traj = episode(runtime, task(runtime, ["ENV_ASSERTION"]))
    again = Trajectory.from_line(traj.to_json())  # as the trainer reads it from a file
    messages = chat_messages(again)
    assert [m["role"] for m in messages][:4] == ["system", "user", "assistant", "tool"]
    assert all("side" not in m for m in messages)
    assert not any(m["role"] == "user" and "tool_calls" in m for m in messages)
    assert [t["function"]["name"] for t in chat_tools(again)] == ["get_line", "enable_roaming"]
