"""The quick paths of a tool call give what the plain ones give: shown forms compiled per
shape, results copied through orjson, lib.copy, the rows a call keeps, and tools that write
nothing run without a savepoint."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envscale
from envscale.records import Shape
from envscale.runtime import lib
from envscale.runtime.environment import INTERNAL_ERRORS
from envscale.runtime.limits import DEFAULT_LIMITS, Limits, result_copy, result_text
from envscale.runtime.shown import Shower

SPECS = Path(__file__).resolve().parents[2] / "specs"
CLINIC_DATA = json.loads((SPECS / "clinic.data.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def clinic() -> envscale.Domain:
    return envscale.load(SPECS / "clinic.domain")


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values and of the same types: 1 and 1.0 differ, and so do 0.0 and -0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("spec", ["clinic", "delivery", "telecom"])
@pytest.mark.parametrize("hide", [True, False])
def test_compiled_shown_forms_are_those_of_show(spec: str, hide: bool):
    domain = envscale.load(SPECS / f"{spec}.domain")
    data = json.loads((SPECS / f"{spec}.data.json").read_text(encoding="utf-8"))
    records = domain.environment(data=data).export()
    shower = Shower(domain.manifest, hide=hide)
    for entity in domain.manifest.entities:
        rows = records.get(entity, [])
        row = Shape(row=entity)
        for shape, value in [
            *((row, r) for r in rows),
            (row, None),
            (Shape(list=row), rows),
            (Shape(map=row), {str(i): r for i, r in enumerate(rows)}),
        ]:
            show = shower.compiled(shape)
            assert (value if show is None else show(value)) == shower.show(shape, value)
    for tool in domain.manifest.tools:
        show = shower.compiled(tool.returns_shape)
        assert (show is None) == (not shower.needs_work(tool.returns_shape))


def test_compiled_shown_forms_leave_out_what_show_leaves_out(clinic: envscale.Domain):
    env = clinic.environment(data=CLINIC_DATA)
    shower = Shower(clinic.manifest, hide=True)
    for entity, rows in env.export().items():
        shape = Shape(row=entity)
        show = shower.compiled(shape)
        for row in rows:
            # Sparse fields set to none, and fields the shape does not know, are left out.
            odd = {**row, "not_a_field": 1, **{f: None for f in row}}
            assert (odd if show is None else show(odd)) == shower.show(shape, odd)
            assert (row if show is None else show(row)) == shower.show(shape, row)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["NaN", "null", "\ud800", "Infinity"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.dictionaries(st.integers(-3, 3) | st.booleans(), inner, max_size=2)
        | st.tuples(inner, inner)
    ),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_a_result_copy_is_what_jsons_round_trip_makes(value: Any):
    try:
        text = result_text(value, DEFAULT_LIMITS)
    except Exception as error:  # json cannot write it: neither can the copy
        with pytest.raises(type(error)):
            result_copy(value, DEFAULT_LIMITS)
        return
    copied = result_copy(value, DEFAULT_LIMITS)
    assert _same(copied, json.loads(text))


def test_a_result_copy_keeps_the_result_limit():
    tight = Limits(result_bytes=60)
    value = {"items": ["x" * 10, "y" * 10, "z" * 10]}  # 53 bytes of json's JSON
    assert result_copy(value, tight) == value
    value["items"].append("w" * 10)  # 67 bytes
    with pytest.raises(lib.ToolError, match="the result is 67 bytes of JSON"):
        result_copy(value, tight)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_lib_copy_is_a_deep_copy(value: Any):
    copied = lib.copy(value)
    assert _same(copied, copy.deepcopy(value))
    if isinstance(value, dict | list) and value:
        assert copied is not value


def test_lib_copy_shares_nothing_mutable():
    value = {"a": [{"b": [1, 2]}], "c": {"d": {}}}
    copied = lib.copy(value)
    copied["a"][0]["b"].append(3)
    copied["c"]["d"]["e"] = 1
    assert value == {"a": [{"b": [1, 2]}], "c": {"d": {}}}


def test_rows_kept_by_a_call_do_not_outlive_it(clinic: envscale.Domain):
    """Outside a call every read goes to SQLite, so a savepoint that other code rolls back
    (data generation does) is seen at once."""
    env = clinic.environment(data=CLINIC_DATA)
    assert env.call("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}).ok
    phone = {"patient_id": "P001", "phone": "5550100999"}
    assert env.call("update_contact", phone).ok
    assert env.db.find("Patient", "P001")["phone"] == "5550100999"
    env.connection.execute("SAVEPOINT outside")
    record = env.db.find("Patient", "P001")
    record["phone"] = "5550100777"
    env.db.update("Patient", record, "phone")
    assert env.db.find("Patient", "P001")["phone"] == "5550100777"
    env.connection.execute("ROLLBACK TO outside")
    env.connection.execute("RELEASE outside")
    assert env.db.find("Patient", "P001")["phone"] == "5550100999"
    assert env.db._rows is None


def test_a_refused_write_leaves_the_rows_as_they_were(clinic: envscale.Domain):
    env = clinic.environment(data=CLINIC_DATA)
    before = (env.state_hash(), env.export())
    refused = env.call("cancel_appointment", {"appointment_id": "A0004", "reason": "nope"})
    assert not refused.ok
    assert (env.state_hash(), env.export()) == before
    assert env.diff() == []


@pytest.mark.internal_errors_expected
def test_a_tool_that_declares_no_writes_cannot_write(
    clinic: envscale.Domain, monkeypatch: pytest.MonkeyPatch
):
    env = clinic.environment(data=CLINIC_DATA)
    assert "get_patient" in env.read_only_tools and "update_contact" not in env.read_only_tools
    real = clinic.tools_module.TOOLS["get_patient"]

    def writes(db: lib.Db, patient_id: str) -> dict:
        record = real(db, patient_id)
        record["phone"] = "5550100777"
        db.update("Patient", record, "phone")
        return record

    monkeypatch.setitem(clinic.tools_module.TOOLS, "get_patient", writes)
    before, count = (env.state_hash(), env.export()), INTERNAL_ERRORS.count
    result = env.call("get_patient", {"patient_id": "P001"})
    assert not result.ok and result.internal
    assert "a tool that declares no writes wrote Patient" in result.error
    assert (env.state_hash(), env.export()) == before and env.diff() == []
    assert INTERNAL_ERRORS.count == count + 1
    monkeypatch.undo()
    assert env.call("get_patient", {"patient_id": "P001"}).ok
    assert env.db.writable


def test_a_read_tool_returns_a_found_record_without_copying_it(
    clinic: envscale.Domain, monkeypatch: pytest.MonkeyPatch
):
    """`get_patient` returns the record `db.get` decoded: the result is what the copy would
    have made, shares nothing with a later call's, and is not copied again."""
    env = clinic.environment(data=CLINIC_DATA)
    expected = result_copy(
        clinic.show_result("get_patient", env.db.find("Patient", "P001")), DEFAULT_LIMITS
    )
    copies: list[Any] = []

    def counted(value: Any, limits: Limits) -> Any:
        copies.append(value)
        return result_copy(value, limits)

    monkeypatch.setattr("envscale.runtime.environment.result_copy", counted)
    first = env.call("get_patient", {"patient_id": "P001"})
    assert first.ok and _same(first.content, expected) and copies == []
    for value in first.content.values():
        if isinstance(value, list):
            value.append("changed")
    again = env.call("get_patient", {"patient_id": "P001"})
    assert _same(again.content, expected)
    # A tool that writes returns a copy: its record is the one the checks after it read.
    assert env.call("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}).ok
    copies.clear()
    assert env.call("update_contact", {"patient_id": "P001", "phone": "5550100999"}).ok
    assert len(copies) == 1


def test_a_found_record_too_long_for_the_result_limit_is_measured(clinic: envscale.Domain):
    env = clinic.environment(data=CLINIC_DATA)
    text = result_text(
        clinic.show_result("get_patient", env.db.find("Patient", "P001")), DEFAULT_LIMITS
    )
    size = len(text.encode("utf-8"))
    for limit, ok in ((size, True), (size - 1, False)):
        small = clinic.environment(data=CLINIC_DATA, limits=Limits(result_bytes=limit))
        result = small.call("get_patient", {"patient_id": "P001"})
        assert result.ok is ok
        if not ok:
            assert f"the result is {size} bytes of JSON" in (result.error or "")
