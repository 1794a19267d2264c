"""The grammar file and the limit on nesting that both parsers keep."""

from __future__ import annotations

from pathlib import Path

GRAMMAR = Path(__file__).with_name("grammar.lark")

# How deeply Lark's parse tree may nest (E006 beyond). Generated Python keeps the nesting of
# the spec, and CPython refuses more than 200 nested brackets and 100 indentation levels; the
# recursive passes of the compiler also stay far from Python's recursion limit below this depth.
MAX_DEPTH = 120

# How deeply the AST that the hand-written parser builds may nest before it leaves the text to
# Lark. Each AST node stands for at most two levels of Lark's tree (a block and its statement,
# a type and its list<...>), so an AST within this depth is a tree within MAX_DEPTH.
FAST_DEPTH = MAX_DEPTH // 2
