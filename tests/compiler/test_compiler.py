"""Compiler rules, checked on small specs written inline."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envscale.api import compile_source
from envscale.runtime import lib
from envscale.runtime.domain import Domain
from envscale.runtime.errors import DataError, ToolError

HEADER = """
domain d "A test domain." clock "2024-05-15T12:00:00"
enum SlotStatus { open, booked }
enum InvoiceStatus { open, paid }
entity Plan { plan_id: str @key  pct: int }
entity Slot { slot_id: str @key  status: SlotStatus @default(open) }
entity Invoice {
  invoice_id: str @key
  status: InvoiceStatus @default(open)
  plan: Plan?
  slot: Slot?
  note: str @default("")
}
"""


def errors(body: str) -> list[str]:
    _, diagnostics, _ = compile_source(HEADER + body, "d.domain")
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity == "error"]


def compiled(body: str) -> dict[str, str]:
    files, diagnostics, _ = compile_source(HEADER + body, "d.domain")
    assert files is not None, [d.message for d in diagnostics]
    return files


DATA = {
    "Plan": [{"plan_id": "G", "pct": 80}],
    "Slot": [{"slot_id": "S1"}, {"slot_id": "S2", "status": "booked"}],
    "Invoice": [{"invoice_id": "I1", "plan": "G", "slot": "S1"}, {"invoice_id": "I2"}],
}


def environment(body: str):
    return Domain(compiled(body)).environment(data=DATA)


# ---- enum members that several enums share


def test_shared_enum_member_resolves_from_the_expected_type():
    env = environment("""
tool close(invoice_id: str, slot_id: str, status: InvoiceStatus = open) -> list<Slot>
    writes Slot, Invoice {
  let inv = Invoice[invoice_id]
  require inv.status == open else "invoice not open"
  require open == inv.status else "same, mirrored"
  require inv.status in [open, paid] else "unknown"
  let s = Slot[slot_id]
  set s.status = booked
  set inv.status = paid
  let wanted: SlotStatus = open
  insert Invoice(invoice_id: "I9", status: open)
  return Slot.where(status: wanted)
}
""")
    result = env.call("close", {"invoice_id": "I1", "slot_id": "S1"})
    assert result.ok, result.error
    assert result.content == []
    assert env.db.find("Invoice", "I9")["status"] == "open"
    assert env.db.find("Invoice", "I1")["status"] == "paid"


def test_shared_enum_member_without_an_expected_type_is_still_ambiguous():
    found = errors("tool t() -> bool { let x = open\n return true }")
    assert any(e.startswith("E108 'open' is a member of several enums") for e in found)


def test_shared_enum_member_default_resolves_from_the_field_type():
    assert errors("") == []  # the header's @default(open) on two different enums


# ---- looking records up by a reference


def test_entity_lookup_by_reference_field():
    env = environment("""
tool plan_pct(invoice_id: str) -> int {
  let inv = Invoice[invoice_id]
  let slot = Slot.get(inv.slot)
  require slot != none else "no slot"
  let plan = Plan.get(inv.plan)
  if plan == none { return 0 }
  return plan.pct
}
""")
    assert env.call("plan_pct", {"invoice_id": "I1"}).content == 80
    missing = env.call("plan_pct", {"invoice_id": "I2"})
    assert not missing.ok and missing.error == "no slot"


def test_lookup_by_optional_reference_needs_a_none_check():
    found = errors("tool t(invoice_id: str) -> Plan { return Plan[Invoice[invoice_id].plan] }")
    assert found == ["E201 key 'plan_id' of Plan: expected ref Plan, found ref Plan?"]


def test_lookup_by_reference_to_another_entity_is_an_error():
    found = errors(
        "tool t(invoice_id: str) -> Plan { let inv = Invoice[invoice_id]\n"
        'require inv.slot != none else "x"\n return Plan[inv.slot] }'
    )
    assert any("key 'plan_id' of Plan: expected str, found ref Slot" in e for e in found)


# ---- narrowing optional names after a none check


def test_optional_parameter_narrows_inside_a_none_check():
    env = environment("""
tool note(invoice_id: str, text: str? = none, extra: str? = none) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  if text != none and extra != none {
    set inv.note = text + extra
  } else if text == none {
    fail "give a text"
  } else {
    set inv.note = text
  }
  return inv
}
""")
    assert env.call("note", {"invoice_id": "I1", "text": "a", "extra": "b"}).content["note"] == "ab"
    assert env.call("note", {"invoice_id": "I1", "text": "c"}).content["note"] == "c"
    assert env.call("note", {"invoice_id": "I1"}).error == "give a text"


def test_require_and_early_fail_narrow_the_rest_of_the_block():
    assert (
        errors("""
tool a(invoice_id: str, text: str?) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  require text != none else "give a text"
  set inv.note = text
  return inv
}
tool b(invoice_id: str, text: str?) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  if text == none { fail "give a text" }
  set inv.note = text
  return inv
}
""")
        == []
    )


def test_optional_without_a_none_check_is_still_an_error():
    found = errors("""
tool a(invoice_id: str, text: str?) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  if text == none { set inv.note = "none" }
  set inv.note = text
  return inv
}
""")
    assert found == ["E201 assigned value: expected str, found str?"]


def test_narrowing_does_not_leak_out_of_the_branch():
    found = errors("""
tool a(invoice_id: str, text: str?) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  if text != none { set inv.note = text }
  set inv.note = text
  return inv
}
""")
    assert found == ["E201 assigned value: expected str, found str?"]


# ---- generated code


def test_negated_conditions_and_nested_ifs_read_naturally():
    files = compiled("""
tool t(invoice_id: str, flag: bool) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  require inv.status == open else "not open"
  require "x" not in inv.note else "has x"
  if flag {
    require inv.plan != none else "no plan"
  }
  if flag {
    if inv.slot != none { set inv.note = "both" }
  }
  return inv
}
""")
    tools = files["tools.py"]
    assert 'if inv["status"] != "open":' in tools
    assert 'if "x" in inv["note"]:' in tools
    assert 'if flag and inv["plan"] is None:' in tools
    assert 'if flag and inv["slot"] is not None:' in tools


@pytest.mark.parametrize(("flag", "note"), [(True, "both"), (False, "")])
def test_joined_nested_ifs_behave_as_written(flag, note):
    env = environment("""
tool t(invoice_id: str, flag: bool) -> Invoice writes Invoice {
  let inv = Invoice[invoice_id]
  if flag {
    if inv.slot != none { set inv.note = "both" }
  }
  if flag {
    require inv.plan != none else "no plan"
  }
  return inv
}
""")
    result = env.call("t", {"invoice_id": "I1", "flag": flag})
    assert result.ok and result.content["note"] == note
    assert env.call("t", {"invoice_id": "I2", "flag": True}).error == "no plan"
    assert env.call("t", {"invoice_id": "I2", "flag": False}).ok


def test_multiline_tool_doc_is_indented_in_the_docstring():
    files = compiled(
        'tool t() -> int {\n  """First line.\n  Second line.\n\n  Third."""\n  return 1\n}'
    )
    assert '    """First line.\n    Second line.\n\n    Third.\n' in files["tools.py"]


def test_enum_check_names_use_the_right_article():
    schema = compiled("")["schema.sql"]
    assert 'CONSTRAINT "Invoice.status is an InvoiceStatus"' in schema
    assert 'CONSTRAINT "Slot.status is a SlotStatus"' in schema


# ---- parameter choices, range, evaluate, get with a none default


def test_choices_are_offered_in_the_schema_and_checked_by_the_body():
    import json

    files = compiled("""
tool pick(invoice_id: str, reason: str @choices("late", "wrong") "Why") -> str {
  "Pick."
  let i = Invoice.get(invoice_id)
  require i != none else "invoice not found"
  require reason in ["late", "wrong"] else "invalid reason"
  return reason
}
""")
    schema = json.loads(files["tools.json"])[0]["function"]["parameters"]["properties"]["reason"]
    assert schema == {"type": "string", "enum": ["late", "wrong"], "description": "Why"}
    env = Domain(files).environment(data=DATA)
    # Not enforced before the body: the body's own checks decide which error comes first.
    assert env.call("pick", {"invoice_id": "nope", "reason": "other"}).error == "invoice not found"
    assert env.call("pick", {"invoice_id": "I1", "reason": "other"}).error == "invalid reason"
    assert env.call("pick", {"invoice_id": "I1", "reason": "late"}).content == "late"


@pytest.mark.parametrize(
    "param, message",
    [
        ("x: str @choices()", "'@choices' takes one or more values"),
        ("x: float @choices(1.5)", "'@choices' takes one or more values"),
        ('x: str @choices("a", 1)', "'@choices' values must be str literals"),
        ('x: str @choices("a", "a")', "'@choices' lists a value twice"),
        ("x: str @key", "unknown parameter attribute '@key'"),
    ],
)
def test_bad_choices_are_reported(param, message):
    found = errors(f'tool t({param}) -> str {{ "T." return "" }}')
    assert any(e.startswith("E302 " + message) for e in found), found


def test_range_and_get_with_a_none_default():
    env = environment("""
tool pairs(xs: list<str>, ys: map<str, int>) -> list<int> {
  "Pairs."
  let out: list<int> = []
  for k in range(len(xs)) {
    let v = get(ys, xs[k], none)
    if v != none {
      set out = out + [k * 100 + v]
    }
  }
  return out + range(2, 4)
}
""")
    assert env.call("pairs", {"xs": ["a", "b", "c"], "ys": {"a": 1, "c": 3}}).content == [
        1,
        203,
        2,
        3,
    ]


def test_range_needs_integers():
    assert any(
        e.startswith("E201 argument 1 of range()")
        for e in errors('tool t() -> list<int> { "T." return range("3") }')
    )


def test_evaluate_arithmetic_text():
    env = environment("""
tool calc(expression: str) -> str { "Calculate." return str(round(evaluate(expression), 2)) }
""")

    def calc(text: str) -> str:
        return env.call("calc", {"expression": text}).text

    assert calc("2 + 2") == "4.0"
    assert calc(" (1.5 + 2) * 3 / 7") == "1.5"
    assert calc("-2 ** 2 + 7 // 2") == "-1.0"
    assert calc("1 / 3") == "0.33"
    assert calc("2 + x") == "Error: invalid characters in expression"
    assert calc("__import__('os')") == "Error: invalid characters in expression"
    assert calc("1 / 0") == "Error: division by zero"
    assert calc("(1 + 2") == "Error: '(' was never closed (<string>, line 1)"
    assert calc("1 +* 2") == "Error: invalid syntax (<string>, line 1)"
    assert calc("()") == "Error: float() argument must be a string or a real number, not 'tuple'"
    assert calc("2 ** 100000") == "Error: exponent too large"


def _outcome(text: str) -> str:
    try:
        return repr(lib.evaluate(text))
    except ToolError as error:
        return f"error: {error.message}"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/(). ", max_size=12))
def test_evaluate_lets_no_parser_warning_out(text: str):
    """Python's parser may warn while it reads a text; evaluate answers as if warnings were
    silenced, even where they are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _outcome(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _outcome(text) == expected


def test_round_keeps_an_integer_an_integer():
    env = environment("""
tool r(x: float) -> float { "Round." return round(x, 2) }
""")
    assert env.call("r", {"x": 3}).text == "3"
    assert env.call("r", {"x": 2.675}).text == "2.67"


# ---- quoted enum members, free_key, add_days on text


def test_quoted_enum_members_hold_any_text():
    import json

    files = compiled("""
enum Status { available, "on time", delayed }
struct Day { status: Status }
tool pick(status: Status, day: Day) -> bool {
  "Pick."
  return status == "on time" and day.status != "on time"
}
""")
    schema = json.loads(files["tools.json"])[0]["function"]["parameters"]["properties"]["status"]
    assert schema["enum"] == ["available", "on time", "delayed"]
    env = Domain(files).environment(data=DATA)
    assert env.call("pick", {"status": "on time", "day": {"status": "delayed"}}).content is True
    assert not env.call("pick", {"status": "late", "day": {"status": "delayed"}}).ok
    assert any(
        e.startswith("E106 'late' is not a member of enum 'Status'")
        for e in errors("""
enum Status { available, "on time" }
tool t(s: Status) -> bool { "T." return s == "late" }
""")
    )


def test_free_key_counts_up_past_taken_keys_of_an_entity_or_a_map():
    env = environment("""
tool new_plan() -> Plan {
  "New plan."
  return insert Plan(plan_id: free_key(Plan, "G"), pct: 10)
}
tool codes(taken: map<str, int>, first: str) -> str {
  "Codes."
  return free_key(taken, first)
}
""")
    assert [env.call("new_plan").content["plan_id"] for _ in range(3)] == ["H", "I", "J"]
    assert env.domain.manifest.tools[0].reads == ["Plan"]

    def code(taken: list[str], first: str) -> str:
        return env.call("codes", {"taken": dict.fromkeys(taken, 1), "first": first}).text

    assert code([], "HATHAT") == "HATHAT"
    assert code(["HATHAT", "HATHAU"], "HATHAT") == "HATHAV"
    assert code(["HATHAZ"], "HATHAZ") == "HATHBA"
    assert code(["cert_3221329"], "cert_3221329") == "cert_3221330"
    assert code(["x_99"], "x_99") == "x_100"
    assert code(["zz"], "zz") == "aaa"
    assert code(["a-"], "a-") == "Error: 'a-' has no letters or digits to count up"


def test_free_key_needs_an_entity_or_a_map_with_str_keys():
    found = errors('tool t(xs: list<str>) -> str { "T." return free_key(xs, "A") }')
    assert any(e.startswith("E201 free_key() needs an entity or a map") for e in found), found


def test_add_days_takes_iso_text():
    env = environment("""
tool next_day(day: str) -> str { "Next." return str(add_days(day, 1)) }
""")
    assert env.call("next_day", {"day": "2024-05-31"}).content == "2024-06-01"
    assert env.call("next_day", {"day": "soon"}).text == "Error: 'soon' is not a date"


def test_row_invariant_on_its_own_fields_is_checked_on_changed_rows():
    body = """
invariant short_notes on Invoice: len(split(note, " ")) <= 2
  else format("note of {} is too long", invoice_id)
tool annotate(invoice_id: str, note: str) -> Invoice {
  "Annotate."
  let i = Invoice[invoice_id]
  set i.note = note
  return i
}
"""
    files = compiled(body)
    assert "written by the call" in files["tools.py"]
    assert 'db.all("Invoice") if every_row else db.affected("Invoice")' in files["tools.py"]
    bad = {**DATA, "Invoice": [{"invoice_id": "I1", "note": "one two three"}, {"invoice_id": "I2"}]}
    with pytest.raises(
        DataError,
        match="invariant 'short_notes' does not hold for Invoice 'I1': note of I1 is too long",
    ):
        Domain(files).environment(data=bad)
    data = {**DATA, "Invoice": [{"invoice_id": "I1", "note": "one two"}, {"invoice_id": "I2"}]}
    env = Domain(files).environment(data=data)
    assert env.call("annotate", {"invoice_id": "I2", "note": "a b"}).ok
    assert env.call("annotate", {"invoice_id": "I2", "note": "a b c"}).error == (
        "invariant 'short_notes' violated: note of I2 is too long"
    )
    assert env.call("annotate", {"invoice_id": "I2", "note": "c d"}).ok
    assert env.call("annotate", {"invoice_id": "I1", "note": "x y z"}).error == (
        "invariant 'short_notes' violated: note of I1 is too long"
    )


# ---- types that would pass check and then fail: refused at check, or made to work


def test_map_keys_are_str_or_an_enum():
    found = errors("entity M { m_id: str @key  by: map<int, str> }\n")
    assert found == ["E201 map keys must be str or an enum, not int"]


def test_a_field_holding_a_list_or_map_of_an_entity_holds_references():
    assert errors("entity M { m_id: str @key  plans: list<Plan>  by: map<str, Slot?> }\n") == []


def test_keys_that_refer_back_to_their_own_entity_are_refused():
    found = errors("entity A { b: B @key }\nentity B { a: A @key }\nentity C { c: C @key }\n")
    assert [e.split(" refers")[0] for e in found] == [
        "E305 the key 'b' of 'A'",
        "E305 the key 'a' of 'B'",
        "E305 the key 'c' of 'C'",
    ]


def test_an_empty_map_is_the_default_of_a_map_keyed_by_an_enum():
    compiled("entity M { m_id: str @key  by: map<SlotStatus, int> @default({}) }\n")


def test_a_reference_to_an_entity_keyed_by_a_reference_holds_the_final_key():
    files = compiled(
        "entity Num { n: int @key }\n"
        "entity Box { num: Num @key }\n"
        "entity Tag { t: str @key  box: Box }\n"
        "tool tag_box(t: str) -> Tag { return Tag[t] }\n"
    )
    assert '"box_id" INTEGER NOT NULL' in files["schema.sql"]
    assert "    box: int\n" in files["models.py"]
    env = Domain(files).environment(
        data={**DATA, "Num": [{"n": 7}], "Box": [{"num": 7}], "Tag": [{"t": "a", "box": 7}]}
    )
    assert env.call("tag_box", {"t": "a"}).content == {"t": "a", "box": 7}
