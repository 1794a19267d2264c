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
    assert list(monitor.unmet_requirements("refund")) == [["verify", "lookup"]]
    assert list(monitor.unmet_requirements("search")) == []
    monitor.record("lookup")
    assert list(monitor.unmet_requirements("refund")) == []
    assert monitor.violation("refund") is None
    monitor.record("refund")
    assert "at most 1" in monitor.violation("refund")
