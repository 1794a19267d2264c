"""JSON-lines files after a torn write: readers skip the unfinished tail, repair cuts it."""

from __future__ import annotations

import json
from pathlib import Path

from envscale import jsonl, records


def torn_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    whole = "".join(json.dumps({"n": i}) + "\n" for i in range(3))
    path.write_text(whole + '{"n": 3, "text": "cut sho')
    return path


def test_read_skips_an_unterminated_last_line(tmp_path: Path) -> None:
    assert [r["n"] for r in jsonl.read(torn_file(tmp_path))] == [0, 1, 2]


def test_repair_cuts_the_tail_and_appending_goes_on_from_a_whole_line(tmp_path: Path) -> None:
    path = torn_file(tmp_path)
    assert jsonl.repair(path) == len('{"n": 3, "text": "cut sho')
    appender = jsonl.Appender(path)
    appender.write([{"n": 3}])
    appender.close()
    assert [r["n"] for r in jsonl.read(path)] == [0, 1, 2, 3]
    assert path.read_text().endswith("\n")


def test_text_with_lone_surrogates_is_written_and_read_back(tmp_path):
    # A model can emit any code point, and a tool error can echo it back.
    record = {"content": "order \ud800 not found", "tail": "\udfff", "fine": "é 😀"}
    path = tmp_path / "t.jsonl"
    with jsonl.Appender(path) as out:
        out.write([record])
    jsonl.write_atomic(tmp_path / "w.jsonl", [record])
    assert list(jsonl.read(path)) == [record] == list(jsonl.read(tmp_path / "w.jsonl"))
    assert "😀" in path.read_text(encoding="utf-8")  # other text stays as it is


def test_a_trajectory_holding_a_lone_surrogate_round_trips():
    message = records.Message(role="assistant", content="\ud83d broken emoji")
    line = records.Trajectory(id="a", tools=[], messages=[message]).to_json()
    line.encode("utf-8")
    assert records.Trajectory.from_line(line).messages[0].content == "\ud83d broken emoji"
