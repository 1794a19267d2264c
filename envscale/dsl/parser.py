"""Text to AST. grammar.lark defines the language; two parsers read it into the same AST.

The hand-written parser in fastparse takes the text the grammar accepts, fast. What it
declines, the Lark parser in larkparse reads again: it reports the syntax errors.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from envscale.dsl import ast
from envscale.dsl.diagnostics import Diagnostic
from envscale.dsl.fastparse import GRAMMAR_DIGEST, Decline, grammar_digest, parse_fast
from envscale.dsl.strings import BadString

GRAMMAR = Path(__file__).with_name("grammar.lark")

# How deeply the parse tree may nest. Generated Python keeps the nesting of the spec, and
# CPython refuses more than 200 nested brackets and 100 indentation levels; the recursive
# passes of the compiler also stay far from Python's recursion limit below this depth.
MAX_DEPTH = 120


@cache
def fast_parser_current() -> bool:
    """Whether fastparse implements grammar.lark as it is; if not, Lark parses everything."""
    return grammar_digest(GRAMMAR.read_text(encoding="utf-8")) == GRAMMAR_DIGEST


def parse(source: str, file: str = "<spec>") -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse spec text. Returns the module, or None and the syntax diagnostics."""
    if fast_parser_current():
        try:
            return ast.Module(file, source, parse_fast(source, file, MAX_DEPTH)), []
        except (Decline, BadString, RecursionError):
            pass
    return parse_with_lark(source, file)


def parse_with_lark(source: str, file: str = "<spec>") -> tuple[ast.Module | None, list[Diagnostic]]:
    """parse() by the Lark parser alone."""
    # Imported here: most runs never need Lark, and importing it costs more than a parse.
    from envscale.dsl import larkparse

    return larkparse.parse(source, file)
