"""Every error code has a golden spec that triggers it; the rendered output is kept next to it.

Regenerate the .expected files with `pytest --update-golden` and review the diff by eye.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envscale.api import compile_file, compile_source
from envscale.dsl.ast import Span
from envscale.dsl.diagnostics import CODES, Diagnostic, render_all, sorted_diagnostics

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.relative_to(ROOT) for p in GOLDEN.glob("*.domain"))


def code_of(case: Path) -> str:
    match = re.match(r"E\d{3}", case.name)
    assert match, f"golden case {case.name} must be named after its code"
    return match.group(0)


def check(case: Path) -> tuple[list[Diagnostic], str]:
    files, diagnostics, sources = compile_file(case)
    assert files is None, f"{case} compiled without errors"
    return diagnostics, render_all(diagnostics, sources) + "\n"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Diagnostics show the path as given, so the cases are compiled by their relative path.
    monkeypatch.chdir(ROOT)


def test_every_code_has_a_golden_case() -> None:
    covered = {code_of(case) for case in CASES}
    assert sorted(set(CODES) - covered) == []
    assert sorted(covered - set(CODES)) == []


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path, golden) -> None:
    diagnostics, rendered = check(case)
    assert code_of(case) in {d.code for d in diagnostics}
    assert all(d.code in CODES for d in diagnostics)
    golden(ROOT / case.with_suffix(".expected"), rendered)


def test_unread_file_is_e004(tmp_path: Path) -> None:
    files, diagnostics, sources = compile_file(tmp_path / "absent.domain")
    assert files is None and sources == {}
    (d,) = diagnostics
    assert d.code == "E004"
    assert "No such file or directory" in d.message
    assert render_all(diagnostics, sources).endswith("1 error found")


def test_several_independent_errors_are_all_reported_in_order() -> None:
    source = """domain shop "A shop." clock "noon"

entity Order {
  order_id: str @key
  total: float @defualt(0.0)
  user: Usr
}

entity Empty {
  name: str
}

tool cancel(order_id: str) -> Order {
  let o = Order[ordr_id]
  set o.totl = 1
  return o
}

policy p {
  at most 1 cancl
}
"""
    files, diagnostics, sources = compile_source(source, "multi.domain")
    assert files is None
    ordered = sorted_diagnostics(diagnostics)
    assert [(d.code, d.span.line) for d in ordered] == [
        ("E603", 1),
        ("E302", 5),
        ("E102", 6),
        ("E301", 9),
        ("E104", 14),
        ("E103", 15),
        ("E105", 20),
    ]
    rendered = render_all(diagnostics, sources)
    assert rendered.endswith("\n\n7 errors found")
    positions = [rendered.index(f"multi.domain:{d.span.line}:{d.span.column}\n") for d in ordered]
    assert positions == sorted(positions)


def test_render_shape() -> None:
    source = 'domain d "x"\nentity Foo { a: Prodcut @key }\n'
    d = Diagnostic(
        "E102", "unknown type 'Prodcut'", Span("s.domain", 2, 17, 2, 24), "did you mean 'Product'?"
    )
    assert d.render(source) == (
        "error[E102]: unknown type 'Prodcut'\n"
        "  --> s.domain:2:17\n"
        "  |\n"
        "2 | entity Foo { a: Prodcut @key }\n"
        "  |                 ^^^^^^^\n"
        "  = hint: did you mean 'Product'?"
    )
    assert render_all([d], {"s.domain": source}).endswith("\n\n1 error found")
    assert render_all([], {}) == ""


def test_render_multiline_span_underlines_to_the_end_of_its_first_line() -> None:
    source = "let x =\n  1\n"
    d = Diagnostic("E201", "m", Span("s", 1, 5, 2, 4))
    assert d.render(source).splitlines()[-1] == "  |     ^^^"


@pytest.mark.parametrize("escape", ["absolute", "parent", "symlink"])
def test_a_spec_reads_no_file_outside_its_folder(tmp_path: Path, escape: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("API_KEY=do-not-leak\n", encoding="utf-8")
    folder = tmp_path / "specs"
    folder.mkdir()
    if escape == "symlink":
        (folder / "policy.md").symlink_to(secret)
    name = {"absolute": str(secret), "parent": "../secret.txt", "symlink": "policy.md"}[escape]
    spec = folder / "shop.domain"
    spec.write_text(f'domain shop "A shop." policy from "{name}"\n', encoding="utf-8")
    files, diagnostics, _ = compile_file(spec)
    assert files is None and [d.code for d in diagnostics] == ["E604"]
    assert all("do-not-leak" not in d.message for d in diagnostics)


def test_a_policy_file_below_the_spec_is_read(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "policy.md").write_text("Be kind.\n", encoding="utf-8")
    spec = tmp_path / "shop.domain"
    spec.write_text(
        'domain shop "A shop." policy from "docs/policy.md"\n'
        "entity Item { id: str @key }\n"
        'tool get_item(id: str) -> Item { "Get an item." return Item[id] }\n',
        encoding="utf-8",
    )
    files, diagnostics, _ = compile_file(spec)
    assert files is not None, diagnostics
    assert '"policy": "Be kind."' in files["manifest.json"]


def test_a_policy_path_holding_a_nul_is_a_diagnostic(tmp_path: Path) -> None:
    spec = tmp_path / "shop.domain"
    spec.write_text('domain shop "A shop." policy from "a\\u0000.md"\n', encoding="utf-8")
    files, diagnostics, _ = compile_file(spec)
    assert files is None and [d.code for d in diagnostics] == ["E602"]
    assert "NUL" in diagnostics[0].message
