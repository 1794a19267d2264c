"""The tool graph of a collection: an edge between two tools whose vectors' cosine reaches a
threshold, found without scoring all pairs (see docs/design.md, Synthesis).

Candidates come from an inverted index: two tools are candidates when they share an
informative feature, one held by at most `max_df` tools (a feature as common as `id` or
`query:string` blocks nothing). Rows are taken `chunk` at a time; the product of a chunk
with the index gives each tool its candidates with a partial score (over the informative
features), of which the best `candidates` are scored exactly. A tool keeps its `neighbours`
most similar tools at or above the threshold, and an edge is kept when either end keeps
it. The work grows with the tools times the features' (bounded) frequencies: near-linear.

Tools without parameters stay in: their vectors hold their name, description and group
blocks, so they link to the tools of their own API; the graph's `report` counts them.
For dense vectors (the embedding backends) candidates come from the hashed features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx

from envscale.synth.records import ApiTool
from envscale.synth.vectors import LexicalVectoriser, Vectoriser, make_vectoriser

if TYPE_CHECKING:
    import numpy as np
    from scipy import sparse

THRESHOLD = 0.5
NEIGHBOURS = 10
MAX_DF = 500
CANDIDATES = 60
CHUNK = 2048


def similarity_graph(
    tools: Sequence[ApiTool],
    vectoriser: Vectoriser | str = "hashed",
    threshold: float = THRESHOLD,
    neighbours: int = NEIGHBOURS,
    *,
    max_df: int = MAX_DF,
    candidates: int = CANDIDATES,
    chunk: int = CHUNK,
    vectors: Any = None,
) -> nx.Graph:
    """Nodes 0..len(tools)-1 (indices into `tools`), edges with their cosine as "weight";
    `graph.graph["report"]` holds the counts. `vectors`, when given, are the vectoriser's
    rows for `tools`, computed before."""
    import numpy as np
    from scipy import sparse

    if isinstance(vectoriser, str):
        vectoriser = make_vectoriser(vectoriser)
    if vectors is None:
        vectors = vectoriser.vectorise(tools)
    lexical = isinstance(vectoriser, LexicalVectoriser)
    exact = vectors if sparse.issparse(vectors) else np.asarray(vectors)
    blocking = exact if lexical and sparse.issparse(exact) else LexicalVectoriser().vectorise(tools)
    index, dropped = _informative(sparse.csr_matrix(blocking), max_df)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(tools)))
    scored = 0
    transposed = index.T.tocsr()
    for start in range(0, len(tools), chunk):
        rows, cols = _candidates(index[start : start + chunk] @ transposed, start, candidates)
        scored += len(rows)
        sims = _pair_cosines(exact, rows, cols)
        keep = sims >= threshold
        rows, cols, sims = _best(rows[keep], cols[keep], sims[keep], neighbours)
        graph.add_weighted_edges_from(
            zip(rows.tolist(), cols.tolist(), np.round(sims, 6).tolist(), strict=True)
        )
    bare = [i for i, t in enumerate(tools) if not t.parameters.get("properties")]
    graph.graph["report"] = {
        "tools": len(tools),
        "edges": graph.number_of_edges(),
        "pairs_scored": scored,
        "features_dropped_from_blocking": dropped,
        "isolated": sum(1 for _ in nx.isolates(graph)),
        "no_parameters": len(bare),
        "no_parameters_linked": sum(1 for i in bare if graph.degree(i)),
        "threshold": threshold,
        "neighbours": neighbours,
        "max_df": max_df,
    }
    return graph


def _informative(matrix: sparse.csr_matrix, max_df: int) -> tuple[sparse.csr_matrix, int]:
    """The matrix with only the features held by 2 to `max_df` rows; how many were too common."""
    import numpy as np

    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    keep = (df >= 2) & (df <= max_df)
    index = matrix.copy()
    index.data = index.data * keep[index.indices]
    index.eliminate_zeros()
    return index, int((df > max_df).sum())


def _candidates(block: sparse.csr_matrix, start: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k best other rows by partial score (row by row: a block holds millions)."""
    import numpy as np

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    indptr, indices, data = block.indptr, block.indices, block.data
    for local in range(block.shape[0]):
        lo, hi = indptr[local], indptr[local + 1]
        found, scores = indices[lo:hi], data[lo:hi]
        mine = found != start + local
        found, scores = found[mine], scores[mine]
        if len(found) > k:
            found = found[np.argpartition(-scores, k - 1)[:k]]
        rows.append(np.full(len(found), start + local, dtype=np.int64))
        cols.append(found.astype(np.int64))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def _best(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k highest values of each row (ties to the lower column)."""
    import numpy as np

    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = rank < k
    return rows[keep], cols[keep], values[keep]


def _pair_cosines(vectors: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    import numpy as np
    from scipy import sparse

    if not len(rows):
        return np.zeros(0)
    if sparse.issparse(vectors):
        return np.asarray(vectors[rows].multiply(vectors[cols]).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", vectors[rows], vectors[cols])
