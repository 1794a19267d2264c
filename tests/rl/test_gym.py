"""The Gymnasium environment: gymnasium's own checker, and an episode written as model text."""

from __future__ import annotations

import json

import pytest

from envscale.rl.gym_env import gymnasium_environment, unicode_text
from tests.rl.desk import desk_domain, desk_tasks

pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env


@pytest.fixture(scope="module")
def desk():
    domain = desk_domain()
    return domain, desk_tasks(domain)


def test_gymnasiums_checker_passes(desk) -> None:
    env = gymnasium_environment(*desk, render_mode="ansi")
    check_env(env, skip_render_check=False)
    env.close()


def test_an_episode_in_model_text(desk) -> None:
    _, tasks = desk
    task = next(t for t in tasks if len(t.gold_calls) > 1)
    env = gymnasium_environment(*desk, render_mode="ansi")
    first, info = env.reset(seed=3, options={"task": task.id})
    assert first in env.observation_space and info["task_id"] == task.id
    assert {t["function"]["name"] for t in info["tools"]} == {"get_ticket", "close_ticket"}
    blocks = "".join(
        f"<tool_call>{json.dumps({'name': c.name, 'arguments': c.arguments})}</tool_call>"
        for c in task.gold_calls
    )
    seen, reward, terminated, truncated, info = env.step(f"Let me see. {blocks}")
    assert info["source"] == "tool" and info["ok"] and len(seen.split("\n\n")) == 2
    assert (reward, terminated, truncated) == (0.0, False, False)
    # A block that is no well-formed call is text for the user, as in generated episodes.
    seen, *_, info = env.step("<tool_call>{not json</tool_call> Anything else I can help with?")
    assert info["source"] == "user"
    for _ in range(3):
        seen, reward, terminated, truncated, info = env.step("Done. Anything else?")
        if terminated or truncated:
            break
    assert terminated and reward == 1.0, info
    assert "-> close_ticket" in env.render()


def test_the_text_space_holds_any_unicode() -> None:
    space = unicode_text(10)
    assert "naïve 🙂" in space and "" in space and "x" * 11 not in space and 3 not in space
    assert space.sample() in space
