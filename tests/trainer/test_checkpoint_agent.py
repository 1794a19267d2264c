"""A trained checkpoint acts as an agent: `envscale eval --agent hf --agent-model RUN/final`,
and the same model behind `envscale serve` with `--agent openai`, give the same episodes;
output that is not a well-formed tool call stays text and counts as a malformed call."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from envscale.cli import main as envscale
from envscale.records import Trajectory, read_jsonl
from envscale.trainer import train

from .helpers import ROOT, subprocess_env, tiny_config

CLINIC = ROOT / "specs" / "clinic.domain"
REASONS = {"malformed_call", "turn_limit", "state_mismatch", "call_mismatch", "other"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, trajectories) -> Path:
    out = tmp_path_factory.mktemp("run")
    summary = train(tiny_config(out, trajectories))
    assert summary["final_model"] == str(out / "final")
    return out / "final"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tasks")
    args = ["generate", str(CLINIC), "--tasks", "2", "--seed", "3", "--out", str(out)]
    assert envscale([*args, "-q", "--workers", "1"]) == 0
    return out / "tasks.jsonl"


def evaluate(tasks: Path, out: Path, *backend: str) -> tuple[dict, list[dict]]:
    code = envscale(
        [
            "eval",
            str(CLINIC),
            "--tasks",
            str(tasks),
            "--trials",
            "1",
            "--out",
            str(out),
            "--max-turns",
            "3",
            "--agent-max-tokens",
            "24",
            "--workers",
            "1",
            "-q",
            *backend,
        ]
    )
    assert code == 0
    report = json.loads((out / "eval.json").read_text())
    return report, [t.to_dict() for t in read_jsonl(out / "trajectories.jsonl", Trajectory)]


def served(model: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "envscale", "serve", str(model), "--port", "0"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "serving" not in line:
        process.kill()
        pytest.fail(f"server did not start: {line}{process.stderr.read()}")
    return process, line.rsplit(" ", 1)[-1].strip()


def test_a_checkpoint_is_an_agent_locally_and_served(checkpoint, tasks, tmp_path):
    local, episodes = evaluate(
        tasks, tmp_path / "hf", "--agent", "hf", "--agent-model", str(checkpoint)
    )
    assert local["episodes"] == 2 and local["missing_episodes"] == 0
    assert set(local["failure_reasons"]) <= REASONS
    for episode in episodes:
        assert episode["meta"]["agent_model"] == str(checkpoint)
        for message in episode["messages"]:
            for call in message.get("tool_calls") or []:
                assert call["function"]["name"]  # never a call with an empty name
    process, url = served(checkpoint)
    try:
        remote, served_episodes = evaluate(
            tasks, tmp_path / "openai", "--agent", "openai", "--agent-base-url", url
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    # Greedy decoding: the served model says exactly what the local one said.
    assert remote["pass^k"] == local["pass^k"]
    assert remote["failure_reasons"] == local["failure_reasons"]
    assert [e["messages"] for e in served_episodes] == [e["messages"] for e in episodes]


class Says:
    """A model that always answers with the same text."""

    def __init__(self, text: str, finish: str) -> None:
        self.text, self.finish = text, finish

    def generate(self, *args, **kwargs):
        from envscale.rollout.local_model import Generation

        return Generation(self.text, 10, 5, self.finish)


@pytest.mark.parametrize(
    ("text", "finish"),
    [
        ('<tool_call>{"name": ""}</tool_call><|im_end|>', "stop"),
        ('Let me see. <tool_call>{"name": "get_patient", "arguments": {"pa', "length"),
    ],
)
def test_malformed_output_is_text_with_its_finish_reason(text, finish):
    from envscale.rollout.server import ChatServer

    server = ChatServer(("127.0.0.1", 0), Says(text, finish), "m")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        request = urllib.request.Request(
            f"http://{host}:{port}/v1/chat/completions",
            data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            choice = json.loads(response.read())["choices"][0]
    finally:
        server.shutdown()
        server.server_close()
    assert choice["finish_reason"] == finish
    assert "tool_calls" not in choice["message"]
    assert choice["message"]["content"] == text.replace("<|im_end|>", "")
