"""A minimal client of OpenAI-compatible chat-completions endpoints (vLLM, SGLang, hosted APIs).

Standard library only. Transient failures (connection errors, timeouts, HTTP 408/409/429
and 5xx) are retried with exponential backoff and jitter, honouring `Retry-After`; a
semaphore bounds the requests in flight from one process.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from envscale.records import Usage
from envscale.rollout.dialogue import BackendConfig

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ChatError(RuntimeError):
    pass


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
        try:
            choice = data["choices"][0]
            message = dict(choice["message"])
        except (KeyError, IndexError, TypeError) as error:
            raise ChatError(f"unexpected response from {self.url}: {str(data)[:200]}") from error
        usage = data.get("usage") or {}  # some servers send null counts
        return ChatResult(
            message,
            Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            ),
            choice.get("finish_reason"),
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
                with (
                    self.semaphore,
                    urllib.request.urlopen(request, timeout=self.config.timeout) as response,
                ):
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as error:
                detail = error.read().decode("utf-8", "replace")[:300]
                last_error = f"HTTP {error.code}: {detail}"
                if error.code not in RETRY_STATUS:
                    raise ChatError(f"{self.url}: {last_error}") from None
                wait = _retry_after(error.headers.get("Retry-After"))
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                ValueError,
            ) as error:  # ValueError: a body that is not JSON
                last_error = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            if attempt < self.config.retries:
                self.sleep(
                    wait
                    if wait is not None
                    else min(30.0, 0.5 * 2**attempt) * (0.5 + random.random())
                )
        raise ChatError(
            f"{self.url}: gave up after {self.config.retries + 1} attempts ({last_error})"
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None
