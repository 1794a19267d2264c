"""`envscale fmt`: in place, --check and --stdout, and a malformed spec left untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from envscale.cli import main
from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE
from envscale.dsl import format as fmt_module

MESSY = 'domain d "x"\nenum E{a,b}   # two\nentity R { id:str @key\n  e:E }\n'
TIDY = 'domain d "x"\n\nenum E { a, b }  # two\n\nentity R {\n  id: str @key\n  e: E\n}\n'


def test_fmt_rewrites_in_place_and_check_then_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "d.domain"
    spec.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", "--check", str(tmp_path)]) == EXIT_SPEC_ERRORS
    assert f"{spec}: would be reformatted" in capsys.readouterr().out
    assert spec.read_text(encoding="utf-8") == MESSY  # --check changes nothing
    assert main(["fmt", str(spec)]) == EXIT_OK
    assert spec.read_text(encoding="utf-8") == TIDY
    assert main(["fmt", "--check", str(spec)]) == EXIT_OK
    assert "would be reformatted" not in capsys.readouterr().out


def test_fmt_stdout_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "d.domain"
    spec.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", "--stdout", str(spec)]) == EXIT_OK
    assert capsys.readouterr().out == TIDY
    assert spec.read_text(encoding="utf-8") == MESSY


def test_a_malformed_spec_gets_diagnostics_and_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bad.domain"
    text = 'domain d "x"\nentity R { id: str @key\n  e: }\n'
    spec.write_text(text, encoding="utf-8")
    assert main(["fmt", str(spec)]) == EXIT_SPEC_ERRORS
    err = capsys.readouterr().err
    assert f"--> {spec}:3:6" in err and "^" in err and "hint: expected" in err
    assert spec.read_text(encoding="utf-8") == text


def test_a_missing_file_is_a_diagnostic(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["fmt", str(tmp_path / "none.domain")]) == EXIT_SPEC_ERRORS
    assert "E004" in capsys.readouterr().err


def test_check_and_stdout_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fmt", "--check", "--stdout", str(tmp_path)])
    assert stop.value.code == EXIT_USAGE


def test_the_shipped_specs_are_formatted(capsys: pytest.CaptureFixture[str]) -> None:
    specs = Path(__file__).resolve().parents[1] / "specs"
    assert main(["fmt", "--check", str(specs)]) == EXIT_OK, capsys.readouterr().out


def test_a_layout_that_changes_a_token_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = fmt_module._layout
    monkeypatch.setattr(fmt_module, "_layout", lambda s, t: layout(s, t).replace("a, b", "ab"))
    spec = tmp_path / "d.domain"
    spec.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", str(spec)]) == EXIT_USAGE
    assert "internal error" in capsys.readouterr().err
    assert spec.read_text(encoding="utf-8") == MESSY


def test_the_readme_commands_print_what_the_readme_shows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Formatting and editors", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    check, shown = block.split("$ envscale fmt --stdout specs/clinic.domain | head -3\n")
    assert check.strip() == "$ envscale fmt --check specs"
    monkeypatch.chdir(root)
    assert main(["fmt", "--check", "specs"]) == EXIT_OK
    assert main(["fmt", "--stdout", "specs/clinic.domain"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines(keepends=True)[:3] == shown.splitlines(keepends=True)[:3]
