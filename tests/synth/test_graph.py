"""The similarity graph: sparse, exact on its edges, the same as all pairs where blocking
drops nothing, and bounded work where it does."""

from __future__ import annotations

import numpy as np

from envscale.synth.graph import similarity_graph
from envscale.synth.partition import partition
from envscale.synth.records import ApiTool
from envscale.synth.vectors import EmbeddingVectoriser, make_vectoriser, tool_text
from tests.synth.collection import collection


def brute_force(vectors: np.ndarray, threshold: float, k: int) -> set[tuple[int, int]]:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    edges = set()
    for i, row in enumerate(sims):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]
        edges.update((min(i, j), max(i, j)) for j in order if row[j] >= threshold)
    return edges


def test_sparse_and_exact_on_a_few_hundred_tools() -> None:
    tools = collection(60)
    vectoriser = make_vectoriser("hashed")
    vectors = vectoriser.vectorise(tools)
    graph = similarity_graph(tools, vectoriser, threshold=0.4, neighbours=5, vectors=vectors)
    n = len(tools)
    assert 400 < n < 800 and graph.number_of_nodes() == n
    assert 0 < graph.number_of_edges() <= 5 * n  # each tool adds at most its 5 neighbours
    assert not any(u == v for u, v in graph.edges)
    dense = vectors.toarray()
    for u, v, w in graph.edges(data="weight"):
        assert w >= 0.4 and abs(w - float(dense[u] @ dense[v])) < 1e-5
    report = graph.graph["report"]
    assert report["tools"] == n and report["edges"] == graph.number_of_edges()
    assert report["pairs_scored"] <= 60 * n  # at most `candidates` per tool, never all pairs


def test_the_same_as_all_pairs_when_blocking_drops_nothing() -> None:
    tools = collection(25, seed=3)
    vectoriser = make_vectoriser("tfidf")
    vectors = vectoriser.vectorise(tools)
    n = len(tools)
    graph = similarity_graph(
        tools, vectoriser, 0.3, 4, max_df=n, candidates=n, chunk=37, vectors=vectors
    )
    got = {(min(u, v), max(u, v)) for u, v in graph.edges}
    assert got == brute_force(vectors.toarray(), 0.3, 4)


def test_common_features_leave_blocking() -> None:
    tools = collection(60)
    graph = similarity_graph(tools, "hashed", 0.4, 5, max_df=20)
    report = graph.graph["report"]
    # `page:integer` and the words of `... in ApiNNN` are held by far more than 20 tools.
    assert report["features_dropped_from_blocking"] > 0
    loose = similarity_graph(tools, "hashed", 0.4, 5, max_df=len(tools))
    assert report["pairs_scored"] < loose.graph["report"]["pairs_scored"]


def test_tools_without_parameters_are_counted() -> None:
    tools = collection(10)
    bare = [
        ApiTool(
            name=f"list_everything_{i}",
            parameters={"type": "object", "properties": {}},
            provenance=tools[i * 8].provenance,
        )
        for i in range(3)
    ]
    graph = similarity_graph([*tools, *bare], "hashed", 0.3, 5)
    report = graph.graph["report"]
    assert report["no_parameters"] == 3
    assert report["no_parameters_linked"] == 3  # by their names and their groups


def test_dense_vectors_are_blocked_by_hashed_features() -> None:
    tools = collection(20)

    def embed(texts: list[str]) -> list[list[float]]:
        # A deterministic stand-in for a model: counts of a few letters.
        return [[t.count(c) + 0.1 for c in "aeioustr"] for t in texts]

    vectoriser = EmbeddingVectoriser("test", embed, group_weight=0.0)
    graph = similarity_graph(tools, vectoriser, 0.9, 3)
    assert 0 < graph.number_of_edges() <= 3 * len(tools)
    texts = [np.asarray(embed([tool_text(t)])[0]) for t in tools]
    for u, v, w in graph.edges(data="weight"):
        cosine = texts[u] @ texts[v] / np.linalg.norm(texts[u]) / np.linalg.norm(texts[v])
        assert abs(w - cosine) < 1e-5


def test_an_empty_or_single_tool_collection() -> None:
    for tools in ([], collection(1)[:1]):
        graph = similarity_graph(tools, "tfidf")
        assert graph.number_of_nodes() == len(tools) and graph.number_of_edges() == 0
        result = partition(tools, graph)
        assert result.communities == [] and len(result.dropped) == len(tools)
