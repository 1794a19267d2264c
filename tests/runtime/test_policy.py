from envscale.runtime.policy import PolicyMonitor

POLICIES = [{"name": "identify", "rules": [
    {"kind": "before", "subject": ["writes"], "requirement": ["verify", "lookup"]},
    {"kind": "at_most", "subject": ["refund"], "limit": 1},
]}]
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
