"""Simulated users: the customer side of an episode.

The scripted user speaks from templates: it states its goal (the task's instruction, with
one greeting at most), answers the agent's questions with the facts it knows from the task
(the argument values of the gold chain, but none that only an earlier result holds, such as
the id of a record the chain makes: the user never says it before the agent), confirms
when the agent asks it to, corrects a value it misstated when the episode's planned mistake
is its own, now and then asks the agent to confirm that the work went through, and ends the
conversation once the agent answers without a question. A model-backed user (`openai`,
`hf`) plays the customer from the instruction and ends by writing STOP_TOKEN.
"""

from __future__ import annotations

import re
from typing import Protocol

from envscale.rollout.dialogue import (
    BackendConfig,
    EpisodeContext,
    Usage,
    UserReply,
    estimate_tokens,
    make_backend,
)
from envscale.rollout.filters import gold_succeeded
from envscale.rollout.local_model import model_for
from envscale.rollout.mistakes import Mistake
from envscale.rollout.openai_client import ChatClient, message_text
from envscale.rollout.speech import leaves, mentioned, render_value, spoken_forms, words

STOP_TOKEN = "###STOP###"

_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b[\s,.!]*", re.I)
_GREETINGS = [
    "Hi there.",
    "Hello, I need some help.",
    "Good morning, could you help me with something?",
]
_OFFER = re.compile(r"\bhelp you\b|\bcan i do for you\b|\bhelp you with\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SALUTES = ["", "", "Hi! ", "Hello. ", "Hi, "]
_ANSWERS = ["Sure, {facts}.", "Of course: {facts}.", "{facts}.", "Yes, {facts}."]
_CORRECTIONS = [
    "Sorry, my mistake: the {field} is {right}.",
    "Oh, I got that wrong. The {field} is actually {right}.",
    "Apologies, it should be {right}.",
]
_YES = ["Yes, please go ahead.", "Yes, that's right.", "Sure, please do it.", "Correct, go ahead."]
_DOUBLE_CHECK = ["Could you confirm that everything went through?", "Is that definitely done now?"]
_BYE = ["Thank you, that's all I needed.", "Great, thanks for your help!", "Perfect, thanks. Bye!"]
_NOTHING_ELSE = ["No, that's everything. Thanks!", "No, that's all. Thank you!"]

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
        task = context.task
        self.instruction = task.instruction or "I need help with my account."
        ok = gold_succeeded(task.gold_calls, task.gold_outputs)
        outputs = [o.content for o in task.gold_outputs]
        # What the customer knows: each argument of the chain's calls, in order, but for the
        # values the agent learns from an earlier call's result and the instruction never
        # says (the id of the appointment the chain books, the order a lookup finds).
        self.facts: list[tuple[str, object]] = [
            (name, value)
            for i, (call, good) in enumerate(zip(task.gold_calls, ok, strict=True))
            if good
            for name, value in call.arguments.items()
            if mentioned(value, self.instruction) or not _learned(value, outputs[:i])
        ]
        m = context.mistake
        self.slip: Mistake | None = m if m is not None and m.kind == "misstated" else None
        self.told = False
        self.greet_first = self.rng.random() < self.greeting_rate
        self.double_check = self.rng.random() < self.double_check_rate
        self.checked = False
        self.restated = False  # said the goal again when the agent asked what it was

    def _say(self, text: str, done: bool = False) -> UserReply:
        return UserReply(text, done, Usage(completion_tokens=estimate_tokens(text), estimated=True))

    def _goal(self, greeted: bool) -> str:
        """The instruction as the first thing said about the goal, with one greeting at most."""
        text = self.instruction
        slip = self.slip
        if slip is not None and isinstance(slip.right, str) and slip.right in text:
            text = text.replace(slip.right, str(slip.wrong))
            slip.stated = True
        if greeted:
            stripped = _GREETING.sub("", text, count=1)
            return stripped[:1].upper() + stripped[1:] if stripped else text
        if _GREETING.match(text):
            return text
        return self.rng.choice(_SALUTES) + text

    def _answer(self, question: str, heard: str) -> str | None:
        """The facts the agent asks for: named in its question's last sentence, not given."""
        question = _SENTENCE_END.split(question)[-1]
        lowered = question.lower()
        chosen: dict[str, object] = {}
        for name, value in self.facts:
            if words(name).lower() not in lowered or mentioned(value, question):
                continue
            fresher = mentioned(chosen.get(name), heard) and not mentioned(value, heard)
            if name not in chosen or fresher:
                chosen[name] = value
        if not chosen:
            return None
        said = []
        for name, value in chosen.items():
            slip = self.slip
            slipping = slip is not None and not slip.stated and name == slip.argument
            if slip is not None and slipping and value == slip.right:
                value = slip.wrong
                slip.stated = True
            verb = "are" if isinstance(value, list) and len(value) > 1 else "is"
            said.append(f"the {words(name)} {verb} {render_value(value)}")
        facts = " and ".join(said)
        text = self.rng.choice(_ANSWERS).format(facts=facts)
        return text[:1].upper() + text[1:]

    def reply(self, messages: list[dict]) -> UserReply:
        if not self.told:
            if self.greet_first and len(messages) <= 1:
                return self._say(self.rng.choice(_GREETINGS))
            self.told = True
            return self._say(self._goal(greeted=len(messages) > 1))
        last = messages[-1]
        said = (last.get("content") or "").strip() if last["role"] == "assistant" else ""
        heard = "\n".join(m.get("content") or "" for m in messages if m["role"] != "system")
        slip = self.slip
        owed = slip is not None and slip.stated and slip.made and not slip.corrected
        if slip is not None and owed and str(slip.wrong) in said:
            field = words(slip.argument)
            return self._say(self.rng.choice(_CORRECTIONS).format(field=field, right=slip.right))
        if said.endswith("?"):
            if "anything else" in said.lower():
                return self._say(self.rng.choice(_NOTHING_ELSE), done=True)
            answer = self._answer(said, heard)
            if answer is None and _OFFER.search(said) and not self.restated:
                self.restated = True
                return self._say(self._goal(greeted=True))
            return self._say(answer if answer else self.rng.choice(_YES))
        if self.double_check and not self.checked:
            self.checked = True
            return self._say(self.rng.choice(_DOUBLE_CHECK))
        return self._say(self.rng.choice(_BYE), done=True)


def _learned(value: object, outputs: list[str]) -> bool:
    """Whether an earlier result holds every spoken part of `value`: the agent's to know."""
    return any(spoken_forms(leaf) for leaf in leaves(value)) and any(
        mentioned(value, text) for text in outputs if not text.startswith("Error: ")
    )


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
