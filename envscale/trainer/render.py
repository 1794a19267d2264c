"""Rendering a trajectory into token ids and a loss mask, audited and truncated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envscale.records import Trajectory

from .audit import AuditError, audit_sample, mark_supervised
from .data import chat_messages, chat_tools
from .templates import ChatTemplate, TemplateError


@dataclass
class Rendered:
    text: str
    spans: list[tuple[int, int]]  # generation blocks, as char ranges
    input_ids: list[int]
    offsets: list[tuple[int, int]]
    mask: list[bool]

    def marked(self, color: bool = False) -> str:
        return mark_supervised(self.text, self.offsets, self.mask, color)


@dataclass
class Sample:
    input_ids: list[int]
    mask: list[bool]
    source: str
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def supervised(self) -> int:
        return sum(self.mask)


class Renderer:
    def __init__(self, tokenizer: Any, template: ChatTemplate) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise TemplateError(
                "a fast tokenizer (with offset mappings) is needed for the loss mask"
            )
        self.tokenizer = tokenizer
        self.template = template
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
        return Rendered(text, spans, list(enc["input_ids"]), offsets, mask)

    def render_trajectory(self, traj: Trajectory) -> tuple[list[dict[str, Any]], Rendered]:
        """(the messages as the template took them, their rendering)."""
        messages = chat_messages(traj)
        return messages, self.render(messages, chat_tools(traj))

    def sample(self, traj: Trajectory, max_length: int) -> Sample | None:
        """Render, audit and truncate one trajectory; None when no assistant turn fits."""
        messages, r = self.render_trajectory(traj)
        try:
            result = audit_sample(messages, r.text, r.spans, r.offsets, r.mask)
        except AuditError as e:
            raise AuditError(f"{traj.source}: {e}") from None
        if len(r.input_ids) <= max_length:
            return Sample(r.input_ids, r.mask, traj.source)
        # Cut after the last assistant turn that fits whole, never inside one.
        fitting = [end for end in result.turn_ends if end <= max_length]
        if not fitting:
            return None
        cut = fitting[-1]
        return Sample(r.input_ids[:cut], r.mask[:cut], traj.source, truncated=True)


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
