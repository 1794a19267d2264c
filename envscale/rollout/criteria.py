"""Scoring an episode by a task's own criteria (`records.Scoring`), as tau2-bench scores it.

The reward is the product of the parts the task's `basis` names, and 0 when the episode did
not end by the user's or the agent's stop (an end by transfer counts as one: tau2's user
answers a transfer with its transfer marker, a stop):

- DB: a fresh environment in the task's initial state replays every call of a write tool
  (the manifest's effects say which) that the episode made, from either side and in order,
  failed ones included (they fail again and change nothing); reads and unknown tools are
  skipped. Its state hash must equal the task's gold one, the state after the gold actions.
  The hash covers every entity, so a user's device held as entities of the domain is
  compared too. A replayed call whose result differs from the one the episode recorded
  fails the part (tau2's strict replay raises there).
- ENV_ASSERTION: every assertion the task names, run on the replayed state, gives the value
  it expects; an assertion that fails to run does not hold.
- COMMUNICATE: every text of `communicate` appears in some message of the agent (its text,
  not its tool calls), compared as tau2 does: the text lowercased is a substring of the
  message lowercased with its commas removed (the text keeps its own commas, so a text with
  a comma never matches).
- ACTION: every gold call is matched by some call of the episode, of either side, failed or
  not: the same tool, and equal values for `compare_args`, or when the call names none, for
  the arguments the episode's call gave (tau2's `compare_with_tool_call`).
- NL_ASSERTION: natural-language assertions need a judge model; they are not scored here,
  recorded as None, and left out of the product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from envscale.records import GoldCall, Scoring, Task
from envscale.rollout.filters import CallRecord
from envscale.runtime.environment import Environment

STATE_PARTS = ("DB", "ENV_ASSERTION")
NOT_SCORED = ("NL_ASSERTION",)
STOP_ENDS = ("user_done", "transfer")


@dataclass
class Score:
    """A scored episode: each part of the basis (and "stop") -> 1.0, 0.0, or None when not
    scored; why each failed part failed."""

    scores: dict[str, float | None]
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def reward(self) -> float:
        reward = 1.0
        for value in self.scores.values():
            if value is not None:
                reward *= value
        return reward

    def passed(self, parts: Sequence[str]) -> bool:
        return all(self.scores.get(p) != 0.0 for p in parts)

    def failure(self, parts: Sequence[str]) -> str | None:
        failed = [f"{p}: {self.reasons[p]}" for p in parts if p in self.reasons]
        return "; ".join(failed) or None


Replay = Callable[[list[CallRecord]], tuple[Environment, str | None]]


def communicated(info: str, agent_texts: Sequence[str]) -> bool:
    wanted = info.lower()
    return any(wanted in text.lower().replace(",", "") for text in agent_texts)


def action_matched(gold: GoldCall, calls: Sequence[CallRecord]) -> bool:
    for call in calls:
        if call.name != gold.name or call.arguments is None:
            continue
        names = list(call.arguments) if gold.compare_args is None else gold.compare_args
        if not names:
            return True
        made = {k: v for k, v in call.arguments.items() if k in names}
        wanted = {k: v for k, v in gold.arguments.items() if k in names}
        if made == wanted:
            return True
    return False


def agent_texts(messages: Sequence[dict]) -> list[str]:
    return [
        m["content"]
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), str)
    ]


def score_episode(
    task: Task,
    scoring: Scoring,
    messages: Sequence[dict],
    calls: list[CallRecord],
    end: str,
    replay: Replay,
) -> Score:
    basis = list(dict.fromkeys(scoring.basis))
    score = Score({"stop": 1.0 if end in STOP_ENDS else 0.0})
    if end not in STOP_ENDS:
        score.reasons["stop"] = f"the episode ended by {end}, not by the user or the agent"
    env: Environment | None = None
    if any(part in basis for part in STATE_PARTS):
        env, diverged = replay(calls)
        if "DB" in basis:
            same = env.state_hash() == task.gold_state_hash
            score.scores["DB"] = 1.0 if same and diverged is None else 0.0
            if diverged is not None:
                score.reasons["DB"] = diverged
            elif not same:
                score.reasons["DB"] = "the state after replaying the writes differs from the gold"
        if "ENV_ASSERTION" in basis:
            failed = [
                a for a in scoring.assertions if not _holds(env, a.name, a.arguments, a.expect)
            ]
            score.scores["ENV_ASSERTION"] = 0.0 if failed else 1.0
            if failed:
                score.reasons["ENV_ASSERTION"] = "does not hold: " + ", ".join(
                    a.message or a.name for a in failed
                )
    if "COMMUNICATE" in basis:
        texts = agent_texts(messages)
        missing = [info for info in scoring.communicate if not communicated(info, texts)]
        score.scores["COMMUNICATE"] = 0.0 if missing else 1.0
        if missing:
            score.reasons["COMMUNICATE"] = "not said: " + ", ".join(repr(m) for m in missing)
    if "ACTION" in basis:
        missing_calls = [g.name for g in task.gold_calls if not action_matched(g, calls)]
        score.scores["ACTION"] = 0.0 if missing_calls else 1.0
        if missing_calls:
            score.reasons["ACTION"] = "no matching call of " + ", ".join(missing_calls)
    for part in basis:
        if part in NOT_SCORED:
            score.scores[part] = None
    return score


def _holds(env: Environment, name: str, arguments: dict, expect: bool) -> bool:
    result = env.assertion(name, arguments)
    return result.ok and result.content is expect
