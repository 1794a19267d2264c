"""A tiny chat model and tokenizer built in code, offline, for tests and the demo.

The model is a two-layer Qwen2-architecture network of a few hundred thousand parameters;
the tokenizer is a byte-level BPE trained on a small built-in corpus plus the chat tokens.
Its chat template renders tools and tool calls Hermes-style and marks assistant turns with
`{% generation %}` blocks. The result is cached on disk under a key derived from this
definition, so it is built once per machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .chat import ChatFormat, chat_template

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TAG_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
VOCAB_SIZE = 1024

MODEL_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 192,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 8192,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
}

CHAT_TEMPLATE = chat_template(ChatFormat())  # Hermes-style: JSON schemas, policy shown

CORPUS = (
    """\
The customer wants to cancel the pending order because it was ordered by mistake.
I have found your reservation. The flight departs at nine in the morning from gate twelve.
Could you confirm the order id and the reason for the change? Yes, please go ahead.
The refund of 42.50 dollars will go back to the original payment method within five days.
Your booking has been updated: two passengers, economy class, one checked bag each.
Thank you for waiting. The item is out of stock, so I cannot exchange it for that size.
Please share your user id or the email address linked to the account.
The book is available at the central library; I placed a hold under your card number.
Tomorrow the weather in Paris is sunny with a high of 21 degrees and light wind.
The meeting is now on the calendar for Tuesday at 3 pm with Alice and Bob.
{"name": "get_order_details", "arguments": {"order_id": "#W1234567"}}
{"order_id": "#W1234567", "status": "pending", "total": 129.99, "items": ["lamp", "desk"]}
"""
    # Two long JSON lines, as tool schemas and arguments appear in trajectories.
    + json.dumps(
        {
            "type": "function",
            "function": {
                "name": "cancel_pending_order",
                "description": "Cancel a pending order.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "order_id": {"type": "string"},
                        "reason": {
                            "type": "string",
                            "enum": ["no longer needed", "ordered by mistake"],
                        },
                    },
                    "required": ["order_id", "reason"],
                },
            },
        }
    )
    + "\n"
    + json.dumps(
        {
            "user_id": "mia_li_3668",
            "reservation_id": "4WQ150",
            "cabin": "business",
            "baggage": 1,
            "payment_id": "credit_card_4421486",
        }
    )
    + """
Error: Non-pending order cannot be cancelled. The order is already delivered.
0123456789 true false null [] {} , : " ' ( ) - _ / # @ . ? ! ; = + * % $ &
"""
)


def _definition_key() -> str:
    import tokenizers
    import transformers

    blob = json.dumps(
        [
            CHAT_TEMPLATE,
            CORPUS,
            MODEL_CONFIG,
            SPECIAL_TOKENS,
            TAG_TOKENS,
            VOCAB_SIZE,
            transformers.__version__,
            tokenizers.__version__,
        ],
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_root() -> Path:
    if env := os.environ.get("ENVSCALE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "envscale"


def tiny_model_path() -> Path:
    """Directory holding the tiny model and tokenizer, built on first use."""
    target = cache_root() / f"tiny-{_definition_key()}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="tiny-", dir=target.parent))
    try:
        build_tiny(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_tokenizer():
    return train_tokenizer(CORPUS.splitlines(), VOCAB_SIZE, CHAT_TEMPLATE, TAG_TOKENS)


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    template: str,
    tags: Sequence[str] = TAG_TOKENS,
    split_digits: bool = False,
    verbatim: bool = False,
):
    """A byte-level BPE fast tokenizer trained on `texts`, with the chat tokens, the `tags`
    as whole tokens and `template` as its chat template. With `split_digits` every digit is a
    token of its own, so an id such as `P012` is always spelled the same way. `verbatim`
    (which implies `split_digits`) makes a value the same tokens wherever it stands: a space
    ends the piece before it instead of starting the next one and a double quote is a token
    of its own, so `P012` in "id is P012" and in `{"id": "P012"}` is `P`,`0`,`1`,`2` both
    times, and copying a value from the dialogue into a call is copying tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    digits = pre_tokenizers.Digits(individual_digits=True)
    if verbatim:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                digits,
                pre_tokenizers.Split(" ", "merged_with_previous"),
                pre_tokenizers.Split('"', "isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.pre_tokenizer = (
            pre_tokenizers.Sequence([digits, byte_level]) if split_digits else byte_level
        )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.add_tokens(list(tags))  # whole tokens, kept when a reply is decoded
    fast.chat_template = template
    return fast


def build_tiny(directory: Path) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        **MODEL_CONFIG,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
