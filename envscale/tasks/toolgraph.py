"""The tool graph the task sampler walks and `envscale graph` draws.

The graph itself is the compiler's (`envscale.compiler.toolgraph`, written into the
manifest's `tool_graph`): which tool's output can feed which tool's parameter, with the flows
of each edge and their weights. Here it is read from the manifest, or computed again when
the data shows plain-string collections to hold keys (`User.reservations` typed `list<str>`),
which adds the flows they make; a manifest compiled before edges carried flows is computed
again too. Nodes carry each tool's read/write kind and side; declared status transitions
come along for the drawing.

Only tools someone in a conversation calls are nodes: the agent's, and the user's where the
domain gives the user tools of their own (dual control); set-up actions, sync blocks and
assertions are none. The compiler's flows join the agent's tools. A user's tool joins the
others through its effects (`effect_edges`): an edge runs from a tool whose writes, with the
sync blocks they set off, reach what another reads, when one of the two is the user's (the
agent enables roaming, the phone then shows it; the user pays a bill, the agent sees it paid).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envscale.compiler.toolgraph import (
    Edge,
    Flow,
    edges_of,
    entity_names,
    fresh_names,
    tool_edges,
)
from envscale.records import Manifest
from envscale.tasks.catalog import evidence_names
from envscale.tasks.toolgraph_png import draw

__all__ = ["Edge", "Flow", "Node", "ToolGraph", "fresh_names"]


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # read | write
    params: tuple[str, ...]
    returns: str | None
    side: str = "agent"  # agent | user


EFFECT_WEIGHT = 0.3  # an edge by effects alone: no value flows along it


@dataclass
class ToolGraph:
    domain: str
    nodes: dict[str, Node]
    edges: list[Edge]
    transitions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _pairs: dict[tuple[str, str], Edge] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        schemas: list[dict] | None = None,
        data: dict[str, list[dict]] | None = None,
    ) -> ToolGraph:
        """The graph of a manifest; `schemas` (the tools' JSON schemas) type the parameters
        when it is computed again, and `data` (records per entity) lets collections of plain
        ids count as references."""
        nodes = {
            t.name: Node(t.name, t.kind, tuple(t.params), t.returns, t.side)
            for t in manifest.tools
            if t.side in ("agent", "user") and t.role == "tool"
        }
        names = evidence_names(manifest, data) if data else {}
        shown = set(names) - set(entity_names(manifest))
        edges = None if shown else edges_of(manifest.tool_graph)
        if edges is None:
            edges = tool_edges(manifest, schemas, names)
        edges = [*edges, *effect_edges(manifest)]
        transitions = getattr(manifest, "transitions", None) or {}  # absent before they existed
        moves = {
            where: {start: list(ends) for start, ends in dict(table).items()}
            for where, table in dict(transitions).items()
        }
        return cls(manifest.domain, nodes, edges, moves)

    @classmethod
    def from_domain(cls, domain: Any, data: dict[str, list[dict]] | None = None) -> ToolGraph:
        return cls.from_manifest(domain.manifest, domain.tool_schemas, data)

    def side(self, tool: str) -> str:
        node = self.nodes.get(tool)
        return node.side if node is not None else "agent"

    @property
    def flow_count(self) -> int:
        return sum(len(e.flows) for e in self.edges)

    def successors(self, tool: str, kinds: tuple[str, ...] = ("read", "write")) -> list[str]:
        """Tools that `tool`'s output can feed, in manifest order, restricted to some kinds."""
        targets = {e.target for e in self.edges if e.source == tool}
        return [n for n in self.nodes if n in targets and self.nodes[n].kind in kinds]

    def edge(self, source: str, target: str) -> Edge | None:
        return self._by_pair().get((source, target))

    def flows_between(self, source: str, target: str) -> tuple[Flow, ...]:
        edge = self.edge(source, target)
        return edge.flows if edge is not None else ()

    def _by_pair(self) -> dict[tuple[str, str], Edge]:
        if len(self._pairs) != len(self.edges):
            self._pairs = {(e.source, e.target): e for e in self.edges}
        return self._pairs

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "nodes": [
                {
                    "name": n.name,
                    "kind": n.kind,
                    "params": list(n.params),
                    "returns": n.returns,
                    **({"side": n.side} if n.side != "agent" else {}),
                }
                for n in self.nodes.values()
            ],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "weight": e.weight,
                    "flows": [asdict(f) for f in e.flows],
                }
                for e in self.edges
            ],
            "transitions": self.transitions,
        }

    def draw_png(self, path: str | Path, title: str | None = None, strongest: int = 3) -> Path:
        """Draw the graph (see `toolgraph_png.py`)."""
        return draw(self, path, title, strongest)


def effect_edges(manifest: Manifest) -> list[Edge]:
    """Edges into and out of the user's tools: from a tool whose writes (with what the sync
    blocks they set off write) reach an entity another tool reads, where one of the two is
    the user's. Each has one flow of kind `effect` with no parameter: the state carries it,
    not a value, and its `via` names the entities it goes through."""
    tools = [t for t in manifest.tools if t.role == "tool" and t.side in ("agent", "user")]
    if not any(t.side == "user" for t in tools):
        return []
    syncs = [t for t in manifest.tools if t.role == "sync"]
    edges = []
    for source in tools:
        reach = set(source.writes)
        for block in syncs:  # a sync block runs after every call, reading what the call left
            if reach & set(block.reads):
                reach |= set(block.writes)
        if not reach:
            continue
        for target in tools:
            if target.name == source.name or "user" not in (source.side, target.side):
                continue
            through = sorted(reach & set(target.reads))
            if through:
                flow = Flow("", ",".join(through), "effect", None, EFFECT_WEIGHT)
                edges.append(Edge(source.name, target.name, (flow,)))
    return edges
