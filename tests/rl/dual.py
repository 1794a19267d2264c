"""A dual-control task of the phone domain the rollout tests use: the agent enables roaming
on the line, the user toggles their own phone's settings."""

from __future__ import annotations

from pathlib import Path

from envscale.records import Assertion, GoldCall, Scoring, Task
from envscale.runtime.domain import Domain
from envscale.tasks.tau2tasks import criteria_task

PHONE = Path(__file__).resolve().parents[1] / "rollout" / "dual" / "phone.domain"


def roaming_task(domain: Domain) -> Task:
    gold = [
        GoldCall(name="enable_roaming", arguments={"line_id": "L1"}),
        GoldCall(name="toggle_airplane_mode", arguments={}, side="user"),
        GoldCall(name="toggle_data_roaming", arguments={}, side="user"),
    ]
    scoring = Scoring(
        basis=["ENV_ASSERTION", "ACTION"],
        assertions=[Assertion(name="assert_online", arguments={"expected": True})],
    )
    broken = {"data": "phone.data.json", "actions": [{"name": "break_phone", "arguments": {}}]}
    return criteria_task(
        domain, PHONE, "abroad", broken, "My phone has no data abroad. Line L1.", gold, scoring
    )
