"""Verification of drafted domains: the shipped specs are kept, each broken draft is rejected
with the reason of the step that fails, and nothing raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from envscale.compiler.pipeline import analyze
from envscale.runtime.load import load
from envscale.synth import verify as verify_module
from envscale.synth.properties import classify
from envscale.synth.records import SpecDraft
from envscale.synth.verify import verify
from tests.synth import drafts

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.parametrize("name", ["clinic", "delivery"])
def test_shipped_specs_are_kept(name: str) -> None:
    spec = SPECS / f"{name}.domain"
    sidecar = SPECS / f"{name}.instructions.toml"
    draft = SpecDraft(
        name=name,
        source=spec.read_text(encoding="utf-8"),
        instructions=sidecar.read_text(encoding="utf-8") if sidecar.exists() else None,
    )
    result = verify(draft, seed=0, tasks=60, base=SPECS)
    assert result.kept, result.reasons
    f = result.figures
    assert f["tools_reached"] == f["tools_total"] == len(load(spec).manifest.tools)
    assert f["tasks_replayed"] == f["tasks_sampled"] >= 60
    assert f["task_data"] == "seed"  # the spec's seed data, as `envscale tasks --data auto`
    assert sum(f["data_counts"].values()) > 0  # the generated data loaded all the same
    assert f["properties"]["failed"] == 0 and f["properties"]["tested"] > 0
    assert set(f["seconds"]) >= {"check", "compile", "data", "properties", "tasks", "replay"}


def test_a_sound_draft_is_kept_with_its_figures() -> None:
    result = verify(drafts.draft(drafts.NOTEBOOK), seed=0, tasks=10)
    assert result.kept, result.reasons
    f = result.figures
    assert f["write_kinds"] == {
        "create_note": "create",
        "delete_note": "delete",
        "rename_note": "update",
    }
    # create then get, delete then get, update then get, and a missing key for each.
    assert f["properties"] == {"tested": 6, "untested": [], "failed": 0}
    assert (f["tools"], f["entities"], f["writes"]) == (6, 2, 3)
    assert f["tools_reached"] == f["tools_total"] == 6
    assert f["tasks_sampled"] == f["tasks_replayed"] >= 10
    assert sum(f["chain_lengths"].values()) == f["tasks_sampled"]
    assert f["data_counts"] == {"Person": 10, "Note": 10}
    assert f["task_data"] == "generated" and f["internal_errors"] == 0


def test_verification_is_deterministic_for_a_seed() -> None:
    def figures() -> dict:
        f = dict(verify(drafts.draft(drafts.NOTEBOOK), seed=3, tasks=10).figures)
        f.pop("seconds")
        return f

    assert figures() == figures()


def test_a_draft_that_does_not_check_is_rejected_with_its_diagnostics() -> None:
    result = verify(drafts.draft(drafts.UNCHECKED), seed=0, tasks=10)
    assert not result.kept
    assert result.reasons == ["check: 1 error: E102 unknown type 'Persn' (line 14)"]
    assert len(result.diagnostics) == 1
    shown = result.diagnostics[0]
    assert "--> notebook.domain:14:10" in shown and "^^^^^" in shown
    assert "did you mean 'Person'?" in shown


def test_a_tool_no_task_reaches_rejects_the_domain() -> None:
    result = verify(drafts.draft(drafts.UNREACHABLE), seed=0, tasks=10)
    assert not result.kept
    assert len(result.reasons) == 1 and result.reasons[0].startswith("reach: 1 of 7 tools")
    assert result.reasons[0].endswith("pin_note")
    assert result.figures["tools_reached"] == 6
    assert "pin_note" in result.figures["properties"]["untested"]


def test_a_missing_key_that_is_no_error_fails_the_property_tests() -> None:
    result = verify(drafts.draft(drafts.SILENT_MISSING_KEY), seed=0, tasks=10)
    assert not result.kept
    assert result.reasons == [
        "properties: touch_note: with note_id='ZZ-MISSING-0', which names no Note, it succeeds"
    ]


def test_an_update_the_get_tool_cannot_show_fails_the_property_tests() -> None:
    result = verify(drafts.draft(drafts.HIDDEN_UPDATE), seed=0, tasks=10)
    assert not result.kept
    [reason] = [r for r in result.reasons if r.startswith("properties:")]
    assert "archive_note: updated Note" in reason and "yet get_note(" in reason
    assert "does not find it" in reason


def test_writes_are_classified_by_what_their_bodies_do_not_by_their_names() -> None:
    source = (
        drafts.NOTEBOOK
        + """
tool delete_body(note_id: str "The note's id") -> Note {
  "Empty a note's body."
  let n = Note[note_id]
  set n.body = ""
  return n
}

tool add_copy(note_id: str "The note to copy") -> Note {
  "Copy a note."
  let n = Note[note_id]
  return insert Note(note_id: next_key(Note, "NO", 4), owner: n.owner, title: n.title)
}
"""
    )
    c = analyze(source, "notebook.domain")
    domain = verify_module._compile(c, source)
    classes = classify(c, domain.manifest)
    assert {name: (cls.kind, cls.entity) for name, cls in classes.items()} == {
        "create_note": ("create", "Note"),
        "rename_note": ("update", "Note"),
        "delete_note": ("delete", "Note"),
        "delete_body": ("update", "Note"),
        "add_copy": ("create", "Note"),
    }
    # The parameters a missing key is tried in: those the body looks a record up by.
    assert classes["create_note"].lookups == (("person_id", "Person"),)
    assert classes["rename_note"].lookups == (("note_id", "Note"),)
    assert classes["add_copy"].lookups == (("note_id", "Note"),)


def test_a_crash_in_a_step_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the generator broke")

    monkeypatch.setattr(verify_module, "generate_data", broken)
    result = verify(drafts.draft(drafts.NOTEBOOK), seed=0, tasks=10)
    assert not result.kept
    assert result.reasons == ["data: crashed: RuntimeError: the generator broke"]
    assert "tasks_sampled" not in result.figures  # the steps after it did not run


def test_bad_instructions_are_a_reason_not_an_exception() -> None:
    draft = SpecDraft(name="notebook", source=drafts.NOTEBOOK, instructions="[not toml")
    result = verify(draft, seed=0, tasks=10)
    assert not result.kept
    assert result.reasons[0].startswith("instructions: crashed: TOMLDecodeError:")
