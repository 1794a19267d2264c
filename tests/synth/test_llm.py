"""The LLM mode's protocol and repair loop, against a real HTTP server on localhost that answers
from a scripted sequence. These tests check what envscale does with answers (extraction,
diagnostics and failed verifications sent back, the contract on tools, the bounded rounds,
falling back to the heuristic draft), not what any model would write."""

from __future__ import annotations

import argparse
import io
import json
import pickle
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from envscale.cli.options import add_llm_arguments, llm_improver_from
from envscale.compiler.build import compile_source
from envscale.runtime.domain import Domain
from envscale.synth.llm import LlmConfig, LlmImprover, extract_spec, improve
from envscale.synth.pipeline import SynthOptions, synthesise_communities
from envscale.synth.records import ApiTool, Community, Provenance, SpecDraft, Verification
from envscale.synth.specwriter import draft_spec
from envscale.tasks.datagen import generate_data


def _tool(name: str, description: str, properties: dict, required: list[str]) -> ApiTool:
    return ApiTool(
        name=name,
        description=description,
        parameters={"type": "object", "properties": properties, "required": required},
        provenance=[Provenance(source="test.jsonl", group="weather", original_name=name)],
    )


COMMUNITY = Community(
    name="weather_desk",
    tools=[
        _tool(
            "get_forecast",
            "The forecast for a city on a day.",
            {"city": {"type": "string"}, "day": {"type": "string"}},
            ["city", "day"],
        ),
        _tool(
            "save_favourite",
            "Save a user's favourite city.",
            {"user_id": {"type": "string"}, "city": {"type": "string"}},
            ["user_id", "city"],
        ),
    ],
)

HEURISTIC = """\
domain weather_desk "Weather forecasts." clock "2024-05-15T12:00:00"
  policy "You answer questions about the weather."

entity Forecast {
  city: str @key
  day: str @key
  summary: str
}

entity Favourite {
  favourite_id: str @key
  user_id: str
  city: str
}

tool get_forecast(city: str "City name", day: str "Day, YYYY-MM-DD") -> Forecast {
  "The forecast for a city on a day."
  return Forecast[city, day]
}

tool save_favourite(user_id: str, city: str) -> Favourite {
  "Save a user's favourite city."
  return insert Favourite(favourite_id: next_key(Favourite, "F", 4), user_id: user_id, city: city)
}
"""

IMPROVED = """\
domain weather_desk "Forecasts by city and day, and each user's favourite cities."
  clock "2024-05-15T12:00:00"
  policy "You answer questions about the weather. Save a favourite only for a known user."

enum Sky { sunny, cloudy, rain, snow }

entity User {
  user_id: str @key
  name: str
}

entity Forecast {
  city: str @key
  day: date @key
  sky: Sky
  high_c: float
  low_c: float @check(low_c <= high_c)
}

entity Favourite {
  favourite_id: str @key
  user: {user_type}
  city: str
}

tool get_forecast(city: str "City name", day: str "Day, YYYY-MM-DD") -> Forecast {
  "The forecast for a city on a day."
  let f = Forecast.get(city, date(day))
  require f != none else format("No forecast for {} on {}", city, day)
  return f
}

tool {save_name}(user_id: str, city: str) -> Favourite {
  "Save a user's favourite city."
  let u = User[user_id]
  require len(Forecast.where(city: city)) > 0 else format("Unknown city '{}'", city)
  require len(Favourite.where(user: u.user_id, city: city)) == 0 else "Already a favourite"
  return insert Favourite(favourite_id: next_key(Favourite, "F", 4), user: u.user_id, city: city)
}
"""


def improved(user_type: str = "User", save_name: str = "save_favourite") -> str:
    return IMPROVED.replace("{user_type}", user_type).replace("{save_name}", save_name)


def _draft() -> SpecDraft:
    return SpecDraft(
        name="weather_desk",
        source=HEURISTIC,
        tool_kinds={"get_forecast": "read", "save_favourite": "write"},
        provenance={t.name: t.provenance for t in COMMUNITY.tools},
        entities=["Forecast", "Favourite"],
    )


def real_check(draft: SpecDraft) -> Verification:
    """Check, compile, load and fill the domain with generated data (seeded)."""
    files, diagnostics, _ = compile_source(draft.source, f"{draft.name}.domain")
    if files is None:
        return Verification(
            kept=False,
            reasons=["check: the spec has errors"],
            diagnostics=[d.message for d in diagnostics],
        )
    domain = Domain(files)
    data = generate_data(domain, 3, 5)
    domain.environment(data=data)
    return Verification(kept=True, figures={"records": sum(len(v) for v in data.values())})


def requires_a_user(draft: SpecDraft) -> Verification:
    """A verification that fails a spec without a User entity, as a failed replay would."""
    base = real_check(draft)
    if base.kept and "User" not in draft.entities:
        return Verification(kept=False, reasons=["replay: no task reaches a user's record"])
    return base


def completion(text: str | None) -> dict:
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50},
    }


class Scripted:
    """A chat-completions server answering each request with the next scripted step: a reply
    text, ("status", code), ("garbage", bytes) or ("sleep", seconds)."""

    def __init__(self, steps: list) -> None:
        self.steps = list(steps)
        self.requests: list[dict] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                scripted.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        **json.loads(body),
                    }
                )
                step = scripted.steps.pop(0) if scripted.steps else ("status", 500)
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = "too late"
                if isinstance(step, tuple) and step[0] == "status":
                    payload, code = b'{"error": "scripted"}', step[1]
                elif isinstance(step, tuple) and step[0] == "garbage":
                    payload, code = step[1], 200
                else:
                    payload, code = json.dumps(completion(step)).encode(), 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def serve() -> Iterator:
    started: list[Scripted] = []

    def start(steps: list) -> Scripted:
        server = Scripted(steps)
        server.thread.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()


def config(server: Scripted, **kw: object) -> LlmConfig:
    settings: dict = {"retries": 0, "timeout": 5.0, **kw}
    return LlmConfig(base_url=server.base_url, model="scripted", **settings)


def fenced(spec: str, lang: str = "envscale") -> str:
    return f"Here is the improved spec.\n\n```{lang}\n{spec}```\nIt adds users."


def test_a_draft_with_errors_then_a_fixed_one_is_kept(serve, monkeypatch) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "secret")
    server = serve([fenced(improved(user_type="Usr")), fenced(improved())])
    result = improve(
        _draft(), COMMUNITY, config(server, api_key_env="SCRIPTED_KEY"), real_check, rounds=3
    )
    assert result.author == "llm"
    assert result.source == improved()
    assert "User" in result.entities and result.tool_kinds["save_favourite"] == "write"
    record = result.model_extra["llm"]
    assert record["kept"] == "llm" and record["rounds"] == 2 and record["tokens"] == 300
    assert record["failures"] == ["the spec does not check: error[E102]: unknown type 'Usr'"]
    assert len(server.requests) == 2
    first, second = server.requests
    assert first["path"] == "/v1/chat/completions" and first["model"] == "scripted"
    assert first["auth"] == "Bearer secret"
    prompt = first["messages"][1]["content"]
    assert "get_forecast" in prompt and '"group": "weather"' in prompt and HEURISTIC in prompt
    assert "## Built-in functions" in first["messages"][0]["content"]
    # The second request carries the first answer and its diagnostics, caret and hint included.
    assert second["messages"][2] == {"role": "assistant", "content": fenced(improved("Usr"))}
    feedback = second["messages"][3]["content"]
    assert "error[E102]: unknown type 'Usr'" in feedback and "did you mean 'User'?" in feedback


def test_a_failed_verification_goes_back_to_the_model(serve) -> None:
    server = serve([fenced(HEURISTIC), fenced(improved())])
    result = improve(_draft(), COMMUNITY, config(server), requires_a_user, rounds=2)
    assert result.author == "llm"
    feedback = server.requests[1]["messages"][3]["content"]
    assert "fails verification" in feedback and "no task reaches a user's record" in feedback


def test_a_model_that_never_converges_leaves_the_heuristic_draft(serve) -> None:
    server = serve([fenced(improved(user_type="Usr"))] * 5)
    result = improve(_draft(), COMMUNITY, config(server), real_check, rounds=3)
    assert result.author == "heuristic" and result.source == HEURISTIC
    record = result.model_extra["llm"]
    assert record["kept"] == "heuristic" and record["rounds"] == 3
    assert record["reason"] == "no answer passed within 3 round(s)"
    assert len(record["failures"]) == 3 and len(server.requests) == 3
    # Each request holds the whole conversation so far.
    assert [len(r["messages"]) for r in server.requests] == [2, 4, 6]


def test_renaming_a_tool_or_retyping_a_parameter_fails_the_round(serve) -> None:
    renamed = improved(save_name="add_favourite")
    retyped = (
        improved()
        .replace("tool get_forecast(city: str", "tool get_forecast(city: int")
        .replace("Forecast.get(city,", "Forecast.get(str(city),")
    )
    optional = improved().replace(
        "save_favourite(user_id: str,", 'save_favourite(user_id: str = "u",'
    )
    server = serve([fenced(renamed), fenced(retyped), fenced(optional), fenced(improved())])
    result = improve(_draft(), COMMUNITY, config(server), real_check, rounds=4)
    assert result.author == "llm"
    messages = server.requests[3]["messages"]
    assert (
        "tools missing (keep every tool, named as given): save_favourite" in messages[3]["content"]
    )
    assert "tools that are not the domain's: add_favourite" in messages[3]["content"]
    assert (
        "get_forecast: parameter 'city' must be a JSON string, not integer"
        in messages[5]["content"]
    )
    assert "save_favourite: parameter 'user_id' must be required" in messages[7]["content"]


def test_a_renamed_domain_or_an_answer_without_a_spec_fails_the_round(serve) -> None:
    other = improved().replace("domain weather_desk", "domain weather_service")
    server = serve(["I cannot help with that.", fenced(other)])
    result = improve(_draft(), COMMUNITY, config(server), real_check, rounds=2)
    assert result.author == "heuristic"
    failures = result.model_extra["llm"]["failures"]
    assert failures[0].startswith("no spec found")
    assert server.requests[1]["messages"][3]["content"].startswith("no spec found")
    assert failures[1] == (
        "the spec changes the domain's tools: "
        "the domain must be named 'weather_desk', not 'weather_service'"
    )


@pytest.mark.parametrize(
    "step, reason",
    [
        (("status", 500), "HTTP 500"),
        (("status", 401), "HTTP 401"),
        (("garbage", b"<html>not json</html>"), "JSONDecodeError"),
        (("garbage", b'{"choices": []}'), "unexpected response"),
        (("sleep", 1.5), "TimeoutError"),
    ],
)
def test_an_endpoint_that_fails_leaves_the_heuristic_draft(serve, step, reason) -> None:
    server = serve([step, fenced(improved())])
    result = improve(_draft(), COMMUNITY, config(server, timeout=0.5), real_check, rounds=3)
    assert result.author == "heuristic" and result.source == HEURISTIC
    record = result.model_extra["llm"]
    assert record["reason"] == "the endpoint failed" and record["rounds"] == 1
    assert reason in record["failures"][0]
    assert len(server.requests) == 1  # a failed endpoint is not asked again


def test_an_unreachable_endpoint_leaves_the_heuristic_draft() -> None:
    cfg = LlmConfig(base_url="http://127.0.0.1:9/v1", model="m", retries=0, timeout=1.0)
    result = improve(_draft(), COMMUNITY, cfg, real_check, rounds=2)
    assert result.author == "heuristic" and "endpoint" in result.model_extra["llm"]["failures"][0]


def test_a_draft_that_does_not_compile_is_shown_and_held_to_the_community(serve) -> None:
    broken = _draft().model_copy(update={"source": HEURISTIC.replace("-> Forecast", "-> Forcast")})
    server = serve([fenced(improved())])
    result = improve(broken, COMMUNITY, config(server), real_check, rounds=1)
    assert result.author == "llm"
    assert "It does not check" in server.requests[0]["messages"][1]["content"]
    assert "unknown type 'Forcast'" in server.requests[0]["messages"][1]["content"]


def test_extract_spec() -> None:
    spec = 'domain d "x"\n'
    assert extract_spec(f"```\n{spec}```") == spec
    assert extract_spec(f"text\n```python\nprint(1)\n```\n```envscale\n{spec}```\n") == spec
    assert extract_spec(spec) == spec  # the whole answer
    assert extract_spec(f"```envscale\n{spec}entity E {{") == spec + "entity E {\n"  # cut off
    assert extract_spec("```\nprint(1)\n```") is None
    assert extract_spec("") is None and extract_spec(None) is None
    # Two blocks with a domain: the last one is the answer's final version.
    assert extract_spec(f'```\ndomain a "1"\n```\n```\n{spec}```') == spec


def test_the_improver_is_picklable_and_calls_improve(serve) -> None:
    server = serve([fenced(improved())])
    improver = pickle.loads(pickle.dumps(LlmImprover(config(server), rounds=2)))
    assert improver(_draft(), COMMUNITY, real_check).author == "llm"
    assert improver.describe()["rounds"] == 2 and "api_key" not in str(improver.describe())


def test_command_line_options_make_an_improver() -> None:
    parser = argparse.ArgumentParser()
    add_llm_arguments(parser)
    assert llm_improver_from(parser.parse_args([])) is None
    args = parser.parse_args(
        ["--llm-model", "m", "--llm-base-url", "http://h/v1", "--llm-rounds", "5"]
    )
    improver = llm_improver_from(args)
    assert improver is not None and improver.rounds == 5
    assert improver.config.base_url == "http://h/v1" and improver.config.model == "m"


def test_the_synthesis_index_shows_what_the_model_did(serve, tmp_path) -> None:
    """The real pipeline (spec writer, verification, index) with the improver: a kept answer
    and the rounds before it reach the domain's line of index.jsonl."""
    server = serve([fenced(improved(user_type="Usr")), fenced(improved())])
    options = SynthOptions(
        inputs=[],
        out=tmp_path / "synth",
        tasks=4,
        improve=LlmImprover(config(server), rounds=3),
        drafter=draft_spec,
        progress=False,
        stream=io.StringIO(),
    )
    report = synthesise_communities(options, [COMMUNITY], {})
    (entry,) = report.entries
    assert entry.figures["author"] == "llm"
    assert entry.figures["llm"]["rounds"] == 2 and entry.figures["llm"]["kept"] == "llm"
    line = json.loads((tmp_path / "synth" / "index.jsonl").read_text().splitlines()[0])
    assert line["figures"]["llm"]["failures"] == [
        "the spec does not check: error[E102]: unknown type 'Usr'"
    ]
