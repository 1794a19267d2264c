"""Every statement a call runs has SQL text of its own that does not change from call to
call, so apsw prepares it once per connection: an episode replayed prepares nothing new."""

from __future__ import annotations

import json
from pathlib import Path

import envscale

SPECS = Path(__file__).resolve().parents[2] / "specs"

# Reads, writes, a failed call, an invariant that reads other records, and new keys.
CALLS = [
    ("find_patient", {"last_name": "Smith", "date_of_birth": "1972-11-02"}),
    ("list_appointments", {"patient_id": "P001", "include_past": True}),
    (
        "book_appointment",
        {"patient_id": "P001", "slot_id": "S006", "visit_type": "follow_up", "reason": "Cough"},
    ),
    ("cancel_appointment", {"appointment_id": "A0004", "reason": "schedule_conflict"}),
    ("complete_visit", {"appointment_id": "A0002", "notes": "Improving; continue stretches."}),
    ("update_insurance", {"patient_id": "P003", "plan_id": "INS03", "member_id": "03-123"}),
    ("archive_patient", {"patient_id": "P001"}),
    ("pay_invoice", {"invoice_id": "INV0005", "amount": 40, "method": "card"}),
    ("void_invoice", {"invoice_id": "INV0014", "reason": "Billed in error"}),
]


def test_a_replayed_episode_prepares_no_statement_again():
    domain = envscale.load(SPECS / "clinic.domain")
    data = json.loads((SPECS / "clinic.data.json").read_text(encoding="utf-8"))
    env = domain.environment(data=data)

    def episode() -> list[bool]:
        outcomes = [env.call(name, arguments).ok for name, arguments in CALLS]
        env.diff(), env.state_hash()
        env.reset()
        return outcomes

    first = episode()
    assert True in first and False in first  # some calls succeed, some fail
    misses = env.connection.cache_stats()["misses"]
    assert episode() == first
    stats = env.connection.cache_stats()
    assert stats["misses"] == misses and stats["evictions"] == 0
    assert stats["hits"] > 0
