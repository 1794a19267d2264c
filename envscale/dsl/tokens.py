"""Spec text as its tokens, layout and comments left out, and the canonical spacing of tokens.

The spec hash, the formatter's check that it changed only whitespace, and the text of an
expression that generated files quote all read this token stream, so none depends on layout.
It splits text the grammar accepts exactly as grammar.lark's terminals do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from envscale.dsl.grammar import GRAMMAR

_TOKEN = re.compile(
    r'(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*")'
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<space>\s+)"
    r"|(?P<number>[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|->|.)",
    re.DOTALL,
)

# Words that write a value: after them a `-` subtracts, as after a name.
_VALUE_WORDS = frozenset({"true", "false", "none"})


@cache
def keywords() -> frozenset[str]:
    """The grammar's reserved words: every quoted literal in grammar.lark that is a word."""
    text = GRAMMAR.read_text(encoding="utf-8")
    return frozenset(w for w in re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', text))


@dataclass(frozen=True, slots=True)
class Tok:
    text: str
    kind: str  # string, number, name, op
    start: int
    end: int


def scan(text: str) -> tuple[list[Tok], list[Tok]]:
    """The tokens of the text, and its comments, each in source order."""
    tokens: list[Tok] = []
    comments: list[Tok] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "op"
        if kind == "space":
            continue
        tok = Tok(m.group(), kind, m.start(), m.end())
        (comments if kind == "comment" else tokens).append(tok)
    return tokens, comments


def token_texts(text: str) -> list[str]:
    """The text of every token: what a spec says, without its layout and comments."""
    return [t.text for t in scan(text)[0]]


def roles(tokens: list[Tok]) -> list[str]:
    """What each bracket or minus sign does, read from the token before it, as in expressions:
    `attach` for a call's `(` or an index's `[`, `unary` for a negating `-`, `map` and
    `map_end` for the braces of a map literal; `` for any other token."""
    words = keywords()
    out: list[str] = []
    prev: Tok | None = None
    for tok in tokens:
        role = ""
        value_before = prev is not None and (
            prev.kind in ("string", "number")
            or (prev.kind == "name" and (prev.text not in words or prev.text in _VALUE_WORDS))
            or prev.text in (")", "]", "}")
        )
        if tok.text in ("(", "[") and value_before:
            role = "attach"
        elif tok.text == "-" and not value_before:
            role = "unary"
        elif tok.text == "{":
            role = "map"
        elif tok.text == "}":
            role = "map_end"
        out.append(role)
        prev = tok
    return out


def needs_space(prev: str, prev_role: str, cur: str, cur_role: str) -> bool:
    """Whether one space separates two tokens on a line. Roles as roles() gives them, and
    `type` for the angle brackets of `list<...>` and `map<...>`."""
    if cur in (",", ";", ")", "]", ":", "?", ".") or prev in ("(", "[", ".", "@"):
        return False
    if cur_role in ("attach", "map_end") or prev_role in ("unary", "map"):
        return False
    return not ((prev_role == "type" and prev == "<") or cur_role == "type")


def expression_text(text: str) -> str:
    """An expression's source text with canonical spacing, on one line, comments left out."""
    tokens = scan(text)[0]
    parts: list[str] = []
    prev: tuple[str, str] | None = None
    for tok, role in zip(tokens, roles(tokens), strict=True):
        if prev is not None and needs_space(prev[0], prev[1], tok.text, role):
            parts.append(" ")
        parts.append(tok.text)
        prev = (tok.text, role)
    return "".join(parts)
