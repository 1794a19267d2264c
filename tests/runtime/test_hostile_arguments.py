"""Arguments an agent (or a hostile model) may send: a failed call each, never an exception,
never an internal error, and the database as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

import envscale
from envscale.rollout.toolcalls import parse_arguments
from envscale.runtime.environment import MAX_ARGUMENT_DEPTH, TOO_DEEP
from envscale.runtime.errors import ToolError
from envscale.runtime.limits import Limits, check_shape

SPECS = Path(__file__).resolve().parents[2] / "specs"


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.fixture(scope="module")
def clinic():
    return envscale.load(SPECS / "clinic.domain")


@pytest.mark.parametrize(
    "arguments",
    [
        '{"patient_id": ' + "[" * 100_000 + "]" * 100_000 + "}",
        {"patient_id": nested(5_000)},
        {"patient_id": nested(MAX_ARGUMENT_DEPTH + 1)},
    ],
    ids=["json-text-100000-deep", "dict-5000-deep", "one-past-the-limit"],
)
def test_deeply_nested_arguments_are_a_failed_call(clinic, arguments) -> None:
    env = clinic.environment(data=SPECS / "clinic.data.json")
    before = env.state_hash()
    result = env.call("update_contact", arguments)
    assert not result.ok and not result.internal and result.error == TOO_DEEP
    assert env.state_hash() == before and env.diff() == []


def test_nesting_up_to_the_limit_reaches_validation(clinic) -> None:
    env = clinic.environment(data=SPECS / "clinic.data.json")
    result = env.call("get_patient", {"patient_id": nested(MAX_ARGUMENT_DEPTH - 1)})
    assert not result.ok and result.error != TOO_DEEP and not result.internal


def _too_deep(arguments: dict, depth: int) -> bool:
    try:
        check_shape(arguments, Limits(depth=depth))
    except ToolError as error:
        assert "limit depth=" in error.message
        return True
    return False


def test_nesting_depth_counts_lists_and_objects() -> None:
    assert not _too_deep({"a": [[1]]}, 3)
    assert _too_deep({"a": [[1]]}, 2)
    assert _too_deep({"a": {"b": {}}}, 2)
    assert not _too_deep({"a": "[[[[", "b": 1}, 1)


def test_a_model_call_nested_without_end_parses_as_malformed() -> None:
    assert parse_arguments("[" * 100_000 + "]" * 100_000) is None
    assert parse_arguments('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}") is None


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("(9**9999)**9999", "result too large"),
        ("1+" * 100_000 + "1", "expression too complex"),
        ("-" * 100_000 + "1", "expression too complex"),
    ],
    ids=["power-tower", "long-sum", "long-negation"],
)
def test_calculate_refuses_what_would_stall_or_crash_a_worker(expression: str, error: str) -> None:
    retail = envscale.load(SPECS / "retail.domain")
    # Past the default string limit, which would refuse the long ones first.
    env = retail.environment(data={}, limits=Limits(string_length=1_000_000))
    result = env.call("calculate", {"expression": expression})
    assert not result.ok and not result.internal and result.error == error


def test_calculate_still_computes_with_large_intermediate_values() -> None:
    env = envscale.load(SPECS / "retail.domain").environment(data={})
    assert env.call("calculate", {"expression": "(10**400) / (10**399)"}).content == "10.0"


@pytest.mark.parametrize(
    "arguments",
    [
        {"patient_id": "P001\ud800"},
        '{"patient_id": "\\udfff"}',  # JSON text spells it as an escape
        {"patient_id": "P001", "\ud800": 1},
        {"patient_id": ["P001", {"x\udc80": "y"}]},
    ],
    ids=["value", "json-escape", "key", "nested-key"],
)
def test_text_that_is_not_unicode_is_refused_at_the_boundary(clinic, arguments) -> None:
    env = clinic.environment(data=SPECS / "clinic.data.json")
    before = env.state_hash()
    result = env.call("get_patient", arguments)
    assert not result.ok and not result.internal and "lone surrogate" in result.error
    result.text.encode("utf-8")  # what goes back to the agent can be sent
    assert env.state_hash() == before


def test_a_surrogate_pair_spelled_in_json_is_text(clinic) -> None:
    env = clinic.environment(data=SPECS / "clinic.data.json")
    result = env.call("get_patient", '{"patient_id": "\\ud83d\\ude00"}')
    assert not result.ok and "surrogate" not in result.error and "😀" in result.error


def test_an_unknown_tool_named_with_a_surrogate_is_not_echoed_raw(clinic) -> None:
    env = clinic.environment(data=SPECS / "clinic.data.json")
    result = env.call("get_patient\ud800", {})
    assert result.error.startswith("unknown tool 'get_patient\\ud800'.")
    result.text.encode("utf-8")


def test_a_number_with_too_many_digits_is_a_failed_call(clinic) -> None:
    env = clinic.environment(data=SPECS / "clinic.data.json")
    result = env.call("get_patient", '{"patient_id": ' + "1" * 5000 + "}")
    assert not result.ok and not result.internal and "not valid JSON" in result.error
