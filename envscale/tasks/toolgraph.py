"""The tool graph of a compiled domain: which tool's output can feed which tool's parameter.

Nodes are tools (with their read/write kind); an edge `source -> target` says that a field
(`via`, as `Entity.field`) of what `source` returns has the type of `target`'s parameter
`param`, so a chain of calls can carry values along it. The edges come from the compiled
manifest, which types them with the spec. Task sampling walks this graph.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from envscale.records import Manifest

READ_COLOR = "#4C78A8"
WRITE_COLOR = "#E45756"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    param: str
    via: str

    @property
    def entity(self) -> str:
        return self.via.split(".", 1)[0]

    @property
    def field(self) -> str:
        return self.via.split(".", 1)[1]


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # read | write
    params: tuple[str, ...]
    returns: str | None


@dataclass
class ToolGraph:
    domain: str
    nodes: dict[str, Node]
    edges: list[Edge]

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ToolGraph:
        nodes = {t.name: Node(t.name, t.kind, tuple(t.params), t.returns) for t in manifest.tools}
        edges = [
            Edge(e.source, e.target, e.param, e.via)
            for e in manifest.tool_graph
            if e.source in nodes and e.target in nodes
        ]
        return cls(manifest.domain, nodes, edges)

    def successors(self, tool: str, kinds: tuple[str, ...] = ("read", "write")) -> list[str]:
        """Tools that `tool`'s output can feed, in manifest order, restricted to some kinds."""
        targets = {e.target for e in self.edges if e.source == tool}
        return [n for n in self.nodes if n in targets and self.nodes[n].kind in kinds]

    def edges_between(self, source: str, target: str) -> list[Edge]:
        return [e for e in self.edges if e.source == source and e.target == target]

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "nodes": [
                {"name": n.name, "kind": n.kind, "params": list(n.params), "returns": n.returns}
                for n in self.nodes.values()
            ],
            "edges": [asdict(e) for e in self.edges],
        }

    def draw_png(self, path: str | Path, title: str | None = None) -> Path:
        """Draw the graph: read tools on the left arc, write tools on the right, one arrow per
        connected pair (thicker for more feeding parameters)."""
        try:  # matplotlib is optional (the 'train' extra), imported only to draw
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from matplotlib.patches import FancyArrowPatch
        except ImportError as error:
            raise RuntimeError(
                "drawing the tool graph needs matplotlib: pip install 'envscale[train]' "
                "(or pip install matplotlib)"
            ) from error
        positions = self._layout()
        fig, ax = plt.subplots(figsize=(13, 11))
        pairs: dict[tuple[str, str], int] = {}
        for e in self.edges:
            pairs[(e.source, e.target)] = pairs.get((e.source, e.target), 0) + 1
        for (source, target), count in pairs.items():
            color = WRITE_COLOR if self.nodes[target].kind == "write" else READ_COLOR
            ax.add_patch(
                FancyArrowPatch(
                    positions[source],
                    positions[target],
                    arrowstyle="-|>",
                    mutation_scale=9,
                    connectionstyle="arc3,rad=0.12",
                    color=color,
                    alpha=0.28,
                    linewidth=0.6 + 0.4 * min(count, 4),
                    shrinkA=10,
                    shrinkB=10,
                )
            )
        for name, (x, y) in positions.items():
            node = self.nodes[name]
            color = WRITE_COLOR if node.kind == "write" else READ_COLOR
            ax.scatter([x], [y], s=220, color=color, zorder=3, edgecolors="white", linewidths=1.5)
            align = "right" if x < 0 else "left"
            ax.annotate(
                name,
                (x, y),
                xytext=(-12 if x < 0 else 12, 0),
                textcoords="offset points",
                ha=align,
                va="center",
                fontsize=9,
                zorder=4,
            )
        ax.scatter([], [], color=READ_COLOR, label="read tool")
        ax.scatter([], [], color=WRITE_COLOR, label="write tool")
        ax.legend(loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.04))
        ax.set_title(
            title
            or f"{self.domain}: tool graph ({len(self.nodes)} tools, "
            f"{len(self.edges)} typed edges, {len(pairs)} connected pairs)"
        )
        ax.set_xlim(-2.1, 2.1)
        ax.set_ylim(-1.15, 1.15)
        ax.set_aspect("equal")
        ax.axis("off")
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return out

    def _layout(self) -> dict[str, tuple[float, float]]:
        reads = [n for n, node in self.nodes.items() if node.kind == "read"]
        writes = [n for n, node in self.nodes.items() if node.kind != "read"]
        positions: dict[str, tuple[float, float]] = {}
        for names, side in ((reads, -1.0), (writes, 1.0)):
            for i, name in enumerate(names):
                angle = math.pi * 0.42 * (1 - 2 * (i + 0.5) / max(len(names), 1))
                positions[name] = (side * (0.25 + math.cos(angle)), math.sin(angle))
        return positions
