"""Tool calls in the OpenAI message form, and parsing them out of Hermes/Qwen model text.

A model prompted with a Hermes-style chat template answers a call as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`. Output holding a block that is
not a well-formed call (JSON that does not parse, no name, a block cut off before its end
tag) is no call at all: the whole text stays the message's content, so the episode records
what the model said, and evaluation counts it as a malformed call (`holds_malformed_call`).
"""

from __future__ import annotations

import json
import re
from typing import Any

TOOL_CALL_TAG = "<tool_call>"
_BLOCK = re.compile(r"<tool_call>(.*?)(</tool_call>|$)", re.DOTALL)
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>")


def make_call(call_id: str, name: str, arguments: Any) -> dict:
    """One entry of an assistant message's `tool_calls`, arguments as JSON text."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def strip_end_tokens(text: str) -> str:
    for token in _END_TOKENS:
        text = text.replace(token, "")
    return text


def _well_formed(body: str) -> dict | None:
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return None
    name = parsed.get("name") if isinstance(parsed, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None
    arguments = parsed.get("arguments", parsed.get("parameters", {}))
    return {"name": name, "arguments": arguments}


def parse_hermes(text: str, first_id: int = 1) -> tuple[str | None, list[dict]]:
    """Split model text into its prose and its tool calls (OpenAI form, ids call_N).

    When any block is not a well-formed call, there are no calls and the text (end tokens
    removed) is the content."""
    text = strip_end_tokens(text)
    calls: list[dict] = []
    for n, match in enumerate(_BLOCK.finditer(text)):
        parsed = _well_formed(match.group(1).strip()) if match.group(2) else None
        if parsed is None:
            return (text.strip() or None), []
        calls.append(make_call(f"call_{first_id + n}", parsed["name"], parsed["arguments"]))
    prose = _BLOCK.sub("", text).strip()
    return (prose or None), calls


def holds_malformed_call(content: str | None) -> bool:
    """Whether an assistant message's text holds a tool-call block that was not parsed."""
    return isinstance(content, str) and TOOL_CALL_TAG in content


def parse_arguments(text: Any) -> dict | None:
    """The arguments of a call as a dict, or None when they are not a JSON object."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text) if text.strip() else {}
    except (json.JSONDecodeError, RecursionError):  # a model may nest without end
        return None
    return value if isinstance(value, dict) else None
