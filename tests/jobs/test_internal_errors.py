"""Internal errors: an exception in a tool that is not an ordinary failure is a bug in envscale.

Its call rolls back like any failed call, but the result says `internal`; the filters drop the
trajectory, generation and evaluation count it, and the test suite fails on one unless the
test is marked `internal_errors_expected` (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from envscale import jsonl
from envscale.api import compile_source
from envscale.cli import main as envscale_main
from envscale.jobs import evaluate as evaluate_job
from envscale.jobs import generate as generate_job
from envscale.jobs.generate import Job, run_tasks
from envscale.jobs.progress import summary_table
from envscale.records import Trajectory, read_jsonl
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.filters import calls_from_messages, check_internal
from envscale.rollout.users import ScriptedUser
from envscale.runtime.domain import Domain
from envscale.runtime.environment import INTERNAL_ERRORS, Outcome
from envscale.tasks.sampling import sample_tasks
from envscale.tasks.states import EnvFactory
from tests.rollout.episode_fixtures import (
    CLINIC,
    CLINIC_DATA,
    ROOT,
    bare_task,
    clinic_domain,
    clinic_tasks,
)

BROKEN_TOOL = "refill_prescription"

# Appended to the clinic's generated tools.py: the tool does its writes, then fails the way a
# bug in generated code would (a KeyError the spec's checks could not have ruled out).
BREAK = f'''

_real_{BROKEN_TOOL} = TOOLS["{BROKEN_TOOL}"]


def _broken_{BROKEN_TOOL}(db, *args):
    _real_{BROKEN_TOOL}(db, *args)
    raise KeyError("refills_left")


TOOLS["{BROKEN_TOOL}"] = _broken_{BROKEN_TOOL}
'''


def broken_clinic() -> Domain:
    files = dict(clinic_domain().files)
    files["tools.py"] += BREAK
    return Domain(files)


@pytest.fixture
def broken_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs on the clinic spec load the broken clinic (its files travel to the workers)."""
    monkeypatch.setattr(
        generate_job, "load_domains", lambda specs: [broken_clinic() for _ in specs]
    )


@pytest.mark.internal_errors_expected
def test_a_bug_in_a_tool_is_flagged_internal_and_rolled_back(monkeypatch: pytest.MonkeyPatch):
    domain = clinic_domain()
    env = domain.environment(data=CLINIC_DATA)
    real = domain.tools_module.TOOLS[BROKEN_TOOL]
    wrote: list[bool] = []

    def broken(db, *args):
        real(db, *args)
        wrote.append(bool(db.original))
        return {"refills": db.find("Prescription", "RX001")["refills_left"]}["missing"]

    monkeypatch.setitem(domain.tools_module.TOOLS, BROKEN_TOOL, broken)
    assert env.call("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}).ok
    before, count = (env.state_hash(), env.export(), env.diff()), INTERNAL_ERRORS.count
    result = env.call(BROKEN_TOOL, {"rx_id": "RX001"})
    assert wrote == [True]  # the tool had written before it failed
    assert not result.ok and result.internal
    assert result.error == "internal error: KeyError: 'missing'"
    assert result.text == "Error: internal error: KeyError: 'missing'"
    assert result.to_dict()["internal"] is True
    assert (env.state_hash(), env.export(), env.diff()) == before
    assert env.history == [
        Outcome("verify_patient", True, False),
        Outcome(BROKEN_TOOL, False, True),
    ]
    assert INTERNAL_ERRORS.count == count + 1
    latest = INTERNAL_ERRORS.latest[-1]
    assert latest.tool == BROKEN_TOOL and latest.message == "KeyError: 'missing'"
    assert "in broken" in latest.traceback
    # The policy monitor did not count the failed call; the real tool still works afterwards.
    assert env.monitor.succeeded == ["verify_patient"]
    monkeypatch.undo()
    assert env.call(BROKEN_TOOL, {"rx_id": "RX001"}).ok


@pytest.mark.internal_errors_expected
def test_a_bug_outside_the_tool_is_internal_too(monkeypatch: pytest.MonkeyPatch):
    domain = clinic_domain()
    env = domain.environment(data=CLINIC_DATA)
    monkeypatch.setattr(domain, "show_result", lambda name, value: 1 / 0)
    before = env.state_hash()
    result = env.call("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"})
    assert result.internal and result.error == "internal error: ZeroDivisionError: division by zero"
    assert env.state_hash() == before and env.monitor.succeeded == []


def test_an_interrupt_rolls_back_and_goes_on_up(monkeypatch: pytest.MonkeyPatch):
    domain = clinic_domain()
    env = domain.environment(data=CLINIC_DATA, enforce_policies=False)
    real = domain.tools_module.TOOLS["update_contact"]

    def interrupted(db, *args):
        real(db, *args)
        raise KeyboardInterrupt

    monkeypatch.setitem(domain.tools_module.TOOLS, "update_contact", interrupted)
    before, count = env.state_hash(), INTERNAL_ERRORS.count
    with pytest.raises(KeyboardInterrupt):
        env.call("update_contact", {"patient_id": "P003", "address": "1 New Rd"})
    assert env.state_hash() == before and env.diff() == [] and INTERNAL_ERRORS.count == count


# The tool fails as it should on valid calls, and on a bug instead of a ToolError otherwise.
BUG_ON_REFUSAL = f'''

_refusing_{BROKEN_TOOL} = TOOLS["{BROKEN_TOOL}"]


def _buggy_{BROKEN_TOOL}(db, *args):
    try:
        return _refusing_{BROKEN_TOOL}(db, *args)
    except ToolError as error:
        raise KeyError(error.message) from None


TOOLS["{BROKEN_TOOL}"] = _buggy_{BROKEN_TOOL}
'''


@pytest.mark.internal_errors_expected
def test_a_sampled_task_holds_no_internal_error():
    files = dict(clinic_domain().files)
    files["tools.py"] += BUG_ON_REFUSAL
    domain = Domain(files)
    count = INTERNAL_ERRORS.count
    tasks = sample_tasks(
        domain, EnvFactory(domain, {"data": str(CLINIC_DATA)}), 80, seed=3, invalid_share=0.5
    )
    assert INTERNAL_ERRORS.count > count  # a call made invalid on purpose hit the bug
    assert any(c.name == BROKEN_TOOL for t in tasks for c in t.gold_calls)
    assert not any(
        o.content.startswith("Error: internal error") for t in tasks for o in t.gold_outputs
    )


INVARIANT_SPEC = """
domain counters "Counters under a shared limit."
entity Counter {
  id: str @key
  n: int @check(n >= 0)
}
invariant under_limit: sum([c.n for c in Counter.where()]) <= 3 else "over the limit"

tool add(id: str, by: int) -> Counter {
  "Add to a counter."
  let c = Counter[id]
  set c.n = c.n + by
  return c
}
"""

# Calls that fail on something the agent did or on the data, each from a fresh state (with the
# policies enforced or not).
ORDINARY = [
    ("clinic", True, "no_such_tool", {}, "unknown tool"),
    ("clinic", True, "get_patient", '{"patient_id": ', "arguments are not valid JSON"),
    (
        "clinic",
        True,
        "pay_invoice",
        {"invoice_id": "INV0005", "amount": "ten", "method": "card"},
        "invalid arguments",
    ),
    ("clinic", True, "refill_prescription", {"rx_id": "RX001"}, "policy 'identify_first'"),
    ("clinic", True, "get_patient", {"patient_id": "P999"}, "not found"),  # a ToolError
    (
        "clinic",
        False,
        "pay_invoice",
        {"invoice_id": "INV0005", "amount": -10, "method": "cash"},
        "constraint failed: A payment amount",
    ),  # a SQL CHECK
    (
        "clinic",
        False,
        "update_contact",
        {"patient_id": "P003", "phone": "5550100001"},
        "must be unique",
    ),
    ("counters", True, "add", {"id": "a", "by": -5}, "constraint failed"),
    ("counters", True, "add", {"id": "a", "by": 9}, "invariant 'under_limit' violated"),
]


@pytest.fixture(scope="module")
def counters() -> Domain:
    files, diagnostics, _ = compile_source(INVARIANT_SPEC, "counters.domain")
    assert files is not None, [d.message for d in diagnostics]
    return Domain(files)


@pytest.mark.parametrize(("domain_name", "policies", "tool", "arguments", "error"), ORDINARY)
def test_ordinary_failures_are_not_internal(
    counters, domain_name, policies, tool, arguments, error
):
    if domain_name == "clinic":
        env = clinic_domain().environment(data=CLINIC_DATA, enforce_policies=policies)
    else:
        env = counters.environment(
            data={"Counter": [{"id": "a", "n": 1}]}, enforce_policies=policies
        )
    before, count = env.state_hash(), INTERNAL_ERRORS.count
    result = env.call(tool, arguments)
    assert not result.ok and not result.internal and error in result.error, result.error
    assert env.history[-1] == Outcome(tool, False, False)
    assert env.state_hash() == before and INTERNAL_ERRORS.count == count


@pytest.mark.internal_errors_expected
def test_the_filters_drop_an_episode_with_an_internal_error():
    runtime = DomainRuntime(broken_clinic(), str(CLINIC))
    task = next(t for t in clinic_tasks() if any(c.name == BROKEN_TOOL for c in t.gold_calls))
    agent = ScriptedAgent()
    trajectory = run_episode(runtime, task, agent, ScriptedUser(), seed=0).to_dict()
    assert trajectory["meta"]["internal_errors"] >= 1
    assert trajectory["meta"]["failed_calls"] >= trajectory["meta"]["internal_errors"]
    assert trajectory["filters"]["valid"] is False
    assert trajectory["meta"]["failure"].startswith(
        f"valid: call 3 ({BROKEN_TOOL}) hit an internal error"
    )
    # The broken call changed nothing: the final state is the one before it.
    assert trajectory["final_state_hash"] != task.gold_state_hash
    # Rebuilt from the messages alone, the calls say the same.
    rebuilt = calls_from_messages(trajectory["messages"])
    assert [c.internal for c in rebuilt].count(True) == trajectory["meta"]["internal_errors"]
    assert check_internal(rebuilt) is not None
    # The same task on the working domain is kept.
    fine = run_episode(
        DomainRuntime(clinic_domain(), str(CLINIC)), task, ScriptedAgent(), ScriptedUser(), seed=0
    ).to_dict()
    assert fine["meta"]["internal_errors"] == 0 and all(fine["filters"].values())
    assert check_internal(calls_from_messages(fine["messages"])) is None


@pytest.mark.internal_errors_expected
def test_generation_counts_internal_errors(tmp_path, broken_specs):
    tasks = clinic_tasks()
    broken = sum(any(c.name == BROKEN_TOOL for c in t.gold_calls) for t in tasks)
    result = run_tasks(Job([str(CLINIC)], tmp_path / "gen", progress=False), tasks)
    counts = result.counts["clinic"]
    trajectories = [t.to_dict() for t in read_jsonl(result.path, Trajectory)]
    hit = [t for t in trajectories if t["meta"]["internal_errors"]]
    assert len(hit) == broken > 0
    assert (
        counts.internal_errors == sum(t["meta"]["internal_errors"] for t in trajectories) >= broken
    )
    assert counts.stages["valid"] == len(tasks) - broken
    assert all(not t["filters"]["valid"] for t in hit)
    table = result.table()
    assert "internal errors" in table.splitlines()[0]
    assert f"{counts.internal_errors} calls failed on an internal error" in table
    # Rereading the file counts the same.
    again = run_tasks(Job([str(CLINIC)], tmp_path / "gen", progress=False), tasks)
    assert again.ran == 0 and again.counts["clinic"].internal_errors == counts.internal_errors


def test_the_summary_has_no_internal_error_line_without_them(tmp_path):
    result = run_tasks(Job([str(CLINIC)], tmp_path / "gen", progress=False), clinic_tasks(2))
    assert result.counts["clinic"].internal_errors == 0
    assert "internal error of" not in summary_table(result.counts, 1.0, result.ran)


@pytest.mark.internal_errors_expected
def test_evaluation_counts_internal_errors(tmp_path, capsys, broken_specs):
    tasks = clinic_tasks()
    broken = [t.id for t in tasks if any(c.name == BROKEN_TOOL for c in t.gold_calls)]
    tasks_file = tmp_path / "tasks.jsonl"
    jsonl.write_atomic(tasks_file, (t.to_dict() for t in tasks))
    out = tmp_path / "eval"
    args = [
        "eval",
        str(CLINIC),
        "--tasks",
        str(tasks_file),
        "--trials",
        "2",
        "--out",
        str(out),
        "--workers",
        "1",
        "-q",
    ]
    assert envscale_main(args) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["internal_error_episodes"] == 2 * len(broken)
    assert {e.rsplit(".", 1)[0] for e in report["internal_error_examples"]} == set(broken)
    assert report["failure_reasons"]["internal_error"] == 2 * len(broken)
    assert f"warning: {2 * len(broken)} episodes hit an internal error" in capsys.readouterr().err


def test_evaluation_of_files_without_the_count_reads_none():
    old = Trajectory.from_dict(
        {
            "id": "a.t0",
            "task_id": "a",
            "tools": [],
            "messages": [],
            "reward": 0.0,
            "filters": {"valid": True, "state": False, "exact": True},
            "meta": {"end": "user_done"},
        }
    )
    report = evaluate_job.evaluate([old], [bare_task("a", 1)], 1)
    assert report.internal_error_episodes == 0 and report.failure_reasons == {"state_mismatch": 1}


HOOKED_TESTS = """
import pytest

import envscale


def broken_call():
    domain = envscale.load({spec!r})
    env = domain.environment(data={data!r})
    domain.tools_module.TOOLS["get_patient"] = lambda db, *args: {{}}["x"]
    assert env.call("get_patient", {{"patient_id": "P001"}}).internal


def test_unmarked():
    broken_call()


@pytest.mark.internal_errors_expected
def test_marked():
    broken_call()


def test_clean():
    pass
"""


def test_the_suite_fails_a_test_that_hits_an_internal_error(tmp_path):
    # The suite's own hooks, on tests of their own in a fresh pytest process.
    hooks = [
        "pytest_configure",
        "pytest_runtest_setup",
        "pytest_runtest_call",
        "pytest_runtest_teardown",
    ]
    (tmp_path / "conftest.py").write_text(
        f"from tests.conftest import {', '.join(hooks)}\n__all__ = {hooks!r}\n"
    )
    (tmp_path / "test_hooked.py").write_text(
        HOOKED_TESTS.format(spec=str(CLINIC), data=str(CLINIC_DATA))
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "FAILED test_hooked.py::test_unmarked" in out, out
    assert (
        "PASSED test_hooked.py::test_marked" in out and "PASSED test_hooked.py::test_clean" in out
    ), out
    assert "1 internal error(s) in an environment" in out and "get_patient: KeyError: 'x'" in out, (
        out
    )
