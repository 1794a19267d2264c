"""A local transformers chat model, prompted with its own chat template and tools.

torch and transformers are imported here only, when a model is loaded.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from envscale.rollout.dialogue import BackendConfig


@dataclass
class Generation:
    text: str  # decoded new tokens, special tokens removed except tool-call tags
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


def _template_messages(messages: list[dict]) -> list[dict]:
    """Messages as chat templates take them: content never None, arguments as objects."""
    out = []
    for message in messages:
        m = dict(message)
        if m.get("content") is None:
            m["content"] = ""
        if m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                fn = dict(call["function"])
                if isinstance(fn.get("arguments"), str):
                    with contextlib.suppress(json.JSONDecodeError):
                        fn["arguments"] = json.loads(fn["arguments"])
                calls.append({**call, "function": fn})
            m["tool_calls"] = calls
        out.append(m)
    return out


class LocalChatModel:
    """One model per process; generation is serialized by a lock."""

    _loaded: ClassVar[dict[str, LocalChatModel]] = {}
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str | Path, device: str | None = None) -> None:
        # torch and transformers are the optional 'train' extra, imported when a model loads.
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = str(path)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModelForCausalLM.from_pretrained(self.path).to(self.device)
        self.model.eval()
        self.lock = threading.Lock()

    @classmethod
    def get(cls, path: str | Path) -> LocalChatModel:
        key = str(Path(path).resolve()) if Path(path).exists() else str(path)
        with cls._load_lock:
            if key not in cls._loaded:
                cls._loaded[key] = cls(path)
            return cls._loaded[key]

    def generate(
        self,
        messages: list[dict],
        tools: list[dict] | None,
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Generation:
        torch = self.torch
        prompt = self.tokenizer.apply_chat_template(
            _template_messages(messages),
            tools=tools or None,
            add_generation_prompt=True,
            tokenize=False,
        )
        encoded = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(
            self.device
        )
        sampling = temperature > 0
        kwargs: dict = {
            "max_new_tokens": max_new_tokens,
            "do_sample": sampling,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sampling:
            kwargs["temperature"] = temperature
        with self.lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            output = self.model.generate(**encoded, **kwargs)
        new = output[0, encoded["input_ids"].shape[1] :].tolist()
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        finished = bool(new) and new[-1] in eos_ids
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(
            text,
            int(encoded["input_ids"].shape[1]),
            len(new),
            "stop" if finished or len(new) < max_new_tokens else "length",
        )


def model_for(config: BackendConfig, role: str) -> LocalChatModel:
    """The local model an `hf` agent or user runs (`role` names it in the error)."""
    if not config.model:
        raise ValueError(f"the hf {role} needs a model directory (--{role}-model)")
    return LocalChatModel.get(config.model)
