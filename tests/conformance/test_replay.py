"""The tau-bench replay machinery on a small document store of its own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from envscale.cli import main
from envscale.conformance.taubench import canonical, canonical_output, environment, replay_file

SPEC = """domain notes "Notes kept as JSON documents."
struct Meta { author: str  pinned: bool?  @sparse }
entity Note {
  note_id: str @key @external
  text:    str
  meta:    Meta
  archived_reason: str? @sparse
}
tool get_note(note_id: str) -> Note { "Read a note." return Note[note_id] }
tool archive(note_id: str, reason: str) -> Note {
  "Archive a note."
  let n = Note[note_id]
  require n.archived_reason == none else "already archived"
  set n.archived_reason = reason
  return n
}
tool pinned(note_id: str) -> bool {
  "Whether a note is pinned."
  return Note[note_id].meta.pinned == true
}
"""


@pytest.fixture
def store(tmp_path: Path) -> Path:
    (tmp_path / "notes.domain").write_text(SPEC)
    (tmp_path / "layout.json").write_text(
        json.dumps(
            {"tables": {"notes": {"entity": "Note", "key": "note_id", "file": "notes.json"}}}
        )
    )
    (tmp_path / "notes.json").write_text(
        json.dumps(
            {
                "n1": {"text": "hello", "meta": {"author": "ann", "pinned": True}},
                "n2": {"text": "bye", "meta": {"author": "bob"}},
            }
        )
    )
    return tmp_path


def write_cases(path: Path, cases: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_outputs_hide_external_keys_and_absent_sparse_fields(store: Path) -> None:
    env, _ = environment(store / "notes.domain", store / "layout.json", store)
    assert env.call("get_note", {"note_id": "n2"}).content == {
        "text": "bye",
        "meta": {"author": "bob"},
    }
    assert env.call("pinned", {"note_id": "n2"}).content is False
    assert env.call("pinned", {"note_id": "n1"}).content is True


def test_visible_and_sealed_cases_match_and_mismatch(store: Path) -> None:
    archived = {"text": "bye", "meta": {"author": "bob"}, "archived_reason": "old"}
    good = {
        "task_id": "good",
        "actions": [
            {
                "name": "archive",
                "kwargs": {"note_id": "n2", "reason": "old"},
                "output": json.dumps(archived),
            },
            {
                "name": "archive",
                "kwargs": {"note_id": "n2", "reason": "old"},
                "output": "Error: already archived",
            },
        ],
        "final_diff": {"notes": {"n2": archived}},
    }
    wrong_output = {
        "task_id": "wrong-output",
        "actions": [
            {"name": "get_note", "kwargs": {"note_id": "n1"}, "output": '{"text": "HELLO"}'}
        ],
        "final_diff": {},
    }
    wrong_state = {
        "task_id": "wrong-state",
        "actions": [
            {
                "name": "archive",
                "kwargs": {"note_id": "n1", "reason": "x"},
                "output_sha256": "0" * 64,
            }
        ],
        "final_diff_sha256": sha(canonical({})),
    }
    sealed_good = {
        "task_id": "sealed",
        "actions": [
            {
                "name": "get_note",
                "kwargs": {"note_id": "n1"},
                "output_sha256": sha(
                    canonical_output('{"text": "hello", "meta": {"author": "ann", "pinned": true}}')
                ),
            }
        ],
        "final_diff_sha256": sha(canonical({})),
    }
    env, layout = environment(store / "notes.domain", store / "layout.json", store)
    result = replay_file(
        env,
        layout,
        write_cases(store / "cases.jsonl", [good, wrong_output, wrong_state, sealed_good]),
    )
    assert (result.matched, result.total) == (2, 4)
    assert [(m.case, m.where) for m in result.mismatches] == [
        ("wrong-output", "action 0 (get_note)"),
        ("wrong-state", "action 0 (archive)"),
        ("wrong-state", "final state"),
    ]
    assert '- "text": "HELLO"' in result.mismatches[0].render()


def test_cli_prints_counts_and_exit_status(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = {
        "task_id": "t",
        "actions": [{"name": "pinned", "kwargs": {"note_id": "n1"}, "output": "true"}],
        "final_diff": {},
    }
    bad = {
        "task_id": "u",
        "actions": [{"name": "pinned", "kwargs": {"note_id": "n1"}, "output": "false"}],
        "final_diff": {},
    }
    args = [
        "conformance",
        "taubench",
        "--domain",
        "notes",
        "--spec",
        str(store / "notes.domain"),
        "--layout",
        str(store / "layout.json"),
        "--data",
        str(store),
    ]
    assert main([*args, "--cases", str(write_cases(store / "ok.jsonl", [ok]))]) == 0
    assert main([*args, "--cases", str(write_cases(store / "bad.jsonl", [ok, bad]))]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("ok.jsonl: 1/1 cases match") and out[1] == "conformance: 1/1 cases match"
    assert (
        out[2].endswith("bad.jsonl: 1/2 cases match") and out[-1] == "conformance: 1/2 cases match"
    )
    assert main([*args[:-1], str(store / "absent"), "--cases", str(store / "ok.jsonl")]) == 2
