"""specs/airline.domain reproduces tau-bench's airline domain: every visible and sealed case
matches."""

from __future__ import annotations

import pytest

from .conftest import assert_every_case_matches, assert_schemas_match, taubench_environment

CASE_FILES = ["airline/probes.jsonl", "airline/tasks.jsonl", "sealed/airline.sealed.jsonl"]


@pytest.fixture(scope="module")
def airline():
    return taubench_environment("airline")


@pytest.mark.parametrize("name", CASE_FILES)
def test_every_case_matches(airline, name: str) -> None:
    assert_every_case_matches(*airline, name)


def test_tool_schemas_match_taubench(airline) -> None:
    """Names, types, required fields and enums, nested items included; descriptions are our own."""
    assert_schemas_match(airline[0], "airline")


def test_bookings_take_the_next_free_id_and_the_fixed_clock(airline) -> None:
    env, _ = airline
    env.reset()
    booking = {
        "user_id": "mia_li_3668",
        "origin": "JFK",
        "destination": "SEA",
        "flight_type": "round_trip",
        "cabin": "basic_economy",
        "flights": [
            {"flight_number": "HAT069", "date": "2024-05-20"},
            {"flight_number": "HAT276", "date": "2024-05-25"},
        ],
        "passengers": [{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        "payment_methods": [{"payment_id": "credit_card_4421486", "amount": 106}],
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    made = [env.call("book_reservation", booking) for _ in range(3)]
    assert [r.content["reservation_id"] for r in made] == ["HATHAT", "HATHAU", "HATHAV"]
    assert {r.content["created_at"] for r in made} == {"2024-05-15T15:00:00"}
    assert "user_id" not in env.call("get_user_details", {"user_id": "mia_li_3668"}).content
    env.reset()
