"""The grammar file, the Lark parsers built from it, and the limit on nesting that both
parsers keep."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lark import Lark

GRAMMAR = Path(__file__).with_name("grammar.lark")

# How deeply Lark's parse tree may nest (E006 beyond). Generated Python keeps the nesting of
# the spec, and CPython refuses more than 200 nested brackets and 100 indentation levels; the
# recursive passes of the compiler also stay far from Python's recursion limit below this depth.
MAX_DEPTH = 120

# How deeply the AST that the hand-written parser builds may nest before it leaves the text to
# Lark. Each AST node stands for at most two levels of Lark's tree (a block and its statement,
# a type and its list<...>), so an AST within this depth is a tree within MAX_DEPTH.
FAST_DEPTH = MAX_DEPTH // 2


@cache
def lark_parser(
    *,
    keep_all_tokens: bool = False,
    propagate_positions: bool = False,
    maybe_placeholders: bool = True,
) -> Lark:
    """grammar.lark's LALR parser, built once per set of options (Lark's own meanings): the
    AST's parser propagates positions and has placeholders for absent optional parts; the
    formatter keeps every token, punctuation included, and only the children that are there."""
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        keep_all_tokens=keep_all_tokens,
        propagate_positions=propagate_positions,
        maybe_placeholders=maybe_placeholders,
        cache=True,
    )
