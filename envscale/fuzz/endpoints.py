"""A broken or hostile OpenAI-compatible model, served over real HTTP on localhost, playing
the agent of `generate` and `eval` jobs on the clinic spec.

Each task gets one way of misbehaving (a kind), chosen from its instruction: HTTP errors,
resets, bodies cut short or not JSON, completions without choices or with fields of the
wrong type, tool calls naming unknown tools or with arguments that are no JSON or nest
100,000 deep, lone surrogates and NUL in the text, huge text, answers slower than the
timeout. A kind either loses its episodes (expected in errors.jsonl, with a reason that says
why) or only makes the model's turns bad (expected in trajectories.jsonl).

Checked for every run: the job finishes; each episode is recorded once, in the file its kind
expects, and a lost one with its reason; both files read back through `records`; a rerun in
the same folder sends no request for a finished episode, leaves trajectories.jsonl's earlier
lines as they were, and records the lost episodes again; evaluation reports them missing.
"""

from __future__ import annotations

import hashlib
import json
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from envscale.fuzz.report import EPISODE_RECORD, ESCAPED_EXCEPTION, Attack, Problem, Tally, shorten
from envscale.fuzz.targets import SPECS
from envscale.jobs.evaluate import evaluate_job
from envscale.jobs.generate import ERRORS_FILE, TASKS_FILE, TRAJECTORIES_FILE, Job, generate
from envscale.records import EpisodeError, Task, Trajectory, load_jsonl
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import episode_id

TIMEOUT = 0.5  # seconds the client waits per attempt
MAX_STEPS = 4
RESPONSE_LIMIT = 1 << 20  # bytes, for the agent's client here

Handler = BaseHTTPRequestHandler


def _completion(message: dict, **extra: Any) -> dict:
    return {
        "choices": [{"message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        **extra,
    }


def _call(name: Any, arguments: Any) -> dict:
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}


def _send(handler: Handler, body: bytes, status: int = 200, length: int | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Retry-After", "0")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)


def _json(value: Any) -> Callable[[Handler], None]:
    return lambda h: _send(h, json.dumps(value).encode("utf-8"))


def _raw(body: bytes, status: int = 200, length: int | None = None) -> Callable[[Handler], None]:
    return lambda h: _send(h, body, status, length)


def _reset(handler: Handler) -> None:
    # SO_LINGER with a zero timeout: close sends RST instead of FIN.
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
    handler.connection.close()
    handler.close_connection = True


def _slow(handler: Handler) -> None:
    time.sleep(TIMEOUT * 1.6)
    _json(_completion({"content": "late"}))(handler)


def _trickle(handler: Handler) -> None:
    body = json.dumps(_completion({"content": "x" * 64})).encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for i in range(len(body)):  # each byte well inside the socket timeout, the whole far past
        handler.wfile.write(body[i : i + 1])
        handler.wfile.flush()
        time.sleep(TIMEOUT / 8)


def _deep(depth: int) -> bytes:
    inner = "[" * depth + "]" * depth
    return ('{"choices": [{"message": {"role": "assistant", "content": ' + inner + "}}]}").encode()


@dataclass(frozen=True)
class Kind:
    name: str
    respond: Callable[[Handler], None]
    lost: bool  # whether its episodes are expected in errors.jsonl
    reason: str = ""  # what the recorded error must mention


GOOD = _completion({"content": "All done."})


def _flaky() -> Callable[[Handler], None]:
    """503 on every other request: with one retry, each turn succeeds on its second try."""
    calls = [0]

    def respond(handler: Handler) -> None:
        calls[0] += 1
        _send(handler, json.dumps(GOOD).encode(), 503 if calls[0] % 2 else 200)

    return respond


def _deep_arguments(depth: int) -> bytes:
    arguments = '{"a": ' + "[" * depth + "]" * depth + "}"
    return (
        '{"choices": [{"message": {"tool_calls": [{"id": "c1", "function": {"name": '
        '"get_patient", "arguments": ' + arguments + "}}]}}]}"
    ).encode()


HTTP_KINDS = [
    Kind("http 500", _raw(b'{"error": "boom"}', 500), True, "HTTP 500"),
    Kind("http 429", _raw(b'{"error": "slow down"}', 429), True, "HTTP 429"),
    Kind("http 400", _raw(b"bad request", 400), True, "HTTP 400"),
    Kind("503 then a completion", _flaky(), False),
    Kind("connection reset", _reset, True, "gave up"),
    Kind("truncated json", _raw(json.dumps(GOOD).encode()[:25]), True, "gave up"),
    Kind("body shorter than its length", _raw(b'{"choices": []}', 200, 500), True, "gave up"),
    Kind("not json", _raw(b"<html>502 Bad Gateway</html>"), True, "gave up"),
    Kind("not utf-8", _raw(b'{"choices": "\xff\xfe"}'), True, "gave up"),
    Kind("slow past the timeout", _slow, True, "gave up"),
    Kind("trickling past the timeout", _trickle, True, "gave up"),
    Kind("too large", _raw(b'{"x": "' + b"a" * (RESPONSE_LIMIT + 10) + b'"}'), True, "larger"),
]
SHAPE_KINDS = [
    Kind("empty choices", _json({"choices": []}), True, "unexpected response"),
    Kind("no choices", _json({"id": "x"}), True, "unexpected response"),
    Kind("not an object", _json([1, 2, 3]), True, "unexpected response"),
    Kind("message not an object", _json({"choices": [{"message": "hi"}]}), True, "unexpected"),
    Kind("choices not a list", _json({"choices": "abc"}), True, "unexpected response"),
    Kind("content a number", _json(_completion({"content": 5})), True, "content"),
    Kind("content an object", _json(_completion({"content": {"a": 1}})), True, "content"),
    Kind("tool_calls a string", _json(_completion({"tool_calls": "x"})), True, "tool_calls"),
    Kind("tool call without function", _json(_completion({"tool_calls": [{}]})), True, "tool"),
    Kind("tool name a number", _json(_completion({"tool_calls": [_call(5, "{}")]})), True, "tool"),
    Kind("no content", _json(_completion({})), False),
    Kind("content parts", _json(_completion({"content": [{"type": "text", "text": "Hi"}]})), False),
    Kind("usage of wrong types", _json({**GOOD, "usage": {"prompt_tokens": "many"}}), False),
    Kind("usage not an object", _json({**GOOD, "usage": [1]}), False),
    Kind(
        "finish_reason a number", _json({"choices": [{"message": {}, "finish_reason": 3}]}), False
    ),
]
CALL_KINDS = [
    Kind("unknown tool", _json(_completion({"tool_calls": [_call("rm_rf", "{}")]})), False),
    Kind("empty tool name", _json(_completion({"tool_calls": [_call("", "{}")]})), False),
    Kind(
        "arguments not json", _json(_completion({"tool_calls": [_call("get_patient", "{")]})), False
    ),
    Kind(
        "arguments an array",
        _json(_completion({"tool_calls": [_call("get_patient", [1, 2])]})),
        False,
    ),
    Kind(
        "arguments text 100000 deep",
        _json(_completion({"tool_calls": [_call("get_patient", "[" * 100_000 + "]" * 100_000)]})),
        False,
    ),
    Kind("body 100000 deep", _raw(_deep(100_000)), True, "gave up"),
    Kind("arguments object 500 deep", _raw(_deep_arguments(500)), False),
    Kind("arguments object 900 deep", _raw(_deep_arguments(900)), False),
    Kind(
        "many tool calls",
        _json(_completion({"tool_calls": [_call("get_patient", "{}")] * 300})),
        False,
    ),
    Kind(
        "hermes text",
        _json(_completion({"content": '<tool_call>{"name": "get_patient", "arguments": {'})),
        False,
    ),
]
TEXT_KINDS = [
    Kind(
        "lone surrogate in content",
        _raw(b'{"choices": [{"message": {"content": "a\\ud800b"}}]}'),
        False,
    ),
    Kind(
        "lone surrogate in a call",
        _raw(
            b'{"choices": [{"message": {"tool_calls": [{"id": "\\udfff", "function": '
            b'{"name": "get_\\ud800", "arguments": "{\\"patient_id\\": \\"\\\\ud800\\"}"}}]}}]}'
        ),
        False,
    ),
    Kind("nul in content", _json(_completion({"content": "a\x00b\x00"})), False),
    Kind("control characters", _json(_completion({"content": "\x1b[2J\r\u2028\ufeff"})), False),
    Kind("huge content", _json(_completion({"content": "ab" * (RESPONSE_LIMIT // 5)})), False),
    Kind(
        "nan in usage",
        _raw(b'{"choices": [{"message": {}}], "usage": {"prompt_tokens": NaN}}'),
        False,
    ),
]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a slow or reset answer: expected here


class HostileModel:
    """The server: for each request, the kind of the task whose instruction the first user
    message holds; counts the requests per instruction."""

    def __init__(self, kinds: list[Kind], seed: int) -> None:
        self.kinds = kinds
        self.seed = seed
        self.instructions: list[str] = []
        self.tasks_file: Path | None = None  # read for the instructions on the first request
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        owner = self

        class Serve(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                instruction = owner.instruction_in(body.get("messages") or [])
                with owner.lock:
                    owner.requests[instruction] += 1
                owner.kind_of(instruction).respond(self)

        self.server = _QuietServer(("127.0.0.1", 0), Serve)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def kind_of(self, instruction: str) -> Kind:
        digest = hashlib.sha256(f"{self.seed}\0{instruction}".encode("utf-8", "replace"))
        return self.kinds[int.from_bytes(digest.digest()[:8], "big") % len(self.kinds)]

    def instruction_in(self, messages: list[dict]) -> str:
        if not self.instructions and self.tasks_file is not None and self.tasks_file.exists():
            self.instructions = [t.instruction for t in load_jsonl(self.tasks_file, Task)]
        said = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
        held = [i for i in self.instructions if i and i in str(said)]
        return max(held, key=len) if held else ""

    def __enter__(self) -> HostileModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _job(out: Path, url: str, tasks: int, seed: int) -> Job:
    return Job(
        specs=[str(SPECS / "clinic.domain")],
        out=out,
        tasks=tasks,
        seed=seed,
        agent=BackendConfig(
            "openai",
            model="hostile",
            base_url=url,
            timeout=TIMEOUT,
            retries=1,
            max_response_bytes=RESPONSE_LIMIT,
        ),
        user=BackendConfig("scripted", options=(("greeting_rate", 0.0),)),
        max_steps=MAX_STEPS,
        progress=False,
    )


class Run:
    """One job's output folder checked against what the kinds expect."""

    def __init__(self, tally: Tally, model: HostileModel, label: str) -> None:
        self.tally, self.model, self.label = tally, model, label

    def problem(self, detail: str, where: str = "") -> None:
        self.tally.add(Problem(EPISODE_RECORD, shorten(f"{self.label}: {detail}"), where))

    def check(self, out: Path, tasks: list[Task], trials: int) -> set[str]:
        """The ids of the lost episodes, once the folder is checked."""
        try:
            finished = load_jsonl(out / TRAJECTORIES_FILE, Trajectory)
            errors_path = out / ERRORS_FILE
            lost = load_jsonl(errors_path, EpisodeError) if errors_path.exists() else []
        except Exception as error:
            self.problem(f"the output does not read back: {type(error).__name__}: {error}")
            return set()
        kind = {
            episode_id(t.id, n): self.model.kind_of(t.instruction)
            for t in tasks
            for n in range(trials)
        }
        seen = Counter([t.id for t in finished] + [e.id for e in lost])
        for episode, n in seen.items():
            if n > 1:
                self.problem(f"episode {episode} recorded {n} times", episode)
        for episode, k in kind.items():
            if episode not in seen:
                self.problem(f"episode {episode} ({k.name}) recorded nowhere", k.name)
        for t in finished:
            k = kind.get(t.id)
            if k is not None and k.lost:
                self.problem(f"{t.id} ({k.name}) should be lost but has a trajectory", k.name)
        for e in lost:
            k = kind.get(e.id)
            if k is None:
                continue
            if not k.lost:
                self.problem(f"{e.id} ({k.name}) lost: {e.error}", k.name)
            elif k.reason not in e.error:
                self.problem(f"{e.id} ({k.name}) lost without its reason: {e.error!r}", k.name)
        return {e.id for e in lost}


def run_kinds(name: str, kinds: list[Kind], count: int, seed: int) -> Tally:
    """`count` episodes, about half by `generate` and half by `eval`, each job run twice."""
    tally = Tally(name)
    with (
        tempfile.TemporaryDirectory(prefix="envscale-fuzz-") as tmp,
        HostileModel(kinds, seed) as model,
    ):
        root = Path(tmp)
        generated = root / "generate"
        wanted = max(1, count - count // 2)
        try:
            job = _job(generated, model.url, wanted, seed)
            model.tasks_file = generated / TASKS_FILE  # written before the first episode
            generate(job)
        except Exception as error:
            tally.add(Problem(ESCAPED_EXCEPTION, shorten(f"generate raised {error!r}"), name))
            return tally
        tasks = load_jsonl(generated / TASKS_FILE, Task)
        model.instructions = [t.instruction for t in tasks]
        tally.tried += len(tasks)
        run = Run(tally, model, "generate")
        lost = run.check(generated, tasks, 1)
        _rerun(
            run, lambda: generate(_job(generated, model.url, wanted, seed)), generated, tasks, lost
        )
        evaluated = root / "eval"
        picked = tasks[: max(1, count // 2)]
        try:
            report, _ = evaluate_job(_job(evaluated, model.url, wanted, seed), picked, 1)
        except Exception as error:
            tally.add(Problem(ESCAPED_EXCEPTION, shorten(f"eval raised {error!r}"), name))
            return tally
        tally.tried += len(picked)
        run = Run(tally, model, "eval")
        lost = run.check(evaluated, picked, 1)
        if report.missing_episodes != len(lost):
            run.problem(
                f"eval.json counts {report.missing_episodes} missing, errors.jsonl {len(lost)}"
            )
        _rerun(
            run,
            lambda: evaluate_job(_job(evaluated, model.url, wanted, seed), picked, 1),
            evaluated,
            picked,
            lost,
        )
    return tally


def _rerun(
    run: Run, again: Callable[[], Any], out: Path, tasks: list[Task], lost: set[str]
) -> None:
    """Run the job again in its folder: only the lost episodes are asked for and recorded."""
    path = out / TRAJECTORIES_FILE
    before = path.read_bytes() if path.exists() else b""
    run.model.requests.clear()
    run.label += " rerun"
    try:
        again()
    except Exception as error:
        run.problem(f"the rerun raised {type(error).__name__}: {error}")
        return
    after = path.read_bytes() if path.exists() else b""
    if not after.startswith(before):
        run.problem("the rerun rewrote earlier trajectories")
    lost_again = run.check(out, tasks, 1)
    retried = {t.instruction for t in tasks if episode_id(t.id, 0) in lost}
    for instruction, n in run.model.requests.items():
        if instruction not in retried:
            run.problem(
                f"the rerun asked {n} times for a finished episode", shorten(instruction, 80)
            )
    if lost_again != lost:
        run.problem(f"the rerun lost {sorted(lost_again)} where the run lost {sorted(lost)}")


def _attack(name: str, kinds: list[Kind]) -> Attack:
    def run(count: int, seed: int) -> Tally:
        try:
            return run_kinds(name, kinds, count, seed)
        except Exception as error:  # an attack never raises
            tally = Tally(name)
            tally.add(Problem(ESCAPED_EXCEPTION, shorten(f"the attack failed: {error!r}"), name))
            return tally

    return Attack(name, "episodes", run)


ATTACKS: list[Attack] = [
    _attack("endpoints.http", HTTP_KINDS),
    _attack("endpoints.shape", SHAPE_KINDS),
    _attack("endpoints.tooluse", CALL_KINDS),
    _attack("endpoints.text", TEXT_KINDS),
]
