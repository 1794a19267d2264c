"""The spec-text attacks: small runs find nothing, and known defects are reported."""

from __future__ import annotations

import pytest

from envscale.compiler import pipeline
from envscale.dsl import diagnostics
from envscale.fuzz import spectext
from envscale.fuzz.report import ESCAPED_EXCEPTION, FAILED_LATER, WRONG_POSITION, Tally

SPEC = """domain shop "A shop."

entity Item {
  item_id: str @key
  price: float @check(price >= 0)
}

tool get_item(item_id: str) -> Item {
  "Get an item."
  return Item[item_id]
}
"""


@pytest.mark.parametrize("attack", spectext.ATTACKS, ids=lambda a: a.name)
def test_a_small_run_finds_nothing(attack) -> None:
    tally = attack.run(25, 3)
    assert tally.tried == 25
    assert tally.problems == 0, tally.examples


def test_mutants_are_rebuilt_from_their_name() -> None:
    one = spectext.mutant("spectext.tokens", 7, 11)
    again = spectext.mutant("spectext.tokens", 7, 11)
    assert one.text == again.text and one.how == again.how
    assert "mutant('spectext.tokens', 7, 11)" in one.reproducer


def test_a_clean_text_is_run_end_to_end_without_problems() -> None:
    tally = Tally("t")
    spectext.judge(SPEC, tally)
    assert tally.problems == 0, tally.examples


def test_a_check_that_crashes_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(c) -> None:
        if "Item" in c.symbols.entities:
            raise ZeroDivisionError("a deliberate crash")

    monkeypatch.setattr(pipeline, "CHECKS", [*pipeline.CHECKS, crash])
    tally = Tally("t")
    spectext.judge(SPEC, tally)
    assert tally.counts == {ESCAPED_EXCEPTION: 1}
    assert "ZeroDivisionError: a deliberate crash" in tally.examples[0].detail


def test_a_name_that_checks_clean_and_breaks_later_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the names pass, a parameter with a leading underscore checks clean and then
    # cannot be loaded: pydantic refuses it.
    checks = [p for p in pipeline.CHECKS if p.__name__ != "check_names"]
    monkeypatch.setattr(pipeline, "CHECKS", checks)
    tally = Tally("t")
    spectext.judge(SPEC.replace("(item_id: str)", "(item_id: str, _limit: int = 1)"), tally)
    assert tally.counts == {FAILED_LATER: 1}
    assert "load the domain" in tally.examples[0].detail


def test_a_diagnostic_on_a_shifted_line_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rendering by str.splitlines shows another line after a form feed.
    monkeypatch.setattr(diagnostics, "source_lines", lambda text: text.splitlines())
    tally = Tally("t")
    spectext.judge(SPEC.replace("A shop.", "A shop.\f").replace("float", "flaot"), tally)
    assert tally.counts == {WRONG_POSITION: 1}


def test_text_that_is_no_utf8_must_give_e004() -> None:
    mutants = (spectext.mutant("spectext.bytes", 0, i) for i in range(400))
    unreadable = next(m for m in mutants if m.text is None)
    tally = Tally("t")
    spectext._Runner(tally).run(unreadable)
    assert tally.problems == 0
