"""Whatever text goes in, compiling it yields diagnostics or artifacts, never a crash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envscale.api import compile_source
from envscale.dsl.diagnostics import CODES, render_all

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = [
    (FIXTURES / name).read_text(encoding="utf-8") for name in ("mini.domain", "library.domain")
]

KEYWORDS = [
    "domain",
    "extends",
    "remove",
    "replace",
    "clock",
    "policy",
    "from",
    "enum",
    "struct",
    "entity",
    "invariant",
    "on",
    "else",
    "tool",
    "reads",
    "writes",
    "before",
    "require",
    "at",
    "most",
    "list",
    "map",
    "let",
    "fail",
    "set",
    "insert",
    "delete",
    "for",
    "in",
    "if",
    "return",
    "or",
    "and",
    "not",
    "true",
    "false",
    "none",
    "transitions",
]
PUNCTUATION = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    ",",
    ":",
    ".",
    "@",
    "?",
    "|",
    "=",
    "->",
    "==",
    "!=",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    ";",
    "#",
]
NAMES = [
    "x",
    "Order",
    "User",
    "order_id",
    "status",
    "pending",
    "total",
    "o",
    "where",
    "all",
    "get",
    "len",
    "sum",
    "round",
    "format",
    "now",
    "today",
    "key",
    "default",
    "check",
    "unique",
    "index",
    "str",
    "int",
    "float",
    "bool",
    "date",
    "datetime",
    "self",
    "next_key",
    "sorted",
    "class",
    "lambda",
    "db",
    "lib",
    "Field",
    "model_config",
    "check_nonneg",
]
LITERALS = ['"s"', '"""doc"""', "0", "1", "2.5", "-3", '"2024-01-01"', '"', "\n", " "]

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TOKEN = re.compile(
    r'#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|[A-Za-z_]\w*|\d+(?:\.\d+)?|->|[=!<>]=|\S'
)


def assert_compiles_or_diagnoses(source: str) -> None:
    files, diagnostics, sources = compile_source(source, "prop.domain")
    if files is None:
        assert diagnostics, "a failed compilation must explain itself"
        assert all(d.code in CODES for d in diagnostics)
        render_all(diagnostics, sources)
    else:
        assert set(files) >= {"schema.sql", "tools.py", "models.py", "tools.json", "manifest.json"}
        for name in ("tools.py", "models.py"):
            compile(files[name], name, "exec")


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seed_specs_compile(seed: int) -> None:
    files, diagnostics, _ = compile_source(SEEDS[seed], "seed.domain")
    assert files is not None, diagnostics


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    assert_compiles_or_diagnoses(text)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        # A NUL inside a string literal crashed the AST builder.
        ('domain d "x"\ntool t() -> str { "doc\x00" return "a" }', "E005"),
        # An escape Python cannot decode crashed it too.
        ('domain d "x"\ntool t() -> str { return "\\N{nope}" }', "E005"),
        ('domain d "x"\ntool t() -> str { return "\\x4" }', "E005"),
        # Python keywords as names compiled into modules that could not be imported.
        ('domain d "x"\nentity E { class: str @key }', "E110"),
        ('domain d "x"\ntool lambda() -> int { return 1 }', "E110"),
        ('domain d "x"\nstruct Field { a: int }', "E110"),
        ('domain d "x"\nentity E { k: str @key  model_config: int }', "E110"),
        (
            'domain d "x"\ninvariant nonneg: true else "m"\ntool check_nonneg() -> int { return 1 '
            "}",
            "E110",
        ),
        # Mutually recursive structs sent the JSON-schema generator into endless recursion.
        (
            'domain d "x"\nstruct A { b: B }\nstruct B { a: A? }\ntool t(x: A) -> A { return x }',
            "E306",
        ),
        # A long chain of operators overflowed the recursive AST builder (1000 terms) or gave
        # generated Python more nested brackets than CPython accepts (250 terms).
        ('domain d "x"\ntool t() -> int { return 1' + " + 1" * 1000 + " }", "E006"),
        ('domain d "x"\ntool t() -> int { return 1' + " + 1" * 250 + " }", "E006"),
    ],
)
def test_regressions(source: str, code: str) -> None:
    files, diagnostics, _ = compile_source(source, "regression.domain")
    assert files is None
    assert code in {d.code for d in diagnostics}


@SETTINGS
@given(st.lists(st.sampled_from(KEYWORDS + PUNCTUATION + NAMES + LITERALS), max_size=60))
def test_token_soup(tokens: list[str]) -> None:
    assert_compiles_or_diagnoses(" ".join(tokens))


@SETTINGS
@given(st.lists(st.sampled_from(KEYWORDS + PUNCTUATION + NAMES + LITERALS), max_size=30))
def test_token_soup_after_a_domain_header(tokens: list[str]) -> None:
    assert_compiles_or_diagnoses(
        'domain d "x"\nentity E { k: str @key n: int }\n' + " ".join(tokens)
    )


@st.composite
def character_mutations(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(source)))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
        if kind == "delete":
            source = source[:at] + source[at + draw(st.integers(1, 8)) :]
        elif kind == "duplicate":
            source = source[:at] + source[at : at + draw(st.integers(1, 40))] + source[at:]
        elif kind == "swap" and at + 1 < len(source):
            source = source[:at] + source[at + 1] + source[at] + source[at + 2 :]
        else:
            source = source[:at] + draw(st.text(min_size=1, max_size=3)) + source[at:]
    return source


@st.composite
def token_mutations(draw: st.DrawFn) -> str:
    tokens = [t for t in _TOKEN.findall(draw(st.sampled_from(SEEDS))) if not t.startswith("#")]
    vocabulary = KEYWORDS + PUNCTUATION + NAMES + LITERALS
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "move"]))
        if kind == "delete":
            del tokens[at : at + draw(st.integers(1, 3))]
        elif kind == "duplicate":
            tokens[at:at] = tokens[at : at + draw(st.integers(1, 12))]
        elif kind == "swap" and at + 1 < len(tokens):
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
        elif kind == "insert":
            tokens.insert(at, draw(st.sampled_from(vocabulary)))
        elif kind == "replace":
            tokens[at] = draw(st.sampled_from([*vocabulary, *tokens]))
        else:
            chunk = tokens[at : at + draw(st.integers(1, 20))]
            del tokens[at : at + len(chunk)]
            where = draw(st.integers(0, len(tokens)))
            tokens[where:where] = chunk
        if not tokens:
            break
    return " ".join(tokens)


@st.composite
def name_mutations(draw: st.DrawFn) -> str:
    """Swap names and literals for others of their kind: mostly well-formed, often ill-typed."""
    tokens = [t for t in _TOKEN.findall(draw(st.sampled_from(SEEDS))) if not t.startswith("#")]
    names = sorted({t for t in tokens if t[0].isalpha() or t[0] == "_"} | set(NAMES))
    literals = sorted({t for t in tokens if t[0].isdigit() or t[0] == '"'} | set(LITERALS[:7]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(tokens) - 1))
        token = tokens[at]
        if token[0].isalpha() or token[0] == "_":
            tokens[at] = draw(st.sampled_from(names))
        elif token[0].isdigit() or token[0] == '"':
            tokens[at] = draw(st.sampled_from(literals))
    return " ".join(tokens)


@SETTINGS
@given(name_mutations())
def test_name_mutations_of_valid_specs(source: str) -> None:
    assert_compiles_or_diagnoses(source)


@SETTINGS
@given(character_mutations())
def test_character_mutations_of_valid_specs(source: str) -> None:
    assert_compiles_or_diagnoses(source)


@SETTINGS
@given(token_mutations())
def test_token_mutations_of_valid_specs(source: str) -> None:
    assert_compiles_or_diagnoses(source)
