"""The Gymnasium environment: gymnasium's own checker, and an episode written as model text."""

from __future__ import annotations

import json

import pytest

from envscale import jsonl
from envscale.rl.gym_env import ENV_ID, gymnasium_environment, unicode_text
from tests.rl.desk import desk_domain, desk_tasks
from tests.rollout.episode_fixtures import CLINIC, clinic_tasks

pytest.importorskip("gymnasium")
import gymnasium
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


def gold_turn(task) -> str:
    """The task's gold calls as one turn of Hermes blocks."""
    return "".join(
        f"<tool_call>{json.dumps({'name': c.name, 'arguments': c.arguments})}</tool_call>"
        for c in task.gold_calls
    )


def test_gymnasium_makes_it_by_its_id(tmp_path) -> None:
    tasks = clinic_tasks()
    path = tmp_path / "tasks.jsonl"
    jsonl.write_atomic(path, (t.to_dict() for t in tasks))
    # "module:id" imports the module that registers the id, as gymnasium's own plugins do.
    env = gymnasium.make(f"envscale.rl.gym_env:{ENV_ID}", spec=str(CLINIC), tasks=str(path))
    assert env.spec.id == ENV_ID and env.unwrapped.episodes.tasks.keys() == {t.id for t in tasks}
    task = tasks[1]
    first, info = env.reset(seed=0, options={"task": task.id})
    assert info["task_id"] == task.id and first
    _, reward, terminated, truncated, info = env.step(f"One moment. {gold_turn(task)}")
    assert info["source"] == "tool" and info["ok"] and not terminated
    for _ in range(3):
        _, reward, terminated, truncated, info = env.step("Done. Anything else?")
        if terminated or truncated:
            break
    assert terminated and reward == 1.0, info
    env.close()


def test_without_tasks_it_samples_some_from_the_spec() -> None:
    env = gymnasium.make(ENV_ID, spec=CLINIC, n_tasks=3, task_seed=2, max_turns=2)
    episodes = env.unwrapped.episodes
    assert len(episodes.tasks) == 3 and episodes.max_turns == 2
    opening, info = env.reset(seed=1)
    assert info["task_id"] in episodes.tasks and opening
    env.close()
