"""Hours and minutes on datetimes, and numbers written by format specifications and money()."""

from __future__ import annotations

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain

SPEC = """
domain d "A test domain." clock "2024-05-15T12:00:00"
entity Delivery {
  delivery_id: str @key
  placed: datetime
  promised: datetime
  fee: float
  points: int
}
invariant within_three_hours on Delivery:
  promised <= add_hours(placed, 3) else format("{} is promised too late", delivery_id)
tool is_late(delivery_id: str) -> bool {
  let d = Delivery[delivery_id]
  return now() > d.promised
}
tool minutes_left(delivery_id: str) -> int {
  return minutes_between(now(), Delivery[delivery_id].promised)
}
tool promise(delivery_id: str, minutes: int) -> Delivery {
  let d = Delivery[delivery_id]
  set d.promised = add_minutes(d.placed, minutes)
  return d
}
tool hours(a: datetime, b: datetime) -> int { return hours_between(a, b) }
tool later(t: str, h: int) -> datetime { return add_hours(t, h) }
tool receipt(delivery_id: str) -> str {
  let d = Delivery[delivery_id]
  return format("fee {:.2f} USD, {:,d} points, [{:6}]", d.fee, d.points, d.delivery_id)
}
tool refund(delivery_id: str) -> str {
  let d = Delivery[delivery_id]
  fail format("cannot refund {} USD on {}", money(d.fee * 1000), d.delivery_id)
}
tool made(template: str, x: float) -> str { return format(template, x) }
"""

DATA = {
    "Delivery": [
        {
            "delivery_id": "D1",
            "placed": "2024-05-15T11:00:00",
            "promised": "2024-05-15T12:30:00",
            "fee": 30,
            "points": 1234567,
        },
        {
            "delivery_id": "D2",
            "placed": "2024-05-15T09:00:00",
            "promised": "2024-05-15T11:45:00",
            "fee": 4.5,
            "points": 0,
        },
    ]
}


def errors(body: str) -> list[str]:
    _, diagnostics, _ = compile_source(SPEC + body, "d.domain")
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity == "error"]


@pytest.fixture(scope="module")
def env():
    files, diagnostics, _ = compile_source(SPEC, "d.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files).environment(DATA)


def test_datetimes_compare_and_count_minutes(env):
    assert env.call("is_late", {"delivery_id": "D1"}).content is False
    assert env.call("is_late", {"delivery_id": "D2"}).content is True
    assert env.call("minutes_left", {"delivery_id": "D1"}).content == 30
    assert env.call("minutes_left", {"delivery_id": "D2"}).content == -15


@pytest.mark.parametrize(
    ("a", "b", "whole"),
    [
        ("2024-05-15T10:00:00", "2024-05-15T12:59:59", 2),
        ("2024-05-15T12:59:59", "2024-05-15T10:00:00", -2),  # toward zero, both ways
        ("2024-05-15T23:00:00", "2024-05-16T01:00:00", 2),
        ("2024-02-28T12:00:00", "2024-03-01T12:00:00", 48),
    ],
)
def test_hours_between_counts_whole_hours_toward_zero(env, a, b, whole):
    assert env.call("hours", {"a": a, "b": b}).content == whole


def test_adding_hours_crosses_days_and_accepts_a_date_text(env):
    assert env.call("later", {"t": "2024-05-15T23:30:00", "h": 2}).content == "2024-05-16T01:30:00"
    assert env.call("later", {"t": "2024-05-15", "h": -1}).content == "2024-05-14T23:00:00"


@pytest.mark.parametrize(
    ("t", "h", "message"),
    [
        ("9999-12-31T23:00:00", 2, "'9999-12-31T23:00:00' plus 2 hours is not a date"),
        ("2024-05-15T00:00:00", 2**62, "4611686018427387904 hours is out of range"),
        ("soon", 1, "'soon' is not a date"),
    ],
)
def test_time_out_of_range_is_a_failed_call(env, t, h, message):
    result = env.call("later", {"t": t, "h": h})
    assert not result.ok and not result.internal and result.error.startswith(message)


def test_an_invariant_with_hours_holds_after_each_write(env):
    assert env.call("promise", {"delivery_id": "D1", "minutes": 180}).ok
    broken = env.call("promise", {"delivery_id": "D1", "minutes": 181})
    assert broken.error == "invariant 'within_three_hours' violated: D1 is promised too late"
    env.reset()


def test_numbers_are_written_by_their_specification(env):
    assert env.call("receipt", {"delivery_id": "D1"}).content == (
        "fee 30.00 USD, 1,234,567 points, [D1    ]"
    )
    assert env.call("refund", {"delivery_id": "D2"}).error == "cannot refund 4,500.00 USD on D2"


def test_a_template_made_at_run_time_is_checked_when_used(env):
    assert env.call("made", {"template": "{:8.3f}|", "x": 2.5}).content == "   2.500|"
    bad = env.call("made", {"template": "{:%}", "x": 2.5})
    assert not bad.ok and not bad.internal
    assert bad.error.startswith("'{:%}' is not a format specification")


@pytest.mark.parametrize(
    ("call", "found"),
    [
        ('format("{:.2e}", 1.0)', "E750 '{:.2e}' is not a format specification"),
        ('format("{:.2d}", 1)', "E750 '{:.2d}' gives a precision, which only 'f' takes"),
        ('format("{:,d}", 1.5)', "E751 '{:,d}' needs an int, found float"),
        ('format("{:.1f}", "a")', "E751 '{:.1f}' needs a number, found str"),
        ('format("{:.1f} {}", 1.0)', "E202 format() template has 2 hole(s) but 1 value(s) follow"),
        ("money(none)", "E201 argument 1 of money(): expected float, found none"),
        ("add_minutes(today(), 5)", "E201 add_minutes() needs a datetime, found date"),
    ],
)
def test_malformed_uses_are_compile_errors(call, found):
    assert errors(f"tool x() -> str {{ return str({call}) }}\n") == [found]
