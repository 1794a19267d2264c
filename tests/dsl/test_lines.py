"""One line rule everywhere: a line ends at a newline, whatever else str.splitlines splits at."""

from __future__ import annotations

import pytest

from envscale.compiler.build import compile_source
from envscale.dsl.ast import Span
from envscale.dsl.diagnostics import Diagnostic, source_lines, visible_line
from envscale.dsl.parser import parse, parse_with_lark

# Characters str.splitlines ends a line at, besides "\n".
SPLITLINES_ONLY = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.mark.parametrize("odd", SPLITLINES_ONLY, ids=repr)
@pytest.mark.parametrize("where", ["comment", "string"])
def test_diagnostics_after_an_odd_line_break_point_at_the_right_line(odd: str, where: str) -> None:
    if where == "string" and odd == "\r":
        pytest.skip("a carriage return inside a string is E005 (Python's rule for literals)")
    before = f"# a{odd}b\n" if where == "comment" else f'invariant i: "a{odd}b" == "" else "x"\n'
    source = (
        f'domain shop "A shop."\n{before}entity Item {{\n  item_id: str @key\n  price: flaot\n}}\n'
    )
    files, diagnostics, _ = compile_source(source, "s.domain")
    assert files is None
    (d,) = [d for d in diagnostics if d.code == "E102"]
    assert (d.span.line, d.span.column) == (5, 10)
    assert "5 |   price: flaot\n" in d.render(source)


@pytest.mark.parametrize("odd", SPLITLINES_ONLY, ids=repr)
def test_both_parsers_count_lines_alike(odd: str) -> None:
    source = f'domain shop "A shop."\n# x{odd}y\nentity Item {{\n  item_id: str @key\n}}\n'
    fast, _ = parse(source, "s")
    lark, _ = parse_with_lark(source, "s")
    assert fast is not None and lark is not None
    assert fast.declarations[1].span == lark.declarations[1].span
    assert fast.declarations[1].span.line == 3


def test_a_syntax_error_after_a_vertical_tab_shows_its_own_line() -> None:
    source = 'domain shop "A shop."\n\v\nentity Item {\n  item_id: str @key\n'
    _, diagnostics = parse(source, "s")
    (d,) = diagnostics
    assert d.code == "E002" and d.span.line == 2
    assert "2 | \N{SYMBOL FOR VERTICAL TABULATION}\n" in d.render(source)


def test_source_lines_and_visible_lines() -> None:
    assert source_lines("") == [""]
    assert source_lines("a\nb\n") == ["a", "b"]
    assert source_lines("a\fb\r\nc") == ["a\fb\r", "c"]
    assert (
        visible_line("a\tb\x00c\u202ed\u2028\r")
        == "a b\N{SYMBOL FOR NULL}c\N{REPLACEMENT CHARACTER}d "
    )
    d = Diagnostic("E001", "m", Span("s", 1, 3, 1, 4))
    assert d.render("a\x07b").splitlines()[-1] == "  |   ^"
