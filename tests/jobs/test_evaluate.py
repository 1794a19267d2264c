"""pass^k against hand-computed values, and the eval command end to end."""

from __future__ import annotations

import json

import pytest

from envscale import jsonl
from envscale.cli import main as envscale_main
from envscale.jobs.evaluate import evaluate, failure_reason, pass_hat_k
from envscale.records import Message, Trajectory
from tests.rollout.episode_fixtures import CLINIC, bare_task, clinic_tasks


def test_pass_hat_k_by_hand():
    # Four trials per task: 2 of 4, 4 of 4 and 0 of 4 successes.
    successes = {"a": (2, 4), "b": (4, 4), "c": (0, 4)}
    # pass^1 = (2/4 + 1 + 0) / 3; pass^2 = (C(2,2)/C(4,2) + 1 + 0) / 3 = (1/6 + 1) / 3
    assert pass_hat_k(successes, 1) == pytest.approx(0.5)
    assert pass_hat_k(successes, 2) == pytest.approx(7 / 18)
    assert pass_hat_k(successes, 3) == pytest.approx(1 / 3)
    assert pass_hat_k(successes, 4) == pytest.approx(1 / 3)
    assert pass_hat_k({"a": (3, 5)}, 2) == pytest.approx(3 / 10)  # C(3,2)/C(5,2)
    with pytest.raises(ValueError):
        pass_hat_k({"a": (1, 2)}, 3)


def traj(
    task_id: str,
    trial: int,
    reward: float,
    state: bool = True,
    exact: bool = True,
    end: str = "user_done",
):
    return Trajectory.from_dict(
        {
            "id": f"{task_id}.t{trial}",
            "task_id": task_id,
            "tools": [],
            "messages": [],
            "reward": reward,
            "filters": {"valid": True, "state": state, "exact": exact},
            "meta": {"end": end},
        }
    )


def test_report_by_chain_length_and_failure_reasons():
    tasks = [bare_task("a", 1), bare_task("b", 2), bare_task("c", 2)]
    trajectories = [
        traj("a", 0, 1.0),
        traj("a", 1, 0.0, state=False),
        traj("a", 2, 1.0),
        traj("b", 0, 1.0),
        traj("b", 1, 1.0),
        traj("b", 2, 1.0),
        traj("c", 0, 0.0, exact=False),
        traj("c", 1, 0.0, end="turn_limit"),
        traj("c", 2, 1.0),
    ]
    report = evaluate(trajectories, tasks, 3)
    assert report.pass_k["1"] == pytest.approx((2 / 3 + 1 + 1 / 3) / 3)
    assert report.pass_k["2"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert report.pass_k["3"] == pytest.approx(1 / 3)
    assert report.by_chain_length["1"].success_rate == pytest.approx(2 / 3)
    assert report.by_chain_length["2"].success_rate == pytest.approx(4 / 6)
    assert report.failure_reasons == {"state_mismatch": 1, "call_mismatch": 1, "turn_limit": 1}
    assert failure_reason(traj("x", 0, 0.0, state=False, end="turn_limit")) == "turn_limit"


def test_a_tool_call_that_did_not_parse_is_a_malformed_call():
    said = traj("m", 0, 0.0, state=False, end="turn_limit")
    said.messages = [Message(role="assistant", content='<tool_call>{"name": get}</tool_call>')]
    assert failure_reason(said) == "malformed_call"
    said.messages = [Message(role="assistant", content="I can help with that.")]
    assert failure_reason(said) == "turn_limit"


def test_eval_command(tmp_path, capsys):
    tasks = clinic_tasks()
    # Two tasks whose gold state no agent can reach: they fail every trial.
    for task in tasks[:2]:
        task.gold_state_hash = "0" * 64
    tasks_file = tmp_path / "tasks.jsonl"
    jsonl.write_atomic(tasks_file, (t.to_dict() for t in tasks))
    out = tmp_path / "eval"
    args = [
        "eval",
        str(CLINIC),
        "--tasks",
        str(tasks_file),
        "--trials",
        "3",
        "--out",
        str(out),
        "--workers",
        "1",
        "-q",
    ]
    assert envscale_main(args) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["tasks"] == 6 and report["episodes"] == 18 and report["missing_episodes"] == 0
    for k in ("1", "2", "3"):
        assert report["pass^k"][k] == pytest.approx(4 / 6)
    assert report["failure_reasons"] == {"state_mismatch": 6}
    assert report["lineage"]["trials"] == 3 and report["lineage"]["agent"]["backend"] == "scripted"
    assert (out / "pass_k.png").stat().st_size > 1000 and (out / "by_chain_length.png").exists()
    assert '"pass^k"' in capsys.readouterr().out
    # Running it again reuses every episode.
    before = (out / "trajectories.jsonl").read_bytes()
    assert envscale_main(args) == 0
    assert (out / "trajectories.jsonl").read_bytes() == before
