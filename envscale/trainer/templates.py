"""Choosing the chat template that the loss mask comes from.

The mask is read from `{% generation %}` blocks. When the model's own template has none,
a training template for its family is used instead (see `families/`), but only under a
check: every sample must render to exactly the same text under both, so training never
sees a format the model was not built for. Anything else stops with an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")
FAMILY_DIR = Path(__file__).parent / "families"

# Family name -> strings that all appear in that family's stock template.
FAMILY_MARKERS: dict[str, tuple[str, ...]] = {
    "qwen3": ("<|im_start|>", "<tool_call>", "<think>", "reasoning_content"),
    "qwen2": ("<|im_start|>", "<tool_call>", "<tool_response>", "<tools>"),
}


class TemplateError(ValueError):
    pass


@dataclass
class ChatTemplate:
    source: str  # the template rendered for training, with generation blocks
    reference: str | None = None  # the model's own template, when `source` stands in for it
    family: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)  # extra inputs `source` needs

    def check_same(self, ours: str, theirs: str) -> None:
        if ours == theirs:
            return
        at = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
            min(len(ours), len(theirs)),
        )
        raise TemplateError(
            f"the {self.family} training template renders differently from the model's own "
            f"template at char {at}: ours {ours[max(0, at - 40) : at + 40]!r}, "
            f"the model's {theirs[max(0, at - 40) : at + 40]!r}. Give a template with "
            "{% generation %} blocks that matches the model as model.chat_template."
        )


def has_generation_blocks(template: str) -> bool:
    return bool(GENERATION_TAG.search(template))


def detect_family(template: str) -> str | None:
    for family, markers in FAMILY_MARKERS.items():
        if all(m in template for m in markers):
            return family
    return None


def family_template(family: str) -> str:
    return (FAMILY_DIR / f"{family}.j2").read_text()


def model_template(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("tool_use") or template.get("default")
    return template


def resolve_template(tokenizer: Any, override: str | None = None) -> ChatTemplate:
    if override:
        source = Path(override).read_text()
        if not has_generation_blocks(source):
            raise TemplateError(
                f"{override} has no {{% generation %}} blocks to take the loss mask from"
            )
        return ChatTemplate(source)
    own = model_template(tokenizer)
    if not own:
        raise TemplateError("the tokenizer has no chat template; set model.chat_template")
    if has_generation_blocks(own):
        return ChatTemplate(own)
    family = detect_family(own)
    if family is None:
        raise TemplateError(
            "the model's chat template has no {% generation %} blocks and is not one of the known "
            f"families ({', '.join(FAMILY_MARKERS)}); write a copy of it with the assistant turns "
            "wrapped in {% generation %} ... {% endgeneration %} and set model.chat_template to it"
        )
    variables = {"default_system": _default_system(own)} if family == "qwen2" else {}
    return ChatTemplate(family_template(family), reference=own, family=family, variables=variables)


def _default_system(template: str) -> str:
    """The system prompt a ChatML template adds when the conversation has none."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(
        [[{"role": "user", "content": "-"}]], chat_template=template
    )
    head = "<|im_start|>system\n"
    text = rendered[0]
    return text[len(head) : text.index("<|im_end|>")] if text.startswith(head) else ""
