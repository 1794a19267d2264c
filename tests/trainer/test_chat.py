import pytest

from envscale.trainer.audit import audit_sample
from envscale.trainer.chat import ChatFormat, chat_template
from envscale.trainer.data import normalize_message
from envscale.trainer.render import Renderer
from envscale.trainer.templates import ChatTemplate
from envscale.trainer.tiny import train_tokenizer

pytest.importorskip("transformers")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order",
            "description": "Look an order up.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
            },
        },
    }
]
MESSAGES = [
    normalize_message(m)
    for m in [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is order W12?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_order", "arguments": '{"order_id": "W12"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"order_id": "W12", "status": "sent"}'},
        {"role": "assistant", "content": "It was sent. Anything else?"},
    ]
]
COMPACT = ChatFormat(tools="line", system=False, results="plain", result_chars=12)


def render(fmt: ChatFormat) -> tuple[str, list[tuple[int, int]]]:
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, spans = render_jinja_template(
        [MESSAGES], tools=TOOLS, chat_template=chat_template(fmt), return_assistant_tokens_mask=True
    )
    return rendered[0], [tuple(s) for s in spans[0]]


def test_the_default_format_shows_schemas_the_policy_and_whole_results() -> None:
    text, _ = render(ChatFormat())
    assert text.startswith("<|im_start|>system\nBe brief.\n\nAvailable functions")
    assert '"description": "Look an order up."' in text
    assert '<tool_response>\n{"order_id": "W12", "status": "sent"}\n</tool_response>' in text


def test_the_compact_format_lists_tools_as_lines_and_cuts_results() -> None:
    text, spans = render(COMPACT)
    assert text.startswith("<|im_start|>tools\nget_order(order_id, verbose)\n<|im_end|>\n")
    assert "Be brief." not in text and "description" not in text
    assert '<|im_start|>tool\n{"order_id":<|im_end|>' in text
    supervised = [text[s:e] for s, e in spans]
    assert supervised == [
        '<tool_call>{"name": "get_order", "arguments": {"order_id": "W12"}}</tool_call><|im_end|>',
        "It was sent. Anything else?<|im_end|>",
    ]


def test_a_compact_model_trains_on_its_own_rendering_with_digits_split() -> None:
    template = chat_template(COMPACT)
    text, _ = render(COMPACT)
    tokenizer = train_tokenizer([text] * 4, 400, template, split_digits=True)
    assert tokenizer.tokenize("P0123")[-4:] == ["0", "1", "2", "3"]
    messages = [m for m in MESSAGES if m["role"] != "system"]
    messages[2] = {**messages[2], "content": messages[2]["content"][:12]}
    r = Renderer(tokenizer, ChatTemplate(template)).render(messages, TOOLS)
    audit_sample(messages, r.text, r.spans, r.offsets, r.mask)
    assert sum(r.mask) > 0


def test_a_verbatim_tokenizer_spells_a_value_alike_in_text_and_in_a_call() -> None:
    template = chat_template(COMPACT)
    text, _ = render(COMPACT)
    said = "The order id is W12 and the code P0123. "
    called = '{"order_id": "W12", "code": "P0123"}'
    for verbatim in (False, True):
        tokenizer = train_tokenizer([text, said, called] * 4, 400, template, verbatim=verbatim)
        for value in ("W12", "P0123"):
            ids = tokenizer(value, add_special_tokens=False)["input_ids"]
            in_text = _contains(tokenizer(said)["input_ids"], ids)
            in_call = _contains(tokenizer(called)["input_ids"], ids)
            assert (in_text and in_call) == verbatim, (verbatim, value)
        assert tokenizer.decode(tokenizer(said + called)["input_ids"]) == said + called


def _contains(sequence: list[int], part: list[int]) -> bool:
    return any(sequence[i : i + len(part)] == part for i in range(len(sequence)))
