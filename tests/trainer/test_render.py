import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envscale.trainer.audit import AuditError, audit_sample, locate_messages
from envscale.trainer.data import chat_messages, chat_tools, load_trajectories, normalize_message
from envscale.trainer.render import Renderer, failed_call_turns
from envscale.trainer.templates import ChatTemplate, TemplateError, resolve_template
from envscale.trainer.tiny import CHAT_TEMPLATE

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "cancel_pending_order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
MESSAGES = [
    normalize_message(m)
    for m in [
        {"role": "system", "content": "Confirm before cancelling."},
        {"role": "user", "content": "Cancel order #W1, please."},
        {
            "role": "assistant",
            "content": "Cancelling it now.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {
                        "name": "cancel_pending_order",
                        "arguments": '{"order_id": "#W1"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"status": "cancelled"}'},
        {"role": "assistant", "content": "Order #W1 is cancelled."},
        {"role": "user", "content": "Thanks! And #W2?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {
                        "name": "cancel_pending_order",
                        "arguments": '{"order_id": "#W2"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c2", "content": "Error: order #W2 was delivered"},
        {"role": "assistant", "content": "#W2 was already delivered, so it cannot be cancelled."},
    ]
]


def supervised_text(tokenizer, rendered) -> str:
    return tokenizer.decode(
        [t for t, m in zip(rendered.input_ids, rendered.mask, strict=True) if m]
    )


def test_mask_covers_exactly_the_assistant_turns(tokenizer):
    r = Renderer(tokenizer, resolve_template(tokenizer), mask_failed_calls=False)
    rendered = r.render(MESSAGES, TOOLS)
    assert supervised_text(tokenizer, rendered) == (
        'Cancelling it now.\n<tool_call>{"name": "cancel_pending_order", "arguments": '
        '{"order_id": "#W1"}}</tool_call><|im_end|>'
        "Order #W1 is cancelled.<|im_end|>"
        '<tool_call>{"name": "cancel_pending_order", "arguments": {"order_id": '
        '"#W2"}}</tool_call><|im_end|>'
        "#W2 was already delivered, so it cannot be cancelled.<|im_end|>"
    )
    assert "⟦Order #W1 is cancelled.<|im_end|>⟧" in rendered.marked()


FAILED_CALL_TURN = (
    '<tool_call>{"name": "cancel_pending_order", "arguments": {"order_id": '
    '"#W2"}}</tool_call><|im_end|>'
)


def test_a_turn_whose_call_failed_gets_no_loss(tokenizer):
    from envscale.records import Trajectory
    from envscale.trainer.packing import collate

    on = Renderer(tokenizer, resolve_template(tokenizer))
    off = Renderer(tokenizer, resolve_template(tokenizer), mask_failed_calls=False)
    assert failed_call_turns(MESSAGES) == {6}
    masked, full = on.render(MESSAGES, TOOLS), off.render(MESSAGES, TOOLS)
    assert masked.input_ids == full.input_ids
    assert supervised_text(tokenizer, masked) == (
        'Cancelling it now.\n<tool_call>{"name": "cancel_pending_order", "arguments": '
        '{"order_id": "#W1"}}</tool_call><|im_end|>'
        "Order #W1 is cancelled.<|im_end|>"
        "#W2 was already delivered, so it cannot be cancelled.<|im_end|>"
    )
    # The training targets: exactly the failed turn's tokens are gone, nothing else moved.
    traj = Trajectory(
        id="t", domain="retail", spec_hash="h", tools=TOOLS, messages=MESSAGES, source="inline"
    )
    kept_on = collate([on.sample(traj, 4096)]).keep
    kept_off = collate([off.sample(traj, 4096)]).keep
    assert set(kept_on) < set(kept_off)
    dropped = sorted(set(kept_off) - set(kept_on))
    assert tokenizer.decode([full.input_ids[p + 1] for p in dropped]) == FAILED_CALL_TURN
    assert dropped == list(range(dropped[0], dropped[-1] + 1))  # one run: the whole turn


def test_audit_rejects_loss_on_a_turn_left_out(tokenizer):
    on = Renderer(tokenizer, resolve_template(tokenizer))
    full = Renderer(tokenizer, resolve_template(tokenizer), mask_failed_calls=False)
    r = full.render(MESSAGES, TOOLS)
    with pytest.raises(AuditError, match=r"message 6 \(assistant\): supervised tokens"):
        audit_sample(MESSAGES, r.text, r.spans, r.offsets, r.mask, unsupervised={6})
    kept = on.render(MESSAGES, TOOLS)
    audit_sample(MESSAGES, kept.text, kept.spans, kept.offsets, kept.mask, unsupervised={6})


def test_scripted_mistakes_are_masked_on_exactly_the_failed_turns(tokenizer):
    from envscale.records import Trajectory
    from envscale.rollout.agents import ScriptedAgent
    from envscale.rollout.dialogue import BackendConfig
    from envscale.rollout.episode import DomainRuntime, run_episode
    from envscale.rollout.users import ScriptedUser
    from envscale.runtime.load import load
    from envscale.tasks.sampling import sample_tasks
    from envscale.tasks.states import EnvFactory, initial_state_for

    spec = "specs/clinic.domain"
    domain = load(spec)
    factory = EnvFactory(domain, initial_state_for(spec, "auto", 0, 20), spec)
    tasks = sample_tasks(domain, factory, 6, seed=3, max_length=3)
    runtime = DomainRuntime(domain, spec)
    agent = ScriptedAgent(BackendConfig("scripted", options=(("failure_rate", 1.0),)))
    on = Renderer(tokenizer, resolve_template(tokenizer))
    off = Renderer(tokenizer, resolve_template(tokenizer), mask_failed_calls=False)
    failed_turns = 0
    for task in tasks:
        t = run_episode(runtime, task, agent, ScriptedUser(), seed=5)
        traj = Trajectory.model_validate({**t.to_dict(), "source": "episode"})
        messages = chat_messages(traj)
        left_out = failed_call_turns(messages)
        assert len(left_out) == t.meta.failed_calls
        failed_turns += len(left_out)
        masked = on.render(messages, chat_tools(traj))
        full = off.render(messages, chat_tools(traj))
        located = locate_messages(messages, full.text, full.spans)
        for i, message in enumerate(located):
            if message.role != "assistant":
                continue
            tokens = [
                n
                for n, (a, b) in enumerate(full.offsets)
                if b > a and message.pieces and message.pieces[0][0] <= a < message.pieces[-1][1]
            ]
            assert all(full.mask[n] for n in tokens)
            assert all(masked.mask[n] == (i not in left_out) for n in tokens)
        assert on.sample(traj, 8192) is not None  # and the audit accepts the mask
    assert failed_turns > 0


def _with(template: str) -> ChatTemplate:
    return ChatTemplate(template)


def test_audit_rejects_a_mask_over_user_and_tool_tokens(tokenizer):
    # Wrap every turn, not only the assistant's, in a generation block.
    leaky = (
        CHAT_TEMPLATE.replace(
            "{%- for message in messages -%}", "{%- for message in messages -%}{%- generation -%}"
        )
        .replace('{%- endfor -%}"\n', "{%- endgeneration -%}{%- endfor -%}")
        .replace("{%- endif -%}{%- endfor -%}", "{%- endif -%}{%- endgeneration -%}{%- endfor -%}")
    )
    assert leaky.count("generation -%}") >= 3
    r = Renderer(tokenizer, _with(leaky))
    from envscale.records import Trajectory

    traj = Trajectory(
        id="t", domain="retail", spec_hash="h", tools=TOOLS, messages=MESSAGES, source="inline"
    )
    with pytest.raises(AuditError, match=r"\((user|tool)\): supervised tokens"):
        r.sample(traj, 4096)


def test_audit_rejects_a_mask_that_covers_nothing(tokenizer):
    empty = CHAT_TEMPLATE.replace(
        "{%- generation -%}", "{%- generation -%}{%- endgeneration -%}"
    ).replace("{{ '<|im_end|>' }}{%- endgeneration -%}", "{{ '<|im_end|>' }}")
    from envscale.records import Trajectory

    traj = Trajectory(
        id="t", domain="retail", spec_hash="h", tools=TOOLS, messages=MESSAGES, source="inline"
    )
    with pytest.raises(AuditError, match="no token is supervised"):
        Renderer(tokenizer, _with(empty)).sample(traj, 4096)


def test_audit_rejects_a_half_supervised_tool_call(tokenizer):
    # The generation block closes before the tool calls: replies are learned, calls are not.
    half = CHAT_TEMPLATE.replace(
        "{{ message.content or '' }}", "{{ message.content or '' }}{%- endgeneration -%}"
    )
    half = half.replace("{{ '<|im_end|>' }}{%- endgeneration -%}", "{{ '<|im_end|>' }}")
    from envscale.records import Trajectory

    traj = Trajectory(
        id="t", domain="retail", spec_hash="h", tools=TOOLS, messages=MESSAGES, source="inline"
    )
    with pytest.raises(AuditError, match=r"not fully supervised|no token of this turn"):
        Renderer(tokenizer, _with(half)).sample(traj, 4096)


def test_template_without_generation_blocks_is_an_error():
    class Tok:
        chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"

    with pytest.raises(TemplateError, match=r"no \{% generation %\} blocks"):
        resolve_template(Tok())


@settings(max_examples=60, deadline=None)
@given(max_length=st.integers(min_value=1, max_value=400))
def test_truncation_never_cuts_inside_an_assistant_turn(tokenizer, max_length):
    from envscale.records import Trajectory

    r = Renderer(tokenizer, resolve_template(tokenizer))
    full = r.render(MESSAGES, TOOLS)
    traj = Trajectory(
        id="t", domain="retail", spec_hash="h", tools=TOOLS, messages=MESSAGES, source="inline"
    )
    sample = r.sample(traj, max_length)
    if sample is None:  # not even the first assistant turn fits
        first = full.mask.index(True)
        assert max_length < first + full.mask[first:].index(False)
        return
    n = len(sample.input_ids)
    assert n <= max_length
    assert sample.input_ids == full.input_ids[:n] and sample.mask == full.mask[:n]
    if n < len(full.input_ids):
        # The cut falls right after a turn's end-of-turn token, which is supervised.
        assert sample.mask[-1] and not full.mask[n]
        assert tokenizer.convert_ids_to_tokens(sample.input_ids[-1]) == "<|im_end|>"


def test_loader_keeps_passing_trajectories_and_parses_arguments(tmp_path):
    good = {
        "id": "a",
        "domain": "retail",
        "spec_hash": "h1",
        "tools": TOOLS,
        "filters": {"valid": True, "state": True, "exact": True},
        "messages": [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"k": 1}'},
                    }
                ],
            },
        ],
    }
    bad = {**good, "id": "b", "filters": {"valid": True, "state": False, "exact": True}}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    trajs, files = load_trajectories([str(path)], ["valid", "state", "exact"])
    assert [t.id for t in trajs] == ["a"]
    assert chat_messages(trajs[0])[1]["tool_calls"][0]["function"]["arguments"] == {"k": 1}
    assert trajs[0].messages[1].tool_calls[0].function.arguments == '{"k": 1}'  # as in the file
    assert files[0].lines == 2 and files[0].kept == 1 and files[0].spec_hashes == {"retail": "h1"}
    trajs, _ = load_trajectories([str(path)], ["valid"])
    assert len(trajs) == 2


@pytest.mark.parametrize("family", ["qwen2", "qwen3"])
def test_known_family_without_generation_blocks_gets_a_checked_training_template(tokenizer, family):
    import copy
    import re

    from envscale.trainer.templates import family_template

    stock = re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", family_template(family))
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = stock
    template = resolve_template(tok)
    assert template.family == family and template.reference == stock
    rendered = Renderer(tok, template).render(MESSAGES, TOOLS)
    assert "Order #W1 is cancelled.<|im_end|>" in supervised_text(tok, rendered)

    # A stock template that differs from the family's known form stops the run.
    tok.chat_template = stock.replace("<tool_response>\\n", "<tool_response>")
    with pytest.raises(TemplateError, match="renders differently"):
        Renderer(tok, resolve_template(tok)).render(MESSAGES, TOOLS)


def test_the_training_config_decides_whether_failed_calls_are_masked(tmp_path, tokenizer):
    import re

    from envscale.records import Trajectory
    from envscale.trainer.loop import audit_report

    traj = Trajectory(
        id="t",
        domain="retail",
        spec_hash="h",
        tools=TOOLS,
        messages=MESSAGES,
        filters={"valid": True, "state": True, "exact": True},
    )
    (tmp_path / "data.jsonl").write_text(json.dumps(traj.to_dict()) + "\n")
    config = {
        "output_dir": str(tmp_path / "out"),
        "model": {"base": "tiny"},
        "phases": [{"name": "only", "data": [str(tmp_path / "data.jsonl")], "eval_fraction": 0}],
    }

    def supervised(*overrides: str) -> int:
        report = audit_report(config, list(overrides))
        return int(re.search(r"(\d+) supervised", report).group(1))

    on, off = supervised(), supervised("training.mask_failed_calls=false")
    turn = tokenizer(FAILED_CALL_TURN, add_special_tokens=False)["input_ids"]
    assert off - on == len(turn) > 0


def test_the_tokens_of_each_tool_call_are_marked_and_weighed(tokenizer):
    from envscale.records import Trajectory
    from envscale.trainer.packing import collate, weight_in

    renderer = Renderer(tokenizer, resolve_template(tokenizer), mask_failed_calls=False)
    rendered = renderer.render(MESSAGES, TOOLS)
    marked = tokenizer.decode(
        [t for t, c in zip(rendered.input_ids, rendered.calls, strict=True) if c]
    )
    assert marked == (
        '<tool_call>{"name": "cancel_pending_order", "arguments": {"order_id": "#W1"}}'
        '</tool_call><tool_call>{"name": "cancel_pending_order", "arguments": {"order_id": '
        '"#W2"}}</tool_call>'
    )
    traj = Trajectory(
        id="t", domain="retail", spec_hash="h", tools=TOOLS, messages=MESSAGES, source="inline"
    )
    sample = renderer.sample(traj, 4096)
    plain, weighted = collate([sample]), collate([sample], call_weight=3.0)
    assert plain.keep == weighted.keep and set(plain.weights) == {1.0}
    in_calls = [p for p in weighted.keep if rendered.calls[p + 1]]
    assert in_calls and [w for w in weighted.weights if w == 3.0] == [3.0] * len(in_calls)
    assert weight_in([sample], 3.0) == sum(weighted.weights)
    assert weight_in([sample], 1.0) == len(plain.keep)
