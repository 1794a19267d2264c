"""Compiler rules, checked on small specs written inline."""

from __future__ import annotations

import pytest

from envscale.api import compile_source
from envscale.runtime.domain import Domain

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


DATA = {"Plan": [{"plan_id": "G", "pct": 80}], "Slot": [{"slot_id": "S1"}, {"slot_id": "S2", "status": "booked"}],
        "Invoice": [{"invoice_id": "I1", "plan": "G", "slot": "S1"}, {"invoice_id": "I2"}]}


def environment(body: str):
    return Domain(compiled(body)).environment(data=DATA)


# ---- enum members that several enums share


def test_shared_enum_member_resolves_from_the_expected_type():
    env = environment("""
tool close(invoice_id: str, slot_id: str, status: InvoiceStatus = open) -> list<Slot> writes Slot, Invoice {
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
    found = errors('tool t() -> bool { let x = open\n return true }')
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
    found = errors("tool t(invoice_id: str) -> Plan { let inv = Invoice[invoice_id]\n"
                   "require inv.slot != none else \"x\"\n return Plan[inv.slot] }")
    assert any("key 'plan_id' of Plan: expected str, found ref Slot?" in e for e in found)


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
    assert errors("""
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
""") == []


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
    assert "if (inv['status'] != 'open'):" in tools
    assert "if ('x' in inv['note']):" in tools
    assert "if flag and (inv['plan'] is None):" in tools
    assert "if flag and (inv['slot'] is not None):" in tools


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
    files = compiled('tool t() -> int {\n  """First line.\n  Second line.\n\n  Third."""\n  return 1\n}')
    assert '    """First line.\n    Second line.\n\n    Third.\n' in files["tools.py"]


def test_enum_check_names_use_the_right_article():
    schema = compiled("")["schema.sql"]
    assert 'CONSTRAINT "Invoice.status is an InvoiceStatus"' in schema
    assert 'CONSTRAINT "Slot.status is a SlotStatus"' in schema
