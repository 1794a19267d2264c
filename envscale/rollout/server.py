"""A small OpenAI-compatible chat-completions server over a local transformers model.

    envscale serve MODEL_DIR --port 8000      # then --agent openai --agent-base-url http://127.0.0.1:8000/v1

`POST /v1/chat/completions` renders the request's messages and tools with the model's own
chat template, generates, and returns Hermes `<tool_call>` blocks as OpenAI `tool_calls`
(as vLLM's hermes parser does). `GET /v1/models` lists the one model. Requests are served
on threads and generation is serialized. Streaming is not supported. It is meant for tests
and local runs, not for production serving.
"""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from envscale.rollout.local_model import LocalChatModel
from envscale.rollout.toolcalls import parse_hermes


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], model: Any, name: str, max_tokens: int = 512
    ) -> None:
        super().__init__(address, ChatHandler)
        self.model = model
        self.model_name = name
        self.max_tokens = max_tokens


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(
            status, {"error": {"message": message, "type": "invalid_request_error", "code": status}}
        )

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": self.server.model_name, "object": "model", "owned_by": "envscale"}
                    ],
                },
            )
        elif self.path.rstrip("/") in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, json.JSONDecodeError) as error:
            self._error(400, f"the body is not JSON: {error}")
            return
        problem = _request_problem(request)
        if problem:
            self._error(400, problem)
            return
        try:
            self._send(200, self._complete(request))
        except Exception as error:  # one bad request must not stop the server
            self._error(500, f"{type(error).__name__}: {error}")

    def _complete(self, request: dict) -> dict:
        out = self.server.model.generate(
            request["messages"],
            request.get("tools"),
            max_new_tokens=int(
                request.get("max_tokens")
                or request.get("max_completion_tokens")
                or self.server.max_tokens
            ),
            temperature=float(request.get("temperature") or 0.0),
            seed=request.get("seed"),
        )
        content, calls = parse_hermes(out.text)
        message: dict = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [{**c, "id": f"call_{uuid.uuid4().hex[:12]}"} for c in calls]
        finish = "tool_calls" if calls else out.finish_reason
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.server.model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": out.prompt_tokens,
                "completion_tokens": out.completion_tokens,
                "total_tokens": out.prompt_tokens + out.completion_tokens,
            },
        }


def _request_problem(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "the body must be a JSON object"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    if any(not isinstance(m, dict) or "role" not in m for m in messages):
        return "every message needs a role"
    if request.get("stream"):
        return "streaming is not supported"
    if request.get("n", 1) != 1:
        return "only n=1 is supported"
    tools = request.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "'tools' must be a list"
    return None


def make_server(
    model_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str | None = None,
    max_tokens: int = 512,
) -> ChatServer:
    model = LocalChatModel(model_dir)
    return ChatServer((host, port), model, name or Path(model_dir).name, max_tokens)
