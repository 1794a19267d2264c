"""`envscale synth` on the small collection that ships with the project: the folder it
writes, a rerun that resumes, and the mistakes it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envscale.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "apis" / "demo.jsonl"


def synth(out: Path, *extra: str) -> int:
    return main(
        ["synth", str(DEMO), "--out", str(out), "--workers", "1", "--tasks", "5", "-q", *extra]
    )


def test_synth_writes_the_folder_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "synth"
    assert synth(out) == 0
    printed = capsys.readouterr()
    assert "draft+verify" in printed.out and "wrote " in printed.out
    lines = (out / "index.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries and all(e["status"] in ("kept", "rejected") for e in entries)
    for e in entries:
        assert (out / e["spec"]).exists()
        assert all(t["provenance"] for t in e["tools"])
    report = json.loads((out / "report.json").read_text())
    assert set(report["stages"]) >= {"ingest", "graph", "partition", "domains", "write"}
    assert report["domains"]["communities"] == len(entries)
    described = json.loads((out / "run.json").read_text())
    assert described["tasks"] == 5 and described["improve"] is None
    index = (out / "index.jsonl").read_bytes()
    assert synth(out) == 0  # nothing left to make: the same index
    assert (out / "index.jsonl").read_bytes() == index


def test_a_folder_of_another_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "synth"
    assert synth(out, "--limit", "12") == 0
    capsys.readouterr()
    assert synth(out, "--limit", "12", "--seed", "1") == 2
    assert "holds another synthesis (it differs in: seed)" in capsys.readouterr().err


def test_bad_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert synth(tmp_path, "--min-size", "9", "--max-size", "3") == 2
    assert "--min-size is larger than --max-size" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        synth(tmp_path, "--limit", "0")
    assert stopped.value.code == 2
