"""Vectors of tools' parameter lists, one L2-normalised row per tool (see docs/design.md,
Synthesis).

`make_vectoriser(spec)`:
    "hashed"                   scikit-learn's HashingVectorizer per feature block (stateless)
    "tfidf"                    TfidfVectorizer per feature block (idf over the collection)
    "st:<model dir>"           a local sentence-transformers model over the parameters' text
    "openai:<base url>#<model>"  an OpenAI-compatible `/embeddings` endpoint (`<base url>`
                               ends where the OpenAI client's does, e.g. `http://host/v1`)

The lexical vectorisers see five blocks of features, each L2-normalised and weighted, so a
cosine is the weighted mean of the blocks' cosines (over the blocks both tools have):
    names         the parameters' names, whole (`order_id`) and as words (`order`, `id`)
    types         each parameter's name with its type (`order_id:string`)
    descriptions  the words of the parameters' descriptions, stop words left out
    tool          the words of the tool's own name and description
    group         the source group(s) the tool came from, so that one API's tools start close;
                  its weight shrinks as sqrt(GROUP_SIZE / size) for groups larger than
                  GROUP_SIZE, which are mostly benchmark buckets rather than one API
The embedding backends embed the parameters' text (the tool's name and description for a
tool without parameters) and add the same group block.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from envscale.synth.records import ApiTool

if TYPE_CHECKING:
    import numpy as np
    from scipy import sparse

    Matrix = sparse.csr_matrix | np.ndarray

GROUP_SIZE = 60
WEIGHTS = {"names": 1.0, "types": 0.5, "descriptions": 0.5, "tool": 0.5, "group": 1.0}
_PIECE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_WORD = re.compile(r"[a-z][a-z0-9]+")
_NESTING = 2  # levels of nested object properties read as parameters


class VectoriserError(RuntimeError):
    pass


def identifier_tokens(name: str) -> list[str]:
    """`orderId` -> order, id; `HTTPServer_v2` -> http, server, v, 2; snake, kebab, dots."""
    return [piece.lower() for piece in _PIECE.findall(name)]


def snake(name: str) -> str:
    return "_".join(identifier_tokens(name))


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def words(text: str, stop: frozenset[str]) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in stop]


def parameters(tool: ApiTool) -> list[tuple[str, str, str]]:
    """(name, type, description) of each parameter, nested object properties as `a.b`."""
    found: list[tuple[str, str, str]] = []

    def visit(properties: Any, prefix: str, depth: int) -> None:
        if not isinstance(properties, dict):
            return
        for name, schema in properties.items():
            if not isinstance(schema, dict):
                continue
            kind = schema.get("type", "")
            if isinstance(kind, list):
                kind = "|".join(str(k) for k in kind)
            items = schema.get("items")
            if kind == "array" and isinstance(items, dict) and isinstance(items.get("type"), str):
                kind = f"array:{items['type']}"
            description = schema.get("description", "")
            found.append((prefix + str(name), str(kind), str(description or "")))
            if depth < _NESTING:
                nested = schema.get("properties")
                if nested is None and isinstance(items, dict):
                    nested = items.get("properties")
                visit(nested, f"{prefix}{name}.", depth + 1)

    visit(tool.parameters.get("properties"), "", 0)
    return found


def group_keys(tool: ApiTool) -> list[str]:
    keys = {f"{p.source.split('@')[0]}|{p.group}" for p in tool.provenance if p.group}
    return sorted(keys)


def feature_blocks(tools: Sequence[ApiTool]) -> dict[str, list[list[str]]]:
    """The features of every tool, block by block (see the module's docstring)."""
    stop = _stop_words()
    blocks: dict[str, list[list[str]]] = {name: [] for name in WEIGHTS}
    for tool in tools:
        names: list[str] = []
        types: list[str] = []
        described: list[str] = []
        for name, kind, description in parameters(tool):
            whole = snake(name.split(".")[-1])
            names.append(whole)
            names.extend(identifier_tokens(name.split(".")[-1]))
            types.append(f"{whole}:{kind}")
            described.extend(words(description, stop))
        blocks["names"].append(names)
        blocks["types"].append(types)
        blocks["descriptions"].append(described)
        blocks["tool"].append(
            [t for t in identifier_tokens(tool.name) if t not in stop]
            + words(tool.description, stop)
        )
        blocks["group"].append(group_keys(tool))
    return blocks


def group_weights(tools: Sequence[ApiTool], size: int = GROUP_SIZE) -> dict[str, float]:
    counts = Counter(key for tool in tools for key in group_keys(tool))
    return {key: min(1.0, math.sqrt(size / n)) for key, n in counts.items() if n > 1}


def _identity(features: list[str]) -> list[str]:
    return features


def _normalised(matrix: Matrix) -> Matrix:
    from sklearn.preprocessing import normalize

    return normalize(matrix, norm="l2", axis=1, copy=False)


def _group_block(tools: Sequence[ApiTool], group_size: int) -> sparse.csr_matrix:
    from scipy import sparse

    weights = group_weights(tools, group_size)
    columns = {key: i for i, key in enumerate(sorted(weights))}
    rows, cols, data = [], [], []
    for row, tool in enumerate(tools):
        keys = [k for k in group_keys(tool) if k in weights]
        for key in keys:
            rows.append(row)
            cols.append(columns[key])
            # One unit vector per tool, scaled by its groups' weight.
            data.append(weights[key] / math.sqrt(len(keys)))
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(tools), max(1, len(columns))))


class Vectoriser(Protocol):
    spec: str

    def vectorise(self, tools: Sequence[ApiTool]) -> Matrix:
        """One L2-normalised row per tool."""
        ...


@dataclass
class LexicalVectoriser:
    """Sparse features of the five blocks, hashed or TF-IDF weighted."""

    kind: str = "hashed"  # "hashed" | "tfidf"
    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    group_size: int = GROUP_SIZE
    n_features: int = 2**18  # per block, hashed only

    @property
    def spec(self) -> str:
        return self.kind

    def vectorise(self, tools: Sequence[ApiTool]) -> sparse.csr_matrix:
        import numpy as np
        from scipy import sparse
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

        if not tools:
            return sparse.csr_matrix((0, 1))
        blocks = feature_blocks(tools)
        parts = []
        for name, weight in self.weights.items():
            if weight <= 0:
                continue
            if name == "group":
                block = _group_block(tools, self.group_size)
            elif self.kind == "tfidf":
                vectoriser = TfidfVectorizer(
                    analyzer=_identity, sublinear_tf=True, dtype=np.float64
                )
                if not any(blocks[name]):
                    continue
                block = _normalised(vectoriser.fit_transform(blocks[name]))
            else:
                block = HashingVectorizer(
                    analyzer=_identity,
                    n_features=self.n_features,
                    alternate_sign=False,
                    norm="l2",
                    dtype=np.float64,
                ).transform(blocks[name])
            parts.append(block * math.sqrt(weight))
        if not parts:
            raise VectoriserError("every feature block has weight 0")
        return _normalised(sparse.hstack(parts, format="csr"))


def tool_text(tool: ApiTool) -> str:
    """The text an embedding model sees: the parameters, or the tool itself without any."""
    lines = [
        f"{' '.join(identifier_tokens(name))} ({kind}): {description}".rstrip(": ")
        for name, kind, description in parameters(tool)
    ]
    if not lines:
        return f"{' '.join(identifier_tokens(tool.name))}: {tool.description}".rstrip(": ")
    return "\n".join(lines)


@dataclass
class EmbeddingVectoriser:
    """Dense embeddings of `tool_text`, beside the weighted group block."""

    spec: str
    embed: Callable[[list[str]], list[list[float]]]
    group_weight: float = WEIGHTS["group"]
    group_size: int = GROUP_SIZE

    def vectorise(self, tools: Sequence[ApiTool]) -> sparse.csr_matrix:
        import numpy as np
        from scipy import sparse

        if not tools:
            return sparse.csr_matrix((0, 1))
        texts = [tool_text(t) for t in tools]
        dense = np.asarray(self.embed(texts), dtype=np.float64).reshape(len(texts), -1)
        parts = [sparse.csr_matrix(_normalised(dense))]
        if self.group_weight > 0:
            parts.append(_group_block(tools, self.group_size) * math.sqrt(self.group_weight))
        return _normalised(sparse.hstack(parts, format="csr"))


def sentence_transformer(directory: str, batch_size: int = 64) -> Callable[[list[str]], Any]:
    if not os.path.isdir(directory):
        raise VectoriserError(f"st:{directory}: no such model directory")
    try:
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
    except ImportError:
        raise VectoriserError(
            "the st: vectoriser needs the sentence-transformers package "
            "(pip install sentence-transformers)"
        ) from None
    model = SentenceTransformer(directory, device=None)

    def embed(texts: list[str]) -> Any:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True)

    return embed


RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass
class EmbeddingsClient:
    """POSTs batches to `<base url>/embeddings`; transient failures retried with backoff."""

    base_url: str
    model: str
    key_env: str = "OPENAI_API_KEY"
    batch_size: int = 64
    retries: int = 4
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/embeddings"

    def __call__(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._batch(texts[start : start + self.batch_size]))
        return vectors

    def _batch(self, texts: list[str]) -> list[list[float]]:
        data = self._post({"model": self.model, "input": texts})
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(texts):
            raise VectoriserError(
                f"{self.url}: expected {len(texts)} embeddings, got {json.dumps(data)[:200]}"
            )
        try:
            ordered = sorted(items, key=lambda item: item.get("index", 0))
            return [[float(x) for x in item["embedding"]] for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise VectoriserError(f"{self.url}: malformed embeddings in the response") from None

    def _post(self, body: dict[str, Any]) -> Any:
        payload = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last = ""
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read(300).decode('utf-8', 'replace')}"
                if error.code not in RETRY_STATUS:
                    raise VectoriserError(f"{self.url}: {last}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as error:
                last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            if attempt < self.retries:
                self.sleep(min(10.0, 0.25 * 2**attempt) * (0.5 + random.random()))
        raise VectoriserError(f"{self.url}: gave up after {self.retries + 1} attempts ({last})")


def make_vectoriser(spec: str = "hashed", **options: Any) -> Vectoriser:
    """The vectoriser a spec names (see the module's docstring); options go to its class."""
    if spec in ("hashed", "tfidf"):
        return LexicalVectoriser(kind=spec, **options)
    if spec.startswith("st:"):
        embed = sentence_transformer(spec[3:], **options)
        return EmbeddingVectoriser(spec, embed)
    if spec.startswith("openai:"):
        base, _, model = spec[7:].partition("#")
        if not base or not model:
            raise VectoriserError(f"{spec}: write openai:<base url>#<model>")
        return EmbeddingVectoriser(spec, EmbeddingsClient(base, model, **options))
    raise VectoriserError(
        f"unknown vectoriser {spec!r}: hashed, tfidf, st:<model dir> or openai:<base url>#<model>"
    )
