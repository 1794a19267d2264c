"""TRL's GRPOTrainer over a domain's tasks: the environment class it instantiates, its tools
and the verified reward (the README's section makes a real GRPO run of the tiny model on CPU,
tests/rl/test_readme_rl.py)."""

from __future__ import annotations

import inspect

import pytest

from envscale.rl.trl_env import MESSAGE_TOOL, TRLEnvironments, tool_method
from tests.rl.desk import desk_domain, desk_tasks

pytest.importorskip("trl")
from transformers.utils import get_json_schema


@pytest.fixture(scope="module")
def environments() -> TRLEnvironments:
    domain = desk_domain()
    return TRLEnvironments(domain, desk_tasks(domain))


def tools_of(instance) -> dict:
    """What GRPOTrainer offers the model: the public functions of the class but reset."""
    return {
        name: getattr(instance, name)
        for name, _ in inspect.getmembers(type(instance), predicate=inspect.isfunction)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    }


def test_the_tools_are_the_domains_and_a_message_to_the_user(environments) -> None:
    tools = tools_of(environments.factory())
    assert set(tools) == {"get_ticket", "close_ticket", MESSAGE_TOOL}
    schema = get_json_schema(tools["close_ticket"])["function"]
    assert schema["description"] == "Close an open ticket."
    assert schema["parameters"] == {
        "type": "object",
        "properties": {"ticket_id": {"type": "string", "description": "The ticket's id, e.g. T1"}},
        "required": ["ticket_id"],
    }
    assert get_json_schema(tools[MESSAGE_TOOL])["function"]["parameters"]["required"] == ["message"]


def test_schemas_keep_enums_optional_parameters_and_fields() -> None:
    method = tool_method(
        {
            "name": "book",
            "description": "Book\n  a seat.",
            "parameters": {
                "type": "object",
                "properties": {
                    "cabin": {"type": "string", "enum": ["economy", "business"]},
                    "bags": {"type": "integer", "default": 0},
                    "passengers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                            "required": ["name"],
                        },
                        "description": "Who flies",
                    },
                },
                "required": ["passengers", "cabin"],
            },
        }
    )
    schema = get_json_schema(method)["function"]
    assert schema["description"] == "Book a seat."
    props = schema["parameters"]["properties"]
    assert props["cabin"]["enum"] == ["economy", "business"]
    assert props["bags"] == {"type": "integer", "nullable": True, "description": "bags"}
    assert props["passengers"]["items"] == {"type": "object"}
    assert (
        "each an object with name: string; age: integer, optional"
        in (props["passengers"]["description"])
    )
    assert schema["parameters"]["required"] == ["cabin", "passengers"]


def test_the_gold_calls_through_the_tools_earn_the_reward(environments) -> None:
    for task in environments.tasks:
        env = environments.factory()
        opening = env.reset(task_id=task.id, prompt=[])
        assert opening == env.episode.messages[1]["content"]
        tools = tools_of(env)
        for call in task.gold_calls:
            assert not tools[call.name](**call.arguments).startswith("Error: ")
        final = [{"role": "assistant", "content": "Done. Is there anything else I can help with?"}]
        [reward] = environments.verified_reward(completions=[final], environments=[env])
        assert reward == 1.0, env.episode.verdict


def test_a_wrong_rollout_earns_nothing_and_errors_are_results(environments) -> None:
    task = next(t for t in environments.tasks if t.kind == "write")
    env = environments.factory()
    env.reset(task_id=task.id)
    tools = tools_of(env)
    assert tools["close_ticket"](ticket_id="T3") == "Error: Only open tickets can be closed"
    assert tools[MESSAGE_TOOL](message="Which ticket do you mean?")  # the user's reply
    calls = [{"role": "assistant", "content": "", "tool_calls": [{"function": {}}]}]
    [reward] = environments.verified_reward(completions=[calls], environments=[env])
    assert reward == 0.0 and env.episode.verdict.failure.startswith("turn_limit: the rollout")
    with pytest.raises(ValueError, match="environments"):
        environments.verified_reward(completions=[calls])
