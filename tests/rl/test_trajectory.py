"""An RL episode written out as a trajectory record: the record `envscale generate` makes of
the same episode, and a file of them that the reader, `envscale export` and `envscale view`
take as they take a job's."""

from __future__ import annotations

import json

import pytest

import envscale
from envscale import jsonl
from envscale.cli import main
from envscale.records import Trajectory, TrajectoryReader, append_trajectories
from envscale.rl import TaskEnvironment, ToolCall, Turn
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.users import ScriptedUser
from envscale.viewer.data import Sources, build
from tests.rl.dual import PHONE, roaming_task
from tests.rollout.episode_fixtures import CLINIC, clinic_domain, clinic_tasks

# What only the generating job knows: the tokens its backends spent.
JOB_ONLY = {"usage"}


def as_played(record: dict) -> dict:
    """The record but what only the generating job knows."""
    return {**record, "meta": {k: v for k, v in record["meta"].items() if k not in JOB_ONLY}}


def unversioned(trajectory: Trajectory) -> dict:
    """The record's value but its version (the file's format, which writing sets)."""
    return {k: v for k, v in trajectory.to_dict().items() if k != "version"}


def play(env: TaskEnvironment, trajectory: Trajectory, trial: int) -> None:
    """The generated episode's agent turns, played through the environment."""
    env.reset(trajectory.task_id, trial=trial)
    for m in trajectory.messages:
        if m.role == "assistant" and m.side != "user":
            calls = tuple(
                ToolCall(c.function.name, c.function.arguments) for c in (m.tool_calls or [])
            )
            env.step(Turn(m.content, calls))
    assert env.done


@pytest.fixture(scope="module")
def episodes() -> list[tuple[Trajectory, Trajectory]]:
    """Each clinic task generated (seed 3, trial 1), and the same agent turns played in the RL
    environment: (generated, played)."""
    domain, tasks = clinic_domain(), clinic_tasks()
    runtime = DomainRuntime(domain, str(CLINIC))
    agent = ScriptedAgent(BackendConfig("scripted", options=(("failure_rate", 0.0),)))
    env = TaskEnvironment(domain, tasks, spec_path=CLINIC, seed=3)
    pairs = []
    for task in tasks:
        generated = run_episode(runtime, task, agent, ScriptedUser(), seed=3, trial=1)
        play(env, generated, trial=1)
        pairs.append((generated, env.trajectory(agent="scripted")))
    env.close()
    runtime.close()
    return pairs


def test_the_record_is_the_one_generate_makes_of_the_episode(episodes) -> None:
    for generated, played in episodes:
        assert played.id == generated.id and played.meta.trial == 1 and played.meta.seed == 3
        assert played.meta.agent == "scripted" and played.meta.user == "scripted"
        assert as_played(played.to_dict()) == as_played(generated.to_dict())
    assert {p.reward for _, p in episodes} == {1.0}


@pytest.fixture(scope="module")
def failed() -> tuple[Trajectory, TaskEnvironment]:
    """An episode that writes the wrong address, stopped before the user ends it."""
    tasks = clinic_tasks()
    task = next(t for t in tasks if "address" in t.instruction)
    env = TaskEnvironment(clinic_domain(), tasks, spec_path=CLINIC)
    env.reset(task)
    with pytest.raises(RuntimeError, match="has not ended"):
        env.trajectory()
    verify, update = task.gold_calls
    env.step(ToolCall(verify.name, verify.arguments))
    env.step(ToolCall(update.name, {**update.arguments, "address": "10 Elm Rd, Springfield"}))
    env.step(ToolCall("no_such_tool", {}))
    env.finish()
    yield env.trajectory(agent="my-policy", agent_model="policy-7"), env
    env.close()


def test_a_failed_episode_records_its_failure_and_state(failed) -> None:
    record, env = failed
    verdict = env.verdict
    assert verdict is not None and verdict.end == "turn_limit"
    assert record.reward == verdict.reward == 0.0 and record.filters == verdict.filters
    assert record.meta.failure == verdict.failure and record.meta.end == "turn_limit"
    assert record.meta.failure.startswith("turn_limit: the rollout stopped after 3 agent turns")
    assert record.filters["state"] is False
    assert (record.meta.agent, record.meta.agent_model) == ("my-policy", "policy-7")
    assert (record.meta.calls, record.meta.failed_calls) == (3, 1)
    assert record.final_state_hash == env.state_hash() != env.task.gold_state_hash
    assert record.messages[0].role == "system" and record.tools == env.runtime.tool_records


def test_a_dual_control_record_keeps_the_users_side() -> None:
    domain = envscale.load(PHONE)
    task = roaming_task(domain)
    generated = run_episode(
        DomainRuntime(domain, str(PHONE)), task, ScriptedAgent(), ScriptedUser(), seed=0
    )
    env = TaskEnvironment(domain, [task], spec_path=PHONE)
    play(env, generated, trial=0)
    record = env.trajectory(agent="scripted")
    assert record.reward == 1.0 and record.user_tools and record.meta.user_calls
    assert as_played(record.to_dict()) == as_played(generated.to_dict())
    env.close()


def test_a_file_of_them_reads_exports_and_views(episodes, failed, tmp_path, capsys) -> None:
    path = tmp_path / "rl" / "trajectories.jsonl"
    played = [p for _, p in episodes] + [failed[0]]
    assert append_trajectories(path, played[:2]) == 2
    assert append_trajectories(path, played[2:]) == len(played) - 2
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line.get("kind") for line in lines].count("preamble") == 1  # written once
    back = list(TrajectoryReader().read(path))
    assert [unversioned(t) for t in back] == [unversioned(t) for t in played]

    tasks = tmp_path / "rl" / "tasks.jsonl"
    jsonl.write_atomic(tasks, (t.to_dict() for t in clinic_tasks()))
    out = tmp_path / "ft.jsonl"
    assert main(["export", str(path), "--format", "openai", "-o", str(out)]) == 0
    examples = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["messages"] for e in examples] == [t.agent_messages() for t in played[:-1]]
    assert "1 did not pass every filter stage" in capsys.readouterr().err

    page = tmp_path / "page.html"
    assert main(["view", str(path), "--spec", str(CLINIC), "-o", str(page)]) == 0
    assert page.stat().st_size > 0
    data = build(Sources(path, specs=[str(CLINIC)]))
    rows = data.value["rows"]
    assert len(rows) == len(played) and not data.notes
    assert [row["passed"] for row in rows] == [True] * (len(played) - 1) + [False]
    # The failed episode is replayed from the spec, to the final state it records.
    assert rows[-1]["diff"]["reproduced"] and rows[-1]["diff"]["gold_reproduced"]
    assert all(row["compare"] for row in rows)
