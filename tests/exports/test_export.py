"""`envscale export`: trajectories of real generation jobs (clinic, and telecom's dual control)
as OpenAI fine-tuning JSONL, LLaMA-Factory's ShareGPT layout checked by the rules its
converter applies, and a Hugging Face dataset read back by `datasets` itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envscale import jsonl
from envscale.cli import main
from envscale.exports.convert import alternate
from envscale.records import Trajectory, TrajectoryWriter, load_jsonl

ROOT = Path(__file__).resolve().parents[2]
CLINIC = ROOT / "specs" / "clinic.domain"
TELECOM = ROOT / "specs" / "telecom.domain"


def generated(out: Path, spec: Path, tasks: int) -> Path:
    argv = ["generate", str(spec), "--tasks", str(tasks), "--out", str(out), "--workers", "1"]
    assert main([*argv, "-q"]) == 0
    return out / "trajectories.jsonl"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A clinic file where two trajectories failed a filter, and a telecom file (dual control)."""
    base = tmp_path_factory.mktemp("export")
    clinic = load_jsonl(generated(base / "clinic", CLINIC, 8), Trajectory)
    assert all(t.passed(["valid", "state", "exact"]) for t in clinic)
    clinic[1].filters["exact"] = False
    clinic[4].filters["state"] = False
    mixed = base / "clinic.jsonl"
    jsonl.write_atomic(mixed, TrajectoryWriter().lines(clinic))
    telecom = generated(base / "telecom", TELECOM, 8)
    assert any(t.meta.user_calls for t in load_jsonl(telecom, Trajectory))
    return {"clinic": mixed, "telecom": telecom}


def export(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["export", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_openai_lines_are_fine_tuning_examples(files, tmp_path, capsys):
    out = tmp_path / "ft.jsonl"
    code, said, err = export(capsys, str(files["clinic"]), "--format", "openai", "-o", str(out))
    assert code == 0 and "6 examples from 8 trajectories" in said
    assert "2 did not pass every filter stage (--all keeps them)" in err
    examples = read_lines(out)
    kept = [t for t in load_jsonl(files["clinic"], Trajectory) if all(t.filters.values())]
    assert len(examples) == len(kept) == 6
    for example, trajectory in zip(examples, kept, strict=True):
        assert set(example) == {"messages", "tools", "parallel_tool_calls"}
        assert example["tools"] == [t.to_dict() for t in trajectory.tools]
        messages = example["messages"]
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "assistant"
        calls: dict[str, str] = {}
        for m in messages:
            assert set(m) <= {"role", "content", "tool_calls", "tool_call_id"}
            for call in m.get("tool_calls") or []:
                assert isinstance(call["function"]["arguments"], str)
                json.loads(call["function"]["arguments"])
                calls[call["id"]] = call["function"]["name"]
            if m["role"] == "tool":
                assert m["tool_call_id"] in calls
        assert calls, "the clinic's chains call tools"
        assert example["parallel_tool_calls"] is any(
            len(m.get("tool_calls") or []) > 1 for m in messages
        )
    code, _, _ = export(capsys, str(files["clinic"]), "-f", "openai", "-o", str(out), "--all")
    assert code == 0 and len(read_lines(out)) == 8
    code, _, _ = export(
        capsys, str(files["clinic"]), "-f", "openai", "-o", str(out), "--require", "valid"
    )
    assert code == 0 and len(read_lines(out)) == 8
    code, _, _ = export(
        capsys, str(files["clinic"]), "-f", "openai", "-o", str(out), "--require", "valid,state"
    )
    assert code == 0 and len(read_lines(out)) == 7


def llamafactory_problems(example: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    """What LLaMA-Factory's ShareGPT converter would refuse in an example, by the rules of its
    data/README.md: the columns and tags of the dataset_info entry; human and observation
    turns at odd positions (1st, 3rd, ...), gpt and function_call at even ones, an even
    count; a function call is JSON of a name and arguments (a list of them for several);
    `tools` is JSON text of function schemas."""
    columns, tags = entry["columns"], entry["tags"]
    role, content = tags["role_tag"], tags["content_tag"]
    odd = (tags["user_tag"], tags["observation_tag"])
    even = (tags["assistant_tag"], tags["function_tag"])
    turns = example[columns["messages"]]
    problems = []
    if not turns or len(turns) % 2:
        problems.append(f"{len(turns)} turns: not an even, non-zero count")
    for i, turn in enumerate(turns):
        allowed = odd if i % 2 == 0 else even
        if turn[role] not in allowed:
            problems.append(f"turn {i + 1} is {turn[role]!r}, not one of {allowed}")
        if not isinstance(turn[content], str):
            problems.append(f"turn {i + 1}'s value is not text")
        if turn[role] == tags["function_tag"]:
            value = json.loads(turn[content])
            for call in value if isinstance(value, list) else [value]:
                if set(call) != {"name", "arguments"} or not isinstance(call["arguments"], dict):
                    problems.append(f"turn {i + 1} is not a call of a name with arguments")
    if not isinstance(example[columns["system"]], str):
        problems.append("system is not text")
    tools = json.loads(example[columns["tools"]])
    if not all(isinstance(t, dict) and t.get("name") and "parameters" in t for t in tools):
        problems.append("tools are not function schemas")
    return problems


def test_sharegpt_is_what_llamafactory_reads(files, tmp_path, capsys):
    folder = tmp_path / "lf"
    folder.mkdir()
    (folder / "dataset_info.json").write_text('{"mine": {"file_name": "mine.json"}}')
    code, _, _ = export(
        capsys, str(files["clinic"]), "-f", "sharegpt", "-o", str(folder), "--name", "clinic"
    )
    assert code == 0
    info = json.loads((folder / "dataset_info.json").read_text())
    assert info["mine"] == {"file_name": "mine.json"}  # other datasets keep their entries
    entry = info["clinic"]
    assert entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
    assert entry["tags"] == {
        "role_tag": "from",
        "content_tag": "value",
        "user_tag": "human",
        "assistant_tag": "gpt",
        "observation_tag": "observation",
        "function_tag": "function_call",
    }
    examples = read_lines(folder / entry["file_name"])
    assert len(examples) == 6
    first_system = load_jsonl(files["clinic"], Trajectory)[0].messages[0].content
    for example in examples:
        assert llamafactory_problems(example, entry) == []
        roles = [t["from"] for t in example["conversations"]]
        assert "function_call" in roles and "observation" in roles
        assert example["system"] == first_system
    # The turns say what the trajectory said: the first user message, the calls in order.
    first = next(t for t in load_jsonl(files["clinic"], Trajectory) if all(t.filters.values()))
    said_first = next(m.content for m in first.messages if m.role == "user")
    assert examples[0]["conversations"][0] == {"from": "human", "value": said_first}
    calls = [c.function.name for m in first.messages for c in m.tool_calls or []]
    exported = [
        json.loads(t["value"])["name"]
        for t in examples[0]["conversations"]
        if t["from"] == "function_call"
    ]
    assert exported == calls


def test_the_checker_catches_what_llamafactory_refuses():
    entry = {
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
        },
    }
    good = {
        "conversations": [
            {"from": "human", "value": "hi"},
            {"from": "function_call", "value": '{"name": "f", "arguments": {}}'},
            {"from": "observation", "value": "ok"},
            {"from": "gpt", "value": "done"},
        ],
        "system": "",
        "tools": '[{"name": "f", "parameters": {}}]',
    }
    assert llamafactory_problems(good, entry) == []
    swapped = {**good, "conversations": good["conversations"][1:] + good["conversations"][:1]}
    assert llamafactory_problems(swapped, entry)
    odd = {**good, "conversations": good["conversations"][:3]}
    assert llamafactory_problems(odd, entry)


def test_turns_are_made_to_alternate():
    def turns(*tags: str) -> list[dict[str, str]]:
        return [{"from": tag, "value": str(i)} for i, tag in enumerate(tags)]

    # Leading agent turns go, consecutive human turns are joined, a trailing human goes.
    out, cut = alternate(turns("gpt", "human", "human", "gpt", "human"))
    assert [t["from"] for t in out] == ["human", "gpt"] and out[0]["value"] == "1\n\n2"
    assert not cut
    # An observation the agent did not answer, then the user: the conversation ends before.
    out, cut = alternate(turns("human", "function_call", "observation", "human", "gpt"))
    assert [t["from"] for t in out] == ["human", "function_call"] and cut


def test_dual_control_exports_the_agents_view(files, tmp_path, capsys):
    trajectories = load_jsonl(files["telecom"], Trajectory)
    agent_tools = [t.to_dict() for t in trajectories[0].tools]
    user_tool_names = {t.function.name for t in trajectories[0].user_tools or []}
    assert user_tool_names
    out = tmp_path / "tel.jsonl"
    assert export(capsys, str(files["telecom"]), "-f", "openai", "-o", str(out))[0] == 0
    examples = read_lines(out)
    assert len(examples) == len(trajectories)
    for example, trajectory in zip(examples, trajectories, strict=True):
        assert example["tools"] == agent_tools
        names = [
            c["function"]["name"] for m in example["messages"] for c in m.get("tool_calls") or []
        ]
        assert not set(names) & user_tool_names
        assert all("side" not in m for m in example["messages"])
        assert all(m["role"] == "assistant" for m in example["messages"] if m.get("tool_calls"))
        agent_calls = [
            c for m in trajectory.messages if m.side != "user" for c in m.tool_calls or []
        ]
        assert len(names) == len(agent_calls)
    folder = tmp_path / "tel-lf"
    assert export(capsys, str(files["telecom"]), "-f", "sharegpt", "-o", str(folder))[0] == 0
    entry = json.loads((folder / "dataset_info.json").read_text())["envscale"]
    for example in read_lines(folder / "envscale.jsonl"):
        assert llamafactory_problems(example, entry) == []
        tools = {t["name"] for t in json.loads(example["tools"])}
        assert not tools & user_tool_names


def test_hf_folder_reads_back_with_load_dataset_and_load_from_disk(
    files, tmp_path, capsys, monkeypatch
):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "hf"
    assert export(capsys, str(files["clinic"]), "-f", "hf", "-o", str(folder))[0] == 0
    openai = tmp_path / "ft.jsonl"
    assert export(capsys, str(files["clinic"]), "-f", "openai", "-o", str(openai))[0] == 0
    expected = read_lines(openai)
    loaded = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    saved = datasets.load_from_disk(str(folder / "disk"))
    assert len(loaded) == len(saved) == len(expected) == 6
    assert loaded.features == saved.features
    for row, again, example in zip(loaded, saved, expected, strict=True):
        assert row == again
        assert json.loads(row["tools"]) == example["tools"]
        assert row["parallel_tool_calls"] == example["parallel_tool_calls"]
        messages = [{k: v for k, v in m.items() if v is not None} for m in row["messages"]]
        wanted = [{k: v for k, v in m.items() if v is not None} for m in example["messages"]]
        assert messages == wanted
    # Exporting again replaces the folder; a folder that is not an export is refused.
    assert export(capsys, str(files["clinic"]), "-f", "hf", "-o", str(folder), "--all")[0] == 0
    assert len(datasets.load_from_disk(str(folder / "disk"))) == 8
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = export(capsys, str(files["clinic"]), "-f", "hf", "-o", str(other))
    assert code == 2 and "is not a dataset folder" in err and (other / "notes.txt").exists()


def test_bad_input_is_one_line_and_exit_2(files, tmp_path, capsys):
    out = str(tmp_path / "x.jsonl")
    code, _, err = export(capsys, str(tmp_path / "nope.jsonl"), "-f", "openai", "-o", out)
    assert code == 2 and err.startswith("error: no trajectory file") and err.count("\n") == 1
    code, _, err = export(capsys, str(files["clinic"]), "-f", "openai", "-o", out, "--require", "x")
    assert code == 2 and "unknown filter stage x" in err and err.count("\n") == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n')
    code, _, err = export(capsys, str(bad), "-f", "openai", "-o", out)
    assert code == 2 and "bad.jsonl:1: not a Trajectory" in err
