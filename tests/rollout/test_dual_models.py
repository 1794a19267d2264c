"""A model-backed user in dual control, against a real OpenAI-compatible HTTP server on
localhost: it is offered the user's tools (and not the agent's), its tool calls run on the
environment as the user's, their results come back to it, and the agent never sees them."""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from envscale.rollout.agents import ScriptedAgent
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import run_episode
from envscale.rollout.toolcalls import parse_hermes
from envscale.rollout.users import STOP_TOKEN, HFUser, OpenAIUser, parse_user_text, user_view

from .test_dual import runtime, task  # noqa: F401  (the module fixture)


class PhoneOwner(BaseHTTPRequestHandler):
    """Plays a customer: states the problem, does on the phone what the agent asks (a tool
    call), reports the result, and stops once the agent has nothing left to ask."""

    requests: ClassVar[list[dict]] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        last = body["messages"][-1]
        message: dict = {"role": "assistant", "content": None}
        asked = (last.get("content") or "").lower() if last["role"] == "user" else ""
        if last["role"] == "tool":
            message["content"] = f"My phone now shows: {last['content']}"
        elif "airplane" in asked or "data roaming" in asked:
            name = "toggle_airplane_mode" if "airplane" in asked else "toggle_data_roaming"
            message["tool_calls"] = [
                {"id": "x", "type": "function", "function": {"name": name, "arguments": "{}"}}
            ]
        elif len(body["messages"]) == 2:
            message["content"] = "I'm abroad and my phone has no data. My line is L1."
        else:
            message["content"] = STOP_TOKEN
        data = json.dumps(
            {
                "choices": [{"message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    PhoneOwner.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), PhoneOwner)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_an_openai_user_acts_on_its_own_device(runtime, server):  # noqa: F811
    t = task(runtime, ["ENV_ASSERTION"])
    user = OpenAIUser(BackendConfig("openai", model="owner", base_url=server, timeout=10))
    traj = run_episode(runtime, t, ScriptedAgent(), user, seed=0)
    assert traj.meta.end == "user_done" and traj.meta.user == "openai"
    assert traj.meta.scores == {"stop": 1.0, "ENV_ASSERTION": 1.0} and traj.reward == 1.0
    # Every request offered the user's tools, none of the agent's.
    for body in PhoneOwner.requests:
        assert [s["function"]["name"] for s in body["tools"]] == [
            "check_phone",
            "toggle_airplane_mode",
            "toggle_data_roaming",
        ]
        assert "own device" in body["messages"][0]["content"]
    # The calls ran as the user's, renumbered, and their results went back to the user.
    messages = [m.to_dict() for m in traj.messages]
    acts = [m for m in messages if m["role"] == "user" and m.get("tool_calls")]
    assert [m["tool_calls"][0]["id"] for m in acts] == ["user_call_1", "user_call_2"]
    assert all(m["side"] == "user" for m in acts)
    results = [m for m in messages if m["role"] == "tool" and m["side"] == "user"]
    assert len(results) == 2 and '"airplane": false' in results[0]["content"]
    after = next(b for b in PhoneOwner.requests if b["messages"][-1]["role"] == "tool")
    view = after["messages"]
    assert view[-2]["role"] == "assistant" and view[-2]["tool_calls"][0]["id"] == "user_call_1"
    assert view[-1] == {
        "role": "tool",
        "tool_call_id": "user_call_1",
        "content": results[0]["content"],
    }
    # The agent's tool traffic stays hidden from the user, the user's from the agent.
    assert all("enable_roaming" not in json.dumps(b["messages"]) for b in PhoneOwner.requests)
    seen = traj.agent_messages()
    assert not any(m.get("tool_call_id", "").startswith("user_") for m in seen)
    assert any("My phone now shows" in (m["content"] or "") for m in seen if m["role"] == "user")
    assert traj.meta.usage.user.prompt_tokens == 10 * len(PhoneOwner.requests)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None,
    reason="torch and transformers are not installed (pip install 'envscale[train]')",
)
def test_an_hf_user_is_prompted_with_its_tools(runtime):  # noqa: F811
    from envscale.rollout.local_model import LocalChatModel
    from envscale.trainer.tiny import tiny_model_path

    path = str(tiny_model_path())
    t = task(runtime, ["ENV_ASSERTION"])
    user = HFUser(BackendConfig("hf", model=path, max_tokens=12, temperature=1.0))
    traj = run_episode(runtime, t, ScriptedAgent(), user, seed=3, max_steps=3)
    messages = [m.to_dict() for m in traj.messages]
    model = LocalChatModel.get(path)
    turns = [i for i, m in enumerate(messages) if m["role"] == "user" and m.get("content")]
    assert turns
    for i in turns:
        # Each turn is what the model makes of the user's view, offered the user's tools.
        view = user_view(messages[:i], t.instruction, tools=True)
        out = model.generate(
            view, runtime.user_tools, max_new_tokens=12, temperature=1.0, seed=user.seed + i
        )
        assert messages[i]["content"] == parse_user_text(parse_hermes(out.text)[0]).content
