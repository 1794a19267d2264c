"""Names, literals and sizes: what the generated code accepts by being written differently,
and what check refuses (the refusals' texts are golden cases in tests/dsl/golden)."""

from __future__ import annotations

import warnings

import pytest

from envscale.compiler.build import compile_source
from envscale.runtime.domain import Domain


def _domain(source: str) -> Domain:
    files, diagnostics, _ = compile_source(source, "names.domain")
    assert files is not None, [d.message for d in diagnostics]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Domain(files)


@pytest.mark.parametrize("name", ["str", "int", "float", "bool", "list", "dict", "Date", "Field"])
def test_a_field_may_be_named_like_a_type_that_later_fields_use(name: str) -> None:
    source = f"""domain shop "A shop."
enum Size {{ small, large }}
entity Item {{
  item_id: str @key
  {name}: int @default(1)
  label: str
  count: int
  price: float @default(1.5)
  on_sale: bool
  tags: list<str>
  extra: map<str, int>
  since: date
  size: Size?
}}
tool add(item_id: str, {name}: int = 2, label: str = "x") -> Item writes Item {{
  "Add an item."
  return insert Item(item_id: item_id, {name}: {name}, label: label, count: 1, on_sale: false,
    tags: [], extra: {{}}, since: date("2024-01-01"))
}}
"""
    domain = _domain(source)
    env = domain.environment({})
    result = env.call("add", {"item_id": "I1"})
    assert result.ok, result.error
    assert result.content[name] == 2 and result.content["price"] == 1.5
    assert not env.call("add", {"item_id": "I2", "label": 3}).ok  # `str` still means str


def test_a_field_may_be_named_like_an_enum() -> None:
    domain = _domain(
        """domain shop "A shop."
enum Size { small, large }
entity Item {
  item_id: str @key
  Size: Size?
  size2: Size
}
tool get(item_id: str) -> Item { "Get." return Item[item_id] }
"""
    )
    env = domain.environment({"Item": [{"item_id": "I1", "Size": "small", "size2": "large"}]})
    assert env.call("get", {"item_id": "I1"}).content["Size"] == "small"


def test_fields_named_like_old_pydantic_methods_load_without_warnings() -> None:
    domain = _domain(
        """domain shop "A shop."
entity Doc {
  doc_id: str @key
  copy: int @default(0)
  json: str @default("{}")
  schema: str @default("")
  dict: int @default(0)
}
tool get(doc_id: str) -> Doc { "Get." return Doc[doc_id] }
"""
    )
    env = domain.environment({"Doc": [{"doc_id": "D1"}]})
    assert env.call("get", {"doc_id": "D1"}).content["copy"] == 0


def test_minus_two_to_the_63_is_a_literal_and_two_to_the_63_is_not() -> None:
    ok = 'domain shop "A shop."\ntool t() -> int { "d" return -9223372036854775808 }\n'
    assert _domain(ok).tools_module.t(None) == -(2**63)
    files, diagnostics, _ = compile_source(ok.replace("-9223", "9223"), "names.domain")
    assert files is None and [d.code for d in diagnostics] == ["E007"]


@pytest.mark.parametrize(
    ("clock", "ok"),
    [("1000-01-01T00:00:00", True), ("8999-12-31T23:59:59", True), ("0999-12-31T00:00:00", False),
     ("9000-01-01T00:00:00", False), ("2024-02-30T00:00:00", False)],
)  # fmt: skip
def test_the_clock_range(clock: str, ok: bool) -> None:
    source = f'domain shop "A shop." clock "{clock}"\nentity A {{ a_id: str @key  d: date }}\n'
    files, diagnostics, _ = compile_source(source, "names.domain")
    assert (files is not None) == ok, [d.message for d in diagnostics]


def test_sixteen_nested_loops_compile_and_run() -> None:
    loops = "".join(f"for x{i} in xs {{ " for i in range(16))
    source = (
        'domain shop "A shop."\ntool t(xs: list<int>) -> int { "d" let n = 0 '
        + loops
        + "set n = n + 1 "
        + "} " * 16
        + "return n }\n"
    )
    env = _domain(source).environment({})
    assert env.call("t", {"xs": [1]}).content == 1


def test_spec_text_with_a_lone_surrogate_is_a_diagnostic() -> None:
    source = 'domain shop "A shop."\n# \ud800\nentity A { a_id: str @key }\n'
    files, diagnostics, _ = compile_source(source, "names.domain")
    assert files is None
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("E004", 2, 3)]
