"""Policy rules bound to records: what the compiler resolves, what it rejects, and what the
compiled environment then enforces."""

from __future__ import annotations

import json

import pytest

from envscale.api import compile_source
from envscale.compiler.bindings import MAX_CHAINS
from envscale.runtime.domain import Domain

BANK = """
domain bank "A bank." clock "2024-05-15T12:00:00"
entity Customer { customer_id: str @key  name: str  dob: str }
entity Account { account_id: str @key  owner: Customer  balance: int @default(0) }
entity Transfer {
  transfer_id: str @key
  source: Account
  target: Account
  amount: int
  note: str @default("")
}
entity Branch { branch_id: str @key  name: str }

tool verify(customer_id: str, dob: str) -> Customer {
  let c = Customer[customer_id]
  require c.dob == dob else "Wrong date of birth"
  return c
}
tool rename(who: str, name: str) -> Customer {
  let c = Customer[who]
  set c.name = name
  return c
}
tool touch_accounts(holder: str) -> int {
  for a in Account.where(owner: holder) {
    set a.balance = a.balance + 0
  }
  return 0
}
tool move(source_id: str, target_id: str, amount: int) -> Transfer {
  let s = Account[source_id]
  let t = Account[target_id]
  set s.balance = s.balance - amount
  set t.balance = t.balance + amount
  return insert Transfer(transfer_id: next_key(Transfer, "T", 3), source: s, target: t,
                         amount: amount)
}
tool annotate(transfer_id: str, note: str) -> Transfer {
  let x = Transfer[transfer_id]
  set x.note = note
  return x
}
tool rename_branch(branch_id: str, name: str) -> Branch {
  let b = Branch[branch_id]
  set b.name = name
  return b
}
"""
DATA = {
    "Customer": [
        {"customer_id": "c1", "name": "Ann", "dob": "1980-01-01"},
        {"customer_id": "c2", "name": "Bob", "dob": "1990-02-02"},
    ],
    "Account": [
        {"account_id": "a1", "owner": "c1", "balance": 100},
        {"account_id": "a2", "owner": "c2", "balance": 100},
    ],
    "Transfer": [{"transfer_id": "T001", "source": "a1", "target": "a2", "amount": 5}],
    "Branch": [{"branch_id": "b1", "name": "Main"}],
}
VERIFY_C1 = {"customer_id": "c1", "dob": "1980-01-01"}
VERIFY_C2 = {"customer_id": "c2", "dob": "1990-02-02"}


def compiled(policy: str, spec: str = BANK) -> dict[str, str]:
    files, diagnostics, _ = compile_source(spec + policy, "bank.domain")
    assert files is not None, [d.message for d in diagnostics]
    return files


def errors(policy: str, spec: str = BANK) -> list[str]:
    _, diagnostics, _ = compile_source(spec + policy, "bank.domain")
    return [f"{d.code} {d.message}" for d in diagnostics]


def binding(files: dict[str, str]) -> dict:
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == 2
    return manifest["policies"][0]["rules"][0]["binding"]


def test_chains_follow_lookups_queries_and_references():
    chains = binding(compiled("policy p { before writes require verify(customer_id) }"))["chains"]
    assert chains == {
        "rename": [{"param": "who", "via": []}],  # looked up by it, whatever its name
        "touch_accounts": [{"param": "holder", "via": []}],  # compared with a reference
        "move": [
            {"param": "source_id", "via": ["Account.owner"]},
            {"param": "target_id", "via": ["Account.owner"]},
        ],
        "annotate": [
            {"param": "transfer_id", "via": ["Transfer.source", "Account.owner"]},
            {"param": "transfer_id", "via": ["Transfer.target", "Account.owner"]},
        ],
        # rename_branch concerns no customer: as a member of `writes` it needs any verify.
    }


def test_a_bound_subject_takes_its_chains_from_that_parameter_alone():
    chains = binding(compiled("policy p { before move(source_id) require verify(customer_id) }"))[
        "chains"
    ]
    assert chains == {"move": [{"param": "source_id", "via": ["Account.owner"]}]}


def test_an_unbound_rule_keeps_format_1():
    files = compiled("policy p { before writes require verify }")
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == 1 and "binding" not in manifest["policies"][0]["rules"][0]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            "policy p { before writes require verify(id) }",
            "E502 tool 'verify' has no parameter 'id'",
        ),
        (
            "policy p { before move(source) require verify(customer_id) }",
            "E502 tool 'move' has no parameter 'source'",
        ),
        ("policy p { before writes require verify(dob) }", "E503 parameter 'dob' of 'verify'"),
        (
            "policy p { before rename_branch require verify(customer_id) }",
            "E503 the rule cannot tell which Customer a call of 'rename_branch' concerns",
        ),
        (
            "policy p { before move(amount) require verify(customer_id) }",
            "E503 the rule cannot tell which Customer a call of 'move' concerns: its parameter "
            "'amount'",
        ),
        (
            "policy p { before any(who) require verify(customer_id) }",
            "E501 the group 'any' cannot bind a parameter",
        ),
        (
            "policy p { before rename(who) require verify }",
            "E501 the subject binds 'who', but the requirement binds no parameter",
        ),
        (
            "policy p { at most 2 rename(who) }",
            "E501 'at most' counts calls; it binds no parameter",
        ),
        (
            "policy p { before writes require verify(customer_id) | rename_branch(branch_id) }",
            "E503 'rename_branch(branch_id)' names a Branch, but 'verify(customer_id)' names a "
            "Customer",
        ),
        ("policy p { before writes require verfy(customer_id) }", "E105 unknown tool 'verfy'"),
    ],
)
def test_rejected_bindings(policy: str, expected: str):
    found = errors(policy)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_the_name_rule_needs_the_key_type():
    spec = BANK + "tool odd(customer_id: int) -> int { return customer_id }\n"
    assert "E503 parameter 'customer_id' of 'odd' names no record" in errors(
        "policy p { before writes require odd(customer_id) }", spec
    )


def test_too_many_chains_is_a_diagnostic():
    refs = "  ".join(f"c{i}: Customer" for i in range(MAX_CHAINS + 1))
    spec = BANK + (
        f"entity Big {{ big_id: str @key  {refs}  n: int }}\n"
        "tool bump(big_id: str) -> Big {\n"
        "  let b = Big[big_id]\n  set b.n = b.n + 1\n  return b\n}\n"
    )
    (found,) = errors("policy p { before writes require verify(customer_id) }", spec)
    assert found.startswith(f"E503 more than {MAX_CHAINS} reference chains lead from")


@pytest.fixture
def env():
    files = compiled("policy p { before writes require verify(customer_id) }")
    return Domain(files).environment(data=DATA)


def refused(env, tool: str, arguments: dict) -> str:
    before = (env.state_hash(), env.export())
    result = env.call(tool, arguments)
    assert not result.ok and not result.internal
    assert (env.state_hash(), env.export()) == before
    return result.error


def test_a_call_that_concerns_two_customers_needs_both(env):
    assert env.call("verify", VERIFY_C1).ok
    move = {"source_id": "a1", "target_id": "a2", "amount": 10}
    assert "(through target_id)" in refused(env, "move", move)
    assert env.call("verify", VERIFY_C2).ok
    assert env.call("move", move).ok


def test_two_references_away(env):
    assert env.call("verify", VERIFY_C1).ok
    # T001 moved money from c1's account to c2's: it concerns both.
    assert "(through transfer_id)" in refused(env, "annotate", {"transfer_id": "T001", "note": "x"})
    assert env.call("rename", {"who": "c1", "name": "Anna"}).ok
    assert "through who" in refused(env, "rename", {"who": "c2", "name": "Bobby"})
    assert "through holder" in refused(env, "touch_accounts", {"holder": "c2"})


def test_a_write_that_concerns_no_customer_needs_any_verification(env):
    assert "may only run after verify" in refused(
        env, "rename_branch", {"branch_id": "b1", "name": "x"}
    )
    assert env.call("verify", VERIFY_C2).ok
    assert env.call("rename_branch", {"branch_id": "b1", "name": "x"}).ok


def test_only_the_bound_parameter_counts():
    files = compiled("policy p { before move(source_id) require verify(customer_id) }")
    env = Domain(files).environment(data=DATA)
    assert env.call("verify", VERIFY_C1).ok
    assert env.call("move", {"source_id": "a1", "target_id": "a2", "amount": 1}).ok
    refused(env, "move", {"source_id": "a2", "target_id": "a1", "amount": 1})
    assert env.call("rename", {"who": "c2", "name": "Bobby"}).ok  # not a subject of the rule
