"""Episode policies: rules over the sequence of calls, checked before each call runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from envscale.records import Policy


@dataclass
class PolicyMonitor:
    policies: list[Policy]
    kinds: dict[str, str]  # tool -> read | write
    succeeded: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.succeeded.clear()

    def matches(self, selector: list[str], tool: str) -> bool:
        kind = self.kinds.get(tool)
        return any(
            s == tool
            or s == "any"
            or (s == "writes" and kind == "write")
            or (s == "reads" and kind == "read")
            for s in selector
        )

    def violation(self, tool: str) -> str | None:
        """Why calling `tool` now would break a policy, or None."""
        for policy in self.policies:
            for rule in policy.rules:
                if not self.matches(rule.subject, tool):
                    continue
                if rule.kind == "before":
                    if not any(t in rule.requirement for t in self.succeeded):
                        needed = " or ".join(rule.requirement)
                        return f"policy '{policy.name}': {tool} may only run after {needed}"
                elif rule.kind == "at_most" and rule.limit is not None:
                    done = sum(1 for t in self.succeeded if self.matches(rule.subject, t))
                    if done >= rule.limit:
                        subject = " | ".join(rule.subject)
                        return (
                            f"policy '{policy.name}': at most {rule.limit} call(s) of {subject}"
                            " per episode"
                        )
        return None

    def unmet_requirements(self, tool: str) -> Iterator[list[str]]:
        """The requirements of the `before` rules on `tool` that no call has met yet, each
        judged when reached (a caller may meet one while iterating)."""
        for policy in self.policies:
            for rule in policy.rules:
                if (
                    rule.kind == "before"
                    and self.matches(rule.subject, tool)
                    and not any(t in rule.requirement for t in self.succeeded)
                ):
                    yield rule.requirement

    def record(self, tool: str) -> None:
        self.succeeded.append(tool)
