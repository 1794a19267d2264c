"""The language reference is generated from the grammar, the built-ins, the attributes and the
diagnostic codes: every one of them appears in it, and its example spec compiles."""

from __future__ import annotations

import re

import lark

from envscale.compiler.build import compile_source
from envscale.compiler.builtins import BUILTINS
from envscale.compiler.check_entities import ATTRIBUTES
from envscale.dsl.diagnostics import CODES
from envscale.dsl.grammar import GRAMMAR
from envscale.synth import reference
from envscale.synth.reference import language_reference


def _grammar_names() -> tuple[set[str], set[str]]:
    """Rule and named-terminal names as Lark itself reads the grammar."""
    text = GRAMMAR.read_text(encoding="utf-8")
    parser = lark.Lark(text, parser="lalr", keep_all_tokens=True)
    rules = set()
    for rule in parser.rules:
        name = rule.origin.name
        name = name.value if hasattr(name, "value") else str(name)
        if not name.startswith("__"):  # Lark's own expansions of x* and (...)
            rules.add(name)
    terminals = {
        term.name for term in parser.terminals if not term.name.startswith("__") and term.name
    }
    # Keywords and punctuation are Lark's anonymous terminals; named ones are the grammar's.
    declared = set(re.findall(r"^([A-Z_]+)\s*:", text, re.M))
    return rules, terminals & declared


def test_every_grammar_rule_and_token_appears() -> None:
    text = language_reference()
    rules, terminals = _grammar_names()
    assert "tool_decl" in rules and "NAME" in terminals
    # Inlined rules (`_stmt`) are Lark's too; the reference writes them as the grammar does.
    defined = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*):", text, re.M))
    missing = sorted((rules | terminals) - defined)
    assert missing == [], f"grammar rules missing from the reference: {missing}"


def test_every_builtin_attribute_and_code_appears() -> None:
    text = language_reference()
    listed = set(re.findall(r"^- ([a-z_]+)\(", text, re.M))
    assert set(BUILTINS) - listed == set()
    for name in ATTRIBUTES:
        assert re.search(rf"^- @{name}\b", text, re.M), name
    assert "@choices(" in text
    for code, meaning in CODES.items():
        assert f"{code} {meaning}" in text


def test_notes_name_only_real_rules_and_attributes() -> None:
    rules, _ = _grammar_names()
    assert set(reference.RULE_NOTES) - rules == set()
    assert set(reference.ATTRIBUTE_NOTES) == set(ATTRIBUTES) | set(reference.PARAMETER_ATTRIBUTES)


def test_a_new_rule_in_the_grammar_reaches_the_reference() -> None:
    text = GRAMMAR.read_text(encoding="utf-8")
    extended = text.replace(
        "// ---- types", 'assert_stmt: "assert" expr  // a new statement\n\n// ---- types'
    )
    sections = dict(reference.grammar_sections(extended))
    names = [r.name for r in sections["declarations"]]
    assert "assert_stmt" in names
    rule = next(r for r in sections["declarations"] if r.name == "assert_stmt")
    assert rule.alternatives == ('"assert" expr',) and rule.notes == ("a new statement",)


def test_the_example_compiles() -> None:
    files, diagnostics, _ = compile_source(reference.EXAMPLE, "example.domain")
    assert files is not None, [d.message for d in diagnostics]
    assert reference.EXAMPLE in language_reference()
