"""Tasks sampled on domains with tool sides: walks over the agent's tools that may hand over to
the user's own tools along effects, never to set-up actions, sync blocks or assertions; data
generated for entities the tools address by constant keys; the tasks replay and generate
dual-control trajectories that the filters keep."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import envscale
from envscale.cli import main
from envscale.records import Trajectory, load_jsonl
from envscale.tasks.datagen import generate_data
from envscale.tasks.generation.singles import fixed_keys
from envscale.tasks.sampling import SamplingReport, sample_tasks, verify_task
from envscale.tasks.states import EnvFactory
from envscale.tasks.toolgraph import ToolGraph

ROOT = Path(__file__).resolve().parents[2]
TELECOM = ROOT / "specs" / "telecom.domain"

# A line the operator runs and the customer's own phone, one record keyed "phone", whose
# roaming flag follows the line after every call.
ROAMING = """
domain roaming "An operator's lines and the customer's phone." clock "2025-03-01T10:00:00"

entity Line "A line the operator runs" {
  line_id: str @key "e.g. L100"
  number: str "The line's phone number"
  roaming: bool @default(false) "Whether the line may roam abroad"
}

entity Phone "The customer's phone: one record, keyed 'phone'" {
  phone_id: str @key @external
  line_id: str? "The line in the phone"
  airplane: bool @default(false)
  data_roaming: bool @default(false)
  roaming_allowed: bool @default(false) "Whether the line may roam (follows the line)"
}

tool get_line(line_id: str "The line, e.g. L100") -> Line {
  "Show a line."
  let l = Line.get(line_id)
  require l != none else "line not found"
  return l
}

tool enable_roaming(line_id: str "The line, e.g. L100") -> Line {
  "Allow a line to roam abroad."
  let l = Line.get(line_id)
  require l != none else "line not found"
  require not l.roaming else "roaming is already enabled"
  set l.roaming = true
  return l
}

tool check_phone() -> str @side(user) {
  "Look at the phone's settings."
  let p = Phone["phone"]
  return format("airplane {}, data roaming {}, roaming allowed {}", p.airplane,
                p.data_roaming, p.roaming_allowed)
}

tool toggle_airplane_mode() -> str @side(user) {
  "Switch airplane mode on or off."
  let p = Phone["phone"]
  set p.airplane = not p.airplane
  return format("airplane {}", p.airplane)
}

tool toggle_data_roaming() -> str @side(user) {
  "Switch data roaming on or off."
  let p = Phone["phone"]
  set p.data_roaming = not p.data_roaming
  return format("data roaming {}", p.data_roaming)
}

tool break_phone() @side(internal) {
  "Set-up: airplane mode on."
  let p = Phone["phone"]
  set p.airplane = true
}

tool follow_line() @sync {
  "The phone learns whether its line may roam."
  let p = Phone["phone"]
  if p.line_id != none {
    let l = Line.get(p.line_id)
    require l != none else "the phone's line is gone"
    set p.roaming_allowed = l.roaming
  }
}

tool assert_roaming(expected: bool) -> bool @assertion {
  "The phone may roam."
  return Phone["phone"].roaming_allowed == expected
}
"""


@pytest.fixture(scope="module")
def roaming_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roaming") / "roaming.domain"
    path.write_text(ROAMING, encoding="utf-8")
    return path


def test_the_graph_holds_the_agents_and_the_users_tools_only(roaming_spec: Path) -> None:
    domain = envscale.load(roaming_spec)
    graph = ToolGraph.from_domain(domain)
    assert sorted(graph.nodes) == [
        "check_phone",
        "enable_roaming",
        "get_line",
        "toggle_airplane_mode",
        "toggle_data_roaming",
    ]
    assert graph.side("check_phone") == "user" and graph.side("get_line") == "agent"
    # Enabling roaming reaches the phone through the sync block; nothing the user does
    # reaches a line, so no edge runs from the user's tools to the agent's.
    assert "check_phone" in graph.successors("enable_roaming")
    assert "get_line" not in graph.successors("check_phone")
    assert not any(
        graph.side(e.source) == "user" and graph.side(e.target) == "agent" for e in graph.edges
    )


def test_generated_data_holds_the_one_phone_tied_to_a_line(roaming_spec: Path) -> None:
    domain = envscale.load(roaming_spec)
    assert fixed_keys(domain) == {"Phone": ["phone"]}
    data = generate_data(domain, seed=3, size=6)
    assert len(data["Line"]) == 6
    (phone,) = data["Phone"]
    assert phone["phone_id"] == "phone"
    line = next(line for line in data["Line"] if line["line_id"] == phone["line_id"])
    assert phone["roaming_allowed"] == line["roaming"]  # as the sync block leaves it
    env = domain.environment(data)
    assert env.call("check_phone", side="user").ok
    assert env.call("get_line", {"line_id": line["line_id"]}).ok


def test_telecoms_generated_phone_belongs_to_a_customers_line() -> None:
    domain = envscale.load(TELECOM)
    assert fixed_keys(domain) == {
        "Phone": ["device"],
        "Surroundings": ["surroundings"],
        "VpnProfile": ["default"],
    }
    data = generate_data(domain, seed=0, size=12)
    assert [len(data[e]) for e in ("Phone", "Surroundings", "VpnProfile")] == [1, 1, 1]
    (here,) = data["Surroundings"]
    line = next(line for line in data["Line"] if line["phone_number"] == here["phone_number"])
    owner = next(c for c in data["Customer"] if line["line_id"] in c["line_ids"])
    assert here["name"] == owner["full_name"]
    assert here["line_active"] == (line["status"] == "Active")  # the sync block's
    owned = [i for c in data["Customer"] for i in c["line_ids"]]
    assert owned and len(owned) == len(set(owned))  # each line has one owner
    env = domain.environment(data)
    assert env.call("check_status_bar", side="user").ok
    assert env.call("get_customer_by_phone", {"phone_number": line["phone_number"]}).ok


def test_walks_hand_over_to_the_user_and_replay_as_each_side(roaming_spec: Path) -> None:
    domain = envscale.load(roaming_spec)
    factory = EnvFactory(domain, {"generated": {"seed": 0, "size": 6}}, roaming_spec)
    report = SamplingReport()
    tasks = sample_tasks(domain, factory, 30, seed=1, max_length=3, report=report)
    assert tasks, report.shortfall()
    sides = {c.name: c.side for t in tasks for c in t.gold_calls}
    assert set(sides) <= {
        "get_line",
        "enable_roaming",
        "check_phone",
        "toggle_airplane_mode",
        "toggle_data_roaming",
    }
    assert {n for n, side in sides.items() if side == "user"} <= set(domain.side_tools["user"])
    assert any(side == "user" for side in sides.values())
    assert all(t.gold_calls[0].side == "agent" for t in tasks)
    # the user's own calls are not in the instruction: the user makes them when asked
    assert all("airplane" not in t.instruction for t in tasks)
    assert all(verify_task(domain, t, roaming_spec) for t in tasks)
    # the same call made as the agent is refused, so replaying as one side would not verify
    mixed = next(t for t in tasks if any(c.side == "user" for c in t.gold_calls))
    agent_only = mixed.model_copy(deep=True)
    for call in agent_only.gold_calls:
        call.side = "agent"
    assert not verify_task(domain, agent_only, roaming_spec)


def _tasks_cli(spec: Path, data: str, out: Path, n: int, capsys) -> list[dict]:
    assert main(["tasks", str(spec), "-n", str(n), "--data", data, "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["tasks", str(spec), "--verify", str(out)]) == 0
    assert f"{n}/{n} tasks replay" in capsys.readouterr().out
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _generate_cli(spec: Path, data: str, out: Path, n: int, capsys) -> list[Trajectory]:
    argv = ["generate", str(spec), "--data", data, "--tasks", str(n), "--out", str(out)]
    assert main([*argv, "--workers", "1", "-q"]) == 0
    capsys.readouterr()
    return load_jsonl(out / "trajectories.jsonl", Trajectory)


@pytest.mark.parametrize("data", ["file", "generated"])
def test_telecom_tasks_verify_and_generate(tmp_path: Path, data: str, capsys) -> None:
    tasks = _tasks_cli(TELECOM, data, tmp_path / "tasks.jsonl", 30, capsys)
    domain = envscale.load(TELECOM)
    agent, user = set(domain.side_tools["agent"]), set(domain.side_tools["user"])
    used = Counter((c["name"], c.get("side", "agent")) for t in tasks for c in t["gold_calls"])
    assert {name for name, side in used if side == "agent"} <= agent
    assert {name for name, side in used if side == "user"} <= user
    assert any(side == "user" for _, side in used)
    kept = _generate_cli(TELECOM, data, tmp_path / "gen", 20, capsys)
    assert len(kept) == 20
    assert all(t.filters == {"valid": True, "state": True, "exact": True} for t in kept)
    assert sum(t.meta.user_calls or 0 for t in kept) > 0
    assert all(t.user_tools for t in kept)


def test_the_small_dual_control_spec_through_the_commands(
    tmp_path: Path, roaming_spec: Path, capsys
) -> None:
    tasks = _tasks_cli(roaming_spec, "generated", tmp_path / "tasks.jsonl", 12, capsys)
    assert any(c.get("side") == "user" for t in tasks for c in t["gold_calls"])
    kept = _generate_cli(roaming_spec, "generated", tmp_path / "gen", 12, capsys)
    assert kept and all(t.filters["state"] and t.filters["exact"] for t in kept)
    assert sum(t.meta.user_calls or 0 for t in kept) > 0


def test_a_domain_of_the_users_tools_alone_says_why_it_makes_no_task(
    tmp_path: Path, capsys
) -> None:
    head, _, _ = ROAMING.partition("tool get_line")
    user_only = head + ROAMING[ROAMING.index("tool check_phone") :]
    user_only = user_only[: user_only.index("tool follow_line")]
    spec = tmp_path / "phone_only.domain"
    spec.write_text(user_only, encoding="utf-8")
    assert main(["tasks", str(spec), "-n", "4", "-o", str(tmp_path / "t.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "no tool of the agent's to start a walk with" in err and "Traceback" not in err
    assert not (tmp_path / "t.jsonl").exists()
