"""Episodes with the scripted user and agent on real environments."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import envscale
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.dialogue import AgentReply, BackendConfig
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.toolcalls import make_call
from envscale.rollout.users import ScriptedUser

from .episode_fixtures import ROOT, clinic_domain, clinic_tasks


@pytest.fixture(scope="module")
def runtime():
    return DomainRuntime(clinic_domain())


@pytest.fixture(scope="module")
def tasks():
    return clinic_tasks()


def play(runtime, task, seed=0, trial=0, **kw):
    return run_episode(
        runtime, task, ScriptedAgent(), ScriptedUser(), seed=seed, trial=trial, **kw
    ).to_dict()


def test_same_seed_same_trajectory_and_seeds_vary(runtime, tasks):
    for task in tasks:
        assert play(runtime, task, seed=5) == play(runtime, task, seed=5)
    texts = {json.dumps(play(runtime, tasks[2], seed=s)["messages"]) for s in range(12)}
    assert len(texts) > 3


def test_trajectory_has_the_design_format(runtime, tasks):
    task = tasks[1]
    t = play(runtime, task)
    assert set(t) == {
        "version",
        "id",
        "domain",
        "spec_hash",
        "task_id",
        "tools",
        "messages",
        "reward",
        "final_state_hash",
        "filters",
        "meta",
    }
    assert t["id"] == f"{task.id}.t0" and t["task_id"] == task.id and t["domain"] == "clinic"
    assert t["messages"][0] == {"role": "system", "content": runtime.domain.policy}
    assert t["tools"] == runtime.domain.tool_schemas
    assert t["final_state_hash"] == task.gold_state_hash and t["reward"] == 1.0
    meta = t["meta"]
    assert meta["agent"] == "scripted" and meta["user"] == "scripted" and meta["seed"] == 0
    assert meta["end"] == "user_done" and meta["envscale"] == envscale.__version__
    for m in t["messages"]:
        for c in m.get("tool_calls") or []:
            assert isinstance(c["function"]["arguments"], str)


def test_agent_confirms_before_the_first_write(runtime, tasks):
    task = next(t for t in tasks if t.kind == "write")
    t = play(runtime, task)
    messages = t["messages"]
    first_write = next(
        i
        for i, m in enumerate(messages)
        if any(runtime.kinds[c["function"]["name"]] == "write" for c in m.get("tool_calls") or [])
    )
    ask, answer = messages[first_write - 2], messages[first_write - 1]
    assert ask["role"] == "assistant" and ask["content"].endswith("?") and not ask.get("tool_calls")
    assert answer["role"] == "user"


def test_environment_is_reset_between_episodes(runtime, tasks):
    write = next(t for t in tasks if t.kind == "write")
    first = play(runtime, write)
    second = play(runtime, write, trial=1)
    assert first["final_state_hash"] == second["final_state_hash"] == write.gold_state_hash


class Looping:
    """Calls the same read tool forever."""

    config = BackendConfig("scripted")

    def start(self, context):
        self.n = 0

    def reply(self, messages):
        self.n += 1
        return AgentReply(
            None, [make_call(f"call_{self.n}", "get_patient", {"patient_id": "P001"})]
        )


def test_turn_limit_ends_an_episode(runtime, tasks):
    t = run_episode(runtime, tasks[0], Looping(), ScriptedUser(), seed=0, max_steps=4).to_dict()
    assert t["meta"]["end"] == "turn_limit" and t["meta"]["steps"] == 4
    assert t["meta"]["failure"].startswith("turn_limit")
    assert not t["filters"]["valid"]


class Clumsy:
    """Makes bad calls (an unknown tool, arguments that are not JSON, a missing record, a value
    outside an enum), one per turn, then says it is done."""

    config = BackendConfig("scripted")
    CALLS = (
        ("get_patinet", '{"patient_id": "P001"}'),
        ("get_patient", "{patient_id: P001"),
        ("refill_prescription", {"rx_id": "RX999"}),
        ("cancel_appointment", {"appointment_id": "A0001", "reason": "bored"}),
    )

    def start(self, context):
        self.n = 0

    def reply(self, messages):
        self.n += 1
        if self.n > len(self.CALLS):
            return AgentReply("I could not do it, sorry.")
        name, arguments = self.CALLS[self.n - 1]
        return AgentReply(None, [make_call(f"call_{self.n}", name, arguments)])


def test_bad_calls_become_error_messages_and_change_nothing(runtime, tasks):
    task = next(t for t in tasks if t.kind == "write")
    t = run_episode(runtime, task, Clumsy(), ScriptedUser(), seed=0).to_dict()
    results = [m["content"] for m in t["messages"] if m["role"] == "tool"]
    assert len(results) == len(Clumsy.CALLS) and all(r.startswith("Error: ") for r in results)
    assert "get_patient" in results[0]  # the unknown tool's message suggests the right one
    assert t["meta"]["failed_calls"] == len(Clumsy.CALLS) and t["meta"]["end"] == "user_done"
    assert t["final_state_hash"] == task.initial_state_hash
    assert t["filters"] == {"valid": False, "state": False, "exact": False} and t["reward"] == 0.0
    assert "arguments are not a JSON object" in t["meta"]["failure"]


def test_transfer_tool_ends_an_episode():
    domain = envscale.load(ROOT / "specs" / "retail.domain")
    from envscale.tasks.sampling import sample_tasks
    from envscale.tasks.states import EnvFactory

    task = sample_tasks(
        domain, EnvFactory(domain, {"generated": {"seed": 0, "size": 20}}), 1, seed=0
    )[0]

    class Transferring:
        config = BackendConfig("scripted")

        def start(self, context):
            pass

        def reply(self, messages):
            return AgentReply(
                "Let me get a human.",
                [make_call("call_1", "transfer_to_human_agents", {"summary": "wants a person"})],
            )

    t = run_episode(DomainRuntime(domain), task, Transferring(), ScriptedUser(), seed=0).to_dict()
    assert t["meta"]["end"] == "transfer" and t["meta"]["steps"] == 1
    assert t["messages"][-1]["role"] == "tool" and t["filters"]["valid"]


def test_trainer_reads_generated_trajectories(runtime, tasks, tmp_path):
    from envscale.trainer.data import load_trajectories

    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(play(runtime, t)) + "\n" for t in tasks))
    loaded, infos = load_trajectories([str(path)], ["valid", "state", "exact"])
    assert len(loaded) == len(tasks) and infos[0].kept == len(tasks)
    assert loaded[0].messages[2].role == "assistant"


def test_scripted_path_imports_no_heavy_library():
    code = (
        "import sys, envscale\n"
        "from envscale.jobs import generate, evaluate, executors\n"
        "from envscale.rollout import episode, agents, users, filters\n"
        "import envscale.rollout.server\n"
        "from tests.rollout.episode_fixtures import clinic_tasks\n"
        "from envscale.rollout.episode import DomainRuntime, run_episode\n"
        "from envscale.rollout.agents import ScriptedAgent\n"
        "from envscale.rollout.users import ScriptedUser\n"
        "from tests.rollout.episode_fixtures import clinic_domain\n"
        "t = run_episode(DomainRuntime(clinic_domain()), clinic_tasks()[0], ScriptedAgent(), "
        "ScriptedUser(), seed=0)\n"
        "heavy = [m for m in ('torch', 'transformers', 'ray', 'matplotlib') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


class Stopping:
    """A user whose replies go through the model users' parser: it states its goal, then,
    once the agent has answered, writes the stop marker (`at_once`: before anything else)."""

    config = BackendConfig("scripted")

    def __init__(self, at_once: bool = False):
        self.at_once = at_once

    def start(self, context):
        self.instruction = context.task.instruction
        self.turn = 0

    def reply(self, messages):
        from envscale.rollout.users import STOP_TOKEN, parse_user_text

        self.turn += 1
        if self.at_once or self.turn > 1:
            return parse_user_text(f"Thanks, that is everything. {STOP_TOKEN}")
        return parse_user_text(self.instruction)


def test_the_stop_marker_ends_an_episode_and_stays_out_of_the_transcript(runtime, tasks):
    task = tasks[3]  # one read, no confirmation asked
    t = run_episode(runtime, task, ScriptedAgent(), Stopping(), seed=0).to_dict()
    assert t["meta"]["end"] == "user_done" and t["filters"]["valid"]
    assert [m["role"] for m in t["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert not any(
        "STOP" in (m.get("content") or "") or "that is everything" in (m.get("content") or "")
        for m in t["messages"]
    )
    # A user that stops before saying anything ends the episode with no turn at all.
    t = run_episode(runtime, task, ScriptedAgent(), Stopping(at_once=True), seed=0).to_dict()
    assert t["meta"]["end"] == "user_done" and t["meta"]["steps"] == 0 and len(t["messages"]) == 1
    assert t["meta"]["failure"] == "valid: the first turn after the system prompt is not the user's"
