"""Task sampling and scripted episodes under policy rules bound to records: the walk verifies
each record a call concerns, so every gold chain replays under the policy and episodes keep."""

from __future__ import annotations

from pathlib import Path

import pytest

import envscale
from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.users import ScriptedUser
from envscale.tasks.sampling import sample_tasks, verify_task
from envscale.tasks.states import EnvFactory, initial_environment

SPECS = Path(__file__).resolve().parents[2] / "specs"

# Money moves between the accounts of two customers; each must have been verified.
BANK = """
domain bank "A bank: customers move money between accounts." clock "2024-05-15T12:00:00"
entity Customer { customer_id: str @key  name: str  birth_date: date }
entity Account { account_id: str @key  owner: Customer  balance: int @default(100) }
entity Transfer { transfer_id: str @key  source: Account  target: Account  amount: int }

tool verify_customer(customer_id: str, birth_date: date) -> Customer {
  let c = Customer[customer_id]
  require c.birth_date == birth_date else "Wrong date of birth"
  return c
}
tool list_accounts() -> list<Account> {
  return Account.all()
}
tool move_money(source_id: str, target_id: str, amount: int) -> Transfer {
  let s = Account[source_id]
  let t = Account[target_id]
  require source_id != target_id else "Pick two accounts"
  require amount > 0 and amount <= s.balance else "Not enough money"
  set s.balance = s.balance - amount
  set t.balance = t.balance + amount
  return insert Transfer(transfer_id: next_key(Transfer, "T", 3), source: s, target: t,
                         amount: amount)
}

policy identify { before writes require verify_customer(customer_id) }
"""


def concerned_were_verified(domain, task) -> None:
    """Replays the gold chain: before each successful write, every record it concerns was
    named by a successful verification earlier in the chain."""
    env = initial_environment(domain, task.initial_state, enforce_policies=False)
    (rule,) = [r for p in domain.manifest.policies for r in p.rules if r.binding]
    binding = rule.binding
    verified: set = set()
    for call, output in zip(task.gold_calls, task.gold_outputs, strict=True):
        if output.ok and domain.tool_kinds[call.name] == "write":
            checked = env.checked_arguments(call.name, call.arguments)
            concerned = env.monitor.concerned(binding, call.name, checked)
            assert concerned and set(concerned) <= verified, (call, verified)
        result = env.call(call.name, call.arguments)
        assert result.ok == output.ok
        if result.ok and call.name in binding.params:
            verified.add(call.arguments[binding.params[call.name]])


@pytest.fixture(scope="module")
def clinic():
    return envscale.load(SPECS / "clinic.domain")


@pytest.mark.parametrize(
    "state", [{"data": str(SPECS / "clinic.data.json")}, {"generated": {"seed": 3, "size": 30}}]
)
def test_clinic_walks_verify_the_patient_each_write_concerns(clinic, state):
    tasks = sample_tasks(clinic, EnvFactory(clinic, state), 30, seed=5, invalid_share=0.2)
    writes = [t for t in tasks if t.kind == "write"]
    assert len(writes) >= 15
    for task in writes:
        concerned_were_verified(clinic, task)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    spec = tmp_path_factory.mktemp("bank") / "bank.domain"
    spec.write_text(BANK, encoding="utf-8")
    return envscale.load(spec)


@pytest.fixture(scope="module")
def bank_tasks(bank):
    state = {"generated": {"seed": 2, "size": 6}}
    return sample_tasks(
        bank, EnvFactory(bank, state), 20, seed=1, max_length=3, read_only_share=0.0
    )


def test_a_move_between_two_customers_verifies_both(bank, bank_tasks):
    two = 0
    for task in bank_tasks:
        concerned_were_verified(bank, task)
        assert verify_task(bank, task)
        env = initial_environment(bank, task.initial_state)
        owners = {a["account_id"]: a["owner"] for a in env.export()["Account"]}
        for call, output in zip(task.gold_calls, task.gold_outputs, strict=True):
            if call.name == "move_money" and output.ok:
                two += owners[call.arguments["source_id"]] != owners[call.arguments["target_id"]]
    assert two >= 3


def test_scripted_episodes_keep_under_bound_rules(bank, bank_tasks):
    runtime = DomainRuntime(bank)
    for i, task in enumerate(bank_tasks):
        trajectory = run_episode(runtime, task, ScriptedAgent(), ScriptedUser(), seed=i)
        assert trajectory.passed(["valid", "state", "exact"]), trajectory.filters
        assert "policy 'identify'" not in str(trajectory.to_dict()["messages"])
