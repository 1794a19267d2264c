"""Task sampling: determinism, replay to the gold state, read-only chains, invalid calls, dedupe."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import pytest

import envscale
from envscale.cli import main as envscale_main
from envscale.cli import tasks as tasks_command
from envscale.runtime.errors import DataError
from envscale.tasks.datagen import generate_data
from envscale.tasks.instructions import InstructionRenderer, load_instructions
from envscale.tasks.sampling import (
    SamplingReport,
    Task,
    read_tasks,
    sample_over_states,
    sample_tasks,
    state_seed,
    verify_task,
    write_tasks,
)
from envscale.tasks.states import (
    EnvFactory,
    initial_environment,
    initial_state_for,
    initial_states_for,
)

from .shop_spec import SHOP

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC = SPECS / "clinic.domain"
SEED_DATA = {"data": str(SPECS / "clinic.data.json")}


@pytest.fixture(scope="module")
def clinic():
    return envscale.load(SPEC)


@pytest.fixture(scope="module")
def tasks(clinic) -> list[Task]:
    return sample_tasks(
        clinic,
        EnvFactory(clinic, SEED_DATA),
        40,
        seed=11,
        max_length=4,
        invalid_share=0.2,
        read_only_share=0.3,
    )


def test_same_seed_same_tasks_byte_for_byte(clinic, tasks, tmp_path):
    again = sample_tasks(
        clinic,
        EnvFactory(clinic, SEED_DATA),
        40,
        seed=11,
        max_length=4,
        invalid_share=0.2,
        read_only_share=0.3,
    )
    write_tasks(tmp_path / "a.jsonl", tasks)
    write_tasks(tmp_path / "b.jsonl", again)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    other = sample_tasks(clinic, EnvFactory(clinic, SEED_DATA), 40, seed=12)
    assert [t.id for t in other] != [t.id for t in tasks]


def test_task_format(tasks):
    task = tasks[0].to_dict()
    assert list(task)[:11] == [
        "version",
        "id",
        "domain",
        "spec_hash",
        "seed",
        "initial_state",
        "initial_state_hash",
        "instruction",
        "gold_calls",
        "gold_outputs",
        "gold_state_hash",
    ]
    assert task["domain"] == "clinic" and task["initial_state"] == SEED_DATA
    assert all(set(c) == {"name", "arguments"} for c in task["gold_calls"])
    assert all(
        set(o) == {"ok", "content"} and isinstance(o["content"], str) for o in task["gold_outputs"]
    )
    assert task["length"] == len(task["gold_calls"]) and task["instruction"]


def test_tasks_replay_to_their_gold_state(clinic, tasks, tmp_path):
    path = write_tasks(tmp_path / "tasks.jsonl", tasks)
    loaded = read_tasks(path)
    assert [t.to_dict() for t in loaded] == [t.to_dict() for t in tasks]
    assert all(verify_task(clinic, t) for t in loaded)
    tampered = Task.from_dict({**tasks[0].to_dict(), "gold_state_hash": "0" * 64})
    assert not verify_task(clinic, tampered)


def test_lengths_kinds_and_shares(clinic, tasks):
    assert all(1 <= t.length <= 4 for t in tasks)
    reads = [t for t in tasks if t.kind == "read"]
    assert len(reads) == round(len(tasks) * 0.3)
    writes = [t for t in tasks if t.kind == "write"]
    assert all(
        any(
            o.ok and clinic.tool_kinds[c.name] == "write"
            for c, o in zip(t.gold_calls, t.gold_outputs, strict=True)
        )
        for t in writes
    )


def test_read_only_chains_leave_the_state_unchanged(clinic, tasks):
    reads = [t for t in tasks if t.kind == "read"]
    assert reads
    for task in reads:
        assert all(clinic.tool_kinds[c.name] == "read" for c in task.gold_calls)
        assert task.gold_state_hash == task.initial_state_hash
    assert all(t.gold_state_hash != t.initial_state_hash for t in tasks if t.kind == "write")


def test_invalid_share_gives_failed_calls(clinic, tasks):
    invalid = [(t, i) for t in tasks for i in t.invalid_calls]
    assert invalid
    for task, i in invalid:
        assert task.gold_outputs[i].ok is False
        assert task.gold_outputs[i].content.startswith("Error:")
        assert task.gold_calls[i + 1].name == task.gold_calls[i].name  # then done right
        assert task.gold_outputs[i + 1].ok
    clean = sample_tasks(clinic, EnvFactory(clinic, SEED_DATA), 20, seed=11, invalid_share=0.0)
    assert not any(t.invalid_calls for t in clean)


def test_policy_prerequisites_come_first(tasks):
    # clinic: "before writes require verify_patient"; the walk verifies the patient concerned.
    for task in tasks:
        if task.kind == "write":
            names = [
                c.name for c, o in zip(task.gold_calls, task.gold_outputs, strict=True) if o.ok
            ]
            assert "verify_patient" in names


def test_chains_are_deduplicated(tmp_path):
    spec = tmp_path / "shop.domain"
    spec.write_text(SHOP, encoding="utf-8")
    shop = envscale.load(spec)
    factory = EnvFactory(shop, {"generated": {"seed": 1, "size": 4}})
    tasks = sample_tasks(
        shop, factory, 200, seed=0, max_length=1, invalid_share=0.0, max_attempts=400
    )
    chains = [json.dumps([c.to_dict() for c in t.gold_calls], sort_keys=True) for t in tasks]
    assert len(chains) == len(set(chains)) == len({t.id for t in tasks})
    assert len(tasks) < 200  # a tiny domain has few distinct one-call chains
    assert all(verify_task(shop, t) for t in tasks[:10])


def test_generated_initial_state_replays(clinic):
    state = {"generated": {"seed": 4, "size": 12}}
    tasks = sample_tasks(clinic, EnvFactory(clinic, state), 8, seed=2)
    assert tasks and all(t.initial_state == state for t in tasks)
    assert all(verify_task(clinic, t) for t in tasks)
    assert initial_environment(clinic, state).state_hash() == tasks[0].initial_state_hash


def test_generated_states_built_again_are_the_same_and_follow_their_sample(clinic, tmp_path):
    """Generated data is made once per settings and sample data, and every environment
    built from it starts in the same state; a changed sample file is generated from again."""
    state = {"generated": {"seed": 5, "size": 9}}
    first = initial_environment(clinic, state, enforce_policies=False)
    patient = first.export()["Patient"][0]["patient_id"]
    assert first.call("update_contact", {"patient_id": patient, "phone": "5550100999"}).ok
    second = initial_environment(clinic, state, enforce_policies=False)
    assert first.state_hash() != second.state_hash()
    first.reset()
    assert first.state_hash() == second.state_hash()
    assert first.export() == second.export()
    fresh = envscale.load(SPEC).environment(data=generate_data(clinic, 5, 9))
    assert fresh.state_hash() == first.state_hash()
    sample = json.loads((SPECS / "clinic.data.json").read_text(encoding="utf-8"))
    like = tmp_path / "like.json"
    like.write_text(json.dumps(sample), encoding="utf-8")
    liked = {"generated": {"seed": 5, "size": 9, "like": str(like)}}
    before = initial_environment(clinic, liked).export()
    for patient in sample["Patient"]:
        patient["patient_id"] = "Q" + patient["patient_id"]
    like.write_text(json.dumps(sample), encoding="utf-8")
    after = initial_environment(clinic, liked).export()
    assert before["Patient"][0]["patient_id"] != after["Patient"][0]["patient_id"]


def test_instruction_templates(clinic):
    calls = [
        {
            "name": "cancel_appointment",
            "arguments": {"appointment_id": "A0004", "reason": "schedule_conflict"},
        }
    ]
    default = InstructionRenderer(clinic.tool_schemas, None, clinic.manifest).render(calls)
    assert "cancel" in default and "A0004" in default and "schedule conflict" in default
    assert "scheduled appointment" not in default  # the words are the user's, not the tool's
    custom = InstructionRenderer(
        clinic.tool_schemas, load_instructions(SPEC), clinic.manifest
    ).render(calls)
    assert custom.startswith("I'm calling the clinic.")
    assert "cancel my appointment; the reason is schedule conflict" in custom
    with pytest.raises(ValueError, match="unknown tools"):
        InstructionRenderer(clinic.tool_schemas, {"tools": {"no_such_tool": "x"}})


def test_tasks_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tasks_command.register(parser.add_subparsers())
    out = tmp_path / "t.jsonl"
    args = parser.parse_args(
        ["tasks", str(SPEC), "-o", str(out), "-n", "5", "--data", "clinic.data.json"]
    )
    assert args.func(args) == 0
    args = parser.parse_args(["tasks", str(SPEC), "--verify", str(out)])
    assert args.func(args) == 0
    assert "5/5 tasks replay" in capsys.readouterr().out


def test_initial_state_defaults_to_the_seed_data_when_there_is_some(tmp_path):
    assert initial_state_for(SPEC) == {"data": "clinic.data.json"}
    assert initial_state_for(SPEC, "generated", 3, 7) == {"generated": {"seed": 3, "size": 7}}
    retail = SPECS / "retail.domain"
    assert initial_state_for(retail, "auto", 1, 5) == {"generated": {"seed": 1, "size": 5}}
    with pytest.raises(DataError, match="no seed data"):
        initial_state_for(retail, "file")
    mine = tmp_path / "mine.json"
    with pytest.raises(DataError, match="data file not found"):
        initial_state_for(retail, str(mine))
    mine.write_text("{}")
    assert initial_state_for(retail, str(mine)) == {"data": str(mine.resolve())}
    # A name found beside the spec is kept relative to it, whatever the working directory.
    assert initial_state_for(SPEC, "clinic.data.json") == {"data": "clinic.data.json"}


def test_tasks_command_uses_the_seed_data_by_default(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tasks_command.register(parser.add_subparsers())
    out = tmp_path / "t.jsonl"
    args = parser.parse_args(["tasks", str(SPEC), "-o", str(out), "-n", "3"])
    assert args.func(args) == 0
    assert all(t.initial_state == {"data": "clinic.data.json"} for t in read_tasks(out))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tasks", str(SPEC), "--verify", "absent.jsonl"], "absent.jsonl"),
        (["tasks", str(SPEC), "-o", "x.jsonl", "--data", "absent.json"], "data file not found"),
        (
            ["tasks", str(SPECS / "retail.domain"), "-o", "x.jsonl", "--data", "file"],
            "no seed data",
        ),
        (["tasks", str(SPEC)], "--out"),
    ],
)
def test_tasks_command_reports_mistakes_without_a_traceback(
    tmp_path, monkeypatch, capsys, argv, message
):
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    tasks_command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_same_in_another_process(clinic):
    """Nothing depends on the process (string hashing, set order).

    Another process gives the same bytes.
    """
    import os
    import subprocess
    import sys

    code = (
        "import envscale, json, sys\n"
        "from envscale.tasks.datagen import generate_data\n"
        "from envscale.tasks.sampling import sample_tasks\n"
        "from envscale.tasks.states import EnvFactory\n"
        f"d = envscale.load({str(SPEC)!r})\n"
        "ts = sample_tasks(d, EnvFactory(d, {'generated': {'seed': 3, 'size': 10}}), 6, seed=5, "
        "invalid_share=0.3)\n"
        "sys.stdout.write(json.dumps([generate_data(d, 9, 10), [t.to_dict() for t in ts]]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    from envscale.tasks.datagen import generate_data

    tasks = sample_tasks(
        clinic,
        EnvFactory(clinic, {"generated": {"seed": 3, "size": 10}}),
        6,
        seed=5,
        invalid_share=0.3,
    )
    assert out == json.dumps([generate_data(clinic, 9, 10), [t.to_dict() for t in tasks]])


def test_instructions_describe_the_valid_calls_when_some_are_invalid() -> None:
    import envscale
    from envscale.tasks.sampling import sample_tasks
    from envscale.tasks.states import EnvFactory

    spec = Path(__file__).resolve().parents[2] / "specs" / "clinic.domain"
    domain = envscale.load(spec)
    factory = EnvFactory(domain, {"data": "clinic.data.json"}, spec_path=spec)
    tasks = sample_tasks(
        domain,
        factory,
        40,
        seed=3,
        invalid_share=0.5,
        instructions=spec.with_suffix(".instructions.toml"),
    )
    assert any(t.invalid_calls for t in tasks)
    assert all(t.instruction for t in tasks)


def test_the_tasks_command_says_when_it_makes_fewer_than_asked(tmp_path, capsys):
    spec = tmp_path / "shop.domain"
    spec.write_text(SHOP, encoding="utf-8")
    out = tmp_path / "tasks.jsonl"
    args = ["tasks", str(spec), "-n", "200", "--max-length", "1", "--data", "generated"]
    assert envscale_main([*args, "--size", "4", "--invalid-share", "0", "-o", str(out)]) == 0
    made = len(read_tasks(out))
    assert 0 < made < 200
    assert f"warning: {made} of 200 tasks" in capsys.readouterr().err


def test_template_syntax_in_a_tool_description_never_reaches_the_instruction():
    description = "Do {braces}, {{ jinja }}, {% raw %} and {# a comment #} now. More."
    schema = {"function": {"name": "t", "description": description, "parameters": {}}}
    rendered = InstructionRenderer([schema]).render([{"name": "t", "arguments": {"x": 1}}])
    assert "{" not in rendered and "jinja" not in rendered
    assert rendered.endswith("like to t with a x of 1.")


def test_tasks_spread_over_generated_states(clinic):
    states = initial_states_for(SPEC, "auto", 5, 8, states=3)
    assert states == [{"generated": {"seed": s, "size": 8}} for s in (5, 6, 7)]
    assert initial_states_for(SPEC) == [{"data": "clinic.data.json"}]
    with pytest.raises(DataError, match="3 initial states need generated data"):
        initial_states_for(SPEC, "file", states=3)
    factories = [EnvFactory(clinic, state, SPEC) for state in states]
    report = SamplingReport()
    tasks = sample_over_states(clinic, factories, 7, seed=2, max_length=2, report=report)
    assert len(tasks) == report.made == 7 and report.asked == 7
    per_state = [sum(t.initial_state == s for t in tasks) for s in states]
    assert per_state == [3, 2, 2]
    assert all(verify_task(clinic, t, SPEC) for t in tasks)


def test_each_state_is_sampled_with_a_seed_of_its_own(clinic):
    # A walk picks arguments by their place in the state: with one seed for every state the
    # tasks of different states would name the same ids.
    states = initial_states_for(SPEC, "generated", 0, 8, states=12)
    factories = [EnvFactory(clinic, state, SPEC) for state in states]
    tasks = sample_over_states(clinic, factories, 12, seed=3, max_length=1, read_only_share=1.0)
    assert [t.seed for t in tasks] == [state_seed(3, i) for i in range(12)]
    values = Counter(
        json.dumps(t.gold_calls[0].arguments, sort_keys=True) for t in tasks if t.gold_calls
    )
    assert len(values) >= 8, values


def test_tasks_command_spreads_tasks_over_states(tmp_path, capsys):
    out = tmp_path / "t.jsonl"
    argv = ["tasks", str(SPEC), "-o", str(out), "-n", "4", "--states", "2", "--max-length", "2"]
    assert envscale_main(argv) == 0
    assert "2 generated initial states, data seeds 0-1" in capsys.readouterr().out
    seeds = sorted(t.initial_state["generated"]["seed"] for t in read_tasks(out))
    assert seeds == [0, 0, 1, 1]
    argv = ["tasks", str(SPEC), "-o", str(out), "--states", "2", "--data", "clinic.data.json"]
    assert envscale_main(argv) == 2
    assert "need generated data" in capsys.readouterr().err


def test_readme_states_command_runs_as_shown(tmp_path, monkeypatch, capsys):
    readme = (SPECS.parent / "README.md").read_text(encoding="utf-8")
    [line] = [ln for ln in readme.splitlines() if "--states 4" in ln and ln.startswith("envscale")]
    argv = line.split("#")[0].split()[1:]
    (tmp_path / "specs").symlink_to(SPECS)
    monkeypatch.chdir(tmp_path)
    assert envscale_main(argv) == 0
    assert "4 generated initial states" in capsys.readouterr().out
    tasks = read_tasks(tmp_path / "build" / "tasks.states.jsonl")
    assert len(tasks) == 40
    assert {t.initial_state["generated"]["seed"] for t in tasks} == {0, 1, 2, 3}
