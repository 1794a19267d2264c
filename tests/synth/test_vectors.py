"""Vectors of parameter lists: tokenised identifiers, normalised rows, the group block, and
the embedding backends (an OpenAI-compatible endpoint served here on localhost)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from envscale.synth.records import ApiTool, Provenance
from envscale.synth.vectors import (
    VectoriserError,
    identifier_tokens,
    make_vectoriser,
    tool_text,
)
from tests.synth.collection import collection


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("orderId", ["order", "id"]),
        ("order_id", ["order", "id"]),
        ("order-id", ["order", "id"]),
        ("OrderID", ["order", "id"]),
        ("HTTPServerURL", ["http", "server", "url"]),
        ("getUserByID2", ["get", "user", "by", "id", "2"]),
        ("a.b.c", ["a", "b", "c"]),
    ],
)
def test_identifier_tokens(name: str, tokens: list[str]) -> None:
    assert identifier_tokens(name) == tokens


def api(name: str, group: str | None, **properties: str) -> ApiTool:
    return ApiTool(
        name=name,
        parameters={
            "type": "object",
            "properties": {p: {"type": "string", "description": d} for p, d in properties.items()},
        },
        provenance=[Provenance(source="s@1:f", group=group, original_name=name)],
    )


@pytest.mark.parametrize("spec", ["hashed", "tfidf"])
def test_rows_are_unit_and_spelling_does_not_matter(spec: str) -> None:
    tools = [
        api("lookup", None, orderId="The order's id."),
        api("lookup", None, order_id="The order's id."),
        api("c", None, city="A city name.", country="A country."),
        ApiTool(name="bare", parameters={"type": "object", "properties": {}}, provenance=[]),
    ]
    vectors = make_vectoriser(spec).vectorise(tools)
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0)  # the bare tool still has its name's words
    sims = (vectors @ vectors.T).toarray()
    assert sims[0, 1] > 0.99 and sims[0, 2] < 0.2


def test_one_group_starts_close() -> None:
    plain = [api("x", None, city="City."), api("y", None, price="Price.")]
    grouped = [api("x", "Shop", city="City."), api("y", "Shop", price="Price.")]
    vectoriser = make_vectoriser("tfidf")
    apart = (lambda v: (v @ v.T).toarray()[0, 1])(vectoriser.vectorise(plain))
    together = (lambda v: (v @ v.T).toarray()[0, 1])(vectoriser.vectorise(grouped))
    assert together > apart + 0.2
    no_group = make_vectoriser("tfidf", weights={"names": 1.0, "group": 0.0})
    assert (lambda v: (v @ v.T).toarray()[0, 1])(no_group.vectorise(grouped)) < 0.05


def test_unknown_specs_and_missing_packages(tmp_path: Path) -> None:
    with pytest.raises(VectoriserError, match="unknown vectoriser"):
        make_vectoriser("word2vec")
    with pytest.raises(VectoriserError, match="openai:<base url>#<model>"):
        make_vectoriser("openai:http://localhost:1/v1")
    with pytest.raises(VectoriserError, match="no such model directory"):
        make_vectoriser(f"st:{tmp_path / 'none'}")
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(VectoriserError, match="sentence-transformers"):
            make_vectoriser(f"st:{tmp_path}")


class Embeddings(BaseHTTPRequestHandler):
    """Embeds a text as (len, vowels, 1); fails the first request of each run with a 503."""

    calls: ClassVar[list[dict[str, Any]]] = []
    keys: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        type(self).keys.append(self.headers.get("Authorization"))
        if len(type(self).calls) == 1:
            self.send_response(503)
            self.end_headers()
            return
        data = [
            {"index": i, "embedding": [len(t), sum(t.count(v) for v in "aeiou"), 1.0]}
            for i, t in enumerate(body["input"])
        ]
        payload = json.dumps({"object": "list", "data": data[::-1]}).encode()  # any order
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Embeddings.calls.clear()
    Embeddings.keys.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Embeddings)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_openai_endpoint_batched_retried_with_key(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBED_KEY", "sk-test")
    tools = collection(3)
    vectoriser = make_vectoriser(
        f"openai:{server}#tiny-embed", batch_size=5, key_env="EMBED_KEY", sleep=lambda _s: None
    )
    vectors = vectoriser.vectorise(tools)
    assert vectors.shape[0] == len(tools)
    batches = Embeddings.calls[1:]  # the first was answered 503 and retried
    assert [len(b["input"]) for b in batches] == [5] * (len(tools) // 5) + (
        [len(tools) % 5] if len(tools) % 5 else []
    )
    assert all(b["model"] == "tiny-embed" for b in Embeddings.calls)
    assert set(Embeddings.keys) == {"Bearer sk-test"}
    assert [t for b in batches for t in b["input"]] == [tool_text(t) for t in tools]
    # The rows come back in the texts' order, whatever order the server listed them in.
    first = np.asarray(
        [len(tool_text(tools[0])), sum(tool_text(tools[0]).count(v) for v in "aeiou"), 1.0]
    )
    dense = vectors[:, :3].toarray()
    assert np.allclose(dense[0] / np.linalg.norm(dense[0]), first / np.linalg.norm(first))


def test_openai_endpoint_gives_up_with_a_clear_error(server: str) -> None:
    vectoriser = make_vectoriser(f"openai:{server}#m", retries=0)
    with pytest.raises(VectoriserError, match="gave up after 1 attempts"):
        vectoriser.vectorise(collection(1))
