"""The three filters of AgentScaler, applied in order to every trajectory.

1. validity: no call hit an internal error (a bug in envscale, not the agent's doing: such a
   dialogue is never data), the dialogue is well formed (a system prompt, then a user turn;
   assistant and user turns alternate, every tool call is answered by exactly one tool
   message right after it; call names are strings and arguments JSON objects) and no turn is
   severely repetitive (word n-grams, and the same assistant turn over and over);
2. state: the final database hash equals the task's gold one;
3. exact: the successful calls, in order, equal the gold chain's successful calls (names,
   and arguments with the schema's defaults filled in). A failed call changes nothing, so a
   trajectory that recovers from one is kept when it reaches the goal (a sampled chain may
   itself hold a call made invalid on purpose); this stage is what verifies chains that
   only read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from envscale.records import GoldCall, GoldOutput, Task, agent_view
from envscale.rollout.toolcalls import parse_arguments
from envscale.runtime.environment import INTERNAL_PREFIX

STAGES = ("valid", "state", "exact")
NGRAM = 4
MIN_NGRAMS = 12
MAX_REPEATED_SHARE = 0.5
MAX_SAME_TURN = 3


@dataclass
class CallRecord:
    name: str
    arguments: dict | None  # None when the arguments were not a JSON object
    ok: bool
    internal: bool = False  # failed on an internal error of the environment
    side: str = "agent"  # who called: the agent, or the user on their own device
    text: str = ""  # the result as the caller read it


@dataclass
class FilterResult:
    valid: bool
    state: bool
    exact: bool
    reasons: dict[str, str] = field(default_factory=dict)  # stage -> why it failed

    def to_dict(self) -> dict:
        return {"valid": self.valid, "state": self.state, "exact": self.exact}

    @property
    def kept(self) -> bool:
        return self.valid and self.state and self.exact

    @property
    def failure(self) -> str | None:
        """The first stage that failed, with why."""
        for stage in STAGES:
            if stage in self.reasons:
                return f"{stage}: {self.reasons[stage]}"
        return None


def repetitive(text: str, n: int = NGRAM) -> bool:
    """True when most word n-grams of a long enough text are repeats."""
    words = text.split()
    if len(words) - n + 1 < MIN_NGRAMS:
        return False
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) > MAX_REPEATED_SHARE


def check_validity(messages: list[dict], allow_final_tool: bool = False) -> str | None:
    """None when the dialogue is well formed, else the first problem. In a dual-control
    dialogue the agent's view must be well formed, and each of the user's own tool calls is
    answered by exactly one tool message of the user's right after it."""
    if any("side" in m for m in messages):
        return check_user_calls(messages) or _check_agent_dialogue(
            agent_view(messages), allow_final_tool
        )
    return _check_agent_dialogue(messages, allow_final_tool)


def check_user_calls(messages: list[dict]) -> str | None:
    """None when every user tool call is well formed and answered right after it."""
    pending: list[str] = []
    seen: set[str] = set()
    for i, m in enumerate(messages):
        user_side = m.get("side") == "user"
        if pending and not (user_side and m.get("role") == "tool"):
            return f"message {i}: the user's tool call {pending[0]} has no result"
        if not user_side:
            continue
        if m.get("role") == "tool":
            if not pending or m.get("tool_call_id") != pending[0]:
                return f"message {i}: a user tool result for {m.get('tool_call_id')!r} out of turn"
            pending.pop(0)
        elif m.get("role") == "user":
            for call in m.get("tool_calls") or []:
                if problem := _call_problem(call):
                    return f"message {i}: {problem}"
                if call["id"] in seen:
                    return f"message {i}: repeated tool call ids"
                seen.add(call["id"])
                pending.append(call["id"])
            if not m.get("tool_calls"):
                return f"message {i}: a user message of the device without tool calls"
        else:
            return f"message {i}: a {m.get('role')} message on the user's side"
    if pending:
        return "the user's last tool calls have no result"
    return None


def _check_agent_dialogue(messages: list[dict], allow_final_tool: bool) -> str | None:
    if not messages or messages[0].get("role") != "system":
        return "the dialogue does not start with a system prompt"
    if len(messages) < 2 or messages[1].get("role") != "user":
        return "the first turn after the system prompt is not the user's"
    pending: list[str] = []
    previous = "system"
    turns: Counter[str] = Counter()
    for i, m in enumerate(messages[1:], start=1):
        role = m.get("role")
        if role not in ("user", "assistant", "tool"):
            return f"message {i} has role {role!r}"
        if pending and role != "tool":
            return f"message {i}: tool call {pending[0]} has no result"
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            return f"message {i}: content is not text"
        if role == "user":
            if previous == "user":
                return f"message {i}: two user turns in a row"
            if not (content or "").strip():
                return f"message {i}: empty user turn"
        elif role == "assistant":
            if previous == "assistant":
                return f"message {i}: two assistant turns in a row"
            calls = m.get("tool_calls") or []
            if not calls and not (content or "").strip():
                return f"message {i}: empty assistant turn"
            for call in calls:
                problem = _call_problem(call)
                if problem:
                    return f"message {i}: {problem}"
                pending.append(call["id"])
            if len(set(pending)) != len(pending):
                return f"message {i}: repeated tool call ids"
            key = (content, tuple(_call_key(c["function"]) for c in calls))
            turns[key] += 1
            if turns[key] >= MAX_SAME_TURN:
                return f"message {i}: the same assistant turn {turns[key]} times"
        else:
            if previous not in ("assistant", "tool") or not pending:
                return f"message {i}: a tool result without a call"
            if m.get("tool_call_id") != pending[0]:
                return (
                    f"message {i}: tool result for {m.get('tool_call_id')!r}, "
                    f"expected {pending[0]!r}"
                )
            pending.pop(0)
        if role in ("user", "assistant") and content and repetitive(content):
            return f"message {i}: severely repetitive text"
        previous = role
    if pending:
        return "the last tool calls have no result"
    if previous == "user":
        return "the dialogue ends on an unanswered user turn"
    if previous == "tool" and not allow_final_tool:
        return "the dialogue ends on a tool result"
    return None


def check_internal(calls: list[CallRecord]) -> str | None:
    """None when no call hit an internal error, else the first call that did."""
    for i, call in enumerate(calls, start=1):
        if call.internal:
            return f"call {i} ({call.name}) hit an internal error of the environment"
    return None


def _call_key(fn: dict) -> tuple[str, str | tuple[str]]:
    """What tells one call from another in a repeated turn: its name and its arguments'
    text (arguments given as a dict by their JSON, kept apart from any text)."""
    arguments = fn["arguments"]
    return fn["name"], arguments if isinstance(arguments, str) else (json.dumps(arguments),)


def _call_problem(call: dict) -> str | None:
    if not isinstance(call, dict) or not isinstance(call.get("id"), str) or not call["id"]:
        return "a tool call without an id"
    fn = call.get("function")
    if call.get("type", "function") != "function" or not isinstance(fn, dict):
        return f"tool call {call['id']} is not a function call"
    if not isinstance(fn.get("name"), str) or not fn["name"].strip():
        return f"tool call {call['id']} has no function name"
    if parse_arguments(fn.get("arguments")) is None:
        return f"tool call {call['id']} ({fn['name']}): arguments are not a JSON object"
    return None


def with_defaults(name: str, arguments: dict, defaults: dict[str, dict]) -> dict:
    return {**defaults.get(name, {}), **arguments}


def schema_defaults(tools: list[dict]) -> dict[str, dict]:
    """Each tool's parameter defaults, from its JSON schema."""
    out: dict[str, dict] = {}
    for tool in tools:
        fn = tool.get("function", tool)
        props = (fn.get("parameters") or {}).get("properties") or {}
        out[fn["name"]] = {
            k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v
        }
    return out


def gold_succeeded(
    gold_calls: Sequence[object], gold_outputs: Sequence[GoldOutput] = ()
) -> list[bool]:
    """Which gold calls succeeded: a task's chain may hold calls made invalid on purpose."""
    return [
        not (i < len(gold_outputs) and gold_outputs[i].ok is False) for i in range(len(gold_calls))
    ]


def check_exact(
    calls: list[CallRecord],
    gold_calls: Sequence[GoldCall],
    defaults: dict[str, dict],
    gold_outputs: Sequence[GoldOutput] = (),
) -> str | None:
    """None when the successful calls equal the gold chain's successful calls.

    Otherwise, the first difference.
    """
    done = [
        (c.name, with_defaults(c.name, c.arguments or {}, defaults), c.side) for c in calls if c.ok
    ]
    gold = [
        (g.name, with_defaults(g.name, g.arguments, defaults), g.side)
        for g, ok in zip(gold_calls, gold_succeeded(gold_calls, gold_outputs), strict=True)
        if ok
    ]
    for i, (have, want) in enumerate(zip(done, gold, strict=False)):
        if have != want:
            return f"call {i + 1} is {_shown(have)}, expected {_shown(want)}"
    if len(done) < len(gold):
        return f"{len(done)} successful calls, expected {len(gold)} (missing {gold[len(done)][0]})"
    if len(done) > len(gold):
        return f"{len(done)} successful calls, expected {len(gold)} (extra {done[len(gold)][0]})"
    return None


def _shown(call: tuple[str, dict, str]) -> str:
    by = " by the user" if call[2] == "user" else ""
    return f"{call[0]}({json.dumps(call[1], sort_keys=True)}){by}"


def apply_filters(
    messages: list[dict],
    calls: list[CallRecord],
    final_state_hash: str,
    task: Task,
    defaults: dict[str, dict],
    ended_by_transfer: bool = False,
) -> FilterResult:
    reasons: dict[str, str] = {}
    problem = check_internal(calls) or check_validity(messages, allow_final_tool=ended_by_transfer)
    if problem:
        reasons["valid"] = problem
    if final_state_hash != task.gold_state_hash:
        reasons["state"] = "the final state differs from the gold state"
    if problem := check_exact(calls, task.gold_calls, defaults, task.gold_outputs):
        reasons["exact"] = problem
    return FilterResult(
        "valid" not in reasons, "state" not in reasons, "exact" not in reasons, reasons
    )


def calls_from_messages(messages: list[dict]) -> list[CallRecord]:
    """Call records rebuilt from a trajectory's messages: a call failed when its result reads
    `Error: ...`, on an internal error when `Error: internal error: ...`."""
    results = {
        m.get("tool_call_id"): m.get("content") or "" for m in messages if m.get("role") == "tool"
    }
    out = []
    for m in messages:
        for call in m.get("tool_calls") or []:
            fn = call.get("function") or {}
            text = results.get(call.get("id"), "Error: no result")
            out.append(
                CallRecord(
                    str(fn.get("name", "")),
                    parse_arguments(fn.get("arguments")),
                    not text.startswith("Error: "),
                    text.startswith(f"Error: {INTERNAL_PREFIX}"),
                    m.get("side") or "agent",
                    text,
                )
            )
    return out
