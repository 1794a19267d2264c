"""envscale.load: in-process compilation, cached by the spec and the files it includes."""

from __future__ import annotations

from pathlib import Path

import pytest

import envscale
from envscale.dsl.diagnostics import SpecError

SPEC = """domain notes "Notes." policy from "notes.md"
entity Note { note_id: str @key  text: str }
tool get_note(note_id: str) -> Note { "Read a note." return Note[note_id] }
"""


def test_load_is_cached_until_the_spec_or_its_policy_changes(tmp_path: Path) -> None:
    spec = tmp_path / "notes.domain"
    spec.write_text(SPEC)
    (tmp_path / "notes.md").write_text("Be brief.")
    first = envscale.load(spec)
    assert envscale.load(spec) is first
    assert first.policy == "Be brief."
    (tmp_path / "notes.md").write_text("Be thorough.")
    second = envscale.load(spec)
    assert second is not first and second.policy == "Be thorough."
    spec.write_text(SPEC.replace("Notes.", "My notes."))
    third = envscale.load(spec)
    assert third is not second and third.manifest.description == "My notes."
    assert third.spec_hash != second.spec_hash != first.spec_hash


def test_load_raises_spec_error_with_every_diagnostic(tmp_path: Path) -> None:
    spec = tmp_path / "bad.domain"
    spec.write_text('domain bad "x"\nentity A { a: Strng @key }\nentity B { b: Int @key }\n')
    with pytest.raises(SpecError) as caught:
        envscale.load(spec)
    assert [d.code for d in caught.value.diagnostics] == ["E102", "E102"]
    assert "2 errors found" in str(caught.value)


def test_missing_spec_is_a_diagnostic(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        envscale.load(tmp_path / "absent.domain")
    assert caught.value.diagnostics[0].code == "E004"


def test_core_does_not_import_the_training_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, envscale; envscale.load; import envscale.runtime.environment; "
        "print(','.join(m for m in ('torch', 'transformers', 'accelerate', 'peft') if m in "
        "sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
