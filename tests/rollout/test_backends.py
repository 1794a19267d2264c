"""The model backends: Hermes tool-call parsing, a local tiny model, and the OpenAI protocol
against a real localhost server that serves that model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import DomainRuntime, run_episode
from envscale.rollout.filters import check_validity
from envscale.rollout.openai_client import ChatClient, ChatError
from envscale.rollout.toolcalls import holds_malformed_call, parse_hermes
from envscale.rollout.users import ScriptedUser

from .episode_fixtures import ROOT, clinic_domain, clinic_tasks


def test_parse_hermes_tool_calls():
    text = (
        'Let me look.\n<tool_call>{"name": "get_patient", "arguments": {"patient_id": '
        '"P001"}}</tool_call>'
        '<tool_call>{"name": "list_invoices", "arguments": {"patient_id": '
        '"P001"}}</tool_call><|im_end|>'
    )
    content, calls = parse_hermes(text, first_id=3)
    assert content == "Let me look."
    assert [c["id"] for c in calls] == ["call_3", "call_4"]
    assert calls[0]["function"] == {"name": "get_patient", "arguments": '{"patient_id": "P001"}'}
    content, calls = parse_hermes("Hello there<|im_end|>")
    assert (content, calls) == ("Hello there", [])
    # Not a well-formed call: no call at all, the text stays the content.
    bad = '<tool_call>{"name": get_patient}</tool_call>'
    assert parse_hermes(bad + "<|im_end|>") == (bad, [])
    cut = 'Sure. <tool_call>{"name": "get_patient", "arguments": {"patient_id": "P0'
    assert parse_hermes(cut) == (cut, [])
    unnamed = '<tool_call>{"name": "", "arguments": {}}</tool_call>'
    assert parse_hermes(unnamed) == (unnamed, [])
    mixed = text.replace("</tool_call><|im_end|>", "</tool_call><tool_call>{}</tool_call>")
    assert parse_hermes(mixed)[1] == []
    assert holds_malformed_call(bad) and not holds_malformed_call("Hello there")


class Flaky(BaseHTTPRequestHandler):
    """Answers 503, then 429 with Retry-After, then a completion.

    A stand-in for an overloaded server.
    """

    calls = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        type(self).calls += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        status = {1: 503, 2: 429}.get(type(self).calls, 200)
        body = json.dumps(
            {
                "choices": [
                    {"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            }
        ).encode()
        self.send_response(status)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_client_retries_with_backoff():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        client = ChatClient(BackendConfig("openai", model="m", base_url=url, retries=3, timeout=5))
        waits: list[float] = []
        client.sleep = waits.append
        result = client.complete([{"role": "user", "content": "hello"}])
        assert result.message["content"] == "hi" and result.usage.prompt_tokens == 3
        assert Flaky.calls == 3 and len(waits) == 2
        Flaky.calls = 0
        client = ChatClient(BackendConfig("openai", model="m", base_url=url, retries=0, timeout=5))
        with pytest.raises(ChatError, match="gave up after 1 attempts"):
            client.complete([{"role": "user", "content": "hello"}])
    finally:
        server.shutdown()


# ---- the tiny local model

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None,
    reason="torch and transformers are not installed (pip install 'envscale[train]')",
)


@pytest.fixture(scope="module")
def tiny_path():
    from envscale.trainer.tiny import tiny_model_path

    return str(tiny_model_path())


@pytest.fixture(scope="module")
def runtime():
    return DomainRuntime(clinic_domain())


def check_model_episode(t: dict, backend: str) -> None:
    assert t["meta"]["agent"] == backend and t["meta"]["end"] in ("user_done", "turn_limit")
    assert t["meta"]["usage"]["agent"]["completion_tokens"] > 0
    assert not t["meta"]["usage"]["agent"]["estimated"]
    assert t["messages"][0]["role"] == "system" and t["messages"][2]["role"] == "assistant"
    # Whatever the untrained model said, the verdicts are those of the filters.
    assert t["filters"]["valid"] == (check_validity(t["messages"]) is None)
    assert t["reward"] == 0.0 or t["final_state_hash"] != ""


@needs_torch
def test_hf_agent_with_the_tiny_model(runtime, tiny_path):
    from envscale.rollout.agents import HFAgent

    task = clinic_tasks()[0]
    agent = HFAgent(BackendConfig("hf", model=tiny_path, max_tokens=16))
    first = run_episode(runtime, task, agent, ScriptedUser(), seed=0, max_steps=2).to_dict()
    check_model_episode(first, "hf")
    assert first["meta"]["agent_model"] == tiny_path
    again = run_episode(runtime, task, agent, ScriptedUser(), seed=0, max_steps=2).to_dict()
    assert again == first  # greedy decoding: deterministic


@needs_torch
def test_hf_model_reads_tool_calls_from_its_template(tiny_path):
    from envscale.rollout.local_model import LocalChatModel

    model = LocalChatModel.get(tiny_path)
    messages = [
        {"role": "system", "content": "policy"},
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_patient", "arguments": '{"patient_id": "P001"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "{}"},
    ]
    out = model.generate(messages, clinic_domain().tool_schemas, max_new_tokens=4)
    assert out.prompt_tokens > 100 and 0 < out.completion_tokens <= 4


@pytest.fixture(scope="module")
def server(tiny_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "envscale", "serve", tiny_path, "--port", "0", "--name", "tiny"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "serving" not in line:
        process.kill()
        pytest.fail(f"server did not start: {line}{process.stderr.read()}")
    yield line.rsplit(" ", 1)[-1].strip()
    process.terminate()
    process.wait(timeout=10)


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@needs_torch
def test_server_speaks_chat_completions(server):
    with urllib.request.urlopen(server + "/models", timeout=10) as response:
        assert json.loads(response.read())["data"][0]["id"] == "tiny"
    status, body = post(
        server,
        {
            "model": "tiny",
            "max_tokens": 8,
            "tools": clinic_domain().tool_schemas,
            "messages": [
                {"role": "system", "content": "policy"},
                {"role": "user", "content": "Please cancel my appointment."},
            ],
        },
    )
    assert status == 200
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in (
        "stop",
        "length",
        "tool_calls",
    )
    assert 0 < body["usage"]["completion_tokens"] <= 8 and body["usage"]["prompt_tokens"] > 100
    assert post(server, {"messages": []})[0] == 400
    assert post(server, {"messages": [{"role": "user", "content": "x"}], "stream": True})[0] == 400


@needs_torch
def test_openai_agent_against_the_local_server(runtime, server):
    from envscale.rollout.agents import OpenAIAgent

    agent = OpenAIAgent(
        BackendConfig("openai", model="tiny", base_url=server, max_tokens=24, timeout=60)
    )
    t = run_episode(
        runtime, clinic_tasks()[0], agent, ScriptedUser(), seed=0, max_steps=3
    ).to_dict()
    check_model_episode(t, "openai")
    assert t["meta"]["agent_model"] == "tiny"


# ---- model-backed simulated users


def test_user_text_parsing_and_the_stop_marker():
    from envscale.records import Usage
    from envscale.rollout.users import STOP_TOKEN, parse_user_text

    usage = Usage(prompt_tokens=7, completion_tokens=3)
    reply = parse_user_text(f"  Thanks, that is all I needed. {STOP_TOKEN}\n", usage)
    assert reply.done and reply.content == "Thanks, that is all I needed." and reply.usage is usage
    assert parse_user_text(STOP_TOKEN).content == "" and parse_user_text(STOP_TOKEN).done
    reply = parse_user_text(f"{STOP_TOKEN} Bye")
    assert reply.done and reply.content == "Bye"
    reply = parse_user_text("My id is P001.\n")
    assert not reply.done and reply.content == "My id is P001."
    assert parse_user_text("###STOP").done is False  # only the whole marker ends the dialogue
    # Nothing is made up for an empty reply: it stays empty, and the filter rejects the turn.
    for empty in ("", "  \n\n", None):
        assert (parse_user_text(empty).content, parse_user_text(empty).done) == ("", False)
    messages = [
        {"role": "system", "content": "policy"},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "How can I help?"},
    ]
    assert check_validity(messages) == "message 1: empty user turn"


def check_model_user_episode(t: dict, backend: str, model: str, max_steps: int) -> list[int]:
    """The checks every model-user episode passes; returns the indexes of the user turns."""
    from envscale.rollout.users import STOP_TOKEN

    meta = t["meta"]
    assert (meta["user"], meta["user_model"]) == (backend, model)
    assert meta["end"] in ("user_done", "turn_limit")
    assert meta["end"] == "user_done" or meta["steps"] == max_steps
    usage = meta["usage"]["user"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0 and not usage["estimated"]
    messages = t["messages"]
    assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
    # The verdict is the validity filter's, and the recorded failure says why it failed.
    problem = check_validity(messages)
    assert t["filters"]["valid"] == (problem is None)
    if problem:
        assert f"valid: {problem}" in meta["failure"]
    if meta["end"] == "turn_limit":
        assert meta["failure"].startswith(f"turn_limit: no end after {max_steps} agent turns")
    assert all(STOP_TOKEN not in (m.get("content") or "") for m in messages)
    turns = [i for i, m in enumerate(messages) if m["role"] == "user"]
    assert any(messages[i]["content"] for i in turns)
    return turns


@needs_torch
def test_hf_user_with_the_tiny_model(runtime, tiny_path):
    from envscale.rollout.agents import HFAgent, ScriptedAgent
    from envscale.rollout.local_model import LocalChatModel
    from envscale.rollout.users import AGENT_GREETING, HFUser, parse_user_text, user_view

    task = clinic_tasks()[1]
    # Greedy decoding makes the untrained model emit only newlines, so it samples (seeded).
    user = HFUser(BackendConfig("hf", model=tiny_path, max_tokens=12, temperature=1.0))
    t = run_episode(runtime, task, ScriptedAgent(), user, seed=3, max_steps=4).to_dict()
    turns = check_model_user_episode(t, "hf", tiny_path, max_steps=4)
    assert len(turns) >= 2
    # Every user turn is what the model generates from the customer's view at that point,
    # sampled with the episode's seed for that turn.
    model = LocalChatModel.get(tiny_path)
    for i in turns:
        view = user_view(t["messages"][:i], task.instruction)
        # Roles swapped and alternating (strict chat templates insist), tool traffic hidden.
        assert task.instruction in view[0]["content"] and view[1]["content"] == AGENT_GREETING
        assert [m["role"] for m in view] == ["system"] + ["user", "assistant"] * turns.index(i) + [
            "user"
        ]
        results = [m["content"] for m in t["messages"][:i] if m["role"] == "tool"]
        assert all("tool_calls" not in m and m["content"] not in results for m in view)
        out = model.generate(view, None, max_new_tokens=12, temperature=1.0, seed=user.seed + i)
        assert t["messages"][i]["content"] == parse_user_text(out.text).content
    assert (
        run_episode(runtime, task, ScriptedAgent(), user, seed=3, max_steps=4).to_dict() == t
    )  # seeded sampling
    assert (
        run_episode(runtime, task, ScriptedAgent(), user, seed=4, max_steps=4).to_dict()["messages"]
        != t["messages"]
    )

    # Both sides played by the model.
    agent = HFAgent(BackendConfig("hf", model=tiny_path, max_tokens=12))
    both = run_episode(runtime, task, agent, user, seed=3, max_steps=2).to_dict()
    check_model_user_episode(both, "hf", tiny_path, max_steps=2)
    assert (both["meta"]["agent"], both["meta"]["agent_model"]) == ("hf", tiny_path)


@needs_torch
def test_openai_user_against_the_local_server(runtime, server):
    from envscale.rollout.agents import ScriptedAgent
    from envscale.rollout.users import OpenAIUser, parse_user_text, user_view

    task = clinic_tasks()[2]
    config = BackendConfig(
        "openai", model="tiny", base_url=server, max_tokens=12, temperature=1.0, timeout=60
    )
    user = OpenAIUser(config)
    t = run_episode(runtime, task, ScriptedAgent(), user, seed=5, max_steps=4).to_dict()
    turns = check_model_user_episode(t, "openai", "tiny", max_steps=4)
    # Each user turn is the server's answer to the customer's view, with that turn's seed.
    for i in turns:
        status, body = post(
            server,
            {
                "model": "tiny",
                "max_tokens": 12,
                "temperature": 1.0,
                "seed": user.seed + i,
                "messages": user_view(t["messages"][:i], task.instruction),
            },
        )
        assert status == 200
        assert (
            t["messages"][i]["content"]
            == parse_user_text(body["choices"][0]["message"]["content"]).content
        )
    assert run_episode(runtime, task, ScriptedAgent(), user, seed=5, max_steps=4).to_dict() == t
