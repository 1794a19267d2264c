"""Facts the IR carries for later stages, read off the checked spec rather than generated text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envscale.api import compile_file
from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS, CONSTANT_CALLS, SQL_FUNCTIONS
from envscale.compiler.codegen.manifest import manifest
from envscale.compiler.pipeline import analyze
from envscale.runtime import lib
from envscale.runtime.database import Db

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
domain d "Keys." clock "2024-05-15T12:00:00"
entity Order { order_id: str @key  status: str  owner: str }
entity Ticket { code: str @key  owner: str }
entity Note { note_id: str @key  text: str }
entity Seat { seat: int @key }
tool open_order(owner: str, prefix: str) -> Order writes Order, Note {
  let one = next_key(Order, prefix)
  insert Note(note_id: next_key(Note, "N", 3), text: one)
  insert Note(note_id: next_key(Note, "M", 5), text: one)
  return insert Order(order_id: next_key(Order, "ORD", 4), status: "open", owner: owner)
}
tool find(owner: str) -> list<Order> {
  let open = Order.where(owner: owner, status: "open")
  let again = Order.where(status: "open", owner: owner)
  let same = Order.where(owner: owner, status: "x")
  return Order.where(owner: owner) + Order.all()
}
tool issue(owner: str) -> Ticket writes Ticket, Order {
  insert Order(order_id: free_key(Order, "O-AA"), status: "x", owner: owner)
  return insert Ticket(code: free_key(Ticket, "T-A9"), owner: owner)
}
invariant owned: len(Ticket.where(owner: "nobody")) == 0 else "tickets need owners"
"""


def domain() -> ir.DomainIR:
    c = analyze(SPEC, "d.domain")
    assert not c.diagnostics.has_errors, [d.message for d in c.diagnostics]
    return c.ir


def test_key_formats_are_the_first_literal_next_key_else_free_key() -> None:
    formats = domain().key_formats
    assert formats == {
        "Order": ir.KeyFormat(prefix="ORD", width=4),  # next_key wins over the earlier free_key
        "Ticket": ir.KeyFormat(first="T-A9"),
        "Note": ir.KeyFormat(prefix="N", width=3),  # the first call in the tools' order
    }


def test_key_formats_reach_the_manifest() -> None:
    assert manifest(domain())["key_formats"] == {
        "Order": {"prefix": "ORD", "width": 4},
        "Ticket": {"first": "T-A9"},
        "Note": {"prefix": "N", "width": 3},
    }
    spec = ROOT / "specs" / "clinic.domain"
    clinic = analyze(spec.read_text(encoding="utf-8"), str(spec), spec)
    assert manifest(clinic.ir)["key_formats"]["Invoice"] == {"prefix": "INV", "width": 4}


def test_queried_field_tuples_in_first_use_order() -> None:
    tables = {table.entity: table for table in domain().tables}
    assert tables["Order"].queried == [("owner", "status"), ("status", "owner"), ("owner",)]
    assert tables["Ticket"].queried == [("owner",)]
    assert tables["Note"].queried == []


def test_runtime_invariants_are_those_sql_cannot_hold() -> None:
    d = domain()
    assert [inv.name for inv in d.runtime_invariants] == ["owned"]


def test_every_builtin_says_its_result_type_or_computes_it() -> None:
    for builtin in BUILTINS.values():
        assert builtin.returns is not None or builtin.check is not None, builtin.name
        assert builtin.min_args <= builtin.max_args
        assert len(builtin.params) <= builtin.max_args
        # What generated code calls exists where compiled tools find it.
        plain = builtin.python.format(name=builtin.name) if builtin.python else None
        assert plain is not None or builtin.on_entity is not None, builtin.name
        for function in (plain, builtin.several, builtin.on_entity):
            if function is not None:
                owner, name = function.split(".")
                assert hasattr({"lib": lib, "db": Db}[owner], name), function
    # Only those whose SQL means what the language means (SQLite's lower/upper are ASCII-only,
    # its round goes half away from zero): the others keep a check out of SQL.
    assert SQL_FUNCTIONS == {"abs": "abs", "len": "length"}
    assert {"now", "today"} == CONSTANT_CALLS


@pytest.mark.parametrize(
    ("call", "result"),
    [
        ('split(s, ",")', t.ListT(t.STR)),
        ("abs(-2)", t.INT),
        ("abs(2.5)", t.FLOAT),
        ("sum([1, 2])", t.INT),
        ('keys({"a": 1})', t.ListT(t.STR)),
        ('add_days("2024-01-01", 1)', t.DATE),
        ("max(1, 2.5)", t.FLOAT),
        ("next_key(Order, s)", t.STR),
        ("free_key(Order, s)", t.STR),
        ("count([s])", t.INT),
    ],
)
def test_builtin_result_types(call: str, result: t.Type) -> None:
    c = analyze(SPEC + f"tool probe(s: str) {{ let x = {call} }}", "d.domain")
    assert not c.diagnostics.has_errors, [d.message for d in c.diagnostics]
    let = c.symbols.tools["probe"].decl.body[0]
    assert c.type_of(let.value) == result  # type: ignore[union-attr]


def test_a_builtin_keyword_it_does_not_take_is_an_error() -> None:
    c = analyze(SPEC + 'tool probe() -> str { return next_key(Order, "A", width: 3) }', "d.domain")
    assert [d.message for d in c.diagnostics] == ["next_key() has no argument 'width'"]


def test_loading_a_compiled_domain_needs_no_code_generator(tmp_path: Path) -> None:
    files, _, _ = compile_file(ROOT / "specs" / "clinic.domain")
    assert files is not None
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    code = (
        "import sys; from envscale.runtime.domain import Domain; "
        "Domain.from_dir(sys.argv[1]).environment().call('get_patient', {'patient_id': 'x'}); "
        "print(sorted(m for m in sys.modules if m == 'jinja2' or "
        "m.startswith('envscale.compiler.codegen')"
        " or m.startswith('envscale.dsl.parser')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert json.loads(done.stdout.replace("'", '"')) == []
