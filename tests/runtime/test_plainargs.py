"""The one-pass argument check (`runtime/plainargs.py`) agrees with the full one: whatever it
accepts, the full way accepts with the same values; and a call answers alike, error
messages included, whichever way its arguments go."""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict, Field, StringConstraints

import envscale
from envscale.runtime.errors import ToolError
from envscale.runtime.limits import DEFAULT_LIMITS, Limits, admit_arguments
from envscale.runtime.plainargs import plain_check

SPECS = Path(__file__).resolve().parents[2] / "specs"
Date = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class Mixed(pydantic.BaseModel):
    """Every kind the one pass takes, with defaults."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    count: int = 3
    price: float | None = None
    ok: bool = False
    kind: Literal["a", "b"] = "a"
    day: Date = "2024-01-01"
    ids: list[str] = Field(default_factory=list)
    amounts: list[float] = [1, 2.5]


class WithStruct(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    inner: Mixed


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 and 1.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def _full(model: type[pydantic.BaseModel], arguments: dict, limits: Limits) -> Any:
    """What the full way makes of the arguments: (values, checked), or the error."""
    try:
        admitted = admit_arguments(arguments, limits)
        validated = model.model_validate(admitted)
    except (ToolError, pydantic.ValidationError) as error:
        return error
    checked = {}
    for key in model.model_fields:
        value = getattr(validated, key)
        checked[key] = value.model_dump() if isinstance(value, pydantic.BaseModel) else value
        if isinstance(value, list):
            checked[key] = list(value)
    return [admitted.get(key, value) for key, value in checked.items()], checked


_ODD_TEXT = st.sampled_from(["", "x" * 40, "\ud800", "é", "2024-01-01", "2024-1-01", "a\n", "a"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    _ODD_TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)
_LIMITS = st.one_of(
    st.just(DEFAULT_LIMITS),
    st.builds(
        Limits,
        argument_bytes=st.integers(1, 400),
        depth=st.integers(1, 3),
        string_length=st.integers(1, 12),
        list_length=st.integers(1, 4),
    ),
)


def _literals(annotation: Any) -> list[str]:
    """The texts of the Literal types anywhere in an annotation."""
    found = [a for a in typing.get_args(annotation) if isinstance(a, str)]
    if typing.get_origin(annotation) is Literal:
        return found
    return [t for a in typing.get_args(annotation) for t in _literals(a)]


def _arguments(model: type[pydantic.BaseModel]) -> st.SearchStrategy[dict]:
    """Arguments of the model's names (and one more), mostly of the kinds it declares."""
    names = [*model.model_fields, "extra"]
    words = [w for info in model.model_fields.values() for w in _literals(info.annotation)]
    item = st.one_of(
        st.text(max_size=6),
        st.integers(-3, 3),
        st.floats(-3, 3),
        st.sampled_from(["2024-01-01", "2024-01-01T10:00:00", *words]),
    )
    plausible = st.one_of(item, st.booleans(), st.none(), st.lists(item, max_size=3))
    return st.dictionaries(
        st.sampled_from(names), st.one_of(plausible, plausible, _VALUES), max_size=len(names)
    )


def _models() -> list[type[pydantic.BaseModel]]:
    models: list[type[pydantic.BaseModel]] = [Mixed, WithStruct]
    for spec in ("retail", "airline", "clinic", "telecom"):
        models.extend(envscale.load(SPECS / f"{spec}.domain").models.ARGUMENTS.values())
    return models


MODELS = _models()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), limits=_LIMITS)
def test_what_the_one_pass_accepts_the_full_way_accepts_alike(data: st.DataObject, limits: Limits):
    model = data.draw(st.one_of(st.just(Mixed), st.sampled_from(MODELS)))
    check = plain_check(model)
    if check is None:
        return
    arguments = data.draw(_arguments(model))
    fast = check(arguments, limits)
    if fast is None:
        return
    full = _full(model, arguments, limits)
    assert not isinstance(full, Exception), (arguments, full)
    values, checked = fast
    assert _same(values, full[0]) and _same(checked, full[1])
    for name, value in zip(model.model_fields, values, strict=True):
        if name in arguments:
            assert value is arguments[name]  # as sent


def test_the_one_pass_takes_plain_calls_and_leaves_the_rest():
    check = plain_check(Mixed)
    assert check is not None and plain_check(WithStruct) is None
    accepted = check({"name": "n", "price": 2, "ids": ["a"]}, DEFAULT_LIMITS)
    assert accepted is not None
    values, checked = accepted
    assert values[2] == 2 and type(values[2]) is int  # as sent
    assert checked["price"] == 2.0 and type(checked["price"]) is float  # as validated
    assert values[7] == [1, 2.5] and values[7] is checked["amounts"]
    for refused in (
        {},
        {"name": 1},
        {"name": "n", "extra": 1},
        {"name": "n", "count": True},
        {"name": "n", "day": "2024-01-01\n"},
        {"name": "n", "kind": "c"},
        {"name": "n", "price": math.inf},
        {"name": "\ud800"},
        {"name": "n", "count": 2**63},
    ):
        assert check(refused, DEFAULT_LIMITS) is None, refused


CLINIC_DATA = json.loads((SPECS / "clinic.data.json").read_text(encoding="utf-8"))
# Texts a clinic call may name: every string of the data, so calls find records too.
_KNOWN = sorted(
    {
        value
        for records in CLINIC_DATA.values()
        for record in (records.values() if isinstance(records, dict) else records)
        for value in record.values()
        if isinstance(value, str) and len(value) < 40
    }
)


@pytest.fixture(scope="module")
def clinic() -> envscale.Domain:
    return envscale.load(SPECS / "clinic.domain")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), limits=_LIMITS)
def test_a_call_answers_alike_whichever_way_its_arguments_go(
    clinic: envscale.Domain, data: st.DataObject, limits: Limits
):
    tool = data.draw(st.sampled_from(sorted(clinic.models.ARGUMENTS)))
    names = [*clinic.models.ARGUMENTS[tool].model_fields, "extra"]
    value = st.one_of(_VALUES, st.sampled_from(_KNOWN), st.lists(st.sampled_from(_KNOWN)))
    arguments = data.draw(st.dictionaries(st.sampled_from(names), value, max_size=len(names)))
    answers = []
    for plain in (True, False):
        env = clinic.environment(data=CLINIC_DATA, limits=limits)
        env.plain_arguments = plain
        result = env.call(tool, arguments)
        answers.append((repr(result.to_dict()), env.state_hash(), repr(env.monitor.bound_values)))
        env.close()
    assert answers[0] == answers[1]
