"""A minimal client of OpenAI-compatible chat-completions endpoints (vLLM, SGLang, hosted APIs).

Standard library only. Transient failures (connection errors, timeouts, HTTP 408/409/429
and 5xx, a body cut short or not JSON) are retried with exponential backoff and jitter,
honouring `Retry-After`; a semaphore bounds the requests in flight from one process. An
attempt has `timeout` seconds in all, however slowly the server sends, and a body may hold
at most `max_response_bytes`. A response that is not a chat completion (no choices, a
message that is not an object) is a ChatError; what the message holds is the agent's to
judge. An endpoint that refuses the connection (or whose host does not resolve)
`UNREACHABLE_AFTER` times in a row, over one request's retries or over several requests, is
`Unreachable`: no use retrying it further, and a job stops on it.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from envscale.records import Usage
from envscale.rollout.dialogue import BackendConfig

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
UNREACHABLE_AFTER = 3  # consecutive failed connections to one endpoint


class ChatError(RuntimeError):
    pass


class Unreachable(ChatError):
    """No connection to the endpoint could be made, several times in a row."""


def unreachable_in(message: str) -> str | None:
    """What an episode's error says of an unreachable endpoint, or None when it says other."""
    marker = f"{Unreachable.__name__}: "
    return message.split(marker, 1)[1] if marker in message else None


def _connection_failed(error: BaseException) -> bool:
    """A refused connection or an unknown host; not a timeout, which a busy server may cause."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, TimeoutError | socket.timeout):
        return False
    return isinstance(reason, ConnectionRefusedError | socket.gaierror) or (
        isinstance(error, urllib.error.URLError) and isinstance(reason, OSError)
    )


@dataclass
class ChatResult:
    message: dict  # the assistant message: role, content, tool_calls
    usage: Usage
    finish_reason: str | None


_SEMAPHORES: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()


def _semaphore(url: str, limit: int) -> threading.BoundedSemaphore:
    with _SEMAPHORES_LOCK:
        key = (url, limit)
        if key not in _SEMAPHORES:
            _SEMAPHORES[key] = threading.BoundedSemaphore(max(1, limit))
        return _SEMAPHORES[key]


class ChatClient:
    def __init__(self, config: BackendConfig) -> None:
        base = config.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self.url = base.rstrip("/") + "/chat/completions"
        self.config = config
        self.key = os.environ.get(config.api_key_env, "")
        self.semaphore = _semaphore(self.url, config.concurrency)
        self.sleep = time.sleep
        self.failed_connections = 0  # in a row, over this client's requests

    def complete(
        self, messages: list[dict], tools: list[dict] | None = None, seed: int | None = None
    ) -> ChatResult:
        body: dict = {
            "model": self.config.model or "default",
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if tools:
            body["tools"] = tools
        if seed is not None:
            body["seed"] = seed
        data = self._post(body)
        choices = data.get("choices") if isinstance(data, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else None
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise ChatError(f"unexpected response from {self.url}: {json_excerpt(data)}")
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}  # some servers send null counts
        finish = choice.get("finish_reason")
        return ChatResult(
            dict(message),
            Usage(
                prompt_tokens=_count(usage.get("prompt_tokens")),
                completion_tokens=_count(usage.get("completion_tokens")),
            ),
            finish if isinstance(finish, str) else None,
        )

    def _post(self, body: dict) -> dict:
        payload = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        last_error = ""
        for attempt in range(self.config.retries + 1):
            wait = None
            request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
            try:
                deadline = time.monotonic() + self.config.timeout
                with (
                    self.semaphore,
                    urllib.request.urlopen(request, timeout=self.config.timeout) as response,
                ):
                    self.failed_connections = 0
                    return json.loads(self._read(response, deadline).decode("utf-8"))
            except urllib.error.HTTPError as error:
                self.failed_connections = 0
                detail = error.read(2000).decode("utf-8", "replace")[:300]
                last_error = f"HTTP {error.code}: {detail}"
                if error.code not in RETRY_STATUS:
                    raise ChatError(f"{self.url}: {last_error}") from None
                wait = _retry_after(error.headers.get("Retry-After"))
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,  # a body cut short, a status line that is none
                ValueError,  # a body that is not JSON, or not UTF-8
                RecursionError,  # a body nested deeper than the JSON parser goes
            ) as error:
                reason = getattr(error, "reason", None) or error
                last_error = f"{type(error).__name__}: {str(reason)[:300]}"
                if _connection_failed(error):
                    self.failed_connections += 1
                    failed = self.failed_connections
                    if failed >= UNREACHABLE_AFTER:
                        raise Unreachable(
                            f"cannot reach {self.url}: {failed} connections in a row failed "
                            f"({type(reason).__name__}: {str(reason)[:300]})"
                        ) from None
                else:
                    self.failed_connections = 0
            if attempt < self.config.retries:
                self.sleep(
                    wait
                    if wait is not None
                    else min(30.0, 0.5 * 2**attempt) * (0.5 + random.random())
                )
        raise ChatError(
            f"{self.url}: gave up after {self.config.retries + 1} attempts ({last_error})"
        )

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        """The body, refused once it passes `max_response_bytes` or the attempt's deadline."""
        limit = self.config.max_response_bytes
        parts: list[bytes] = []
        size = 0
        while chunk := response.read1(1 << 16):
            size += len(chunk)
            if size > limit:
                raise ChatError(f"{self.url}: response larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError(f"response not complete after {self.config.timeout} s")
            parts.append(chunk)
        if response.length:  # the connection closed before the promised Content-Length
            raise http.client.IncompleteRead(b"".join(parts), response.length)
        return b"".join(parts)


def message_text(content: object) -> str | None:
    """A message's content as text: a string, or the text parts of a list of content parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content
    ):
        return "".join(p.get("text", "") for p in content)
    raise ChatError(f"message content is neither text nor content parts: {json_excerpt(content)}")


def json_excerpt(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, default=str)[:200]


def _count(value: object) -> int:
    """A token count as a server reports it; anything but a whole number counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0
    return int(value) if abs(value) < 2**63 else 0


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None
