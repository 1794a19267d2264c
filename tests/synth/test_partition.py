"""Communities: deterministic per seed, sizes within bounds, small ones merged or dropped
with a reason, names unique and valid spec names."""

from __future__ import annotations

import re
from collections import Counter

import networkx as nx

from envscale.synth.graph import similarity_graph
from envscale.synth.partition import partition
from envscale.synth.records import ApiTool, Provenance
from tests.synth.collection import collection

SPEC_NAME = re.compile(r"[a-z][a-z0-9_]*")


def tools_named(n: int) -> list[ApiTool]:
    return [
        ApiTool(
            name=f"t{i}",
            parameters={"type": "object", "properties": {}},
            provenance=[Provenance(source="s", group=f"g{i // 10}", original_name=f"t{i}")],
        )
        for i in range(n)
    ]


def shape(result) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[t.name for t in c.tools] for c in result.communities]


def test_deterministic_per_seed_within_bounds_and_complete() -> None:
    tools = collection(80)
    graph = similarity_graph(tools, "hashed", 0.4, 8)
    first = partition(tools, graph, resolution=1.0, min_size=3, max_size=12, seed=7)
    again = partition(tools, graph, resolution=1.0, min_size=3, max_size=12, seed=7)
    assert shape(first) == shape(again)
    assert [c.name for c in first.communities] == [c.name for c in again.communities]
    assert all(3 <= len(c.tools) <= 12 for c in first.communities)
    placed = [t.name for c in first.communities for t in c.tools]
    dropped = [name for name, _ in first.dropped]
    assert sorted(placed + dropped) == sorted(t.name for t in tools)
    names = [c.name for c in first.communities]
    assert len(set(names)) == len(names) and all(SPEC_NAME.fullmatch(n) for n in names)
    # The made-up APIs share nouns (two may both have books), but the group block keeps
    # most of one API's tools together.
    groups = [Counter(t.provenance[0].group for t in c.tools) for c in first.communities]
    majority = sum(g.most_common(1)[0][1] for g in groups) / len(placed)
    assert majority > 0.6
    assert first.members == [sorted(m) for m in first.members]


def test_an_oversized_community_is_split() -> None:
    tools = tools_named(50)
    graph = nx.complete_graph(50)
    nx.set_edge_attributes(graph, 1.0, "weight")  # a clique Louvain will not split
    result = partition(tools, graph, min_size=2, max_size=10, seed=0)
    assert result.figures["split"] >= 1
    assert all(len(c.tools) <= 10 for c in result.communities)
    assert sum(len(c.tools) for c in result.communities) == 50 and not result.dropped


def test_small_communities_merge_into_their_nearest_or_are_dropped() -> None:
    tools = tools_named(14)
    graph = nx.Graph()
    graph.add_nodes_from(range(14))
    # A strong clique of 8, a weak pair hanging on to it, a pair alone, two tools alone.
    graph.add_weighted_edges_from((i, j, 1.0) for i in range(8) for j in range(i + 1, 8))
    graph.add_weighted_edges_from([(8, 9, 0.9), (9, 0, 0.2), (10, 11, 0.9)])
    result = partition(tools, graph, resolution=1.0, min_size=3, max_size=12, seed=1)
    (community,) = result.communities
    assert {t.name for t in community.tools} == {f"t{i}" for i in range(10)}
    reasons = dict(result.dropped)
    assert set(reasons) == {"t10", "t11", "t12", "t13"}
    assert reasons["t12"].startswith("no similar tool")
    assert "below the minimum 3" in reasons["t10"]


def test_a_full_neighbour_takes_nothing() -> None:
    tools = tools_named(10)
    graph = nx.Graph()
    graph.add_weighted_edges_from((i, j, 1.0) for i in range(8) for j in range(i + 1, 8))
    graph.add_weighted_edges_from([(8, 9, 1.0), (9, 0, 0.1)])
    result = partition(tools, graph, min_size=3, max_size=8, seed=0)
    assert [len(c.tools) for c in result.communities] == [8]
    assert {name for name, _ in result.dropped} == {"t8", "t9"}


def test_names_come_from_groups_and_stay_unique() -> None:
    tools = [
        ApiTool(
            name=f"get_forecast_{i}",
            parameters={"type": "object", "properties": {}},
            provenance=[Provenance(source="s", group="Weather API", original_name="x")],
        )
        for i in range(8)
    ]
    graph = nx.Graph()
    graph.add_weighted_edges_from((i, j, 1.0) for i in range(4) for j in range(i + 1, 4))
    graph.add_weighted_edges_from((i, j, 1.0) for i in range(4, 8) for j in range(i + 1, 8))
    result = partition(tools, graph, min_size=2, max_size=10, seed=0)
    names = [c.name for c in result.communities]
    assert len(names) == 2 and len(set(names)) == 2
    assert all(n.startswith("weather_forecast") for n in names)
