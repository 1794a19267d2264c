"""Text to AST. grammar.lark defines the language; two parsers read it into the same AST.

The hand-written parser in fastparse takes the text the grammar accepts, fast. What it
declines, the Lark parser in larkparse reads again: it reports the syntax errors.
"""

from __future__ import annotations

from functools import cache

from envscale.dsl import ast, larkparse
from envscale.dsl.diagnostics import Diagnostic
from envscale.dsl.fastparse import GRAMMAR_DIGEST, Decline, grammar_digest, parse_fast
from envscale.dsl.grammar import FAST_DEPTH, GRAMMAR
from envscale.dsl.strings import BadString


@cache
def fast_parser_current() -> bool:
    """Whether fastparse implements grammar.lark as it is; if not, Lark parses everything."""
    return grammar_digest(GRAMMAR.read_text(encoding="utf-8")) == GRAMMAR_DIGEST


def parse(source: str, file: str = "<spec>") -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse spec text. Returns the module, or None and the syntax diagnostics."""
    if fast_parser_current():
        try:
            module = ast.Module(file, source, parse_fast(source, file))
        except (Decline, BadString, RecursionError):
            pass
        else:
            # Deeper text is rare, and Lark tells whether it is too deep (E006).
            if ast.height(module) <= FAST_DEPTH:
                return module, []
    return parse_with_lark(source, file)


def parse_with_lark(
    source: str, file: str = "<spec>"
) -> tuple[ast.Module | None, list[Diagnostic]]:
    """parse() by the Lark parser alone."""
    return larkparse.parse(source, file)
