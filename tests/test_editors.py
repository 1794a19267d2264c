"""The VS Code extension in editors/vscode: its files parse, its grammar's regular expressions
compile, and every keyword of grammar.lark is highlighted as a keyword."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from envscale.dsl.tokens import keywords

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "envscale.tmLanguage.json"
# The scopes a keyword may be highlighted with.
KEYWORD_SCOPES = ("keyword.", "storage.type", "constant.language", "support.type")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def rules(node: object) -> Iterator[dict]:
    """Every rule of the grammar, nested ones included."""
    if isinstance(node, dict):
        if any(k in node for k in ("match", "begin")):
            yield node
        for value in node.values():
            yield from rules(value)
    elif isinstance(node, list):
        for item in node:
            yield from rules(item)


def test_the_extension_files_parse_and_name_each_other():
    package = load(VSCODE / "package.json")
    (language,) = package["contributes"]["languages"]
    assert ".domain" in language["extensions"]
    assert (VSCODE / language["configuration"]).is_file()
    (grammar,) = package["contributes"]["grammars"]
    assert grammar["language"] == language["id"]
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert load(GRAMMAR)["scopeName"] == grammar["scopeName"]
    config = load(VSCODE / "language-configuration.json")
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    assert {"open": "(", "close": ")"} in config["autoClosingPairs"]


def test_every_regular_expression_compiles():
    found = list(rules(load(GRAMMAR)))
    assert len(found) > 10
    for rule in found:
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])  # the grammar keeps to what Python and Oniguruma share


def _scope_of(word: str) -> str | None:
    """The scope the grammar's top-level keyword rules give a word standing alone."""
    for rule in rules(load(GRAMMAR)):
        name = rule.get("name", "")
        if (
            "match" in rule
            and name.startswith(KEYWORD_SCOPES)
            and re.fullmatch(rule["match"], word)
        ):
            return name
    return None


@pytest.mark.parametrize("word", sorted(keywords()))
def test_every_keyword_of_the_grammar_is_highlighted(word: str):
    assert _scope_of(word) is not None, (
        f"'{word}' is a keyword of grammar.lark without highlighting"
    )


def test_names_and_attributes_are_highlighted():
    found = list(rules(load(GRAMMAR)))
    tool = next(r for r in found if "tool)" in r.get("match", ""))
    m = re.match(tool["match"], "tool cancel_order(")
    assert m and m.group(2) == "cancel_order"
    attribute = next(r for r in found if r.get("name", "").startswith("entity.other.attribute"))
    assert re.fullmatch(attribute["match"], "@key")
    comment = next(r for r in found if r.get("name", "").startswith("comment"))
    assert re.search(comment["match"], 'x  # a "comment"').group() == '# a "comment"'
