"""The hand-written parser against the grammar: Lark's AST, spans included, or it declines."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Tree

from envscale.dsl import ast
from envscale.dsl.fastparse import GRAMMAR_DIGEST, Decline, grammar_digest, parse_fast, tokenize
from envscale.dsl.grammar import FAST_DEPTH, GRAMMAR, MAX_DEPTH
from envscale.dsl.larkparse import _parser
from envscale.dsl.parser import parse, parse_with_lark
from envscale.dsl.strings import BadString

from .test_properties import (
    KEYWORDS,
    LITERALS,
    NAMES,
    PUNCTUATION,
    character_mutations,
    name_mutations,
    token_mutations,
)

ROOT = Path(__file__).resolve().parents[2]
REPO_SPECS = sorted(p for p in ROOT.rglob("*.domain") if ".venv" not in p.parts)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fast(source: str) -> tuple[ast.Decl, ...] | None:
    try:
        return parse_fast(source, "t.domain")
    except (Decline, BadString, RecursionError):
        return None


def lark_height(source: str) -> int:
    stack = [(_parser().parse(source), 1)]
    height = 0
    while stack:
        node, depth = stack.pop()
        height = max(height, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return height


def agrees(source: str) -> tuple[bool, bool]:
    """Whether Lark accepts the source, and whether parse() takes the fast parser's AST; asserts
    that the two agree where both accept, and that parse() never takes what Lark rejects."""
    got = fast(source)
    try:
        module, diagnostics = parse_with_lark(source, "t.domain")
    except Exception:  # the Lark path lets some errors through (an integer too long for int())
        module, diagnostics = None, []
    height = ast.height(ast.Module("t.domain", source, got)) if got is not None else 0
    if module is None:
        if diagnostics and diagnostics[0].code == "E006":
            # Lark's tree passes MAX_DEPTH: the AST passes FAST_DEPTH, so parse() asks Lark.
            assert got is None or height > FAST_DEPTH, source
        else:
            assert got is None, f"accepted what the grammar rejects: {source!r}"
        return False, False
    if got is not None:
        assert got == module.declarations, source
        # What makes FAST_DEPTH safe: each AST level is at most two levels of Lark's tree.
        assert lark_height(source) <= 2 * height, source
    return True, got is not None and height <= FAST_DEPTH


def test_fast_parser_implements_this_grammar() -> None:
    assert grammar_digest(GRAMMAR.read_text(encoding="utf-8")) == GRAMMAR_DIGEST, (
        "grammar.lark changed: teach envscale/dsl/fastparse.py the change, run these tests, then "
        "set its GRAMMAR_DIGEST; until then parse() uses Lark alone"
    )


def test_keyword_states_are_the_ones_the_fast_parser_knows() -> None:
    """Where Lark's contextual lexer reads a word as a keyword although a name could follow."""
    parser = _parser()
    keywords = {
        t.name: t.pattern.value
        for t in parser.terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    }
    found = set()
    for actions in parser.parser.parser.parser.parse_table.states.values():
        if "NAME" in actions:
            words = frozenset(keywords[t] for t in actions if t in keywords)
            if words:
                found.add(words)
    assert found == {
        frozenset({"true", "false", "none", "insert", "not"}),  # where a not_expr may start
        frozenset({"true", "false", "none", "insert"}),  # operands of comparisons and arithmetic
        frozenset(
            {
                "true",
                "false",
                "none",
                "insert",
                "not",  # after return
                "let",
                "require",
                "fail",
                "set",
                "delete",
                "for",
                "if",
                "return",
            }
        ),
        frozenset({"list", "map"}),  # where a type starts
        frozenset({"reads", "writes"}),  # after any type, the return type's effects
    }


@pytest.mark.parametrize("path", REPO_SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_repo_specs(path: Path) -> None:
    source = path.read_text(encoding="utf-8", errors="replace")
    accepted, fast_accepted = agrees(source)
    assert fast_accepted == accepted, "the fast parser declined a valid spec"


def test_parse_uses_the_fast_parser() -> None:
    source = (ROOT / "specs" / "clinic.domain").read_text(encoding="utf-8")
    assert parse(source, "t.domain") == parse_with_lark(source, "t.domain")
    assert fast(source) is not None


# Text the grammar accepts in ways easy to get wrong, each with what the fast parser does.
ACCEPTED = [
    "entity E { on: str @key  at: int  policy: str  most: int  clock: str  list: int  in: str }",
    "entity E { a: int @key reads: str }",
    'entity E { a: int "doc" writes: str }',
    "entity E { a: on  b: at?  c: list<not>  d: map<in, else> }",
    "tool t(on: int, reads: str,) -> on reads on, at writes not { return on.not + at }",
    "tool t() { return not x in y }",
    "tool t() { return x + not }",
    "tool t() { return x + not not in y }",
    "tool t() { return -not }",
    "tool t() { let let = else  require if else for  set set.set[in] = in }",
    "tool t() { return insert L() }",
    "tool t() { return  insert L() }",
    "tool t() { return  let x = 1 }",
    "tool t() { return else }",
    "tool t() { return (a) }",
    "tool t() { return ((a + b)) * (c) }",
    "tool t() { return f((a), b: (c),)(d)[(e), f].g }",
    "tool t() { return [(x) for on in (xs) if (y)] }",
    'tool t() { return {"a": (1), "b": [],} }',
    "tool t() { return -(-(a)) }",
    "tool t() { return (insert L(a: 1)).b }",
    "tool t() { if a { } else if b { } else { return } }",
    "tool t() { for x in a in b { delete x[(1)] } }",
    'tool t() { "doc" }',
    'tool t(x: int @choices(1, 2) = (3) "doc") { }',
    "tool t() -> bool reads E @side(user) @assertion { return true }",
    "tool t() @sync @side(internal,) { }",
    "tool t() writes E, F @x(a: 1) { }",
    "tool t() { return 1.5e3 + 2.5 + 007 }",
    "tool t() { return x.e5 }",
    'domain d "x" policy from "p.md"',
    'domain d "x" extends "b.domain" clock "c" policy from "p.md"',
    'domain d "x" extends "b.domain"\nremove tool think\nremove entity remove remove policy tool',
    "entity E { remove: str @key  extends: int  replace: str }",
    "replace tool t() { }\nreplace enum E { a }\nreplace transitions E.f { a -> b }",
    'replace policy p { at most 1 t }\nreplace invariant i: true else "x"',
    'domain d """\n  multi\n  line\n  """ clock "c"\nenum E "doc" { a, "b c", d, }',
    "policy p { before writes require a | b  at most 2 c | d }",
    "policy p { before writes require v(patient_id) | w  before a(x) | b require v( y ) }",
    "policy p { before a(require) require v(before)  at most 1 c(at) }",
    "invariant i on on: on else on",
    'enum E { "x\\ty", "\\u00e9" }',
    "tool t() {\r\n  return\t1\x0c}\r\n",
    'tool t() { return "é" + "\\u2028" }',
]

# Text the grammar accepts that the fast parser leaves to Lark.
DECLINED = [
    "tool t() { let x: list<int>= [] }",  # Lark splits >= after a type
    "tool t() { return a notin b }",  # ... and two keywords run together
    "tool t() { return " + "(" * 3000 + "x" + ")" * 3000 + " }",  # too deep for recursive descent
]

# Text the grammar rejects, some of it only because of how Lark reads it.
REJECTED = [
    "tool t() { for x inxs { } }",  # a keyword running into a name: not `in xs`
    "entity E { a: int reads: str }",
    "entity E { a: int? writes: str }",
    "entity E { a: list<int> reads: str }",
    'domain d "x" policy p { }',
    'domain d "x" clock "c" extends "b.domain"',
    "remove tools think",
    'replace domain d "x"',
    "replace remove tool t",
    "replace replace tool t() { }",
    "remove think",
    "remove transitions Order",
    "tool t() { return a < b < c }",
    "tool t() { return a in b in c }",
    "tool t() { return f(x,,) }",
    "tool t() { return xs[1,] }",
    "tool t() { return [1, 2 for x in y] }",
    "tool t() { set x == 1 }",
    "tool t() { return a -> b }",
    "tool t() { return f(true: 1) }",
    "tool t() { return f(not: 1) }",
    "tool t() { insert L().x }",
    "enum E { }",
    "policy p { at most 2.5 x }",
    "policy p { before a() require v }",
    "policy p { before a require v(x, y) }",
    "policy p { before a require v(x)(y) }",
    "policy p { before a require v(x.y) }",
    "tool t() { return 1" + " + 1" * 250 + " }",
    'tool t() { return "\\N{nope}" }',
    'tool t() { return "a\x00" }',
    'tool t() { return "a\rb" }',
    "tool t() { return 1 }\x0b",
    "tool t() @side(user) -> bool { return true }",
    "tool t() @side(user) reads E { }",
    "tool t() { return x ! y }",
    'tool t() { return "a" "b" }',
    'entity E { x: str }  tool t() { return "unterminated }',
]


@pytest.mark.parametrize("source", ACCEPTED)
def test_accepted(source: str) -> None:
    assert agrees(source) == (True, True)


@pytest.mark.parametrize("source", DECLINED)
def test_declined(source: str) -> None:
    assert agrees(source) == (True, False)


@pytest.mark.parametrize("source", REJECTED)
def test_rejected(source: str) -> None:
    assert agrees(source) == (False, False)
    assert parse(source, "t.domain") == parse_with_lark(source, "t.domain")


@pytest.mark.parametrize(
    "terms", [*range(FAST_DEPTH - 6, FAST_DEPTH + 6), *range(MAX_DEPTH - 10, MAX_DEPTH + 5)]
)
def test_deep_text_is_left_to_lark(terms: int) -> None:
    """The fast parser's AST is taken up to FAST_DEPTH; deeper text is Lark's, E006 included."""
    for source in (
        "tool t() { return 1" + " + 1" * terms + " }",
        "tool t() { " + "if a { " * (terms // 2) + "}" * (terms // 2) + " }",
        "tool t() { return " + "-" * terms + "1 }",
        "tool t() { return " + "[" * (terms // 2) + "]" * (terms // 2) + " }",
        "entity E { a: " + "list<" * terms + "int" + ">" * terms + " }",
    ):
        _, fast_taken = agrees(source)
        module, diagnostics = parse_with_lark(source, "t.domain")
        assert parse(source, "t.domain") == (module, diagnostics)
        if module is None:
            assert diagnostics[0].code == "E006"
        else:
            assert fast_taken == (ast.height(module) <= FAST_DEPTH)


def test_tokens_carry_lark_positions() -> None:
    kinds, _, lines, columns, end_lines, end_columns = tokenize('a\n  """x\ny""" >= 1.5\n')
    assert kinds == ["N", "S", ">=", "F", "$"]
    assert list(zip(lines, columns, end_lines, end_columns, strict=False)) == [
        (1, 1, 1, 2),
        (2, 3, 3, 5),
        (3, 6, 3, 8),
        (3, 9, 3, 12),
    ]


# ---- generated and mutated specs -----------------------------------------------

SOUP = KEYWORDS + PUNCTUATION + NAMES + LITERALS


@SETTINGS
@given(character_mutations())
def test_character_mutations(source: str) -> None:
    agrees(source)


@SETTINGS
@given(token_mutations())
def test_token_mutations(source: str) -> None:
    agrees(source)


@SETTINGS
@given(name_mutations())
def test_name_mutations(source: str) -> None:
    accepted, fast_accepted = agrees(source)
    assert fast_accepted == accepted


@SETTINGS
@given(st.lists(st.sampled_from(SOUP), max_size=60))
def test_token_soup(tokens: list[str]) -> None:
    agrees(" ".join(tokens))


@SETTINGS
@given(st.lists(st.sampled_from(SOUP), max_size=30))
def test_token_soup_in_a_tool_body(tokens: list[str]) -> None:
    agrees("tool t(x: int) -> int { " + " ".join(tokens) + " }")


# Words for names, most of them keywords somewhere: the contextual lexer must read them right.
WORDS = st.sampled_from(
    [
        "x",
        "o",
        "Order",
        "_a1",
        "on",
        "at",
        "most",
        "from",
        "clock",
        "policy",
        "list",
        "map",
        "reads",
        "writes",
        "before",
        "else",
        "in",
        "not",
        "for",
        "if",
        "let",
        "set",
        "true",
        "none",
        "insert",
        "or",
        "and",
        "domain",
        "tool",
        "require",
        "return",
        "enum",
    ]
)
LITERAL = st.sampled_from(
    [
        "0",
        "12",
        "007",
        "2.5",
        "1.5e3",
        "3.0E-2",
        '"s"',
        '""',
        '"a\\"b"',
        '"\\n"',
        '"""doc\n    text\n  """',
        '"é"',
        "true",
        "false",
        "none",
    ]
)
WHITESPACE = st.sampled_from(["", " ", "  ", "\n", "\n    ", "\t", " # note\n", "\r\n"])


def _seq(*parts: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(*parts)


def _comma_list(
    item: st.SearchStrategy, min_size: int = 0, trailing: bool = True
) -> st.SearchStrategy:
    def join(items: list, comma: bool) -> list:
        out: list = []
        for n, x in enumerate(items):
            out += [",", x] if n else [x]
        return [*out, ","] if comma and items and trailing else out

    return st.builds(join, st.lists(item, min_size=min_size, max_size=3), st.booleans())


def _opt(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just(()), strategy)


def _lit(text: str) -> st.SearchStrategy:
    return st.just(text)


def _exprs() -> st.SearchStrategy:
    def extend(inner: st.SearchStrategy) -> st.SearchStrategy:
        arg = st.one_of(inner, _seq(WORDS, _lit(":"), inner))
        return st.one_of(
            _seq(_lit("("), inner, _lit(")")),
            _seq(
                inner,
                st.sampled_from(
                    ["or", "and", "==", "!=", "<", ">=", "in", "+", "-", "*", "/", "%"]
                ),
                inner,
            ),
            _seq(inner, _lit("not"), _lit("in"), inner),
            _seq(st.sampled_from(["not", "-"]), inner),
            _seq(inner, _lit("."), WORDS),
            _seq(inner, _lit("["), _comma_list(inner, 1, trailing=False), _lit("]")),
            _seq(inner, _lit("("), _comma_list(arg), _lit(")")),
            _seq(_lit("["), _comma_list(inner), _lit("]")),
            _seq(
                _lit("["),
                inner,
                _lit("for"),
                WORDS,
                _lit("in"),
                inner,
                _opt(_seq(_lit("if"), inner)),
                _lit("]"),
            ),
            _seq(
                _lit("{"),
                _comma_list(_seq(st.sampled_from(['"k"', '"a b"']), _lit(":"), inner)),
                _lit("}"),
            ),
            _seq(_lit("insert"), WORDS, _lit("("), _comma_list(arg), _lit(")")),
        )

    return st.recursive(st.one_of(WORDS, LITERAL), extend, max_leaves=10)


EXPR = _exprs()
TYPE = st.recursive(
    WORDS,
    lambda inner: st.one_of(
        _seq(_lit("list"), _lit("<"), inner, _lit(">")),
        _seq(_lit("map"), _lit("<"), inner, _lit(","), inner, _lit(">")),
        _seq(inner, _lit("?")),
    ),
    max_leaves=4,
)
DOC = _opt(st.sampled_from(['"doc"', '"""long\n  doc"""']))
ATTRIBUTE = _seq(
    _lit("@"),
    WORDS,
    _opt(_seq(_lit("("), _comma_list(st.one_of(EXPR, _seq(WORDS, _lit(":"), EXPR))), _lit(")"))),
)
TARGET = _seq(
    WORDS, st.lists(st.one_of(_seq(_lit("."), WORDS), _seq(_lit("["), EXPR, _lit("]"))), max_size=3)
)


def _statements() -> st.SearchStrategy:
    simple = st.one_of(
        _seq(_lit("let"), WORDS, _opt(_seq(_lit(":"), TYPE)), _lit("="), EXPR),
        _seq(_lit("require"), EXPR, _lit("else"), EXPR),
        _seq(_lit("fail"), EXPR),
        _seq(_lit("set"), TARGET, _lit("="), EXPR),
        _seq(
            _lit("insert"), WORDS, _lit("("), _comma_list(_seq(WORDS, _lit(":"), EXPR)), _lit(")")
        ),
        _seq(_lit("delete"), TARGET),
        _seq(_lit("return"), _opt(EXPR)),
    )

    def extend(inner: st.SearchStrategy) -> st.SearchStrategy:
        block = _seq(_lit("{"), st.lists(inner, max_size=3), _lit("}"))
        return st.one_of(
            _seq(_lit("for"), WORDS, _lit("in"), EXPR, block),
            _seq(_lit("if"), EXPR, block, _opt(_seq(_lit("else"), block))),
            _seq(_lit("if"), EXPR, block, _lit("else"), _lit("if"), EXPR, block),
        )

    return st.recursive(simple, extend, max_leaves=6)


STATEMENT = _statements()
FIELD = _seq(WORDS, _lit(":"), TYPE, st.lists(ATTRIBUTE, max_size=2), DOC)
PARAM = _seq(
    WORDS, _lit(":"), TYPE, st.lists(ATTRIBUTE, max_size=2), _opt(_seq(_lit("="), EXPR)), DOC
)
SELECTOR = _comma_list(WORDS, 1, trailing=False).map(
    lambda xs: ["|" if x == "," else x for x in xs]
)
DECLARATION = st.one_of(
    _seq(
        _lit("domain"),
        WORDS,
        _lit('"d"'),
        _opt(_seq(_lit("clock"), _lit('"c"'))),
        _opt(
            st.one_of(
                _seq(_lit("policy"), _lit('"p"')), _seq(_lit("policy"), _lit("from"), _lit('"f"'))
            )
        ),
    ),
    _seq(
        _lit("enum"),
        WORDS,
        DOC,
        _lit("{"),
        _comma_list(st.one_of(WORDS, _lit('"m n"')), 1),
        _lit("}"),
    ),
    _seq(
        st.sampled_from(["entity", "struct"]),
        WORDS,
        DOC,
        _lit("{"),
        st.lists(FIELD, max_size=4),
        _lit("}"),
    ),
    _seq(
        _lit("invariant"), WORDS, _opt(_seq(_lit("on"), WORDS)), _lit(":"), EXPR, _lit("else"), EXPR
    ),
    _seq(
        _lit("tool"),
        WORDS,
        _lit("("),
        _comma_list(PARAM),
        _lit(")"),
        _opt(_seq(_lit("->"), TYPE)),
        st.lists(
            _seq(st.sampled_from(["reads", "writes"]), _comma_list(WORDS, 1, trailing=False)),
            max_size=2,
        ),
        _lit("{"),
        DOC,
        st.lists(STATEMENT, max_size=4),
        _lit("}"),
    ),
    _seq(
        _lit("policy"),
        WORDS,
        DOC,
        _lit("{"),
        st.lists(
            st.one_of(
                _seq(_lit("before"), SELECTOR, _lit("require"), SELECTOR),
                _seq(_lit("at"), _lit("most"), st.sampled_from(["0", "3"]), SELECTOR),
            ),
            max_size=3,
        ),
        _lit("}"),
    ),
)


def _flatten(tree: object) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    return [token for part in tree for token in _flatten(part)]  # type: ignore[attr-defined]


def _glued(before: str, after: str) -> bool:
    """Whether two tokens written with nothing between would read as other tokens."""
    word = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
    a, b = before[-1], after[0]
    return (
        (a in word and b in word)
        or (a == '"' and b == '"')
        or a + b in ("->", "==", "!=", "<=", ">=")
        or (a in "0123456789" and b == ".")
        or (a == "." and b in "0123456789")
    )


@st.composite
def specs(draw: st.DrawFn) -> str:
    tokens = _flatten(draw(st.lists(DECLARATION, min_size=1, max_size=3)))
    out = [tokens[0]]
    for before, after in pairwise(tokens):
        gap = draw(WHITESPACE)
        out.append(gap if gap or not _glued(before, after) else " ")
        out.append(after)
    return "".join(out)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_generated_specs(source: str) -> None:
    """On text from the grammar, the fast parser declines nothing Lark accepts."""
    accepted, fast_accepted = agrees(source)
    assert fast_accepted == accepted
