"""Simulated users: the customer side of an episode.

The scripted user speaks from templates: it opens with the task's instruction (sometimes
after a bare greeting), answers a question from the agent by confirming, now and then asks
the agent to confirm that the work went through, and ends the conversation once the agent
answers without a question. A model-backed user (`openai`, `hf`) plays the customer from
the instruction and ends by writing STOP_TOKEN.
"""

from __future__ import annotations

from typing import Protocol

from envscale.rollout.dialogue import (
    BackendConfig,
    EpisodeContext,
    Usage,
    UserReply,
    estimate_tokens,
    make_backend,
)
from envscale.rollout.local_model import model_for
from envscale.rollout.openai_client import ChatClient, message_text

STOP_TOKEN = "###STOP###"

_GREETINGS = [
    "Hi there.",
    "Hello, I need some help.",
    "Good morning, could you help me with something?",
]
_OPENINGS = ["{instruction}", "Hi! {instruction}", "Hello. {instruction}", "Hi, {instruction}"]
_YES = ["Yes, please go ahead.", "Yes, that's right.", "Sure, please do it.", "Correct, go ahead."]
_DOUBLE_CHECK = ["Could you confirm that everything went through?", "Is that definitely done now?"]
_BYE = ["Thank you, that's all I needed.", "Great, thanks for your help!", "Perfect, thanks. Bye!"]

USER_SYSTEM = (
    "You are a customer talking to a support agent. Your goal:\n{instruction}\n\n"
    "Reveal details only when asked, one turn at a time, and never invent facts beyond your goal. "
    "When your goal is met, or cannot be met, reply with " + STOP_TOKEN + " and nothing else."
)


class User(Protocol):
    config: BackendConfig

    def start(self, context: EpisodeContext) -> None: ...

    def reply(self, messages: list[dict]) -> UserReply: ...


class ScriptedUser:
    def __init__(self, config: BackendConfig | None = None) -> None:
        self.config = config or BackendConfig("scripted")
        self.greeting_rate = float(self.config.option("greeting_rate", 0.2))
        self.double_check_rate = float(self.config.option("double_check_rate", 0.2))

    def start(self, context: EpisodeContext) -> None:
        self.rng = context.rng
        self.instruction = context.task.instruction or "I need help with my account."
        self.told = False
        self.greet_first = self.rng.random() < self.greeting_rate
        self.double_check = self.rng.random() < self.double_check_rate
        self.checked = False

    def _say(self, text: str, done: bool = False) -> UserReply:
        return UserReply(text, done, Usage(completion_tokens=estimate_tokens(text), estimated=True))

    def reply(self, messages: list[dict]) -> UserReply:
        if not self.told:
            if self.greet_first and len(messages) <= 1:
                return self._say(self.rng.choice(_GREETINGS))
            self.told = True
            return self._say(self.rng.choice(_OPENINGS).format(instruction=self.instruction))
        last = messages[-1]
        said = (last.get("content") or "").strip() if last["role"] == "assistant" else ""
        if said.endswith("?"):
            return self._say(self.rng.choice(_YES))
        if self.double_check and not self.checked:
            self.checked = True
            return self._say(self.rng.choice(_DOUBLE_CHECK))
        return self._say(self.rng.choice(_BYE), done=True)


AGENT_GREETING = "Hello, how can I help you today?"


def user_view(messages: list[dict], instruction: str) -> list[dict]:
    """The conversation as the simulated customer sees it: roles swapped, tool traffic hidden.

    Roles alternate, as strict chat templates require: the customer's first turn answers
    AGENT_GREETING, and what the agent says between two customer turns (text around its tool
    calls, in several messages) is one turn, empty when the agent said nothing.
    """
    view = [{"role": "system", "content": USER_SYSTEM.format(instruction=instruction)}]
    agent_said = [AGENT_GREETING]
    for m in messages:
        if m["role"] == "assistant" and (m.get("content") or "").strip():
            agent_said.append(m["content"].strip())
        elif m["role"] == "user":
            view.append({"role": "user", "content": "\n\n".join(agent_said)})
            view.append({"role": "assistant", "content": m["content"]})
            agent_said = []
    view.append({"role": "user", "content": "\n\n".join(agent_said)})
    return view


def parse_user_text(text: str | None, usage: Usage | None = None) -> UserReply:
    """A model user's reply from its text: done when it holds STOP_TOKEN, which is taken out.

    Nothing is made up: an empty reply stays empty, so the validity filter rejects the
    dialogue for it instead of keeping a turn the model never wrote.
    """
    text = (text or "").strip()
    done = STOP_TOKEN in text
    if done:
        text = text.replace(STOP_TOKEN, "").strip()
    return UserReply(text, done, usage or Usage())


class _ModelUser:
    """What the model-backed users share: the instruction to play, and a seed per episode."""

    def start(self, context: EpisodeContext) -> None:
        self.instruction = context.task.instruction
        self.seed = context.rng.randrange(2**31)


class OpenAIUser(_ModelUser):
    def __init__(self, config: BackendConfig) -> None:

        self.config = config
        self.client = ChatClient(config)

    def reply(self, messages: list[dict]) -> UserReply:
        result = self.client.complete(
            user_view(messages, self.instruction), seed=self.seed + len(messages)
        )
        return parse_user_text(message_text(result.message.get("content")), result.usage)


class HFUser(_ModelUser):
    def __init__(self, config: BackendConfig) -> None:

        self.config = config
        self.model = model_for(config, "user")

    def reply(self, messages: list[dict]) -> UserReply:
        out = self.model.generate(
            user_view(messages, self.instruction),
            None,
            max_new_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            seed=self.seed + len(messages),
        )
        return parse_user_text(
            out.text,
            Usage(prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens),
        )


USERS = {"scripted": ScriptedUser, "openai": OpenAIUser, "hf": HFUser}


def make_user(config: BackendConfig) -> User:
    return make_backend(USERS, config, "user")
