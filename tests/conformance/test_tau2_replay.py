"""The tau2 replay machinery on two small databases of its own: a shop the agent serves and a
phone the user holds, with initialization actions, user actions, assertions and both diffs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envscale.cli import main
from envscale.conformance.replay import canonical, sha256
from envscale.conformance.tau2 import AGENT, USER, Side, Tau2Domain, replay_file
from envscale.runtime.layout import Layout
from envscale.runtime.load import load

SHOP = """domain shop "A shop."
entity Item {
  item_id: str @key
  price: float
  stock: int
}
tool get_item(item_id: str) -> Item {
  "Read an item."
  let i = Item.get(item_id)
  require i != none else "Item not found"
  return i
}
tool restock(item_id: str, count: int) -> Item {
  "Add stock."
  let i = Item.get(item_id)
  require i != none else "Item not found"
  set i.stock = i.stock + count
  return i
}
"""

PHONE = """domain phone "A phone."
entity Setting {
  name: str @key
  on: bool
}
tool toggle(name: str) -> Setting {
  "Switch a setting."
  let s = Setting.get(name)
  require s != none else "Setting not found"
  set s.on = not s.on
  return s
}
tool is_on(name: str) -> bool {
  "Whether a setting is on."
  return Setting[name].on
}
"""


@pytest.fixture
def domain(tmp_path: Path) -> Tau2Domain:
    sides = {}
    for requestor, name, spec, table, entity, key, records in [
        (AGENT, "shop", SHOP, "items", "Item", "item_id", {"i1": {"price": 2, "stock": 1}}),
        (USER, "phone", PHONE, "settings", "Setting", "name", {"wifi": {"on": False}}),
    ]:
        (tmp_path / f"{name}.domain").write_text(spec)
        layout = {
            "document": f"{name}.json",
            "values": "as_models",
            "tables": {table: {"entity": entity, "key": key}},
        }
        (tmp_path / f"{name}.layout.json").write_text(json.dumps(layout))
        (tmp_path / f"{name}.json").write_text(json.dumps({table: records}))
        compiled = load(tmp_path / f"{name}.domain")
        layout_ = Layout.read(tmp_path / f"{name}.layout.json")
        env = compiled.environment(
            data=layout_.load(tmp_path), enforce_policies=False, as_models=True
        )
        suffix = "" if requestor == AGENT else "_user"
        sides[requestor] = Side(env, layout_, f"final{suffix}_diff", f"init{suffix}_diff")
    return Tau2Domain(sides)


def write(path: Path, cases: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def test_loaded_as_models_floats_are_floats(domain: Tau2Domain) -> None:
    assert domain.call(AGENT, "get_item", {"item_id": "i1"}).content == {
        "item_id": "i1",
        "price": 2.0,
        "stock": 1,
    }


def test_a_whole_case_with_both_databases(domain: Tau2Domain, tmp_path: Path) -> None:
    wifi_on = {"name": "wifi", "on": True}
    case = {
        "task_id": "both",
        "initial_state": {
            "initialization_actions": [
                {"env_type": "user", "func_name": "toggle", "arguments": {"name": "wifi"}}
            ]
        },
        "init_user_diff": {"settings": {"wifi": wifi_on}},
        "init_diff": {},
        "actions": [
            {
                "name": "restock",
                "kwargs": {"item_id": "i1", "count": 2},
                "output": '{"item_id": "i1", "price": 2.0, "stock": 3}',
                "error": False,
            },
            {
                "name": "toggle",
                "requestor": "user",
                "kwargs": {"name": "wifi"},
                "output": '{"name": "wifi", "on": false}',
                "error": False,
            },
            # The user has no shop tools, and the agent no phone tools.
            {
                "name": "restock",
                "requestor": "user",
                "kwargs": {"item_id": "i1", "count": 1},
                "output": "Error: Tool 'restock' not found.",
                "error": True,
                "error_type": "ValueError",
            },
            # Texts written by CPython are not compared: the call must fail and change nothing.
            {
                "name": "restock",
                "kwargs": {"item_id": "i1"},
                "output": "Error: ShopTools.restock() missing 1 required positional argument",
                "error": True,
                "error_type": "TypeError",
            },
        ],
        "final_diff": {"items": {"i1": {"item_id": "i1", "price": 2.0, "stock": 3}}},
        "final_user_diff_sha256": sha256(canonical({})),
        "env_assertions": [
            {
                "env_type": "user",
                "func_name": "is_on",
                "arguments": {"name": "wifi"},
                "assert_value": False,
                "result": True,
            }
        ],
    }
    result = replay_file(domain, write(tmp_path / "cases.jsonl", [case]))
    assert (result.matched, result.total) == (1, 1), [m.render() for m in result.mismatches]


def test_mismatches_name_where_they_are(domain: Tau2Domain, tmp_path: Path) -> None:
    case = {
        "task_id": "wrong",
        "actions": [
            # A foreign error that our call does not reproduce: the call succeeds.
            {
                "name": "restock",
                "kwargs": {"item_id": "i1", "count": 1},
                "output": "Error: 1 validation error for Item",
                "error": True,
                "error_type": "ValidationError",
            },
            {"name": "get_item", "kwargs": {"item_id": "i9"}, "output": "Error: Item missing"},
        ],
        "final_diff": {},
        "final_user_diff": {"settings": {"wifi": {"name": "wifi", "on": True}}},
        "env_assertions": [
            {"env_type": "user", "func_name": "is_on", "arguments": {"name": "wifi"}}
        ],
    }
    result = replay_file(domain, write(tmp_path / "cases.jsonl", [case]))
    assert result.matched == 0
    assert [m.where for m in result.mismatches] == [
        "action 0 (restock)",
        "action 1 (get_item)",
        "final state",
        "final state (final_user_diff)",
        "assertion 0 (is_on)",
    ]


def test_cli_replays_tau2_cases(domain: Tau2Domain, tmp_path: Path, capsys) -> None:
    ok = {
        "task_id": "t",
        "actions": [
            {"name": "think", "kwargs": {}, "output": "Error: Tool 'think' not found."},
            {
                "name": "get_item",
                "kwargs": {"item_id": "i1"},
                "output_sha256": sha256(canonical({"item_id": "i1", "price": 2.0, "stock": 1})),
            },
        ],
        "final_diff": {},
    }
    args = ["conformance", "tau2", "--domain", "shop", "--data", str(tmp_path)]
    args += [
        "--spec",
        str(tmp_path / "shop.domain"),
        "--layout",
        str(tmp_path / "shop.layout.json"),
    ]
    assert main([*args, "--cases", str(write(tmp_path / "ok.jsonl", [ok]))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "conformance: 1/1 cases match"
    bad = dict(ok, final_diff={"items": {}})
    assert main([*args, "--cases", str(write(tmp_path / "bad.jsonl", [bad]))]) == 1
