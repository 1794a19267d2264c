"""Made-up reasons fit what they are the reason for: a visit's what brings the patient in,
a suspended line's or a voided invoice's why that happened, never a symptom."""

from __future__ import annotations

import random
from pathlib import Path

import envscale
from envscale.api import compile_source
from envscale.runtime.domain import Domain
from envscale.tasks import reasons
from envscale.tasks.datagen import generate_data
from envscale.tasks.sampling import sample_tasks
from envscale.tasks.states import EnvFactory

SPECS = Path(__file__).resolve().parents[2] / "specs"
MEDICAL = set(reasons.REASONS).union(*reasons.VISIT_REASONS.values())

OWN = """
domain desk "A help desk." clock "2024-03-01T10:00:00"
entity Line "A phone line" {
  line_id: str @key
  number: str
}
entity Suspension "A line taken out of service for a while" {
  suspension_id: str @key
  line: Line
  reason: str "Why the line is suspended"
}
entity Ticket "A customer's call to the help desk" {
  ticket_id: str @key
  reason: str "Why the customer called"
}
entity Appointment "A patient's booked visit" {
  appointment_id: str @key
  reason: str "Reason for the visit, in the patient's words"
}
"""


def _reasons_given(tasks, tool: str) -> list[str]:
    return [
        call.arguments["reason"]
        for task in tasks
        for call in task.gold_calls
        if call.name == tool and "reason" in call.arguments
    ]


def test_a_suspended_lines_reason_is_why_it_is_suspended():
    telecom = envscale.load(SPECS / "telecom.domain")
    state = {"data": str(SPECS / "telecom.data.json")}
    tasks = sample_tasks(telecom, EnvFactory(telecom, state), 60, seed=3)
    given = _reasons_given(tasks, "suspend_line")
    assert given
    assert set(given) <= set(reasons.SUSPEND_REASONS), given


def test_generated_reasons_follow_their_entity():
    files, diagnostics, _ = compile_source(OWN, "own.domain")
    assert files is not None, [d.message for d in diagnostics]
    data = generate_data(Domain(files), 0, 20)
    suspended = {r["reason"] for r in data["Suspension"]}
    assert suspended <= set(reasons.SUSPEND_REASONS), suspended
    called = {r["reason"] for r in data["Ticket"]}
    assert not called & MEDICAL, called
    visits = {r["reason"] for r in data["Appointment"]}
    assert visits <= MEDICAL, visits


def test_the_names_action_decides_before_the_visit():
    rng = random.Random(0)
    said = "Why the visit is cancelled"
    for _ in range(20):
        voided = reasons.reason_for(rng, ["reason"], ["void", "invoice"], "Why it is voided")
        assert voided in reasons.BILLING_REASONS
        cancelled = reasons.reason_for(rng, ["reason"], ["cancel", "appointment"], said)
        assert cancelled in reasons.VISIT_CANCEL_REASONS
        visit = {"visit_type": "telehealth"}
        booked = reasons.reason_for(rng, ["reason"], ["book", "appointment"], "", visit)
        assert booked in reasons.VISIT_REASONS["telehealth"]
        assert reasons.reason_for(rng, ["reason"], ["note"], "") in reasons.GENERAL_REASONS
