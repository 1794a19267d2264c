"""Simulated users: the customer side of an episode.

The scripted user speaks from templates: it states its goal (the task's instruction, with
one greeting at most), answers the agent's questions with the facts it knows from the task
(the argument values of the gold chain, but none that only an earlier result holds, such as
the id of a record the chain makes: the user never says it before the agent), confirms
when the agent asks it to, corrects a value it misstated when the episode's planned mistake
is its own, now and then asks the agent to confirm that the work went through, and ends the
conversation once the agent answers without a question. In dual control it also acts on
its own device: when the agent asks for the next of the gold chain's user calls (the words
of the tool's name in the agent's message), it makes that call, then tells the agent what
the result shows. A model-backed user (`openai`, `hf`) plays the customer from the
instruction, is offered the user's tools when the domain has some (their calls and results
are part of its view), and ends by writing STOP_TOKEN.
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
from envscale.rollout.openai_client import ChatClient, ChatError, json_excerpt, message_text
from envscale.rollout.speech import leaves, mentioned, render_value, spoken_forms, words
from envscale.rollout.toolcalls import make_call, parse_hermes

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
USER_TOOLS_NOTE = (
    "\n\nYou have tools that act on your own device. Use one when the agent asks you to do "
    "something on your side, one call at a time, and base what you tell the agent on what the "
    "tools return, never on guesses. The agent does not see your tool calls, only what you say."
)
_DID = [
    "I did that. Here is what it shows:\n{result}",
    "Done. This is what I see now:\n{result}",
    "Okay, I tried it. It says:\n{result}",
]
_DID_FAIL = ["I tried, but it gave an error:\n{result}", "That didn't work, it says:\n{result}"]


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
        self.instruction = spoken_goal(task.instruction) or "I need help with my account."
        ok = gold_succeeded(task.gold_calls, task.gold_outputs)
        outputs = [o.content for o in task.gold_outputs]
        # What the customer knows: each argument of the chain's calls, in order, but for the
        # values the agent learns from an earlier call's result and the instruction never
        # says (the id of the appointment the chain books, the order a lookup finds).
        self.facts: list[tuple[str, object]] = [
            (name, value)
            for i, (call, good) in enumerate(zip(task.gold_calls, ok, strict=True))
            if good and call.side == "agent"
            for name, value in call.arguments.items()
            if mentioned(value, self.instruction) or not _learned(value, outputs[:i])
        ]
        # Dual control: the chain's calls the user makes on their own device, in order.
        self.acts = [c for c in task.gold_calls if c.side == "user"]
        self.acted = 0
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
        if last["role"] == "tool" and last.get("side") == "user":
            result = last.get("content") or ""
            template = _DID_FAIL if result.startswith("Error: ") else _DID
            return self._say(self.rng.choice(template).format(result=result))
        said = (last.get("content") or "").strip() if last["role"] == "assistant" else ""
        if act := self._requested_act(said):
            self.acted += 1
            call = make_call(f"user_call_{self.acted}", act.name, act.arguments)
            return UserReply("", usage=Usage(estimated=True), tool_calls=[call])
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

    def _requested_act(self, said: str):
        """The next of the chain's user calls, when the agent's message asks for it."""
        if self.acted >= len(self.acts) or not said:
            return None
        act = self.acts[self.acted]
        asked = said.lower()
        return act if all(w in asked for w in words(act.name).lower().split()) else None


_SCENARIO_PART = re.compile(r"^\t(Reason for call|Known info):\n((?:\t\t.*(?:\n|$)|\n)+)", re.M)


def spoken_goal(instruction: str) -> str:
    """What the customer says of an instruction: the instruction itself, or, for a scenario
    written as tau2 writes its user scenarios (`Instructions:` then tab-indented parts), its
    reason for the call and what it knows, in plain lines."""
    if not instruction.startswith(("Instructions:\n", "Persona:\n")):
        return instruction
    parts = [m.group(2) for m in _SCENARIO_PART.finditer(instruction)]
    lines = [line.strip() for part in parts for line in part.split("\n")]
    return " ".join(line for line in lines if line) or instruction


def _learned(value: object, outputs: list[str]) -> bool:
    """Whether an earlier result holds every spoken part of `value`: the agent's to know."""
    return any(spoken_forms(leaf) for leaf in leaves(value)) and any(
        mentioned(value, text) for text in outputs if not text.startswith("Error: ")
    )


AGENT_GREETING = "Hello, how can I help you today?"


def user_view(messages: list[dict], instruction: str, tools: bool = False) -> list[dict]:
    """The conversation as the simulated customer sees it: roles swapped, the agent's tool
    traffic hidden. With `tools` (dual control) the customer's own tool calls are its
    assistant turns with tool calls, followed by their results.

    Roles alternate, as strict chat templates require: the customer's first turn answers
    AGENT_GREETING, and what the agent says between two customer turns (text around its tool
    calls, in several messages) is one turn, empty when the agent said nothing; after the
    results of the customer's own calls it speaks again without an agent turn between.
    """
    system = USER_SYSTEM.format(instruction=instruction) + (USER_TOOLS_NOTE if tools else "")
    view: list[dict] = [{"role": "system", "content": system}]
    agent_said = [AGENT_GREETING]

    def agent_turn() -> None:
        if agent_said or view[-1]["role"] != "tool":
            view.append({"role": "user", "content": "\n\n".join(agent_said)})

    for m in messages:
        if m["role"] == "assistant" and (m.get("content") or "").strip():
            agent_said.append(m["content"].strip())
        elif m["role"] == "user" and m.get("side") == "user":
            agent_turn()
            view.append(
                {"role": "assistant", "content": m.get("content"), "tool_calls": m["tool_calls"]}
            )
            agent_said = []
        elif m["role"] == "tool" and m.get("side") == "user":
            view.append(
                {"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]}
            )
        elif m["role"] == "user":
            agent_turn()
            view.append({"role": "assistant", "content": m["content"]})
            agent_said = []
    agent_turn()
    return view


def _user_calls(listed: object, first: int) -> list[dict]:
    """A model user's tool calls in the OpenAI form, numbered `user_call_N` from `first`."""
    if not isinstance(listed, list):
        raise ChatError(f"tool_calls is not a list: {json_excerpt(listed)}")
    calls = []
    for n, call in enumerate(listed):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name", ""), str):
            raise ChatError(f"a tool call without a function name: {json_excerpt(call)}")
        calls.append(
            make_call(f"user_call_{first + n}", fn.get("name", ""), fn.get("arguments", ""))
        )
    return calls


def _next_user_call(messages: list[dict]) -> int:
    return 1 + sum(len(m.get("tool_calls") or []) for m in messages if m["role"] == "user")


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
    """What the model-backed users share: the instruction to play, the user's own tools (dual
    control), and a seed per episode."""

    def start(self, context: EpisodeContext) -> None:
        self.instruction = context.task.instruction
        self.tools = list(context.user_tools)
        self.seed = context.rng.randrange(2**31)

    def view(self, messages: list[dict]) -> list[dict]:
        return user_view(messages, self.instruction, tools=bool(self.tools))


class OpenAIUser(_ModelUser):
    def __init__(self, config: BackendConfig) -> None:

        self.config = config
        self.client = ChatClient(config)

    def reply(self, messages: list[dict]) -> UserReply:
        result = self.client.complete(
            self.view(messages), self.tools or None, seed=self.seed + len(messages)
        )
        content = message_text(result.message.get("content"))
        calls = _user_calls(result.message.get("tool_calls") or [], _next_user_call(messages))
        if not calls and self.tools and content and "<tool_call>" in content:
            content, calls = parse_hermes(content, _next_user_call(messages))
            calls = [make_call(f"user_{c['id']}", **c["function"]) for c in calls]
        reply = parse_user_text(content, result.usage)
        reply.tool_calls = [] if reply.done else calls
        return reply


class HFUser(_ModelUser):
    def __init__(self, config: BackendConfig) -> None:

        self.config = config
        self.model = model_for(config, "user")

    def reply(self, messages: list[dict]) -> UserReply:
        out = self.model.generate(
            self.view(messages),
            self.tools or None,
            max_new_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            seed=self.seed + len(messages),
        )
        usage = Usage(prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens)
        if not self.tools:
            return parse_user_text(out.text, usage)
        content, calls = parse_hermes(out.text, _next_user_call(messages))
        reply = parse_user_text(content, usage)
        if not reply.done:
            reply.tool_calls = [make_call(f"user_{c['id']}", **c["function"]) for c in calls]
        return reply


USERS = {"scripted": ScriptedUser, "openai": OpenAIUser, "hf": HFUser}


def make_user(config: BackendConfig) -> User:
    return make_backend(USERS, config, "user")
