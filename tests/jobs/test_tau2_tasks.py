"""tau2-bench's own tasks in `envscale eval`: both task file forms read into the same tasks,
and the scripted agent, which follows the gold actions, scores 1 on a sample of tau2's
retail, airline and telecom tasks as tau2 scores them (telecom with dual control: the
scripted user makes the gold user actions). Needs ../shared (skipped without it)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import envscale
from envscale.cli import main
from envscale.records import EvalReport, Trajectory, load_jsonl
from envscale.rollout.users import spoken_goal
from envscale.tasks.tau2tasks import is_tau2_file, scenario_text, tau2_tasks

ROOT = Path(__file__).resolve().parents[2]
TAU2 = ROOT.parent / "shared" / "conformance" / "tau2"
needs_shared = pytest.mark.skipif(not TAU2.exists(), reason="../shared/conformance/tau2 is absent")
SAMPLE = 8


def test_the_user_scenario_is_worded_as_tau2_words_it() -> None:
    scenario = {
        "persona": "Calm and brief.",
        "instructions": {
            "domain": "retail",
            "reason_for_call": "Return a lamp.\nIt flickers.",
            "known_info": "You are Ann Lee.",
            "unknown_info": None,
            "task_instructions": "Accept a refund only.",
        },
    }
    assert scenario_text(scenario) == (
        "Persona:\n\tCalm and brief.\nInstructions:\n\tDomain: retail\n\tReason for call:\n"
        "\t\tReturn a lamp.\n\t\tIt flickers.\n\tKnown info:\n\t\tYou are Ann Lee.\n"
        "\tTask instructions:\n\t\tAccept a refund only."
    )
    assert scenario_text({"instructions": "Just ask."}) == "Instructions:\n\tJust ask."
    # The scripted user says the reason for the call and what it knows, in plain lines.
    assert spoken_goal(scenario_text(scenario)) == ("Return a lamp. It flickers. You are Ann Lee.")
    assert spoken_goal("Cancel my order O1.") == "Cancel my order O1."


def sample(domain: str, tmp_path: Path) -> Path:
    """A seeded sample of the domain's visible tasks, the tasks with facts to communicate and
    one without actions among them, written to a file of the test's own."""
    lines = (TAU2 / domain / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
    tasks = [json.loads(line) for line in lines]
    special = (
        [t for t in tasks if t["communicate_info"]][:2]
        + [t for t in tasks if not t["actions"]][:1]
        + [t for t in tasks if "ACTION" in t["reward_basis"]][:2]
    )
    rest = [t for t in tasks if t not in special]
    chosen = special + random.Random(domain).sample(rest, SAMPLE - len(special))
    path = tmp_path / f"{domain}.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in chosen), encoding="utf-8")
    return path


def as_tasks_json(path: Path, out: Path) -> None:
    """The lines in the form of a tau2 checkout's tasks.json."""
    tasks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        t = json.loads(line)
        head, _, instruction = t["instruction"].partition("Instructions:\n")
        persona = head.removeprefix("Persona:\n").removesuffix("\n") if head else None
        text, persona = (
            None if part is None else "\n".join(s.removeprefix("\t") for s in part.split("\n"))
            for part in (instruction, persona)
        )
        tasks.append(
            {
                "id": t["task_id"],
                "user_scenario": {"persona": persona, "instructions": text},
                "initial_state": t["initial_state"],
                "evaluation_criteria": {
                    "actions": [
                        {
                            "action_id": a["action_id"],
                            "requestor": a.get("requestor", "assistant"),
                            "name": a["name"],
                            "arguments": a["kwargs"],
                        }
                        for a in t["actions"]
                    ],
                    "env_assertions": t["env_assertions"],
                    "communicate_info": t["communicate_info"],
                    "nl_assertions": t["nl_assertions"],
                    "reward_basis": t["reward_basis"],
                },
            }
        )
    out.write_text(json.dumps(tasks, indent=2), encoding="utf-8")


@needs_shared
@pytest.mark.parametrize("domain", ["retail", "airline", "telecom"])
def test_the_scripted_agent_scores_one_on_tau2_tasks(domain: str, tmp_path: Path, capsys) -> None:
    spec = ROOT / "specs" / ("telecom.domain" if domain == "telecom" else f"{domain}.tau2.domain")
    lines = sample(domain, tmp_path)
    checkout = tmp_path / "tasks.json"
    as_tasks_json(lines, checkout)
    assert is_tau2_file(lines) and is_tau2_file(checkout)
    data = TAU2 / domain
    loaded = envscale.load(spec)
    from_lines = tau2_tasks(loaded, spec, lines, data)
    assert [t.to_dict() for t in tau2_tasks(loaded, spec, checkout, data)] == [
        t.to_dict() for t in from_lines
    ]
    assert all(t.scoring.source == "tau2" and t.scoring.basis for t in from_lines)
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            str(spec),
            "--tasks",
            str(lines),
            "--tau2-data",
            str(data),
            "--trials",
            "2",
            "--workers",
            "1",
            "--out",
            str(out),
            "-q",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = EvalReport.model_validate_json((out / "eval.json").read_text(encoding="utf-8"))
    assert report.tasks == SAMPLE and report.pass_k == {"1": 1.0, "2": 1.0}
    assert report.failure_reasons == {}
    assert all(s.passed == s.episodes for s in report.scores.values())
    assert report.scores["stop"].episodes == 2 * SAMPLE
    if domain != "telecom":  # telecom's basis never names DB
        assert report.scores["DB"].episodes == 2 * SAMPLE
    if domain == "retail":  # its basis names NL_ASSERTION, which is reported, not passed
        assert report.not_scored["NL_ASSERTION"] > 0
        assert "NL_ASSERTION is in the reward basis" in captured.err
    elif domain == "airline":
        assert report.scores["COMMUNICATE"].episodes == 2 * SAMPLE
    else:  # the assertions on the phone and the line, and the gold actions of both sides
        assert report.scores["ENV_ASSERTION"].episodes == 2 * SAMPLE
        assert report.scores["ACTION"].episodes == 2 * 2
    trajectories = load_jsonl(out / "trajectories.jsonl", Trajectory)
    for t in trajectories:
        assert t.meta.scores["stop"] == 1.0 and t.reward == 1.0
        assert all(v in (1.0, None) for v in t.meta.scores.values())
    if domain == "telecom":
        # The scripted user made each gold user action once, when the agent asked.
        acts = {t.id: sum(g.side == "user" for g in t.gold_calls) for t in from_lines}
        assert sum(acts.values()) > 0
        for t in trajectories:
            assert t.user_tools and t.meta.user_calls == acts[t.task_id]
            names = {s.function.name for s in t.tools}
            assert names.isdisjoint(s.function.name for s in t.user_tools)
            users = [m for m in t.messages if m.side == "user" and m.role == "user"]
            assert all(c.function.name not in names for m in users for c in m.tool_calls)


PHONE = ROOT / "tests" / "rollout" / "dual"


def test_tau2_lines_of_a_dual_control_domain_in_eval(tmp_path: Path, capsys) -> None:
    spec = PHONE / "phone.domain"
    tasks = tau2_tasks(envscale.load(spec), spec, PHONE / "tasks.jsonl")
    abroad = tasks[0]
    assert abroad.initial_state["actions"] == [{"name": "break_phone", "arguments": {}}]
    assert [g.side for g in abroad.gold_calls] == ["agent", "user", "user"]
    assert abroad.scoring.assertions[0].name == "assert_online"
    assert abroad.gold_outputs[1].ok and '"airplane": false' in abroad.gold_outputs[1].content
    out = tmp_path / "eval"
    argv = ["eval", str(spec), "--tasks", str(PHONE / "tasks.jsonl"), "--trials", "1"]
    code = main([*argv, "--workers", "1", "--out", str(out), "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = EvalReport.model_validate_json((out / "eval.json").read_text(encoding="utf-8"))
    assert report.pass_k == {"1": 1.0}
    assert {p: (s.passed, s.episodes) for p, s in report.scores.items()} == {
        "ACTION": (1, 1),
        "COMMUNICATE": (1, 1),
        "DB": (1, 1),
        "ENV_ASSERTION": (1, 1),
        "stop": (2, 2),
    }
    assert report.not_scored == {"NL_ASSERTION": 1}
    assert "NL_ASSERTION is in the reward basis of 1 episodes" in captured.err
    # One spec only, and some tasks.
    two = main(["eval", str(spec), *argv[1:], "--out", str(tmp_path / "two"), "-q"])
    assert two == 2 and "one spec" in capsys.readouterr().err
    none = main(["eval", str(spec), "--out", str(tmp_path / "none"), "-q"])
    assert none == 2 and "--tau2-tasks" in capsys.readouterr().err
