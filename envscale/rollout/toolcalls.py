"""Tool calls in the OpenAI message form, and parsing them out of Hermes/Qwen model text.

A model prompted with a Hermes-style chat template answers a call as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`. A block whose JSON does not
parse is kept as a call with an empty name and the raw text as its arguments, so the
episode records what the model said and the validity filter can reject it.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>")


def make_call(call_id: str, name: str, arguments: Any) -> dict:
    """One entry of an assistant message's `tool_calls`, arguments as JSON text."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def strip_end_tokens(text: str) -> str:
    for token in _END_TOKENS:
        text = text.replace(token, "")
    return text


def parse_hermes(text: str, first_id: int = 1) -> tuple[str | None, list[dict]]:
    """Split model text into its prose and its tool calls (OpenAI form, ids call_N)."""
    text = strip_end_tokens(text)
    calls: list[dict] = []
    for n, match in enumerate(_BLOCK.finditer(text)):
        call_id = f"call_{first_id + n}"
        body = match.group(1).strip()
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("name"), str):
            arguments = parsed.get("arguments", parsed.get("parameters", {}))
            calls.append(make_call(call_id, parsed["name"], arguments))
        else:
            calls.append(make_call(call_id, "", body))
    prose = _BLOCK.sub("", text).strip()
    return (prose or None), calls


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
