"""Agents: the model side of an episode. Three backends share one protocol.

- `scripted` follows the task's gold chain without a model, asks the user to confirm
  before its first write, and now and then makes a malformed call that it then corrects;
  every choice comes from the episode's seeded random generator.
- `openai` asks any OpenAI-compatible chat-completions endpoint.
- `hf` prompts a local transformers model with its own chat template and tools and parses
  Hermes/Qwen `<tool_call>` blocks from its output.
"""

from __future__ import annotations

import json
from typing import Protocol

from envscale.rollout.dialogue import (
    AgentReply,
    BackendConfig,
    EpisodeContext,
    Usage,
    estimate_tokens,
    make_backend,
)
from envscale.rollout.filters import gold_succeeded
from envscale.rollout.local_model import model_for
from envscale.rollout.openai_client import ChatClient, ChatError, json_excerpt, message_text
from envscale.rollout.toolcalls import make_call, parse_hermes


class Agent(Protocol):
    config: BackendConfig

    def start(self, context: EpisodeContext) -> None: ...

    def reply(self, messages: list[dict]) -> AgentReply: ...


_PREFACES = ["", "", "", "Let me check that for you.", "One moment, please.", "I'll look into it."]
_ASK_CONFIRM = [
    "Before I make any change, please confirm: I will {actions}. Shall I go ahead?",
    "To be sure I have this right, I am about to {actions}. Do you want me to proceed?",
    "Here is what I will do: {actions}. Is that correct?",
]
_CORRECTION = [
    "That did not work. Let me try again.",
    "My mistake; let me correct that request.",
    "That call failed, so I'll adjust it and retry.",
]
_DONE = ["All done. {summary}", "That's taken care of. {summary}", "Finished. {summary}"]
_FOUND = ["{summary}", "Thanks for waiting. {summary}", "I have the details. {summary}"]
_RECONFIRM = ["Yes, I can confirm it went through. {summary}", "Confirmed. {summary}"]


def describe_call(name: str, arguments: dict) -> str:
    words = name.replace("_", " ")
    if not arguments:
        return words
    shown = ", ".join(f"{k} {json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{words} ({shown})"


class ScriptedAgent:
    """Follows the gold chain; needs no model and runs deterministically for a seed."""

    def __init__(self, config: BackendConfig | None = None) -> None:
        self.config = config or BackendConfig("scripted")
        self.failure_rate = float(self.config.option("failure_rate", 0.15))
        self.confirm_writes = bool(self.config.option("confirm_writes", True))

    def start(self, context: EpisodeContext) -> None:
        self.context = context
        self.rng = context.rng
        self.calls: list[dict] = [call.to_dict() for call in context.task.gold_calls]
        ok = gold_succeeded(self.calls, context.task.gold_outputs)
        self.writes = [
            c
            for c, good in zip(self.calls, ok, strict=True)
            if good and context.tool_kinds.get(c["name"]) == "write"
        ]
        self.position = 0
        self.call_number = 0
        self.asked_confirmation = False
        self.confirmed = False
        self.greeted = False
        self.answered = False
        self.retrying = False
        self.last_outputs: list[str] = []
        required = {
            t["function"]["name"]: t["function"].get("parameters", {}).get("required", [])
            for t in context.tools
        }
        breakable = [
            i
            for i, c in enumerate(self.calls)
            if any(r in (c.get("arguments") or {}) for r in required.get(c["name"], []))
        ]
        self.fail_at = None
        self.drop_argument = None
        if (
            breakable
            and not self.context.task.invalid_calls
            and self.rng.random() < self.failure_rate
        ):
            self.fail_at = self.rng.choice(breakable)
            present = [
                r
                for r in required[self.calls[self.fail_at]["name"]]
                if r in self.calls[self.fail_at]["arguments"]
            ]
            self.drop_argument = self.rng.choice(present)

    def _call(self, name: str, arguments: dict) -> dict:
        self.call_number += 1
        return make_call(f"call_{self.call_number}", name, arguments)

    def _reply(self, content: str | None, calls: list[dict] | None = None) -> AgentReply:
        text = (content or "") + "".join(
            c["function"]["name"] + c["function"]["arguments"] for c in calls or []
        )
        return AgentReply(
            content, calls or [], Usage(completion_tokens=estimate_tokens(text), estimated=True)
        )

    def _summary(self) -> str:
        if self.writes:
            return (
                "I did the following: "
                + "; ".join(describe_call(c["name"], c["arguments"]) for c in self.writes)
                + "."
            )
        if self.last_outputs:
            result = self.last_outputs[-1]
            return "Here is what I found: " + (
                result if len(result) <= 400 else result[:400] + " ..."
            )
        return "There was nothing to change."

    def reply(self, messages: list[dict]) -> AgentReply:
        last = messages[-1]
        if last["role"] == "tool":
            self.last_outputs.append(last.get("content") or "")
        if last["role"] == "user" and not self.greeted:
            self.greeted = True
            instruction = self.context.task.instruction
            if instruction and instruction not in (last.get("content") or ""):
                return self._reply("Hello! How can I help you today?")
        if self.position >= len(self.calls):
            if self.answered:
                return self._reply(self.rng.choice(_RECONFIRM).format(summary=self._summary()))
            self.answered = True
            closing = _DONE if self.writes else _FOUND
            return self._reply(self.rng.choice(closing).format(summary=self._summary()))
        step = self.calls[self.position]
        if (
            self.confirm_writes
            and not self.confirmed
            and self.context.tool_kinds.get(step["name"]) == "write"
        ):
            if not self.asked_confirmation:
                self.asked_confirmation = True
                actions = "; ".join(describe_call(c["name"], c["arguments"]) for c in self.writes)
                return self._reply(self.rng.choice(_ASK_CONFIRM).format(actions=actions))
            self.confirmed = True
        arguments = dict(step.get("arguments") or {})
        if self.position == self.fail_at and not self.retrying:
            self.retrying = True
            arguments.pop(self.drop_argument, None)
            return self._reply(
                self.rng.choice(_PREFACES) or None, [self._call(step["name"], arguments)]
            )
        after_error = last["role"] == "tool" and (last.get("content") or "").startswith("Error: ")
        preface = (
            self.rng.choice(_CORRECTION) if after_error else (self.rng.choice(_PREFACES) or None)
        )
        self.retrying = False
        self.fail_at = None if self.position == self.fail_at else self.fail_at
        self.position += 1
        return self._reply(preface, [self._call(step["name"], arguments)])


def _next_call_id(messages: list[dict]) -> int:
    return 1 + sum(len(m.get("tool_calls") or []) for m in messages if m["role"] == "assistant")


class _ModelAgent:
    """What the model-backed agents share: each turn's sampling seed comes from the episode's."""

    def start(self, context: EpisodeContext) -> None:
        self.context = context
        self.seed = context.rng.randrange(2**31)
        self.turn = 0

    def _turn_seed(self) -> int:
        self.turn += 1
        return self.seed + self.turn


class OpenAIAgent(_ModelAgent):
    """An agent answered by an OpenAI-compatible chat-completions endpoint."""

    def __init__(self, config: BackendConfig) -> None:

        self.config = config
        self.client = ChatClient(config)

    def reply(self, messages: list[dict]) -> AgentReply:
        result = self.client.complete(messages, self.context.tools, seed=self._turn_seed())
        message = result.message
        content = message_text(message.get("content"))
        calls = []
        first = _next_call_id(messages)
        listed = message.get("tool_calls") or []
        if not isinstance(listed, list):
            raise ChatError(f"tool_calls is not a list: {json_excerpt(listed)}")
        for n, call in enumerate(listed):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name", ""), str):
                raise ChatError(f"a tool call without a function name: {json_excerpt(call)}")
            # Arguments of any JSON type are the model's to get wrong: the call fails as data.
            calls.append(
                make_call(f"call_{first + n}", fn.get("name", ""), fn.get("arguments", ""))
            )
        if not calls and content and "<tool_call>" in content:
            content, calls = parse_hermes(content, first)
        return AgentReply(content or None, calls, result.usage)


class HFAgent(_ModelAgent):
    """An agent answered by a local transformers model, prompted with its chat template."""

    def __init__(self, config: BackendConfig) -> None:

        self.config = config
        self.model = model_for(config, "agent")

    def reply(self, messages: list[dict]) -> AgentReply:
        out = self.model.generate(
            messages,
            self.context.tools,
            max_new_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            seed=self._turn_seed(),
        )
        content, calls = parse_hermes(out.text, _next_call_id(messages))
        return AgentReply(
            content,
            calls,
            Usage(prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens),
        )


AGENTS = {"scripted": ScriptedAgent, "openai": OpenAIAgent, "hf": HFAgent}


def make_agent(config: BackendConfig) -> Agent:
    return make_backend(AGENTS, config, "agent")
