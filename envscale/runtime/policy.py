"""Episode policies: rules over the sequence of calls, checked before each call runs.

A `before` rule bound to records (`before writes require verify_patient(patient_id)`) is met
for a call when every record of the bound entity that the call concerns was named by the
bound parameter of a successful requirement call. A call concerns the existing records its
arguments lead to along the manifest's chains; a call that concerns none needs any successful
requirement call, as an unbound rule does. A rule never applies to its own requirement tools.
docs/design.md (Policies) gives the whole meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from envscale.records import Binding, Chain, Policy, Rule

# A record by entity and key, or None; the environment passes its database's lookup.
Find = Callable[[str, Any], dict | None]


def _no_records(entity: str, key: Any) -> dict | None:
    return None


@dataclass(frozen=True)
class Unmet:
    """A `before` rule a call would break now: the tools that meet it (`requirement`) and, for
    a bound rule, the keys of the `entity` records still to meet it for, with the parameter of
    each requirement tool that names one (`params`) and the call's parameters that lead to
    them (`through`)."""

    policy: str
    requirement: list[str]
    entity: str | None = None
    keys: tuple[Any, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    through: tuple[str, ...] = ()

    def message(self, tool: str) -> str:
        needed = " or ".join(
            f"{t}({self.params[t]})" if t in self.params else t for t in self.requirement
        )
        text = f"policy '{self.policy}': {tool} may only run after {needed}"
        if self.keys:
            # The keys stay out of the message: an argument may lead to a record the agent
            # has not been shown.
            text += f" for each {self.entity} it concerns (through {', '.join(self.through)})"
        return text


@dataclass
class PolicyMonitor:
    policies: list[Policy]
    kinds: dict[str, str]  # tool -> read | write
    find: Find = _no_records
    succeeded: list[str] = field(default_factory=list)
    # Successful calls per tool, and the values each bound parameter held in them: a check
    # costs what the rules ask, not the length of the episode.
    counts: dict[str, int] = field(default_factory=dict)
    bound_values: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._bound = {
            (tool, param)
            for policy in self.policies
            for rule in policy.rules
            if rule.binding is not None
            for tool, param in rule.binding.params.items()
        }

    def reset(self) -> None:
        self.succeeded.clear()
        self.counts.clear()
        self.bound_values.clear()

    def matches(self, selector: list[str], tool: str) -> bool:
        kind = self.kinds.get(tool)
        return any(
            s == tool
            or s == "any"
            or (s == "writes" and kind == "write")
            or (s == "reads" and kind == "read")
            for s in selector
        )

    def violation(self, tool: str, arguments: dict[str, Any] | None = None) -> str | None:
        """Why calling `tool` with `arguments` now would break a policy, or None."""
        for policy in self.policies:
            for rule in policy.rules:
                if rule.kind == "before":
                    if (unmet := self._unmet(policy, rule, tool, arguments or {})) is not None:
                        return unmet.message(tool)
                elif (
                    rule.kind == "at_most"
                    and rule.limit is not None
                    and self.matches(rule.subject, tool)
                ):
                    done = sum(n for t, n in self.counts.items() if self.matches(rule.subject, t))
                    if done >= rule.limit:
                        subject = " | ".join(rule.subject)
                        return (
                            f"policy '{policy.name}': at most {rule.limit} call(s) of {subject}"
                            " per episode"
                        )
        return None

    def unmet_requirements(
        self, tool: str, arguments: dict[str, Any] | None = None
    ) -> Iterator[Unmet]:
        """The `before` rules on `tool` that the calls made so far do not meet, each judged
        when reached (a caller may meet one while iterating)."""
        for policy in self.policies:
            for rule in policy.rules:
                if rule.kind == "before":
                    unmet = self._unmet(policy, rule, tool, arguments or {})
                    if unmet is not None:
                        yield unmet

    def record(self, tool: str, arguments: dict[str, Any] | None = None) -> None:
        self.succeeded.append(tool)
        self.counts[tool] = self.counts.get(tool, 0) + 1
        for key in self._bound:
            if key[0] == tool and arguments:
                values = self.bound_values.setdefault(key, [])
                value = arguments.get(key[1])
                if not _among(value, values):
                    values.append(value)

    def concerned(self, binding: Binding, tool: str, arguments: dict[str, Any]) -> dict:
        """The keys of the existing `binding.entity` records a call concerns, each with the
        call's parameters that lead to it."""
        found: dict[Any, list[str]] = {}
        for chain in binding.chains.get(tool, []):
            key = self._follow(binding.entity, chain, arguments.get(chain.param))
            if key is not None and chain.param not in found.setdefault(key, []):
                found[key].append(chain.param)
        return found

    # ---- internals

    def _unmet(self, policy: Policy, rule: Rule, tool: str, arguments: dict) -> Unmet | None:
        if tool in rule.requirement or not self.matches(rule.subject, tool):
            return None
        binding = rule.binding
        if binding is not None:
            concerned = self.concerned(binding, tool, arguments)
            if concerned:
                if any(t in self.counts for t in rule.requirement if t not in binding.params):
                    return None
                met = [
                    value
                    for t, param in binding.params.items()
                    for value in self.bound_values.get((t, param), ())
                ]
                missing = [key for key in concerned if not _among(key, met)]
                if not missing:
                    return None
                through = tuple(dict.fromkeys(p for key in missing for p in concerned[key]))
                return Unmet(
                    policy.name,
                    rule.requirement,
                    binding.entity,
                    tuple(missing),
                    dict(binding.params),
                    through,
                )
        if any(t in self.counts for t in rule.requirement):
            return None
        return Unmet(policy.name, rule.requirement)

    def _follow(self, entity: str, chain: Chain, value: Any) -> Any:
        """The key of the record a chain leads to from an argument's value, or None when a
        step finds no record (or a reference that is none)."""
        for step in chain.via:
            source, name = step.split(".", 1)
            record = self._find(source, value)
            if record is None:
                return None
            value = record.get(name)
        if chain.via:
            # A reference that is not none names an existing record: the schema's foreign
            # keys hold after every call.
            return value if isinstance(value, str | int) and not isinstance(value, bool) else None
        return value if self._find(entity, value) is not None else None

    def _find(self, entity: str, key: Any) -> dict | None:
        if key is None or isinstance(key, bool) or not isinstance(key, str | int):
            return None
        return self.find(entity, key)


def _among(key: Any, values: list) -> bool:
    """Whether `key` is one of `values`, compared by value and type (1 is not "1", and a bool
    never meets a key, though True == 1)."""
    return any(key == v and type(key) is type(v) for v in values)
