"""Communities of the tool graph: Louvain (networkx, seeded), then sizes brought within
bounds (see docs/design.md, Synthesis).

A community larger than `max_size` is partitioned again, by Louvain on its own subgraph at
twice the resolution (doubling up to `SPLIT_ROUNDS` times while it stays whole; a community
Louvain cannot split is cut along a breadth-first order from its best-connected tool).
A community smaller than `min_size` joins the neighbouring community it has the most edge
weight to and that has room, passes repeating while any merges; what is still too small is
dropped, each tool with its reason. Names come from the words most common in the
community's source groups and tool names: unique, lowercase, `[a-z][a-z0-9_]*`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from envscale.synth.records import ApiTool, Community
from envscale.synth.vectors import identifier_tokens

RESOLUTION = 1.0
MIN_SIZE = 4
MAX_SIZE = 30
SPLIT_ROUNDS = 6
NAME_WORDS = 3
# Words that say nothing of which service a tool belongs to.
_GENERIC_TEXT = """a an and the of for to in on by with from at or is are be get set list all api
    apis v rest data info information tool tools service services function functions new bfcl
    live multiple parallel simple irrelevance demo train test lv1 lv2 lv3 results create update
    delete add remove search find fetch retrieve check calculate"""
GENERIC = frozenset(_GENERIC_TEXT.split())
_SOURCE_WORDS = re.compile(r"[a-z][a-z0-9]*")


@dataclass
class PartitionResult:
    communities: list[Community]
    dropped: list[tuple[str, str]]  # (tool name, reason)
    members: list[list[int]] = field(default_factory=list)  # indices into tools, by community
    figures: dict[str, int] = field(default_factory=dict)


def partition(
    tools: Sequence[ApiTool],
    graph: nx.Graph,
    resolution: float = RESOLUTION,
    min_size: int = MIN_SIZE,
    max_size: int = MAX_SIZE,
    seed: int = 0,
) -> PartitionResult:
    if min_size > max_size:
        raise ValueError(f"min_size {min_size} is above max_size {max_size}")
    figures = Counter[str]()
    found = _louvain(graph, resolution, seed)
    figures["louvain"] = len(found)
    sized: list[list[int]] = []
    for members in found:
        sized.extend(_split(graph, members, resolution, max_size, seed, figures))
    kept, small = _merge_small(graph, sized, min_size, max_size, figures)
    dropped: list[tuple[str, str]] = []
    for members in small:
        for node in members:
            if graph.degree(node) == 0:
                reason = "no similar tool: no edge reaches the similarity threshold"
            else:
                reason = (
                    f"a community of {len(members)} tool(s), below the minimum {min_size}, "
                    "and no neighbouring community with room"
                )
            dropped.append((tools[node].name, reason))
    kept.sort(key=lambda m: (-len(m), m[0]))
    names = _names(tools, kept)
    communities = [
        Community(name=name, tools=[tools[i] for i in members])
        for name, members in zip(names, kept, strict=True)
    ]
    figures["communities"] = len(communities)
    figures["dropped_tools"] = len(dropped)
    return PartitionResult(communities, dropped, kept, dict(figures))


def _louvain(graph: nx.Graph, resolution: float, seed: int) -> list[list[int]]:
    if graph.number_of_nodes() == 0:
        return []
    parts = nx.community.louvain_communities(
        graph, weight="weight", resolution=resolution, seed=seed
    )
    return sorted((sorted(p) for p in parts), key=lambda m: m[0])


def _split(
    graph: nx.Graph,
    members: list[int],
    resolution: float,
    max_size: int,
    seed: int,
    figures: Counter[str],
) -> list[list[int]]:
    if len(members) <= max_size:
        return [members]
    figures["split"] += 1
    subgraph = graph.subgraph(members).copy()  # a view is slow to walk
    parts: list[list[int]] = [members]
    for round_ in range(1, SPLIT_ROUNDS + 1):
        parts = _louvain(subgraph, resolution * 2**round_, seed)
        if len(parts) > 1:
            break
    if len(parts) == 1:
        figures["cut"] += 1
        parts = _cut(subgraph, max_size)
    out: list[list[int]] = []
    for part in parts:
        out.extend(_split(graph, part, resolution * 2, max_size, seed, figures))
    return out


def _cut(subgraph: nx.Graph, max_size: int) -> list[list[int]]:
    """Consecutive pieces of a breadth-first order, best-connected tool first."""
    order: list[int] = []
    seen: set[int] = set()
    by_strength = sorted(subgraph.degree(weight="weight"), key=lambda nd: (-nd[1], nd[0]))
    for root, _ in by_strength:
        if root in seen:
            continue
        seen.add(root)
        order.append(root)
        for _, child in nx.bfs_edges(subgraph, root, sort_neighbors=sorted):
            if child not in seen:
                seen.add(child)
                order.append(child)
    return [sorted(order[i : i + max_size]) for i in range(0, len(order), max_size)]


def _merge_small(
    graph: nx.Graph,
    communities: list[list[int]],
    min_size: int,
    max_size: int,
    figures: Counter[str],
) -> tuple[list[list[int]], list[list[int]]]:
    """Small communities joined to their best neighbour with room; (kept, still too small)."""
    members: dict[int, list[int]] = dict(enumerate(communities))
    owner = {node: cid for cid, nodes in members.items() for node in nodes}
    merged = True
    while merged:
        merged = False
        small = sorted(
            (cid for cid, nodes in members.items() if len(nodes) < min_size),
            key=lambda cid: (len(members[cid]), members[cid][0]),
        )
        for cid in small:
            if cid not in members or len(members[cid]) >= min_size:
                continue
            weights = Counter[int]()
            for node in members[cid]:
                for other, data in graph[node].items():
                    target = owner[other]
                    if target != cid:
                        weights[target] += data.get("weight", 1.0)
            room = [
                (w, target)
                for target, w in weights.items()
                if len(members[target]) + len(members[cid]) <= max_size
            ]
            if not room:
                continue
            _, target = max(room, key=lambda wt: (wt[0], -wt[1]))
            for node in members[cid]:
                owner[node] = target
            members[target] = sorted(members[target] + members.pop(cid))
            figures["merged"] += 1
            merged = True
    kept = [nodes for nodes in members.values() if len(nodes) >= min_size]
    small = [nodes for nodes in members.values() if len(nodes) < min_size]
    return kept, sorted(small, key=lambda m: m[0])


def _words(tool: ApiTool) -> tuple[list[str], list[str]]:
    groups = {
        word
        for p in tool.provenance
        if p.group
        for word in _SOURCE_WORDS.findall(" ".join(identifier_tokens(p.group)))
    }
    names = set(identifier_tokens(tool.name))
    return sorted(groups), sorted(names)


def _names(tools: Sequence[ApiTool], communities: list[list[int]]) -> list[str]:
    """A readable name per community from its commonest words (group words count double)."""
    taken: set[str] = set()
    names = []
    for members in communities:
        counts = Counter[str]()
        for node in members:
            groups, words = _words(tools[node])
            counts.update({w: 2 for w in groups})
            counts.update(words)
        ranked = [
            w
            for w, _ in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
            if w not in GENERIC and len(w) > 1 and not w.isdigit()
        ]
        # Two words at least, so that no name is a word of the spec language.
        base = "_".join(ranked[:NAME_WORDS] if len(ranked) > 1 else [*ranked, "tools"])
        name = base[:40].rstrip("_")
        extra, suffix = NAME_WORDS, 1
        while name in taken:
            if extra < min(len(ranked), NAME_WORDS + 2):
                name = "_".join(ranked[: extra + 1])[:48].rstrip("_")
                extra += 1
            else:
                suffix += 1
                name = f"{base[:40].rstrip('_')}_{suffix}"
        taken.add(name)
        names.append(name)
    return names
