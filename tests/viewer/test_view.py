"""`envscale view`: what the page holds, read back from the page itself, on real episodes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from envscale.cli import main as envscale_main
from envscale.records import Task, Trajectory, load_jsonl
from envscale.rollout.filters import gold_succeeded
from envscale.runtime.load import load
from envscale.viewer import Sources, build
from envscale.viewer.diffs import StateDiffs, dialogue_calls
from envscale.viewer.page import render, script_json
from tests.viewer.conftest import RETAIL, TELECOM, Episodes

_DATA = re.compile(r'<script type="application/json" id="envscale-data">(.*?)</script>', re.S)


def page_data(html: str) -> dict:
    match = _DATA.search(html)
    assert match is not None
    return json.loads(match.group(1))


def view(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = envscale_main(["view", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_page_holds_every_trajectory_and_needs_no_network(
    episodes: Episodes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    code, out, err = view([str(episodes.whole / "trajectories.jsonl"), "-o", str(page)], capsys)
    assert code == 0, err
    assert err == ""  # tasks and specs were found beside the trajectories
    html = page.read_text("utf-8")
    trajectories = load_jsonl(episodes.whole / "trajectories.jsonl", Trajectory)
    assert f"wrote {page}: {len(trajectories)} trajectories" in out
    data = page_data(html)
    assert [row["id"] for row in data["rows"]] == [t.id for t in trajectories]
    assert data["domains"] == ["retail", "telecom"]
    assert data["notes"] == []
    # Style and script are inline; nothing is fetched.
    assert not re.search(r"<(script|img|link|iframe)[^>]*\s(src|href)=", html)
    assert "<style>" in html and "JSON.parse" in html


def test_outcomes_reasons_and_calls_beside_the_gold_ones(
    episodes: Episodes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = build(Sources(episodes.cut / "trajectories.jsonl")).value
    trajectories = {t.id: t for t in load_jsonl(episodes.cut / "trajectories.jsonl", Trajectory)}
    tasks = {t.id: t for t in load_jsonl(episodes.cut / "tasks.jsonl", Task)}
    failed = [row for row in data["rows"] if not row["passed"]]
    assert failed, "three agent turns leave some episodes unfinished"
    for row in data["rows"]:
        t = trajectories[row["id"]]
        assert row["passed"] == all(t.filters.values())
        assert row["reason"] == (None if row["passed"] else "turn_limit")
        assert row["failure"] == t.meta.failure
        gold = data["tasks"][row["task"]]["gold"]
        assert [g["name"] for g in gold] == [g.name for g in tasks[row["task"]].gold_calls]
        for pair in row["compare"]:
            if pair["same"]:
                i, j = pair["agent"]
                call = row["messages"][i]["calls"][j]
                assert call["name"] == gold[pair["gold"]]["name"]
        if row["passed"]:
            assert all(pair["same"] for pair in row["compare"])
    assert "turn_limit" in data["reasons"]


def test_final_states_are_replayed_beside_the_gold_ones(episodes: Episodes) -> None:
    data = build(Sources(episodes.mixed / "trajectories.jsonl", specs=[str(RETAIL)])).value
    tasks = {t.id: t for t in load_jsonl(episodes.mixed / "tasks.jsonl", Task)}
    by_domain = {name: i for i, name in enumerate(data["domains"])}
    trajectories = load_jsonl(episodes.mixed / "trajectories.jsonl", Trajectory)
    assert len(trajectories) == len(data["rows"])  # a row for each, in the file's order
    changed_some = False
    for row, trajectory in zip(data["rows"], trajectories, strict=True):
        if row["domain"] != by_domain["retail"]:
            assert row["diff"] is None  # no telecom spec was given
            continue
        assert row["diff"]["reproduced"], row["id"]
        changes = data["states"][row["diff"]["state"]]
        task = tasks[row["task"]]
        reached_gold = task.gold_state_hash == trajectory.final_state_hash
        assert all(c["same"] for c in changes) == reached_gold, row["id"]
        for change in changes:
            changed_some = True
            assert change["agent"] or change["gold"]
            assert change["fields"], "a changed record has a field that differs"
            for _name, before, agent, gold in change["fields"]:
                assert len({json.dumps(v, sort_keys=True) for v in (before, agent, gold)}) > 1
    assert changed_some
    # Episodes cut short leave states other than the gold ones, shown field by field.
    assert any(
        not c["same"]
        for row in data["rows"]
        if row["diff"]
        for c in data["states"][row["diff"]["state"]]
    )
    notes = data["notes"]
    assert any("domain telecom" in note and "--spec" in note for note in notes)


def test_dual_control_sides_and_error_outputs_are_kept(episodes: Episodes) -> None:
    data = build(Sources(episodes.whole / "trajectories.jsonl")).value
    telecom = data["domains"].index("telecom")
    sides = {
        (m["role"], m.get("side"))
        for row in data["rows"]
        if row["domain"] == telecom
        for m in row["messages"]
    }
    assert ("user", "user") in sides and ("tool", "user") in sides
    assert ("assistant", "agent") in sides and ("tool", "agent") in sides
    errors = [m for row in data["rows"] for m in row["messages"] if m.get("error")]
    assert errors, "the scripted agent's planned mistakes fail some calls"
    for m in errors:
        text = m["content"] if "content" in m else data["texts"][m["text"]]
        assert m["role"] == "tool" and text.startswith("Error: ") and m["of"]


def test_missing_tasks_and_specs_are_said_on_stderr(
    episodes: Episodes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lonely = tmp_path / "trajectories.jsonl"
    lonely.write_bytes((episodes.whole / "trajectories.jsonl").read_bytes())
    code, _out, err = view([str(lonely)], capsys)
    assert code == 0
    assert (tmp_path / "trajectories.html").is_file()
    assert "warning: no tasks.jsonl beside" in err
    data = page_data((tmp_path / "trajectories.html").read_text("utf-8"))
    assert all(row["compare"] is None and row["diff"] is None for row in data["rows"])
    code, _out, err = view(
        [str(lonely), "--tasks", str(episodes.whole / "tasks.jsonl"), "--spec", str(TELECOM)],
        capsys,
    )
    assert code == 0
    assert "no spec of domain retail at hand" in err and "telecom" not in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["missing.jsonl"], "no trajectories file missing.jsonl"),
        (["{traj}", "--tasks", "missing.jsonl"], "no tasks file missing.jsonl"),
        (["{traj}", "--spec", "missing.domain"], "no spec file missing.domain"),
        (["{bad}"], "not JSON"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    episodes: Episodes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", "utf-8")
    traj = str(episodes.whole / "trajectories.jsonl")
    args = [a.format(traj=traj, bad=bad) for a in args]
    code, _out, err = view([*args, "-o", str(tmp_path / "p.html")], capsys)
    assert code == 2
    assert said in err and "Traceback" not in err


def test_data_in_the_script_element_cannot_end_it() -> None:
    hostile = {
        "text": "</script><script>alert(1)</script><!-- \u2028\u2029 & \ud800 é",
        "rows": [],
    }
    text = script_json(hostile)
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text)["text"] == hostile["text"]
    html = render({"rows": [], "notes": [], "extra": hostile["text"]}, "t</title>")
    assert html.count("</script>") == 2  # the data's and the viewer's
    assert "t&lt;/title&gt;" in html
    html.encode("utf-8")  # a lone surrogate is written as its escape


def test_replaying_the_successful_writes_reproduces_every_final_state(episodes: Episodes) -> None:
    differs = {str(spec): StateDiffs(load(spec), str(spec)) for spec in (RETAIL, TELECOM)}
    tasks = {t.id: t for t in load_jsonl(episodes.mixed / "tasks.jsonl", Task)}
    try:
        for t in load_jsonl(episodes.mixed / "trajectories.jsonl", Trajectory):
            differ = differs[str(RETAIL if t.domain == "retail" else TELECOM)]
            task = tasks[t.task_id]
            _changes, final_hash = differ.replay(task, dialogue_calls(t))
            assert final_hash == t.final_state_hash, t.id
            ok = gold_succeeded(task.gold_calls, task.gold_outputs)
            pairs = zip(task.gold_calls, ok, strict=True)
            gold = [(g.name, g.arguments, g.side) for g, good in pairs if good]
            gold_changes, gold_hash = differ.replay(task, gold)
            assert gold_hash == task.gold_state_hash
            assert bool(gold_changes) == (task.kind == "write")
    finally:
        for differ in differs.values():
            differ.close()


def test_an_empty_file_makes_an_empty_page_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "trajectories.jsonl"
    empty.write_text("", "utf-8")
    page = tmp_path / "new" / "page.html"
    code, out, err = view([str(empty), "-o", str(page)], capsys)
    assert code == 0
    assert f"wrote {page}: 0 trajectories" in out
    assert f"warning: {empty} holds no trajectories" in err
    assert page_data(page.read_text("utf-8"))["rows"] == []


def test_an_episode_given_twice_is_two_rows_of_their_own(
    episodes: Episodes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job"
    shutil.copytree(episodes.whole, job)
    once = (job / "trajectories.jsonl").read_text("utf-8")
    (job / "trajectories.jsonl").write_text(once + once, "utf-8")
    page = tmp_path / "page.html"
    code, _, err = view([str(job / "trajectories.jsonl"), "-o", str(page)], capsys)
    assert code == 0, err
    ids = [row["id"] for row in page_data(page.read_text("utf-8"))["rows"]]
    first = [t.id for t in load_jsonl(episodes.whole / "trajectories.jsonl", Trajectory)]
    assert ids == first + [f"{i}~2" for i in first]
