"""Rendering a trajectory into token ids and a loss mask, audited and truncated.

With `mask_failed_calls` (the default), an assistant turn that made a tool call which failed
(its result reads `Error: ...`) gets no loss: the model learns the recovery that follows,
not the mistake. Each token also records whether it lies inside a tool call
(`<tool_call>...</tool_call>` in a generation block), so the loss can weigh calls apart
from the assistant's text (`call_weight`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from envscale.records import Trajectory

from .audit import AuditError, audit_sample, locate_messages, mark_supervised, message_text
from .data import chat_messages, chat_tools
from .templates import ChatTemplate, TemplateError

CALL_TAGS = ("<tool_call>", "</tool_call>")


@dataclass
class Rendered:
    text: str
    spans: list[tuple[int, int]]  # generation blocks, as char ranges
    input_ids: list[int]
    offsets: list[tuple[int, int]]
    mask: list[bool]
    unsupervised: frozenset[int] = field(default_factory=frozenset)  # assistant turns left out
    calls: list[bool] = field(default_factory=list)  # tokens inside a tool call

    def marked(self, color: bool = False) -> str:
        return mark_supervised(self.text, self.offsets, self.mask, color)


@dataclass
class Sample:
    input_ids: list[int]
    mask: list[bool]
    source: str
    truncated: bool = False
    calls: list[bool] | None = None  # tokens inside a tool call; None: none are

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def supervised(self) -> int:
        return sum(self.mask)


class Renderer:
    def __init__(
        self, tokenizer: Any, template: ChatTemplate, mask_failed_calls: bool = True
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise TemplateError(
                "a fast tokenizer (with offset mappings) is needed for the loss mask"
            )
        self.tokenizer = tokenizer
        self.template = template
        self.mask_failed_calls = mask_failed_calls
        self._template_kwargs = {**tokenizer.special_tokens_map, **template.variables}

    def render(
        self, messages: Sequence[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> Rendered:
        from transformers.utils.chat_template_utils import render_jinja_template

        tools = tools or None
        rendered, indices = render_jinja_template(
            [list(messages)],
            tools=tools,
            chat_template=self.template.source,
            return_assistant_tokens_mask=True,
            **self._template_kwargs,
        )
        text, spans = rendered[0], [tuple(s) for s in indices[0] if s[1] > s[0]]
        if self.template.reference is not None:
            expected, _ = render_jinja_template(
                [list(messages)],
                tools=tools,
                chat_template=self.template.reference,
                **self._template_kwargs,
            )
            self.template.check_same(text, expected[0])
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [tuple(o) for o in enc["offset_mapping"]]
        mask = _mask_from_spans(offsets, spans)
        left_out = failed_call_turns(messages) if self.mask_failed_calls else frozenset()
        if left_out:
            located = locate_messages(messages, text, spans)
            starts = [located[i].start for i in left_out]
            blocks = [(s, e) for s, e in spans if any(s <= at < e for at in starts)]
            for t, keep in zip(range(len(mask)), _mask_from_spans(offsets, blocks), strict=True):
                mask[t] = mask[t] and not keep
        calls = _mask_from_spans(offsets, call_spans(text, spans))
        return Rendered(text, spans, list(enc["input_ids"]), offsets, mask, left_out, calls)

    def render_trajectory(self, traj: Trajectory) -> tuple[list[dict[str, Any]], Rendered]:
        """(the messages as the template took them, their rendering)."""
        messages = chat_messages(traj)
        return messages, self.render(messages, chat_tools(traj))

    def sample(self, traj: Trajectory, max_length: int) -> Sample | None:
        """Render, audit and truncate one trajectory; None when no assistant turn fits."""
        messages, r = self.render_trajectory(traj)
        try:
            result = audit_sample(
                messages, r.text, r.spans, r.offsets, r.mask, unsupervised=r.unsupervised
            )
        except AuditError as e:
            raise AuditError(f"{traj.source}: {e}") from None
        if len(r.input_ids) <= max_length:
            return Sample(r.input_ids, r.mask, traj.source, calls=r.calls)
        # Cut after the last assistant turn that fits whole, never inside one.
        fitting = [end for end in result.turn_ends if end <= max_length]
        if not fitting:
            return None
        cut = fitting[-1]
        return Sample(
            r.input_ids[:cut], r.mask[:cut], traj.source, truncated=True, calls=r.calls[:cut]
        )


def failed_call_turns(messages: Sequence[dict[str, Any]]) -> frozenset[int]:
    """Indices of the assistant messages with a tool call whose result reads `Error: ...`."""
    results = {
        m.get("tool_call_id"): message_text(m.get("content"))
        for m in messages
        if m.get("role") == "tool"
    }
    return frozenset(
        i
        for i, m in enumerate(messages)
        if m.get("role") == "assistant"
        and any(
            results.get(call.get("id"), "").startswith("Error: ")
            for call in m.get("tool_calls") or []
        )
    )


def call_spans(text: str, blocks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The char ranges of the tool calls (tags included) inside the generation blocks."""
    opening, closing = CALL_TAGS
    spans = []
    for start, end in blocks:
        at = text.find(opening, start, end)
        while at >= 0:
            close = text.find(closing, at, end)
            stop = end if close < 0 else close + len(closing)
            spans.append((at, stop))
            at = text.find(opening, stop, end)
    return spans


def _mask_from_spans(
    offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> list[bool]:
    mask = [False] * len(offsets)
    if not spans:
        return mask
    spans = sorted(spans)
    j = 0
    for t, (s, e) in enumerate(offsets):
        if e <= s:
            continue
        while j < len(spans) and spans[j][1] <= s:
            j += 1
        if j < len(spans) and spans[j][0] < e:
            mask[t] = True
    return mask
