"""The tool-call fuzzer, small: every attack class runs clean on the shipped specs, and each
invariant it checks is reported when the environment is broken on purpose."""

from __future__ import annotations

import pytest

from envscale.fuzz import calls
from envscale.fuzz.report import ESCAPED_EXCEPTION, HASH_EXPORT, STATE_CHANGED
from envscale.fuzz.targets import TARGET_NAMES, target
from envscale.runtime.environment import Environment

ATTACKS = {a.name: a for a in calls.ATTACKS}


def test_every_attack_class_is_there() -> None:
    assert set(ATTACKS) == {*calls.MUTATIONS, "calls.sequences"}
    assert all(a.unit == "calls" for a in calls.ATTACKS)


def test_targets_have_valid_calls_for_every_tool() -> None:
    for name in TARGET_NAMES:
        found = target(name)
        assert found.chains and found.env.state_hash() == found.base_hash
        # Tools without a known good call still get plausible arguments from the schema.
        assert len(found.valid) >= len(found.schemas) // 2, name


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_class_runs_clean(name: str) -> None:
    tally = ATTACKS[name].run(120, 7)
    assert tally.tried == 120
    shown = tally.examples
    assert not shown, "\n".join(f"{p.kind}: {p.detail}\n  {p.reproducer}" for p in shown)


def test_a_failed_call_that_changes_the_state_is_reported(monkeypatch) -> None:
    rollback = Environment._rollback

    def leave_a_trace(self: Environment, name: str, message: str, saved: bool = True):
        result = rollback(self, name, message, saved)
        if self.domain.name == "clinic":  # a write behind the journal: only the export sees it
            self.connection.execute('UPDATE "Patient" SET "address" = "address" || \'!\'')
        return result

    monkeypatch.setattr(Environment, "_rollback", leave_a_trace)
    tally = ATTACKS["calls.strings"].run(90, 0)
    assert tally.counts.get(STATE_CHANGED, 0) > 0
    assert any(p.detail.startswith("export changed") for p in tally.examples)


def test_an_exception_out_of_call_is_reported(monkeypatch) -> None:
    def explode(self: Environment, name, arguments=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(Environment, "call", explode)
    tally = ATTACKS["calls.types"].run(30, 0)
    assert tally.counts.get(ESCAPED_EXCEPTION) == 30
    assert "RuntimeError: boom" in tally.examples[0].detail
    assert "env.call(" in tally.examples[0].reproducer


@pytest.mark.internal_errors_expected
def test_an_internal_error_is_reported_with_its_detail(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise KeyError("not data")

    for name in TARGET_NAMES:
        tools = target(name).domain.tools_module.TOOLS
        for tool in list(tools):
            monkeypatch.setitem(tools, tool, broken)
    tally = ATTACKS["calls.shape"].run(120, 0)
    assert tally.counts.get(ESCAPED_EXCEPTION, 0) > 0
    assert any("internal error: KeyError" in p.detail for p in tally.examples)


def test_a_hash_blind_to_a_change_is_a_hash_export_disagreement(monkeypatch) -> None:
    monkeypatch.setattr(Environment, "state_hash", lambda self: "0" * 64)
    tally = ATTACKS["calls.sequences"].run(300, 1)
    assert tally.counts.get(HASH_EXPORT, 0) > 0


def test_a_result_that_cannot_be_encoded_is_reported(monkeypatch) -> None:
    original = Environment.call

    def echo(self: Environment, name, arguments=None):
        result = original(self, name, arguments)
        result.ok, result.error = False, "\ud800 not found"
        return result

    monkeypatch.setattr(Environment, "call", echo)
    tally = ATTACKS["calls.types"].run(10, 0)
    assert any("cannot be sent" in p.detail for p in tally.examples)


def test_reproducers_stay_short_for_huge_values() -> None:
    text = calls.reproducer("retail", "think", {"thought": "ab" * 100_000})
    assert "'abababab' * 25000" in text and len(text) < 200
    assert "2**" in calls.describe(10**4000)
    assert "... 5000 items" in calls.describe(list(range(5000)))
