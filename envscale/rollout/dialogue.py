"""Types shared by agents, user simulators and episodes."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envscale.records import Task, Usage
from envscale.rollout.mistakes import Mistake


@dataclass
class EpisodeContext:
    """What a participant knows when an episode starts."""

    task: Task
    tools: list[dict]  # OpenAI function schemas of the agent's tools
    tool_kinds: dict[str, str]  # tool name -> "read" | "write"
    policy: str
    rng: random.Random
    # The deliberate mistake the scripted agent and user play out together, if any.
    mistake: Mistake | None = None
    # The user's own tools (dual control: the user acts on their device); empty otherwise.
    user_tools: list[dict] = field(default_factory=list)


@dataclass
class AgentReply:
    content: str | None
    tool_calls: list[dict] = field(default_factory=list)  # OpenAI form, arguments as JSON text
    usage: Usage = field(default_factory=Usage)


@dataclass
class UserReply:
    content: str
    done: bool = False
    usage: Usage = field(default_factory=Usage)
    # Calls of the user's own tools (OpenAI form, arguments as JSON text); a reply with calls
    # is the user acting, not speaking: the agent does not see it.
    tool_calls: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class BackendConfig:
    """How to build an agent or a user simulator; picklable, so workers can build their own."""

    kind: str = "scripted"  # scripted | openai | hf
    model: str | None = None  # a model name (openai) or a model directory (hf)
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 512
    timeout: float = 60.0  # seconds per attempt at a request, the whole response included
    retries: int = 4
    max_response_bytes: int = 32 << 20
    concurrency: int = 8
    options: tuple[tuple[str, Any], ...] = ()  # backend-specific settings

    def option(self, name: str, default: Any) -> Any:
        return dict(self.options).get(name, default)

    def describe(self) -> dict:
        return {"backend": self.kind, "model": self.model}


# A run of letters and digits is a word; any other mark that is not a space counts alone.
# re's \w and \s are str.isalnum (plus "_") and str.isspace, so this is the plain loop's
# count, without a Python step per character.
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")


def estimate_tokens(text: str | None) -> int:
    """A tokenizer-free count for backends without one: words and punctuation marks."""
    if not text:
        return 0
    return len(_TOKEN.findall(text))


def make_backend(
    backends: Mapping[str, Callable[[BackendConfig], Any]], config: BackendConfig, role: str
) -> Any:
    """The agent or user simulator (`role`) that `config` describes, from a table of backends."""
    try:
        factory = backends[config.kind]
    except KeyError:
        raise ValueError(
            f"unknown {role} backend '{config.kind}' (choose from {', '.join(backends)})"
        ) from None
    return factory(config)
