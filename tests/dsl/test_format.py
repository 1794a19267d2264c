"""The formatter: canonical layout, comments kept, idempotent, and the meaning unchanged: every
compiled artifact is byte-identical before and after, over the shipped and generated specs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from envscale.compiler.build import compile_source, spec_hash
from envscale.dsl.format import format_spec
from envscale.dsl.tokens import scan, token_texts
from envscale.fuzz.layout import check_layout, scramble
from envscale.fuzz.specgen import odd_spec
from envscale.fuzz.spectext import BASES, spec_slice

SPECS = Path(__file__).resolve().parents[2] / "specs"
SHIPPED = sorted(SPECS.glob("*.domain"))
GENERATED = 40


def fmt(text: str, file: str = "s.domain") -> str:
    out, diagnostics = format_spec(text, file)
    assert out is not None, diagnostics
    return out


def artifacts(text: str, path: Path) -> dict[str, str]:
    files, diagnostics, _ = compile_source(text, str(path), path)
    assert files is not None, [d.message for d in diagnostics]
    return files


def assert_meaning_kept(text: str, path: Path) -> str:
    formatted = fmt(text, str(path))
    assert fmt(formatted, str(path)) == formatted
    assert artifacts(formatted, path) == artifacts(text, path)
    return formatted


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_keep_their_artifacts(path: Path):
    text = path.read_text(encoding="utf-8")
    formatted = assert_meaning_kept(text, path)
    rng = random.Random(path.name)
    scrambled = scramble(text, rng)
    assert token_texts(scrambled) == token_texts(text)
    assert artifacts(scrambled, path) == artifacts(text, path)
    assert fmt(scrambled, str(path)) == fmt(fmt(scrambled, str(path)))
    assert [c.text.rstrip() for c in scan(formatted)[1]] == [c.text.rstrip() for c in scan(text)[1]]


def test_generated_specs_keep_their_artifacts():
    rng = random.Random(15)
    for seed in range(GENERATED):
        text = odd_spec(seed)
        text = scramble(text, rng) if seed % 2 else text
        assert check_layout(text, SPECS / "generated.domain") is None, text


def test_slices_of_shipped_specs_keep_their_artifacts():
    rng = random.Random(7)
    for i in range(20):
        name = BASES[i % len(BASES)]
        text = scramble(spec_slice(name, rng), rng)
        assert check_layout(text, SPECS / f"{name}.domain") is None, text


def test_the_spec_hash_ignores_layout_and_comments_but_not_strings():
    a = 'domain d "x"\nenum E { a, b }  # two\n'
    b = '# a comment\ndomain d\n  "x"\n\nenum E {a,b}\n'
    assert spec_hash(a, {}) == spec_hash(b, {})
    assert spec_hash(a, {}) != spec_hash(a.replace('"x"', '"x "'), {})
    assert spec_hash(a, {}) != spec_hash(a.replace("a, b", "ab"), {})
    base = {"base.domain": "enum E { a }"}
    assert spec_hash(a, base) == spec_hash(a, {"base.domain": "enum E {\n  a\n}"})
    policy = {"p.md": "Be kind."}
    assert spec_hash(a, policy) != spec_hash(a, {"p.md": "Be  kind."})


LAYOUT_IN = """# header comment

domain shop "A shop"   policy "Be kind."
enum Status{open,"on hold",closed}
struct Line "A line" { sku : str
  qty:int @check(qty>0)   # at least one
}
entity Order{id:str @key
  status:Status
  lines:list< Line >?

  tags:map<str,str>}
invariant has_lines on Order : lines==none or len( lines )>0 else "an order has lines"

# ---- tools

tool open_order(id:str "The id",lines:list<Line>)->Order writes Order{
  "Open an order."
  let o=insert Order(id:id,status:open,lines:lines,tags:{})
  if len(lines)>2{return o}else{
    # a small order
    set o.tags["size"]="small"
  }
  return o
}
tool get(id: str) -> Order reads Order { let o = Order.get(id)
  require o!=none else "no such order"
  return o }
policy p { before open_order require get at most 2 open_order }
"""

LAYOUT_OUT = """# header comment

domain shop "A shop" policy "Be kind."

enum Status { open, "on hold", closed }

struct Line "A line" {
  sku: str
  qty: int @check(qty > 0)  # at least one
}

entity Order {
  id: str @key
  status: Status
  lines: list<Line>?

  tags: map<str, str>
}

invariant has_lines on Order:
  lines == none or len(lines) > 0
  else "an order has lines"

# ---- tools

tool open_order(
  id: str "The id",
  lines: list<Line>
) -> Order writes Order {
  "Open an order."
  let o = insert Order(id: id, status: open, lines: lines, tags: {})
  if len(lines) > 2 {
    return o
  } else {
    # a small order
    set o.tags["size"] = "small"
  }
  return o
}

tool get(id: str) -> Order reads Order {
  let o = Order.get(id)
  require o != none else "no such order"
  return o
}

policy p {
  before open_order require get
  at most 2 open_order
}
"""


def test_the_canonical_layout():
    assert fmt(LAYOUT_IN) == LAYOUT_OUT
    assert fmt(LAYOUT_OUT) == LAYOUT_OUT


def test_negation_calls_and_indexes_are_spaced_as_written():
    text = 'domain d "x"\ntool t(n: int) -> int {\n  return -n - -(n) * f(n)[0]\n}\n'
    assert "return -n - -(n) * f(n)[0]" in fmt(text)


def test_a_malformed_spec_gets_diagnostics():
    out, diagnostics = format_spec('domain d "x"\nentity E { id: str @key\n', "bad.domain")
    assert out is None
    assert diagnostics and diagnostics[0].code == "E001"
    assert diagnostics[0].span.file == "bad.domain"
