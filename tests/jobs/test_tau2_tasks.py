"""tau2-bench's own tasks in `envscale eval`: both task file forms read into the same tasks,
and the scripted agent, which follows the gold actions, scores 1 on a sample of tau2's
retail and airline tasks as tau2 scores them. Needs ../shared (skipped without it)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import envscale
from envscale.cli import main
from envscale.records import EvalReport, Trajectory, load_jsonl
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


def sample(domain: str, tmp_path: Path) -> Path:
    """A seeded sample of the domain's visible tasks, the tasks with facts to communicate and
    one without actions among them, written to a file of the test's own."""
    lines = (TAU2 / domain / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
    tasks = [json.loads(line) for line in lines]
    special = [t for t in tasks if t["communicate_info"]][:2] + [
        t for t in tasks if not t["actions"]
    ][:1]
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
        instruction = t["instruction"].removeprefix("Instructions:\n")
        text = "\n".join(s.removeprefix("\t") for s in instruction.split("\n"))
        tasks.append(
            {
                "id": t["task_id"],
                "user_scenario": {"persona": None, "instructions": text},
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
@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_the_scripted_agent_scores_one_on_tau2_tasks(domain: str, tmp_path: Path, capsys) -> None:
    spec = ROOT / "specs" / f"{domain}.tau2.domain"
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
    assert all(s.passed == s.episodes == 2 * SAMPLE for s in report.scores.values())
    assert "DB" in report.scores and "stop" in report.scores
    if domain == "retail":  # its basis names NL_ASSERTION, which is reported, not passed
        assert report.not_scored["NL_ASSERTION"] > 0
        assert "NL_ASSERTION is in the reward basis" in captured.err
    else:
        assert report.scores["COMMUNICATE"].episodes == 2 * SAMPLE
    for t in load_jsonl(out / "trajectories.jsonl", Trajectory):
        assert t.meta.scores["stop"] == 1.0 and t.reward == 1.0
        assert all(v in (1.0, None) for v in t.meta.scores.values())
