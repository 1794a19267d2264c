"""Derived fields, hidden fields and transitions at compile time: syntax, checks, IR, output."""

from __future__ import annotations

import json
import subprocess

import pytest

from envscale.api import compile_source
from envscale.compiler.pipeline import analyze
from envscale.dsl import ast
from envscale.dsl.fastparse import parse_fast
from envscale.dsl.parser import parse_with_lark

from .test_codegen_golden import RUFF_RULES, RUFF_SELECT, _ruff

TOTALS = (
    '  totals: map<str, float> @derived({"items": sum([i.price * i.quantity for i in items])})\n'
)
TOTAL = '  total: float @derived(totals["items"])\n'
HEADER = (
    """
domain d "A test domain."
enum Status { open, held, closed }
struct Item { price: float  quantity: int @default(1) }
entity Order {
  order_id: str @key
  status: Status @default(open)
  items: list<Item>
"""
    + TOTALS
    + TOTAL
    + "}\n"
)
TOOLS = """
tool add_item(order_id: str, item: Item) -> Order {
  "Add an item."
  let o = Order[order_id]
  set o.items = o.items + [item]
  set o.status = held
  return o
}
"""


def errors(body: str) -> list[str]:
    _, diagnostics, _ = compile_source(HEADER + body, "d.domain")
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity == "error"]


@pytest.mark.parametrize(
    "text",
    [
        "transitions Order.status { open -> held -> closed }",
        "transitions Order.status { open -> held; held -> closed; }",
        'transitions Order.status { open, "held" -> closed\n open -> held }',
        "transitions Order.status { open -> closed closed }",
    ],
)
def test_both_parsers_read_transitions_alike(text: str) -> None:
    source = HEADER + text
    module, diagnostics = parse_with_lark(source, "t.domain")
    assert module is not None, diagnostics
    assert parse_fast(source, "t.domain") == module.declarations
    assert isinstance(module.declarations[-1], ast.Transitions)


def test_transitions_that_do_not_parse_are_syntax_errors() -> None:
    assert errors("transitions Order.status { }")[0].startswith("E001")
    assert errors("transitions Order.status { open -> }")[0].startswith("E001")


def test_moves_of_a_chain_join_every_state_of_a_group_to_every_state_of_the_next() -> None:
    files, diagnostics, _ = compile_source(
        HEADER + "transitions Order.status { open, held -> closed; open -> held }", "d.domain"
    )
    assert files is not None, [d.message for d in diagnostics]
    moves = json.loads(files["manifest.json"])["transitions"]
    assert moves == {"Order.status": {"open": ["held", "closed"], "held": ["closed"], "closed": []}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("transitions Ordr.status { open -> held -> closed }", "E102 unknown entity 'Ordr'"),
        ("transitions Order.stat { open -> held -> closed }", "E103 'Order' has no field 'stat'"),
        ("transitions Order.total { open -> held -> closed }", "E713 transitions need"),
        ("transitions Order.status { open -> held -> shut closed }", "E106 'shut' is not"),
        ("transitions Order.status { open -> held }", "E713 the transitions of Order.status leave"),
    ],
)
def test_transitions_are_checked_against_the_field_and_its_enum(body: str, code: str) -> None:
    assert any(e.startswith(code) for e in errors(body)), errors(body)


def test_a_derived_field_is_written_by_no_statement() -> None:
    set_error = errors(
        """tool t(order_id: str) -> Order {
  "Change it."
  let o = Order[order_id]
  set o.totals["items"] = 0.0
  return o
}"""
    )
    assert set_error == ["E710 'totals' of Order is derived and cannot be written"]
    delete_error = errors(
        """tool t(order_id: str) -> Order {
  "Change it."
  let o = Order[order_id]
  delete o.totals["items"]
  return o
}"""
    )
    assert delete_error == ["E710 'totals' of Order is derived and cannot be written"]
    assert (
        errors(
            """tool t(order_id: str) -> Order {
  "Make one."
  return insert Order(order_id: order_id, items: [])
}"""
        )
        == []
    )


def test_derived_and_hidden_attributes_are_checked() -> None:
    assert errors("struct Bad { x: int @derived(1) }") == [
        "E302 '@derived' is not allowed on a struct field"
    ]
    assert errors('entity E { e_id: str @key  n: int @derived("x") }')[0].startswith("E201")
    assert errors("entity E { e_id: str @key  n: int @derived(n + 1) }") == [
        "E711 derived fields of 'E' depend on each other: n -> n"
    ]
    assert errors("entity E { e_id: str @key @derived(e_id)  n: int }")[0].startswith("E712")
    assert errors("entity E { e_id: str @key  n: int @hidden(1) }")[0].startswith("E302")


def test_derived_fields_are_computed_in_dependency_order_whatever_the_declaration_order() -> None:
    c = analyze(HEADER, "d.domain")
    assert c.ir is not None
    assert c.ir.table("Order").derived == ["totals", "total"]
    reordered = HEADER.replace(TOTALS + TOTAL, TOTAL + TOTALS)
    assert reordered != HEADER
    c = analyze(reordered, "d.domain")
    assert c.ir is not None
    assert c.ir.table("Order").derived == ["totals", "total"]


def test_a_spec_without_them_keeps_its_manifest_format() -> None:
    files, _, _ = compile_source('domain d "x"\nentity E { e_id: str @key }', "d.domain")
    assert files is not None
    assert json.loads(files["manifest.json"])["format"] == 1
    assert "DERIVED" not in files["tools.py"]


def test_generated_code_of_derived_fields_is_ruff_formatted_and_clean(tmp_path) -> None:
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed next to the interpreter or on PATH")
    files, diagnostics, _ = compile_source(HEADER + TOOLS, "d.domain")
    assert files is not None, [d.message for d in diagnostics]
    assert "def derive_Order_total(db: lib.Db, row: dict) -> float:" in files["tools.py"]
    for name in ("tools.py", "models.py"):
        (tmp_path / name).write_text(files[name], encoding="utf-8")
    for command in (
        [ruff, "format", "--check", "--diff", "--no-cache", *RUFF_RULES, str(tmp_path)],
        [ruff, "check", "--no-cache", *RUFF_RULES, *RUFF_SELECT, str(tmp_path)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
