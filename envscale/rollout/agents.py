"""Agents: the model side of an episode. Three backends share one protocol.

- `scripted` follows the task's gold chain without a model and talks like an agent: it
  asks for what the dialogue has not told it yet, sums up what it found in a sentence,
  asks the customer to confirm before each write when the policy asks for that, and plays
  out the episode's planned mistake (`rollout/mistakes.py`) and its correction (after a
  wrong record, it says so and asks before it takes the right one); every
  choice comes from the episode's seeded random generator.
- `openai` asks any OpenAI-compatible chat-completions endpoint.
- `hf` prompts a local transformers model with its own chat template and tools and parses
  Hermes/Qwen `<tool_call>` blocks from its output.
"""

from __future__ import annotations

import re
from functools import lru_cache
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
from envscale.rollout.speech import (
    describe_call,
    leaves,
    mentioned,
    render_value,
    spoken_forms,
    summarise,
    words,
)
from envscale.rollout.toolcalls import make_call, parse_hermes


class Agent(Protocol):
    config: BackendConfig

    def start(self, context: EpisodeContext) -> None: ...

    def reply(self, messages: list[dict]) -> AgentReply: ...


DEFAULT_FAILURE_RATE = 0.25
# A policy asks for confirmation when it speaks of confirming, or of waiting for a yes.
_CONFIRMATION_RULE = re.compile(r"\bconfirm|\bclear yes\b|\bexplicit\b[^.]*\byes\b", re.I)
_MAX_REPORTED = 3
_SALUTATION = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b[\s,.!]*", re.I)

_GREETING = [
    "Hello! How can I help you today?",
    "Hi, thanks for reaching out. What can I do for you?",
    "Hello, what can I help you with?",
]
_ASK = [
    "{found}Could you tell me the {fields}?",
    "{found}To do that I need the {fields}; what {them}?",
    "{found}Can you give me the {fields}, please?",
]
_ASK_MISSING = [
    "I tried to {action} without the {field}, which I don't have yet. What is the {field}?",
    "That needs the {field} as well, and I don't have it. Could you tell me the {field}?",
]
_RECHECK = [
    "I couldn't {action} with the {field} {wrong}: {error}. Could you double-check the {field}?",
    "That didn't work with {field} {wrong} ({error}). Could you check the {field} again?",
    "The system won't accept {field} {wrong}: {error}. Is that the right {field}?",
]
_ASK_CONFIRM = [
    "{found}I'm about to {action}. Shall I go ahead?",
    "{found}To confirm, I will {action}. Is that right?",
    "{found}Here is the change: {action}. Do you want me to proceed?",
]
_DONE = ["Done: {action}. {found}", "That's taken care of: {action}. {found}", "All set. {found}"]
_FOUND = ["{found}", "Thanks for waiting. {found}", "Alright. {found}"]
_CLOSERS = ["", "", " Is there anything else I can help with?", " Anything else I can do?"]
_RECONFIRM = [
    "Yes, it went through: {action}.",
    "Yes, that's confirmed: {action}.",
    "I can confirm it: {action}.",
]
_WRONG_PICK = [
    "My mistake: {wrong} is not the right {noun} ({error}). It should be {right}; shall I go "
    "ahead with it?",
    "{wrong} was the wrong {noun}: {error}. Shall I use {right} instead?",
    "Sorry, I picked {wrong} by mistake ({error}). The right one is {right}. Shall I go ahead?",
]
_RECONFIRM_READ = ["Yes, that is what the records show.", "Yes, that's right per our records."]
_ASK_USER_ACT = [
    "{found}Could you {action} on your device and tell me what it shows?",
    "{found}Please {action} on your side. What do you see afterwards?",
    "{found}Next, could you {action} for me, and let me know what it says?",
]
_FOR_THE_RECORD = [" For the record: {facts}.", " To sum up: {facts}."]


@lru_cache(maxsize=16)  # a domain's policy, asked once per episode
def policy_asks_confirmation(policy: str) -> bool:
    return bool(_CONFIRMATION_RULE.search(policy or ""))


def _fields(names: list[str]) -> str:
    said = [words(n) for n in names]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


class ScriptedAgent:
    """Follows the gold chain; needs no model and runs deterministically for a seed.

    Failed calls of the gold chain (made invalid on purpose by the sampler) are not
    replayed: their values may appear nowhere in the dialogue. Its own mistake, if the
    episode plans one, is the `EpisodeContext.mistake` it shares with a scripted user.
    """

    def __init__(self, config: BackendConfig | None = None) -> None:
        self.config = config or BackendConfig("scripted")
        self.failure_rate = float(self.config.option("failure_rate", DEFAULT_FAILURE_RATE))
        self.confirm_writes = self.config.option("confirm_writes", "policy")

    def start(self, context: EpisodeContext) -> None:
        self.context = context
        self.rng = context.rng
        task = context.task
        ok = gold_succeeded(task.gold_calls, task.gold_outputs)
        self.calls: list[dict] = [
            c.to_dict() for c, good in zip(task.gold_calls, ok, strict=True) if good
        ]
        self.mistake = context.mistake
        confirm = self.confirm_writes
        self.confirming = (
            policy_asks_confirmation(context.policy) if confirm == "policy" else bool(confirm)
        )
        self.position = 0
        self.call_number = 0
        self.greeted = False
        self.asked: set[int] = set()
        self.confirmed: set[int] = set()
        self.unreported: list[tuple[str, str]] = []
        self.writes: list[dict] = []
        self.last_call: dict | None = None
        self.last_was_mistake = False
        self.answered = False

    # ---- speaking

    def _reply(self, content: str | None, calls: list[dict] | None = None) -> AgentReply:
        text = (content or "") + "".join(
            c["function"]["name"] + c["function"]["arguments"] for c in calls or []
        )
        return AgentReply(
            content, calls or [], Usage(completion_tokens=estimate_tokens(text), estimated=True)
        )

    def _say(self, text: str) -> AgentReply:
        return self._reply(" ".join(text.split()))

    def _call(self, name: str, arguments: dict, mistaken: bool = False) -> AgentReply:
        self.call_number += 1
        self.last_call = {"name": name, "arguments": arguments}
        self.last_was_mistake = mistaken
        return self._reply(None, [make_call(f"call_{self.call_number}", name, arguments)])

    def _found(self) -> str:
        """What the results since the agent last spoke showed, a sentence each."""
        results = {text: tool for tool, text in reversed(self.unreported)}  # told once each
        said = [summarise(tool, text, self.rng) for text, tool in reversed(results.items())]
        self.unreported = []
        return "".join(s + " " for s in said[-_MAX_REPORTED:])

    # ---- what the dialogue holds

    def _heard(self, messages: list[dict]) -> str:
        return "\n".join(m.get("content") or "" for m in messages if m["role"] in ("user", "tool"))

    def _arguments(self, index: int) -> dict:
        """The arguments of the chain's call `index` as the dialogue has them so far."""
        arguments = dict(self.calls[index]["arguments"])
        m = self.mistake
        if m and m.call == index and m.kind == "misstated" and not m.corrected:
            arguments[m.argument] = m.wrong
        return arguments

    def _unknown(self, index: int, heard: str) -> list[str]:
        """Arguments of call `index` whose values the dialogue has not told the agent."""
        if self.calls[index].get("side", "agent") != "agent":
            return []  # the user's own action: the user knows what it takes
        m = self.mistake
        skip = m.argument if m and m.call == index and m.kind == "missing_argument" else None
        return [
            name
            for name, value in self._arguments(index).items()
            if name != skip and leaves(value) and not mentioned(value, heard)
        ]

    def _is_write(self, name: str) -> bool:
        return self.context.tool_kinds.get(name) == "write"

    # ---- turns

    def reply(self, messages: list[dict]) -> AgentReply:
        last = messages[-1]
        heard = self._heard(messages)
        if last["role"] == "tool" and self.last_call is not None:
            text = last.get("content") or ""
            failed = text.startswith("Error: ")
            if not failed:
                self.unreported.append((self.last_call["name"], text))
                if self._is_write(self.last_call["name"]):
                    self.writes.append(self.last_call)
            if failed and self.last_was_mistake:
                self.last_was_mistake = False
                recovery = self._recover(text, heard)
                if recovery is not None:
                    return recovery
        if last["role"] == "user" and not self.greeted:
            self.greeted = True
            if self._greeting_only(last.get("content") or ""):
                return self._say(self.rng.choice(_GREETING))
        if last["role"] == "user" and self.mistake and self.mistake.stated:
            self.mistake.corrected = self.mistake.corrected or mentioned(
                self.mistake.right, last.get("content") or ""
            )
        if self.position >= len(self.calls):
            return self._close()
        return self._step(heard)

    def _greeting_only(self, said: str) -> bool:
        """A first turn that greets or asks for help without saying what about."""
        values = [leaf for c in self.calls for leaf in leaves(c["arguments"])]
        if any(mentioned(v, said) for v in values if any(spoken_forms(v))):
            return False
        rest = _SALUTATION.sub("", said).split()
        return len(rest) <= 3 or (len(rest) <= 6 and "help" in said.lower())

    def _recover(self, error: str, heard: str) -> AgentReply | None:
        """The turn after the planned mistaken call failed; None to go on with the chain."""
        m = self.mistake
        assert m is not None
        action = words(self.calls[m.call]["name"])
        field = words(m.argument)
        reason = summarise(self.calls[m.call]["name"], error, self.rng).rstrip(".")
        if m.kind == "misstated":
            return self._say(
                self.rng.choice(_RECHECK).format(
                    action=action, field=field, wrong=m.wrong, error=reason
                )
            )
        if m.kind == "missing_argument" and not mentioned(m.right, heard):
            return self._say(self.rng.choice(_ASK_MISSING).format(action=action, field=field))
        if m.kind == "wrong_record":  # says so, and asks before the call on the right one
            noun = words(re.sub(r"_(ids?|number|code)$", "", m.argument))
            return self._say(
                self.rng.choice(_WRONG_PICK).format(
                    wrong=render_value(m.wrong),
                    right=render_value(m.right),
                    noun=noun,
                    error=reason,
                )
            )
        return None

    def _step(self, heard: str) -> AgentReply:
        index = self.position
        step = self.calls[index]
        if step.get("side", "agent") != "agent":
            # Dual control: the user acts on their own device; the agent asks them to.
            self.position += 1
            action = describe_call(step["name"], step["arguments"])
            text = self.rng.choice(_ASK_USER_ACT)
            return self._say(text.format(found=self._found(), action=action))
        unknown = self._unknown(index, heard)
        if unknown and index not in self.asked:
            self.asked.add(index)
            them = "is it" if len(unknown) == 1 else "are they"
            text = self.rng.choice(_ASK)
            return self._say(text.format(found=self._found(), fields=_fields(unknown), them=them))
        arguments = self._arguments(index)
        if self.confirming and self._is_write(step["name"]) and index not in self.confirmed:
            self.confirmed.add(index)
            action = describe_call(step["name"], arguments)
            text = self.rng.choice(_ASK_CONFIRM)
            return self._say(text.format(found=self._found(), action=action))
        m = self.mistake
        if m and m.call == index and m.kind == "misstated" and not m.stated:
            self.mistake = m = None  # the customer never said the wrong value: no slip to make
        if m and m.call == index and not m.made:
            m.made = True
            wrong = m.wrong_call({"name": step["name"], "arguments": arguments})
            return self._call(step["name"], wrong["arguments"], mistaken=True)
        self.position += 1
        return self._call(step["name"], dict(step["arguments"]))

    def _close(self) -> AgentReply:
        if self.answered:
            if self.writes:
                action = describe_call(self.writes[-1]["name"], self.writes[-1]["arguments"])
                return self._say(self.rng.choice(_RECONFIRM).format(action=action))
            return self._say(self.rng.choice(_RECONFIRM_READ))
        self.answered = True
        found = self._found() or "There was nothing more to change."
        if self.writes:
            action = describe_call(self.writes[-1]["name"], self.writes[-1]["arguments"])
            text = self.rng.choice(_DONE).format(action=action, found=found)
        else:
            text = self.rng.choice(_FOUND).format(found=found)
        # What the task says the agent must tell the customer, which the gold solution says.
        scoring = self.context.task.scoring
        if scoring is not None and scoring.communicate:
            facts = "; ".join(scoring.communicate)
            text = text.rstrip() + self.rng.choice(_FOR_THE_RECORD).format(facts=facts)
        return self._say(text + self.rng.choice(_CLOSERS))


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
