import pytest

from envscale.records import Policy
from envscale.runtime.policy import PolicyMonitor

POLICIES = [
    Policy.model_validate(
        {
            "name": "identify",
            "doc": None,
            "rules": [
                {
                    "kind": "before",
                    "subject": ["writes"],
                    "requirement": ["verify", "lookup"],
                    "limit": None,
                },
                {"kind": "at_most", "subject": ["refund"], "requirement": [], "limit": 1},
            ],
        }
    )
]
KINDS = {"verify": "read", "lookup": "read", "refund": "write", "search": "read"}


def test_unmet_requirements_follow_the_calls_made():
    monitor = PolicyMonitor(POLICIES, KINDS)
    assert [u.requirement for u in monitor.unmet_requirements("refund")] == [["verify", "lookup"]]
    assert list(monitor.unmet_requirements("search")) == []
    monitor.record("lookup")
    assert list(monitor.unmet_requirements("refund")) == []
    assert monitor.violation("refund") is None
    monitor.record("refund")
    assert "at most 1" in monitor.violation("refund")


# Accounts belong to users; transfers move money from one account to another.
RECORDS = {
    ("User", "u1"): {"user_id": "u1"},
    ("User", "u2"): {"user_id": "u2"},
    ("Account", "a1"): {"account_id": "a1", "owner": "u1"},
    ("Account", "a2"): {"account_id": "a2", "owner": "u2"},
    ("Account", "a3"): {"account_id": "a3", "owner": None},
}
BOUND = [
    Policy.model_validate(
        {
            "name": "own",
            "doc": None,
            "rules": [
                {
                    "kind": "before",
                    "subject": ["writes"],
                    "requirement": ["login", "admin"],
                    "limit": None,
                    "binding": {
                        "entity": "User",
                        "params": {"login": "user_id"},
                        "chains": {
                            "rename": [{"param": "user_id", "via": []}],
                            "transfer": [
                                {"param": "source", "via": ["Account.owner"]},
                                {"param": "target", "via": ["Account.owner"]},
                            ],
                        },
                    },
                }
            ],
        }
    )
]
BOUND_KINDS = {"login": "read", "admin": "read", "rename": "write", "transfer": "write"}


def bound_monitor() -> PolicyMonitor:
    return PolicyMonitor(BOUND, BOUND_KINDS, lambda entity, key: RECORDS.get((entity, key)))


def test_a_bound_rule_is_met_record_by_record():
    monitor = bound_monitor()
    monitor.record("login", {"user_id": "u1"})
    assert monitor.violation("rename", {"user_id": "u1"}) is None
    assert "for each User it concerns (through user_id)" in monitor.violation(
        "rename", {"user_id": "u2"}
    )
    (unmet,) = monitor.unmet_requirements("rename", {"user_id": "u2"})
    assert (unmet.entity, unmet.keys, unmet.params) == ("User", ("u2",), {"login": "user_id"})


def test_a_call_that_concerns_two_records_needs_both():
    monitor = bound_monitor()
    monitor.record("login", {"user_id": "u1"})
    both = {"source": "a1", "target": "a2"}
    (unmet,) = monitor.unmet_requirements("transfer", both)
    assert unmet.keys == ("u2",) and unmet.through == ("target",)
    monitor.record("login", {"user_id": "u2"})
    assert monitor.violation("transfer", both) is None


@pytest.mark.parametrize(
    "arguments",
    [
        {"user_id": "nobody"},  # names no existing record
        {"user_id": None},
        {"user_id": True},
        {"user_id": ["u2"]},
    ],
)
def test_a_call_that_concerns_no_record_needs_any_requirement_call(arguments):
    monitor = bound_monitor()
    assert (
        monitor.violation("rename", arguments)
        == "policy 'own': rename may only run after login or admin"
    )
    monitor.record("login", {"user_id": "u1"})
    assert monitor.violation("rename", arguments) is None


def test_chains_stop_at_a_missing_record_or_reference():
    monitor = bound_monitor()
    monitor.record("login", {"user_id": "u1"})
    # a3 has no owner and a9 does not exist: only a1's owner counts, and u1 is verified.
    assert monitor.violation("transfer", {"source": "a1", "target": "a3"}) is None
    assert monitor.violation("transfer", {"source": "a9", "target": "a1"}) is None
    assert monitor.violation("transfer", {"source": "a9", "target": "a2"}) is not None


def test_an_unbound_requirement_tool_meets_the_rule_for_every_record():
    monitor = bound_monitor()
    monitor.record("admin", {})
    assert monitor.violation("rename", {"user_id": "u2"}) is None


def test_keys_match_by_type_as_well():
    monitor = PolicyMonitor(
        [
            Policy.model_validate(
                {
                    "name": "p",
                    "doc": None,
                    "rules": [
                        {
                            "kind": "before",
                            "subject": ["w"],
                            "requirement": ["v"],
                            "limit": None,
                            "binding": {
                                "entity": "N",
                                "params": {"v": "n"},
                                "chains": {"w": [{"param": "n", "via": []}]},
                            },
                        }
                    ],
                }
            )
        ],
        {"v": "read", "w": "write"},
        lambda entity, key: {"n": key} if key in (1, "1") else None,
    )
    monitor.record("v", {"n": "1"})
    assert monitor.violation("w", {"n": 1}) is not None
    assert monitor.violation("w", {"n": "1"}) is None


def test_a_rule_never_applies_to_its_own_requirement_tools():
    monitor = PolicyMonitor(
        [
            Policy.model_validate(
                {
                    "name": "p",
                    "doc": None,
                    "rules": [
                        {
                            "kind": "before",
                            "subject": ["any"],
                            "requirement": ["auth"],
                            "limit": None,
                        }
                    ],
                }
            )
        ],
        {"auth": "read", "look": "read"},
    )
    assert monitor.violation("auth") is None
    assert monitor.violation("look") is not None
