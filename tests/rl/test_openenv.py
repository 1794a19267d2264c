"""OpenEnv's interface over a domain's tasks: the library's base classes, its server (HTTP and
WebSocket sessions, each with its own databases) on localhost and its client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from envscale.rl.openenv_env import openenv_app, openenv_environment, openenv_types
from tests.rl.desk import desk_domain, desk_tasks

pytest.importorskip("openenv")
import httpx
import uvicorn
from openenv.core.env_server import Action, Environment, Observation, State


@pytest.fixture(scope="module")
def desk():
    domain = desk_domain()
    return domain, desk_tasks(domain)


def test_the_types_are_openenvs() -> None:
    types = openenv_types()
    assert issubclass(types.action, Action) and issubclass(types.observation, Observation)
    assert issubclass(types.state, State) and issubclass(types.environment, Environment)
    with pytest.raises(ValueError, match="either a tool or a message"):
        types.action(tool="get_ticket", message="hi")
    with pytest.raises(ValueError, match="either a tool or a message"):
        types.action()


def test_an_episode_through_the_interface(desk) -> None:
    domain, tasks = desk
    types = openenv_types()
    task = next(t for t in tasks if t.kind == "write")
    env = openenv_environment(domain, tasks)()
    first = env.reset(task_id=task.id, episode_id="e1")
    assert first.source == "user" and first.text and not first.done and first.reward == 0.0
    assert {t["function"]["name"] for t in first.tools} == {"get_ticket", "close_ticket"}
    assert first.policy == "Help users with their tickets."
    failed = env.step(types.action(tool="close_ticket", arguments={"ticket_id": "T3"}))
    assert (failed.ok, failed.text) == (False, "Error: Only open tickets can be closed")
    for call in task.gold_calls:
        assert env.step(types.action(tool=call.name, arguments=call.arguments)).ok
    for _ in range(3):
        seen = env.step(types.action(message="Done. Anything else I can help with?"))
        if seen.done:
            break
    assert seen.done and seen.reward == 1.0 and not seen.truncated
    assert seen.filters == {"valid": True, "state": True, "exact": True}
    state = env.state
    assert (state.episode_id, state.task_id, state.end, state.reward) == (
        "e1",
        task.id,
        "user_done",
        1.0,
    )
    assert state.state_hash == task.gold_state_hash and state.step_count >= 2
    assert env.get_metadata().name == "desk"
    env.close()


@pytest.fixture(scope="module")
def server(desk) -> Iterator[str]:
    domain, tasks = desk
    app = openenv_app(domain, tasks, max_concurrent_envs=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=10)


def test_the_server_and_its_client(desk, server: str) -> None:
    _, tasks = desk
    types = openenv_types()
    task = next(t for t in tasks if t.kind == "write")
    schema = httpx.get(f"{server}/schema").json()
    assert {"tool", "arguments", "message"} <= set(schema["action"]["properties"])
    one = types.client(base_url=server).sync()
    two = types.client(base_url=server).sync()
    with one, two:
        assert one.reset(task_id=task.id).observation.task_id == task.id
        two.reset(task_id=task.id)
        for call in task.gold_calls:
            result = one.step(types.action(tool=call.name, arguments=call.arguments))
            assert result.observation.ok and not result.done
        # Each session has its own database: the other one is still in the initial state.
        assert one.state().state_hash == task.gold_state_hash
        assert two.state().state_hash == task.initial_state_hash
        for _ in range(3):
            result = one.step(types.action(message="Done. Anything else I can help with?"))
            if result.done:
                break
        assert result.done and result.reward == 1.0
        assert result.observation.filters == {"valid": True, "state": True, "exact": True}
        refused = two.step(types.action(tool="close_ticket", arguments={"ticket_id": "T3"}))
        assert refused.observation.text == "Error: Only open tickets can be closed"
    reset = httpx.post(f"{server}/reset", json={"task_id": task.id}).json()
    assert reset["observation"]["task_id"] == task.id and reset["done"] is False
