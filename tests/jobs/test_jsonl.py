"""JSON-lines files after a torn write: readers skip the unfinished tail, repair cuts it."""

from __future__ import annotations

import json
from pathlib import Path

from envscale import jsonl


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
