"""How the scripted agent and user talk: results in words, one greeting, questions answered
from the task, confirmation before writes, and mistakes made only from the dialogue."""

from __future__ import annotations

import json
import random
import re

import pytest

from envscale.records import Trajectory
from envscale.rollout.agents import ScriptedAgent, policy_asks_confirmation
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.mistakes import _wrong_record, perturb, siblings
from envscale.rollout.speech import leaves, mentioned, summarise
from envscale.rollout.users import ScriptedUser
from envscale.runtime.load import load
from envscale.tasks.sampling import sample_tasks
from envscale.tasks.states import EnvFactory, initial_state_for
from envscale.trainer.render import failed_call_turns
from tests.rollout.episode_fixtures import CLINIC, CLINIC_DATA, ROOT, clinic_domain, make_task

ALWAYS = BackendConfig("scripted", options=(("failure_rate", 1.0),))
GREETING = re.compile(r"\b(hi|hello|hey)\b", re.I)


def episodes(spec: str, n: int, agent: BackendConfig = ALWAYS, seed: int = 0) -> list[Trajectory]:
    path = str(ROOT / "specs" / spec)
    domain = load(path)
    factory = EnvFactory(domain, initial_state_for(path, "auto", 0, 20), path)
    tasks = sample_tasks(domain, factory, n, seed=seed, max_length=3)
    runtime = DomainRuntime(domain, path)
    return [run_episode(runtime, t, ScriptedAgent(agent), ScriptedUser(), seed=seed) for t in tasks]


@pytest.fixture(scope="module")
def generated() -> list[Trajectory]:
    return [
        t
        for spec in ("clinic.domain", "retail.domain", "airline.domain")
        for t in episodes(spec, 12)
    ]


def said_before(messages: list, index: int) -> str:
    return "\n".join(m.content or "" for m in messages[:index] if m.role in ("user", "tool"))


def test_every_episode_passes_every_filter_with_its_mistake(generated):
    for t in generated:
        assert t.filters == {"valid": True, "state": True, "exact": True}, t.meta.failure
    assert sum("mistake" in (t.meta.model_extra or {}) for t in generated) >= len(generated) // 2


def test_the_agent_never_shows_raw_results(generated):
    for t in generated:
        for m in t.messages:
            if m.role == "assistant" and m.content:
                assert '{"' not in m.content and '": ' not in m.content, m.content
                assert not m.tool_calls  # it talks or it calls, never both


def test_the_user_greets_once(generated):
    for t in generated:
        users = [m.content for m in t.messages if m.role == "user"]
        assert len(GREETING.findall(users[0])) <= 1, users[0]
        if len(users) > 1 and len(users[0].split()) <= 8:  # a bare greeting, then the goal
            assert not GREETING.match(users[1]), users[:2]


def test_a_failed_call_uses_only_values_from_the_dialogue(generated):
    checked = 0
    for t in generated:
        for i, m in enumerate(t.messages):
            for call in m.tool_calls or []:
                result = next(r for r in t.messages[i:] if r.tool_call_id == call.id)
                if not result.content.startswith("Error: "):
                    continue
                checked += 1
                arguments = json.loads(call.function.arguments)
                heard = said_before(t.messages, i)
                for value in leaves(arguments):
                    if isinstance(value, str):
                        assert mentioned(value, heard), (value, t.id)
    assert checked > 0


def test_a_misstated_value_is_corrected_by_the_user(generated):
    misstated = [t for t in generated if (t.meta.model_extra or {}).get("mistake") == "misstated"]
    assert misstated
    for t in misstated:
        failed = next(
            i
            for i, m in enumerate(t.messages)
            if m.role == "tool" and m.content.startswith("Error")
        )
        call = t.messages[failed - 1].tool_calls[0]
        wrong = json.loads(call.function.arguments)
        said = " ".join(m.content for m in t.messages[:failed] if m.role == "user")
        ask, correction = t.messages[failed + 1], t.messages[failed + 2]
        assert ask.role == "assistant" and ask.content.endswith("?")
        assert correction.role == "user"
        retry = json.loads(t.messages[failed + 3].tool_calls[0].function.arguments)
        fixed = [k for k in retry if retry[k] != wrong.get(k)]
        assert fixed and all(mentioned(retry[k], correction.content) for k in fixed)
        assert all(mentioned(wrong[k], said) for k in fixed)  # the user said the wrong value


CONFIRMATION_QUESTIONS = ("Shall I go ahead?", "Is that right?", "Do you want me to proceed?")


def test_writes_are_confirmed_first_when_the_policy_asks():
    for spec in ("clinic.policy.md", "retail.policy.md", "airline.policy.md"):
        assert policy_asks_confirmation((ROOT / "specs" / spec).read_text())
    assert not policy_asks_confirmation("Be quick.")
    domain = clinic_domain()
    kinds = dict(domain.tool_kinds)
    for confirm in (True, False):
        agent = BackendConfig(
            "scripted", options=(("failure_rate", 0.0), ("confirm_writes", confirm))
        )
        for t in episodes("clinic.domain", 10, agent, seed=4):
            messages = t.messages
            for i, m in enumerate(messages):
                for call in m.tool_calls or []:
                    if kinds.get(call.function.name) != "write":
                        continue
                    asked = messages[i - 2]
                    # A question for a value the dialogue lacks is no confirmation.
                    confirmed = asked.role == "assistant" and (asked.content or "").endswith(
                        CONFIRMATION_QUESTIONS
                    )
                    assert confirmed == confirm, [x.content for x in messages[i - 3 : i + 1]]


def test_the_agent_asks_for_what_the_dialogue_lacks_and_the_user_answers():
    domain = clinic_domain()
    chain = [
        ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}),
        ("refill_prescription", {"rx_id": "RX001"}),
    ]
    task = make_task(domain, "clinic-vague", "I need a refill of one of my prescriptions.", chain)
    runtime = DomainRuntime(domain, str(CLINIC))
    quiet = BackendConfig("scripted", options=(("failure_rate", 0.0),))
    t = run_episode(runtime, task, ScriptedAgent(quiet), ScriptedUser(), seed=0)
    assert t.filters == {"valid": True, "state": True, "exact": True}, t.meta.failure
    talk = [
        (m.role, m.content) for m in t.messages if m.role in ("user", "assistant") and m.content
    ]
    questions = [i for i, (role, text) in enumerate(talk) if role == "assistant" and "?" in text]
    answers = " ".join(talk[i + 1][1] for i in questions if i + 1 < len(talk))
    for value in ("P001", "1985-03-14", "RX001"):
        assert value in answers  # each told by the user when the agent asked


def test_a_wrong_record_is_one_the_lookup_returned():
    domain = clinic_domain()
    chain = [
        ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}),
        ("list_appointments", {"patient_id": "P001", "include_past": True}),
        ("cancel_appointment", {"appointment_id": "A0003", "reason": "feeling_better"}),
    ]
    text = "I'm patient P001, born 1985-03-14. Please cancel my upcoming appointment."
    task = make_task(domain, "clinic-two-visits", text, chain)
    runtime = DomainRuntime(domain, str(CLINIC))
    kinds = set()
    for seed in range(12):
        t = run_episode(runtime, task, ScriptedAgent(ALWAYS), ScriptedUser(), seed=seed)
        assert t.filters == {"valid": True, "state": True, "exact": True}, t.meta.failure
        kind = (t.meta.model_extra or {}).get("mistake")
        kinds.add(kind)
        if kind != "wrong_record":
            continue
        calls = [(i, c) for i, m in enumerate(t.messages) for c in m.tool_calls or []]
        picked = [json.loads(c.function.arguments).get("appointment_id") for _, c in calls]
        assert picked[-2:] == ["A0001", "A0003"]  # the completed visit first, then the right one
        listing = next(m.content for m in t.messages if m.role == "tool" and "A0001" in m.content)
        assert "A0003" in listing
        # The agent says which was wrong and asks before it takes the right one; the failed
        # call's turn gets no loss.
        failed = next(i for i, m in enumerate(t.messages) if (m.content or "").startswith("Error"))
        said = t.messages[failed + 1]
        assert said.role == "assistant" and not said.tool_calls and said.content.endswith("?")
        assert "A0001" in said.content and "A0003" in said.content
        messages = [m.model_dump(exclude_none=True) for m in t.messages]
        assert failed_call_turns(messages) == {failed - 1}
    assert "wrong_record" in kinds


def test_a_wrong_record_may_be_one_the_customer_named_for_another_step():
    calls = [
        {"name": "cancel_order", "arguments": {"order_id": "O1"}},
        {"name": "return_order", "arguments": {"order_id": "O2", "reason": "broken"}},
    ]
    said = "Cancel my order O1, then return my order O2 (reason: broken)."
    found = _wrong_record(calls, ["{}", "{}"], said)
    assert {(m.call, m.right, m.wrong) for m in found} == {(0, "O1", "O2"), (1, "O2", "O1")}
    # A reason is no record: the other step's reason is never tried in its place.
    assert not any(m.argument == "reason" for m in found)
    # One entry of a list of items, swapped for another the order lists.
    listed = json.dumps({"items": [{"item_id": "I1"}, {"item_id": "I2"}]})
    calls = [{"name": "return_items", "arguments": {"item_ids": ["I1"]}}]
    calls.insert(0, {"name": "get_order", "arguments": {"order_id": "O2"}})
    [swap] = _wrong_record(calls, [listed, "{}"], "")
    assert (swap.call, swap.right, swap.wrong) == (1, ["I1"], ["I2"])


def test_the_customer_never_says_the_id_of_a_record_the_task_makes():
    domain = clinic_domain()
    chain = [
        ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}),
        (
            "book_appointment",
            {"patient_id": "P001", "slot_id": "S028", "visit_type": "telehealth", "reason": "Rash"},
        ),
    ]
    env = domain.environment(data=CLINIC_DATA)
    for name, arguments in chain:
        made = env.call(name, arguments)
    new_id = json.loads(made.text)["appointment_id"]
    env.close()
    chain.append(("cancel_appointment", {"appointment_id": new_id, "reason": "feeling_better"}))
    text = (
        "I'm patient P001, born 1985-03-14. Book me a telehealth visit in slot S028 for a "
        "Rash, then cancel the new appointment because I'm feeling better."
    )
    task = make_task(domain, "clinic-book-cancel", text, chain)
    runtime = DomainRuntime(domain, str(CLINIC))
    for seed in range(8):
        t = run_episode(runtime, task, ScriptedAgent(ALWAYS), ScriptedUser(), seed=seed)
        assert t.filters == {"valid": True, "state": True, "exact": True}, t.meta.failure
        first = next(
            i for i, m in enumerate(t.messages) if m.role == "tool" and new_id in m.content
        )
        assert not any(new_id in (m.content or "") for m in t.messages[:first] if m.role == "user")
        assert not any(new_id in (m.content or "") for m in t.messages if m.role == "user")
        cancels = [
            json.loads(c.function.arguments)
            for m in t.messages
            for c in m.tool_calls or []
            if c.function.name == "cancel_appointment"
        ]
        assert cancels[-1]["appointment_id"] == new_id  # taken from the booking's result


def test_summaries_are_drawn_from_the_result():
    rng = random.Random(0)
    record = {
        "reservation_id": "HATHBB",
        "status": "cancelled",
        "total": 412.5,
        "created_at": "2024-05-01T10:00:00",
        "flights": [{}, {}],
        "name": {"first_name": "Rosa", "last_name": "Ivanova"},
    }
    said = summarise("cancel_reservation", json.dumps(record), rng)
    for fact in ("HATHBB", "Rosa Ivanova", "cancelled", "412.50", "2024-05-01", "2 flights"):
        assert fact in said, said
    assert summarise(
        "find_open_slots", "[]", rng
    ) == "I found no open slots." or "no open slots" in (summarise("find_open_slots", "[]", rng))
    listed = summarise(
        "list_invoices", json.dumps([{"invoice_id": f"I{i}"} for i in range(5)]), rng
    )
    assert listed.startswith("I found 5 invoices: I0; I1; I2") and "2 more" in listed
    assert summarise("find_user_id_by_email", "U0019", rng) == "The user id is U0019."
    assert summarise("x", "Error: order not found", rng) == "order not found."


def test_one_of_a_kind_is_named_in_the_singular():
    rng = random.Random(0)
    record = {"patient_id": "P008", "allergies": ["pollen"], "addresses": [{}]}
    said = summarise("verify_patient", json.dumps(record), rng)
    assert "1 allergy" in said and "1 address" in said, said
    one = summarise("list_addresses", json.dumps([{"address_id": "A1"}]), rng)
    assert one.startswith("I found 1 address:"), one


def test_misstatements_are_slips_not_inventions():
    rng = random.Random(1)
    for value in ("1985-03-14", "91444", "P0012", "sara_doe"):
        for _ in range(20):
            slip = perturb(value, rng)
            assert slip and slip != value and len(slip) == len(value)
    assert perturb("2024-02-29", rng)[:4] == "2024"
    assert siblings({"orders": ["#W1", "#W2"]}, "#W1") == ["#W2"]
    assert siblings([{"id": "A1", "s": "x"}, {"id": "A2", "s": "x"}], "A2") == ["A1"]
    assert siblings({"P1": {"x": 1}, "P2": {"x": 2}}, "P2") == ["P1"]
