"""specs/airline.domain reproduces tau-bench's airline domain: every visible and sealed case matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envscale.conformance.taubench import environment, replay_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
TAUBENCH = (ROOT / ".." / "shared" / "conformance" / "taubench").resolve()
DATA = TAUBENCH / "airline"
CASE_FILES = ["airline/probes.jsonl", "airline/tasks.jsonl", "sealed/airline.sealed.jsonl"]

pytestmark = pytest.mark.skipif(
    not (DATA / "users.json").is_file(),
    reason=f"tau-bench conformance data not found at {DATA} (it lives in ../shared next to the repository)",
)


@pytest.fixture(scope="module")
def airline():
    return environment(SPECS / "airline.domain", SPECS / "airline.layout.json", DATA)


@pytest.mark.parametrize("name", CASE_FILES)
def test_every_case_matches(airline, name: str) -> None:
    env, layout = airline
    result = replay_file(env, layout, TAUBENCH / name)
    assert result.total > 0
    shown = "\n".join(m.render() for m in result.mismatches[:5])
    assert result.matched == result.total, f"{result.matched}/{result.total} cases match\n{shown}"


def _without_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value


def test_tool_schemas_match_taubench(airline) -> None:
    """Names, types, required fields and enums, nested items included; descriptions are our own."""
    env, _ = airline

    def shape(tool: dict) -> tuple:
        params = tool["function"]["parameters"]
        return _without_descriptions(params["properties"]), sorted(params["required"])

    theirs = {t["function"]["name"]: shape(t) for t in json.loads((DATA / "tools.json").read_text())}
    ours = {t["function"]["name"]: shape(t) for t in json.loads(env.domain.files["tools.json"])}
    assert ours == theirs


def test_bookings_take_the_next_free_id_and_the_fixed_clock(airline) -> None:
    env, _ = airline
    env.reset()
    booking = {
        "user_id": "mia_li_3668", "origin": "JFK", "destination": "SEA", "flight_type": "round_trip",
        "cabin": "basic_economy",
        "flights": [{"flight_number": "HAT069", "date": "2024-05-20"}, {"flight_number": "HAT276", "date": "2024-05-25"}],
        "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        "payment_methods": [{"payment_id": "credit_card_4421486", "amount": 106}],
        "total_baggages": 0, "nonfree_baggages": 0, "insurance": "no",
    }
    made = [env.call("book_reservation", booking) for _ in range(3)]
    assert [r.content["reservation_id"] for r in made] == ["HATHAT", "HATHAU", "HATHAV"]
    assert {r.content["created_at"] for r in made} == {"2024-05-15T15:00:00"}
    assert "user_id" not in env.call("get_user_details", {"user_id": "mia_li_3668"}).content
    env.reset()
