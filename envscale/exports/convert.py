"""One trajectory as one example of each dataset layout, in the agent's view: what the agent
saw and said (a dual-control user's own tool calls and their results left out) and the
agent's tools. Examples end with the agent's last turn, since a trainer learns only the
assistant's turns; a trajectory with none yields no example."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envscale.records import Trajectory
from envscale.rollout.filters import STAGES

# The keys OpenAI's fine-tuning format takes on a message.
OPENAI_MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name", "weight")

# LLaMA-Factory's ShareGPT tags (its data/README.md): human and observation turns sit at odd
# positions (1st, 3rd, ...), gpt and function_call turns at even ones.
USER_TAG, ASSISTANT_TAG = "human", "gpt"
OBSERVATION_TAG, FUNCTION_TAG = "observation", "function_call"
ODD_TAGS, EVEN_TAGS = (USER_TAG, OBSERVATION_TAG), (ASSISTANT_TAG, FUNCTION_TAG)


@dataclass
class Selection:
    """Which trajectories are exported: those that passed every stage of `require` (all
    filter stages by default), or every one when `everything`."""

    require: Sequence[str] = STAGES
    everything: bool = False

    def keeps(self, trajectory: Trajectory) -> bool:
        return self.everything or trajectory.passed(self.require)


@dataclass
class Tally:
    """What an export took and left, for the command to say."""

    read: int = 0
    not_passed: int = 0
    no_turn: int = 0  # kept but without an assistant turn: no example
    written: int = 0
    dropped_text: int = 0  # ShareGPT: words said beside tool calls, which it cannot hold
    cut: int = 0  # ShareGPT: conversations cut where the turns stopped alternating
    domains: set[str] = field(default_factory=set)


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _arguments_value(arguments: Any) -> Any:
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return arguments  # the model's text as it wrote it


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def agent_messages(trajectory: Trajectory) -> list[dict[str, Any]]:
    """The agent's view, up to and with its last turn (empty when it has none)."""
    messages = trajectory.agent_messages()
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    return messages[: last + 1]


def openai_messages(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as OpenAI's fine-tuning files have them: arguments as JSON text, only the
    keys the format takes, text content where a message has none (but an assistant turn
    that only calls tools keeps its null content)."""
    out = []
    for m in messages:
        message = {k: m[k] for k in OPENAI_MESSAGE_KEYS if k in m}
        if message.get("content") is None and not message.get("tool_calls"):
            message["content"] = ""
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": call.get("type", "function"),
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": _arguments_text(call["function"]["arguments"]),
                    },
                }
                for call in message["tool_calls"]
            ]
        else:
            message.pop("tool_calls", None)
        out.append(message)
    return out


def openai_example(trajectory: Trajectory) -> dict[str, Any] | None:
    """One line of an OpenAI fine-tuning file: `messages`, `tools` and `parallel_tool_calls`
    (true when some turn of the example makes several calls at once)."""
    messages = openai_messages(agent_messages(trajectory))
    if not messages:
        return None
    parallel = any(len(m.get("tool_calls") or []) > 1 for m in messages)
    return {
        "messages": messages,
        "tools": [tool.to_dict() for tool in trajectory.tools],
        "parallel_tool_calls": parallel,
    }


def sharegpt_example(trajectory: Trajectory, tally: Tally | None = None) -> dict[str, Any] | None:
    """One example of LLaMA-Factory's ShareGPT layout: `conversations` of human, gpt,
    function_call and observation turns, alternating as its converter requires, `system`,
    and `tools` as JSON text of the function schemas.

    An assistant turn with tool calls is a function_call turn whose value is the call as
    `{"name", "arguments"}` (a list of them for several calls at once); the results that
    answer it are one observation (a JSON list of the results for several). Consecutive
    turns of one role are joined; the text an assistant says beside its tool calls cannot
    be held and is left out (counted in `tally`)."""
    tally = tally if tally is not None else Tally()
    messages = agent_messages(trajectory)
    system = "\n\n".join(_content_text(m.get("content")) for m in messages if m["role"] == "system")
    turns: list[dict[str, str]] = []
    results: list[str] = []

    def flush_results() -> None:
        if results:
            value = results[0] if len(results) == 1 else json.dumps(results, ensure_ascii=False)
            turns.append({"from": OBSERVATION_TAG, "value": value})
            results.clear()

    for m in messages:
        role = m["role"]
        if role == "tool":
            results.append(_content_text(m.get("content")))
            continue
        flush_results()
        if role == "user":
            turns.append({"from": USER_TAG, "value": _content_text(m.get("content"))})
        elif role == "assistant" and m.get("tool_calls"):
            calls = [
                {
                    "name": c["function"]["name"],
                    "arguments": _arguments_value(c["function"]["arguments"]),
                }
                for c in m["tool_calls"]
            ]
            tally.dropped_text += bool(_content_text(m.get("content")).strip())
            value = calls[0] if len(calls) == 1 else calls
            turns.append({"from": FUNCTION_TAG, "value": json.dumps(value, ensure_ascii=False)})
        elif role == "assistant":
            turns.append({"from": ASSISTANT_TAG, "value": _content_text(m.get("content"))})
    flush_results()
    conversation, was_cut = alternate(turns)
    tally.cut += was_cut
    if not conversation:
        return None
    tools = [tool.function.to_dict() for tool in trajectory.tools]
    return {
        "id": trajectory.id,
        "domain": trajectory.domain,
        "conversations": conversation,
        "system": system,
        "tools": json.dumps(tools, ensure_ascii=False),
    }


def alternate(turns: list[dict[str, str]]) -> tuple[list[dict[str, str]], bool]:
    """The turns in the order LLaMA-Factory accepts: human or observation at odd positions,
    gpt or function_call at even ones, an even count. Consecutive human (or gpt) turns are
    joined; leading assistant turns are dropped; where two turns of a side still follow each
    other (an observation the agent never answered, then the user), the conversation ends
    before them (the second value says so); trailing human or observation turns go."""
    out: list[dict[str, str]] = []
    cut = False
    for turn in turns:
        side_odd = turn["from"] in ODD_TAGS
        expects_odd = len(out) % 2 == 0
        if side_odd == expects_odd:
            out.append(dict(turn))
        elif not out:
            continue  # the agent spoke first: nothing to learn it from
        elif out[-1]["from"] == turn["from"] and turn["from"] in (USER_TAG, ASSISTANT_TAG):
            out[-1]["value"] = f"{out[-1]['value']}\n\n{turn['value']}".strip("\n")
        else:
            cut = True
            break
    if len(out) % 2:
        out.pop()
    return out, cut


def sharegpt_dataset_info(file_name: str) -> dict[str, Any]:
    """The `dataset_info.json` entry LLaMA-Factory reads the ShareGPT file by."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": USER_TAG,
            "assistant_tag": ASSISTANT_TAG,
            "observation_tag": OBSERVATION_TAG,
            "function_tag": FUNCTION_TAG,
        },
    }


def hf_row(trajectory: Trajectory) -> dict[str, Any] | None:
    """One row of the Hugging Face dataset: the OpenAI messages with a fixed set of keys per
    message (Arrow needs one type per column), `tools` as JSON text (the schemas differ from
    tool to tool), and where the trajectory comes from."""
    example = openai_example(trajectory)
    if example is None:
        return None
    messages = [
        {
            "role": m["role"],
            "content": m.get("content"),
            "tool_calls": m.get("tool_calls"),
            "tool_call_id": m.get("tool_call_id"),
        }
        for m in example["messages"]
    ]
    return {
        "id": trajectory.id,
        "domain": trajectory.domain,
        "task_id": trajectory.task_id,
        "reward": trajectory.reward,
        "messages": messages,
        "tools": json.dumps(example["tools"], ensure_ascii=False),
        "parallel_tool_calls": example["parallel_tool_calls"],
    }
