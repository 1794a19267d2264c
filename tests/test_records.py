"""The records between stages: files written before versions existed load, and what the records
write is what the files have always held, plus the version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from envscale import jsonl, records
from envscale import load as envscale_load
from envscale.errors import DataError
from envscale.records import EpisodeError, EvalReport, Manifest, Task, Trajectory

ROOT = Path(__file__).resolve().parent.parent
CLINIC = ROOT / "specs" / "clinic.domain"
# Files as envscale wrote them before records carried versions: tasks, a generation job's
# trajectories (short turn limit: failures of every kind), a job whose endpoint was down,
# an evaluation, and clinic's compiled manifest.
BEFORE_VERSIONS = Path(__file__).resolve().parent / "records_v0"


def envscale(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "OPENAI_API_KEY": "unused",
    }
    done = subprocess.run(
        [sys.executable, "-m", "envscale", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def produced(tmp_path_factory) -> Path:
    """Files as the commands write them: tasks, a generation job whose short turn limit fails
    most episodes, one whose agent endpoint is down, an evaluation, compiled domains."""
    out = tmp_path_factory.mktemp("produced")
    envscale("tasks", str(CLINIC), "--out", "tasks.jsonl", "-n", "12", cwd=out)
    envscale(
        "generate",
        str(CLINIC),
        "--tasks",
        "8",
        "--out",
        "gen",
        "--workers",
        "1",
        "-q",
        "--max-turns",
        "6",
        cwd=out,
    )
    envscale(
        "generate",
        str(CLINIC),
        "--tasks",
        "2",
        "--out",
        "down",
        "--workers",
        "1",
        "-q",
        "--agent",
        "openai",
        "--agent-model",
        "m",
        "--agent-base-url",
        "http://127.0.0.1:9/v1",
        "--retries",
        "0",
        "--timeout",
        "1",
        cwd=out,
    )
    envscale(
        "eval",
        str(CLINIC),
        "--tasks",
        "tasks.jsonl",
        "--trials",
        "2",
        "--out",
        "eval",
        "--workers",
        "1",
        "-q",
        cwd=out,
    )
    for spec in sorted((ROOT / "specs").glob("*.domain")):
        envscale("compile", str(spec), "--out", f"compiled/{spec.stem}", cwd=out)
    return out


def versioned_line(line: str) -> str:
    """A line written before versions existed, as a record writes it now."""
    assert line.startswith("{") and '"version"' not in line
    return '{"version": 1, ' + line[1:]


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_task_lines_from_before_versions_load_and_gain_only_the_version():
    path = BEFORE_VERSIONS / "tasks.jsonl"
    for number, line in enumerate(lines(path), 1):
        task = Task.from_line(line, f"{path}:{number}")
        assert task.version == 1 and task.gold_calls and task.gold_outputs[0].content
        assert task.to_json() == versioned_line(line)


@pytest.mark.parametrize("name", ["tasks.jsonl", "gen/tasks.jsonl"])
def test_task_lines_are_written_back_as_they_were(produced, name):
    for number, line in enumerate(lines(produced / name), 1):
        task = Task.from_line(line, f"{name}:{number}")
        assert task.to_json() == line
        assert Task.model_validate(json.loads(task.to_json())) == task


def trajectory_lines(path: Path) -> list[tuple[int, str]]:
    """The numbered lines of a trajectory file that are trajectories (not preambles)."""
    return [
        (number, line)
        for number, line in enumerate(lines(path), 1)
        if json.loads(line).get("kind") != "preamble"
    ]


def file_text(trajectories: list[Trajectory]) -> str:
    """The trajectories as a job writes them into a new file."""
    return "".join(
        jsonl.dumps(line) + "\n" for line in records.TrajectoryWriter().lines(trajectories)
    )


def check_trajectories(
    path: Path, written_back: Callable[[list[Trajectory]], str], expected: str
) -> None:
    trajectories = records.load_jsonl(path, Trajectory)
    assert len(trajectories) == len(trajectory_lines(path)) >= 4
    # The job's short turn limit leaves failures of every kind in the file.
    assert {t.meta.end for t in trajectories} == {"user_done", "turn_limit"}
    assert any(t.passed(["valid", "state", "exact"]) for t in trajectories)
    assert any(not t.filters["valid"] for t in trajectories)
    for trajectory, (number, _) in zip(trajectories, trajectory_lines(path), strict=True):
        assert trajectory.source == f"{path}:{number}"
        assert trajectory.meta.usage is not None and trajectory.meta.usage.agent.estimated
        calls = [c for m in trajectory.messages for c in m.tool_calls or []]
        assert all(isinstance(c.function.arguments, str) for c in calls)
        # In memory, whatever the file's format: the OpenAI layout, schemas and system message.
        assert trajectory.tools and trajectory.messages[0].role == "system"
    assert written_back(trajectories) == expected
    assert any("tool_calls" in m.to_dict() for t in trajectories for m in t.messages)
    assert all(m.tool_call_id for t in trajectories for m in t.messages if m.role == "tool")


def test_trajectory_lines_from_before_versions_load_and_gain_only_the_version():
    path = BEFORE_VERSIONS / "trajectories.jsonl"
    expected = "".join(versioned_line(line) + "\n" for line in lines(path))
    check_trajectories(path, lambda ts: "".join(t.to_json() + "\n" for t in ts), expected)


def test_trajectory_files_are_written_back_as_they_were(produced):
    path = produced / "gen" / "trajectories.jsonl"
    check_trajectories(path, file_text, path.read_text(encoding="utf-8"))
    # One preamble, first, holding the domain's tool schemas and the system message.
    first = json.loads(lines(path)[0])
    domain = envscale_load(CLINIC)
    assert first["kind"] == "preamble" and first["tools"] == domain.tool_schemas
    assert first["system"] and first["domain"] == "clinic"
    for _, line in trajectory_lines(path):
        value = json.loads(line)
        assert value["version"] == 2 and value["preamble"] == first["digest"]
        assert "tools" not in value and value["messages"][0]["role"] != "system"


def test_an_older_file_rewritten_shrinks_and_reads_the_same():
    old = records.load_jsonl(BEFORE_VERSIONS / "trajectories.jsonl", Trajectory)
    text = file_text(old)
    assert len(text) * 2 < sum(len(t.to_json()) for t in old)
    reader = records.TrajectoryReader()
    assert reader.from_line(text.splitlines()[0]) is None  # the preamble
    again = [t for line in text.splitlines()[1:] if (t := reader.from_line(line)) is not None]
    assert [t.to_dict() | {"version": 1} for t in again] == [t.to_dict() for t in old]


def test_a_preamble_is_needed_before_the_lines_that_name_it():
    old = records.load_jsonl(BEFORE_VERSIONS / "trajectories.jsonl", Trajectory)
    text = file_text(old)
    line = text.splitlines()[1]
    with pytest.raises(DataError, match=r"x\.jsonl:2: names preamble '[0-9a-f]+', which no"):
        records.TrajectoryReader().from_line(line, "x.jsonl:2")
    with pytest.raises(DataError, match="not a Trajectory: tools"):
        Trajectory.from_line(line, "x.jsonl:2")


def test_concatenated_files_and_mixed_formats_read_in_order(tmp_path):
    old = records.load_jsonl(BEFORE_VERSIONS / "trajectories.jsonl", Trajectory)
    first, second = file_text(old[:2]), file_text(old[2:])
    path = tmp_path / "all.jsonl"
    # Two files of format 2 one after the other, then a line of format 1 (schemas inline).
    path.write_text(first + second + old[0].to_json() + "\n", encoding="utf-8")
    read = records.load_jsonl(path, Trajectory)
    assert [t.id for t in read] == [t.id for t in old] + [old[0].id]
    assert all(r.tools == o.tools for r, o in zip(read, [*old, old[0]], strict=True))


def test_example_trajectories_load_and_keep_their_sparse_meta():
    paths = sorted((ROOT / "examples" / "trajectories").glob("*/*.jsonl"))
    assert paths
    for path in paths:
        for trajectory, line in zip(records.read_jsonl(path, Trajectory), lines(path), strict=True):
            assert trajectory.meta.agent == "example" and trajectory.meta.steps is None
            assert trajectory.to_dict() == {"version": 1, **json.loads(line)}


def test_a_file_rewritten_by_the_records_is_read_by_the_commands(produced, tmp_path):
    """New lines carry a version key; the readers of today take them as before."""
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        "".join(Task.from_line(line).to_json() + "\n" for line in lines(produced / "tasks.jsonl")),
        encoding="utf-8",
    )
    out = envscale("tasks", str(CLINIC), "--verify", str(tasks), cwd=tmp_path)
    assert "12/12 tasks replay" in out
    # A resumed job reads the trajectories it holds: with every line rewritten whole (format 2
    # with nothing left to a preamble), none is rerun and nothing is appended.
    job = tmp_path / "gen"
    subprocess.run(["cp", "-r", str(produced / "gen"), str(job)], check=True)
    rewritten = "".join(
        t.to_json() + "\n" for t in records.load_jsonl(job / "trajectories.jsonl", Trajectory)
    )
    (job / "trajectories.jsonl").write_text(rewritten, encoding="utf-8")
    envscale(
        "generate",
        str(CLINIC),
        "--tasks",
        "8",
        "--out",
        "gen",
        "--workers",
        "1",
        "-q",
        "--max-turns",
        "6",
        cwd=tmp_path,
    )
    assert (job / "trajectories.jsonl").read_text(encoding="utf-8") == rewritten


def test_episode_errors_load(produced):
    path = produced / "down" / "errors.jsonl"
    errors = records.load_jsonl(path, EpisodeError)
    assert len(errors) == 2 and all("Connection refused" in e.error for e in errors)
    assert [e.to_json() for e in errors] == lines(path)
    before = BEFORE_VERSIONS / "errors.jsonl"
    old = records.load_jsonl(before, EpisodeError)
    assert [e.to_json() for e in old] == [versioned_line(line) for line in lines(before)]


def test_eval_reports_load_and_are_written_back_as_they_were(produced):
    text = (produced / "eval" / "eval.json").read_text(encoding="utf-8")
    report = EvalReport.model_validate_json(text)
    assert report.tasks == 12 and report.trials == 2 and report.pass_k["1"] == 1.0
    assert report.by_chain_length[next(iter(report.by_chain_length))].pass_1 == 1.0
    assert report.lineage is not None and report.lineage["trials"] == 2
    assert report.to_json() == text
    old_text = (BEFORE_VERSIONS / "eval.json").read_text(encoding="utf-8")
    old = EvalReport.model_validate_json(old_text)
    assert old.to_json() == old_text.replace("{\n", '{\n  "version": 1,\n', 1)


def test_a_manifest_from_before_loads_and_is_written_back_byte_for_byte():
    text = (BEFORE_VERSIONS / "manifest.json").read_text(encoding="utf-8")
    manifest = Manifest.model_validate_json(text)
    assert manifest.key_formats == {} and manifest.to_json() == text
    # Its rules bind nothing: they keep the meaning they had.
    assert all(r.binding is None for p in manifest.policies for r in p.rules)


def test_manifests_load_and_are_written_back_byte_for_byte(produced):
    paths = sorted((produced / "compiled").glob("*/manifest.json"))
    assert len(paths) == len(list((ROOT / "specs").glob("*.domain")))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        manifest = Manifest.model_validate_json(text)
        # Format 3 where transitions (clinic's appointments), derived or hidden fields are
        # declared or a shape holds a reference (airline's and retail's lists of ids), else 2
        # where a policy rule is bound to records, else 1.
        bound = any(r.binding for p in manifest.policies for r in p.rules)
        computed = bool(manifest.transitions) or any(
            f.derived is not None or f.hidden for e in manifest.entities.values() for f in e.fields
        )
        shapes = [f.shape for e in manifest.entities.values() for f in e.fields]
        shapes += [f.shape for fields in manifest.structs.values() for f in fields]
        nested = any(s is not None and '"ref"' in s.to_json() for s in shapes)
        expected = 3 if computed or nested else 2 if bound else 1
        # Format 4 where a tool is another side's than the agent's, a sync block or an
        # assertion (telecom).
        if any(t.side != "agent" or t.role != "tool" for t in manifest.tools):
            expected = 4
        assert manifest.version == expected and manifest.to_json() == text
    clinic = Manifest.model_validate_json(
        (produced / "compiled" / "clinic" / "manifest.json").read_text()
    )
    fields = {f.name: f for f in clinic.entities["Patient"].fields}
    assert (
        "default" in fields["status"].to_dict() and "default" not in fields["patient_id"].to_dict()
    )
    assert {e.source for e in clinic.tool_graph} <= {t.name for t in clinic.tools}
    assert clinic.policies[0].rules[0].kind == "before"
    binding = clinic.policies[0].rules[0].binding
    assert binding is not None and binding.params == {"verify_patient": "patient_id"}
    assert [c.to_dict() for c in binding.chains["cancel_appointment"]] == [
        {"param": "appointment_id", "via": ["Appointment.patient"]}
    ]
    assert "binding" not in clinic.policies[1].rules[0].to_dict()
    assert clinic.key_formats["Invoice"] == records.KeyFormat(prefix="INV", width=4)
    assert clinic.key_formats["Invoice"].to_dict() == {"prefix": "INV", "width": 4}


def test_a_manifest_with_a_new_section_loads_and_keeps_it(produced):
    data = json.loads((produced / "compiled" / "retail" / "manifest.json").read_text())
    data["id_sequences"] = {"Order": {"prefix": "#W", "digits": 7}}
    data["tools"][0]["schema_hint"] = "x"
    manifest = Manifest.model_validate(data)
    assert manifest.model_extra == {"id_sequences": {"Order": {"prefix": "#W", "digits": 7}}}
    assert manifest.to_dict() == data


def test_shapes_nest():
    shape = records.Shape.model_validate({"list": {"map": {"row": "User"}}})
    assert shape.list is not None and shape.list.map is not None and shape.list.map.row == "User"
    assert shape.to_dict() == {"list": {"map": {"row": "User"}}}


def test_a_record_built_in_code_writes_what_it_was_given():
    message = records.Message(
        role="assistant",
        content=None,
        tool_calls=[
            records.ToolCall(
                id="call_1", function=records.FunctionCall(name="f", arguments='{"a": 1}')
            )
        ],
    )
    assert message.to_dict() == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
    }
    assert records.Message(role="user", content="hi").to_dict() == {"role": "user", "content": "hi"}
    assert records.Message(role="tool", tool_call_id="call_1", content="ok").to_json() == (
        '{"role": "tool", "tool_call_id": "call_1", "content": "ok"}'
    )
    meta = records.TrajectoryMeta(agent="scripted", agent_model=None)
    assert meta.to_dict() == {"agent": "scripted", "agent_model": None}


def test_newer_versions_and_misfits_are_data_errors():
    with pytest.raises(DataError, match="Task version 2 is not one this envscale reads"):
        Task.from_dict({"version": 2}, "t.jsonl:1")
    with pytest.raises(DataError, match=r"x\.jsonl:3: not a Trajectory: messages\.0\.role"):
        Trajectory.from_dict({"id": "a", "tools": [], "messages": [{"role": "robot"}]}, "x.jsonl:3")
    with pytest.raises(DataError, match=r"x\.jsonl:4: not JSON"):
        Trajectory.from_line('{"id": ', "x.jsonl:4")
    with pytest.raises(DataError) as caught:
        Task.from_dict({"id": "t"})
    assert {"domain", "seed", "gold_calls"} <= {p.split(": ")[1] for p in caught.value.problems}


def test_a_manifest_from_a_newer_compiler_is_refused(produced):
    data = json.loads((produced / "compiled" / "clinic" / "manifest.json").read_text())
    newer = Manifest.VERSION + 1
    with pytest.raises(DataError, match=f"Manifest version {newer} is not one this envscale reads"):
        Manifest.from_dict({**data, "format": newer})


def test_nulls_from_other_tools_read_as_absent():
    trajectory = Trajectory.from_dict(
        {"id": "a", "task_id": None, "tools": [], "messages": [], "filters": None, "meta": None}
    )
    assert (
        trajectory.task_id == "" and trajectory.filters == {} and not trajectory.passed(["valid"])
    )
    assert trajectory.meta.to_dict() == {}


def test_a_torn_last_line_is_not_read(tmp_path):
    line = Trajectory(
        id="a", tools=[], messages=[records.Message(role="user", content="x")]
    ).to_json()
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n\n" + line[:30], encoding="utf-8")
    assert [t.id for t in records.read_jsonl(path, Trajectory)] == ["a"]


def test_what_a_preamble_cannot_hold_stays_on_the_line():
    base = records.load_jsonl(BEFORE_VERSIONS / "trajectories.jsonl", Trajectory)[0].to_dict()
    rest = base["messages"][1:]
    variants = [
        base,
        {**base, "id": "no-system", "messages": rest},
        {**base, "id": "named", "messages": [{**base["messages"][0], "name": "policy"}, *rest]},
        {**base, "id": "parts", "messages": [{"role": "system", "content": [{"type": "text"}]}]},
        {**base, "id": "dual", "user_tools": base["tools"][:1]},
        {**base, "id": "none", "user_tools": None},
    ]
    trajectories = [Trajectory.from_dict(v) for v in variants]
    text = file_text(trajectories)
    reader = records.TrajectoryReader()
    again = [t for line in text.splitlines() if (t := reader.from_line(line)) is not None]
    assert [t.to_dict() | {"version": 1} for t in again] == [t.to_dict() for t in trajectories]
    # The plain system message goes to a preamble; the others keep theirs on the line.
    kept = [
        json.loads(line)["messages"][0]["role"]
        for line in text.splitlines()
        if json.loads(line).get("kind") != "preamble"
    ]
    assert kept == ["user", "user", "system", "system", "user", "user"]
    # With the system message, without it (three lines), with user tools, with null ones.
    assert len(reader.preambles) == 4
