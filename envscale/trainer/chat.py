"""Building ChatML chat templates for models made in code, with `{% generation %}` blocks.

One builder serves the tiny test model and the small models a benchmark trains from scratch:
the assistant turns (text, then Hermes-style `<tool_call>` JSON) are always the same, and the
options say how much of the rest a sample spends tokens on:

- `tools`: "json" lists each tool's full JSON schema in the system turn with a line on how to
  call; "line" lists each tool as one line, `name(param, ...)`, in a `tools` turn (or in the
  system turn when there is one).
- `system`: whether the conversation's system message (the policy) is shown.
- `results`: "wrapped" shows a tool result as a user turn in `<tool_response>` tags (as Qwen2
  does); "plain" shows it as a `tool` turn.
- `result_chars`: tool results are cut to this many characters (None: whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CALL_HINT = (
    "'</tools>\\nCall a function by answering with '"
    ' + \'<tool_call>{"name": ..., "arguments": {...}}</tool_call>.\' }}'
)


@dataclass(frozen=True)
class ChatFormat:
    tools: Literal["json", "line"] = "json"
    system: bool = True
    results: Literal["wrapped", "plain"] = "wrapped"
    result_chars: int | None = None


def chat_template(fmt: ChatFormat = ChatFormat()) -> str:
    """The Jinja source of a chat template rendering conversations as `fmt` says."""
    return (
        _header(fmt)
        + _messages(fmt)
        + ("{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}")
    )


def _header(fmt: ChatFormat) -> str:
    if fmt.tools == "json":
        listing = (
            "{{ 'Available functions, one JSON schema per line:\\n<tools>\\n' }}"
            "{%- for tool in tools %}{{ tool | tojson }}{{ '\\n' }}{% endfor -%}"
            "{{ " + CALL_HINT
        )
    else:
        listing = (
            "{%- for tool in tools -%}"
            "{{ tool.function.name + '(' + (tool.function.parameters.properties or {}) | list "
            "| join(', ') + ')\\n' }}"
            "{%- endfor -%}"
        )
    if not fmt.system:
        return (
            "{%- if tools -%}{{ '<|im_start|>tools\\n' }}" + listing + "{{ '<|im_end|>\\n' }}"
            "{%- endif -%}"
        )
    return (
        "{%- set sys = messages[0].content if messages and messages[0].role == 'system' "
        "else '' -%}"
        "{%- if tools or sys -%}"
        "{{ '<|im_start|>system\\n' + sys }}"
        "{%- if tools -%}"
        "{{ '\\n\\n' if sys else '' }}" + listing + "{%- endif -%}"
        "{{ '<|im_end|>\\n' }}"
        "{%- endif -%}"
    )


def _messages(fmt: ChatFormat) -> str:
    content = "message.content" + (f"[:{fmt.result_chars}]" if fmt.result_chars else "")
    if fmt.results == "wrapped":
        result = (
            "{{ '<|im_start|>user\\n<tool_response>\\n' + " + content + " + "
            "'\\n</tool_response><|im_end|>\\n' }}"
        )
    else:
        result = "{{ '<|im_start|>tool\\n' + " + content + " + '<|im_end|>\\n' }}"
    system = (
        "{%- if message.role == 'system' and loop.first -%}"
        if fmt.system
        else "{%- if message.role == 'system' -%}"
    )
    return (
        "{%- for message in messages -%}" + system + "{%- elif message.role == 'assistant' -%}"
        "{{ '<|im_start|>assistant\\n' }}"
        "{%- generation -%}"
        "{{ message.content or '' }}"
        "{%- for call in message.tool_calls or [] -%}"
        "{{ '\\n' if (message.content or not loop.first) else '' }}"
        "{{ '<tool_call>{\"name\": ' + call.function.name | tojson + ', \"arguments\": ' }}"
        "{%- set args = call.function.arguments -%}"
        "{{ (args if args is string else args | tojson) + '}</tool_call>' }}"
        "{%- endfor -%}"
        "{{ '<|im_end|>' }}"
        "{%- endgeneration -%}"
        "{{ '\\n' }}"
        "{%- elif message.role == 'tool' -%}" + result + "{%- else -%}"
        "{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
        "{%- endif -%}"
        "{%- endfor -%}"
    )
