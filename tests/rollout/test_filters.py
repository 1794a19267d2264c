"""Each filter on trajectories built to pass it and to fail it."""

from __future__ import annotations

import copy
import json

import pytest

from envscale.records import GoldCall, GoldOutput
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.filters import (
    CallRecord,
    apply_filters,
    calls_from_messages,
    check_exact,
    check_validity,
    repetitive,
    schema_defaults,
)
from envscale.rollout.mistakes import KINDS
from envscale.rollout.users import ScriptedUser

from .episode_fixtures import clinic_domain, clinic_tasks


@pytest.fixture(scope="module")
def runtime():
    return DomainRuntime(clinic_domain())


@pytest.fixture(scope="module")
def tasks():
    return clinic_tasks()


def call(i: int, name: str, arguments) -> dict:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": text}}


GOOD = [
    {"role": "system", "content": "policy"},
    {"role": "user", "content": "Which clinicians do dermatology?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [call(1, "list_clinicians", {"specialty": "dermatology"})],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "[]"},
    {"role": "assistant", "content": "None right now."},
]


def test_good_dialogue_is_valid():
    assert check_validity(GOOD) is None


def broken(edit) -> list[dict]:
    messages = copy.deepcopy(GOOD)
    edit(messages)
    return messages


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda m: m.pop(0), "system prompt"),
        (lambda m: m.insert(2, {"role": "user", "content": "hello?"}), "two user turns"),
        (lambda m: m.insert(3, {"role": "assistant", "content": "wait"}), "no result"),
        (lambda m: m.insert(4, {"role": "assistant", "content": "wait"}), "two assistant turns"),
        (lambda m: m.pop(3), "no result"),
        (lambda m: m[3].update(tool_call_id="call_9"), "expected 'call_1'"),
        (
            lambda m: m[2]["tool_calls"][0]["function"].update(arguments="{specialty: derm"),
            "not a JSON object",
        ),
        (
            lambda m: m[2]["tool_calls"][0]["function"].update(arguments="[1, 2]"),
            "not a JSON object",
        ),
        (lambda m: m[2]["tool_calls"][0]["function"].update(name=""), "no function name"),
        (lambda m: m[4].update(content=""), "empty assistant turn"),
        (lambda m: m.append({"role": "user", "content": "and?"}), "unanswered user turn"),
        (lambda m: m.append({"role": "bot", "content": "x"}), "role 'bot'"),
        (lambda m: m[4].update(content="sorry I cannot " * 20), "repetitive"),
        (lambda m: m.pop(4), "ends on a tool result"),
    ],
)
def test_invalid_dialogues_are_caught(edit, why):
    problem = check_validity(broken(edit))
    assert problem is not None and why in problem


def test_a_final_transfer_result_is_allowed_only_after_a_transfer():
    messages = broken(lambda m: m.pop(4))
    assert check_validity(messages, allow_final_tool=True) is None


def test_the_same_assistant_turn_over_and_over_is_invalid():
    messages = copy.deepcopy(GOOD[:2])
    for i in range(1, 4):
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call(i, "list_clinicians", {"specialty": "dermatology"})],
            }
        )
        messages[-1]["tool_calls"][0]["id"] = "call_1"
        messages.append({"role": "tool", "tool_call_id": "call_1", "content": "[]"})
    messages.append({"role": "assistant", "content": "Done."})
    assert "the same assistant turn 3 times" in check_validity(messages)


def test_ngram_repetition():
    assert repetitive(
        "the order the order the order the order the order the order the order the order " * 2
    )
    assert not repetitive(
        "I found your appointment with Dr. Park on Monday at ten; it is now cancelled "
        "and the slot is free again for other patients of the clinic to book."
    )
    assert not repetitive("yes yes yes")  # too short to judge


def test_exact_match_fills_schema_defaults_and_skips_failed_calls(runtime):
    defaults = schema_defaults(runtime.tools)
    gold = [GoldCall(name="list_appointments", arguments={"patient_id": "P001"})]
    done = [
        CallRecord("list_appointments", {}, False),
        CallRecord("list_appointments", {"patient_id": "P001", "include_past": False}, True),
    ]
    assert check_exact(done, gold, defaults) is None
    wrong = [CallRecord("list_appointments", {"patient_id": "P001", "include_past": True}, True)]
    assert "expected list_appointments" in check_exact(wrong, gold, defaults)
    extra = [*done, CallRecord("get_patient", {"patient_id": "P001"}, True)]
    assert "extra get_patient" in check_exact(extra, gold, defaults)
    assert "missing list_appointments" in check_exact([], gold, defaults)


def test_gold_calls_that_failed_on_purpose_are_not_expected(runtime):
    gold = [
        GoldCall(name="get_patient", arguments={"patient_id": "P999"}),
        GoldCall(name="get_patient", arguments={"patient_id": "P001"}),
    ]
    outputs = [GoldOutput(ok=False, content="Error: not found"), GoldOutput(ok=True, content="{}")]
    done = [
        CallRecord("get_patient", {"patient_id": "P999"}, False),
        CallRecord("get_patient", {"patient_id": "P001"}, True),
    ]
    assert check_exact(done, gold, {}, outputs) is None
    assert check_exact(done[1:], gold, {}, outputs) is None


def test_real_episode_passes_every_filter(runtime, tasks):
    for task in tasks:
        t = run_episode(runtime, task, ScriptedAgent(), ScriptedUser(), seed=1).to_dict()
        assert t["filters"] == {"valid": True, "state": True, "exact": True}, t["meta"]["failure"]
        rebuilt = apply_filters(
            t["messages"],
            calls_from_messages(t["messages"]),
            t["final_state_hash"],
            task,
            runtime.defaults,
        )
        assert rebuilt.kept


def test_state_filter_rejects_a_different_final_state(runtime, tasks):
    write = next(t for t in tasks if t.kind == "write")
    other = write.model_copy(update={"gold_state_hash": "0" * 64})
    t = run_episode(runtime, other, ScriptedAgent(), ScriptedUser(), seed=1).to_dict()
    assert t["filters"] == {"valid": True, "state": False, "exact": True}
    assert t["meta"]["failure"].startswith("state:") and t["reward"] == 0.0


def test_exact_filter_is_what_catches_a_wrong_read_only_chain(runtime, tasks):
    read = next(t for t in tasks if t.kind == "read")
    # The agent follows a chain that differs from the gold one; reads leave the state equal.
    agent_task = read.model_copy(
        update={"gold_calls": [GoldCall(name="get_patient", arguments={"patient_id": "P002"})]}
    )

    class Mismatched(ScriptedAgent):
        def start(self, context):
            context.task = agent_task
            super().start(context)

    t = run_episode(runtime, read, Mismatched(), ScriptedUser(), seed=1).to_dict()
    assert t["filters"] == {"valid": True, "state": True, "exact": False}
    assert t["reward"] == 0.0 and t["meta"]["failure"].startswith("exact:")


def test_failed_intermediate_call_is_kept_when_the_goal_is_reached(runtime, tasks):
    agent = ScriptedAgent(BackendConfig("scripted", options=(("failure_rate", 1.0),)))
    for task in tasks:
        t = run_episode(runtime, task, agent, ScriptedUser(), seed=2).to_dict()
        assert t["meta"]["failed_calls"] == 1
        assert t["filters"] == {"valid": True, "state": True, "exact": True}
        errors = [
            m for m in t["messages"] if m["role"] == "tool" and m["content"].startswith("Error:")
        ]
        assert len(errors) == 1 and t["meta"]["mistake"] in KINDS
