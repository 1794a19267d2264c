"""The tool graph as a picture: tools grouped by the entity they return, strongest edges only.

Tools sit on a circle in groups, one group per entity their output is about (tools returning
plain text last); each tool keeps its `strongest` outgoing edges by weight, drawn thicker
for heavier ones (key edges solid, value edges dashed). Declared status transitions, when
the manifest has them, are listed in a box beside the graph, one line per move and one for
each field's final states.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envscale.tasks.toolgraph import ToolGraph

READ_COLOR = "#4C78A8"
WRITE_COLOR = "#E45756"
GROUP_COLORS = ("#F2F2F2", "#E8F0F8", "#FBEDE4", "#EAF5E9", "#F5EAF5", "#FFF7DD")


def strongest_edges(graph: ToolGraph, strongest: int) -> list[tuple[str, str, float, str]]:
    """(source, target, weight, kind) of each tool's `strongest` connected pairs."""
    pairs = {(e.source, e.target): (e.weight, e.kind) for e in graph.edges}
    out = []
    for source in graph.nodes:
        mine = sorted(
            ((t, w, k) for (s, t), (w, k) in pairs.items() if s == source),
            key=lambda item: (-item[1], item[0]),
        )
        out += [(source, t, w, k) for t, w, k in mine[:strongest]]
    return out


def transition_lines(transitions: dict[str, dict[str, list[str]]], limit: int = 30) -> list[str]:
    """The declared status transitions, a line per state that can move and one for the final
    states of each field: `Order.status  placed -> preparing | cancelled`."""
    lines = ["declared status transitions"]
    for where, moves in transitions.items():
        for start, ends in moves.items():
            if ends:
                lines.append(f"{where}  {start} -> {' | '.join(ends)}")
        final = [state for state, ends in moves.items() if not ends]
        if final:
            lines.append(f"{where}  final: {', '.join(final)}")
    return lines[:limit]


def groups(graph: ToolGraph) -> dict[str, list[str]]:
    """Entity (or "other") -> the tools whose output is about it, in manifest order."""
    out: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        entity = (node.returns or "").replace("list<", "").replace(">", "").strip()
        if not entity or not entity[0].isupper() or "<" in (node.returns or "")[5:]:
            entity = "other"
        out.setdefault(entity, []).append(name)
    if "other" in out:
        out["other"] = out.pop("other")
    return out


def draw(graph: ToolGraph, path: str | Path, title: str | None, strongest: int) -> Path:
    try:  # matplotlib is optional (the 'train' extra), imported only to draw
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyArrowPatch, Wedge
    except ImportError as error:
        raise RuntimeError(
            "drawing the tool graph needs matplotlib: pip install 'envscale[train]' "
            "(or pip install matplotlib)"
        ) from error
    grouped = groups(graph)
    order = [name for names in grouped.values() for name in names]
    gap = 0.6  # empty slots between groups
    slots = len(order) + gap * len(grouped)
    positions: dict[str, tuple[float, float]] = {}
    spans: list[tuple[str, float, float]] = []
    at = 0.0
    for entity, names in grouped.items():
        start = at
        for name in names:
            angle = 2 * math.pi * (at + 0.5) / slots
            positions[name] = (math.cos(angle), math.sin(angle))
            at += 1
        spans.append((entity, start, at))
        at += gap
    fig, ax = plt.subplots(figsize=(14, 12))
    for i, (entity, start, end) in enumerate(spans):
        a0, a1 = 360 * (start - 0.1) / slots, 360 * (end + 0.1) / slots
        ax.add_patch(
            Wedge((0, 0), 1.06, a0, a1, width=0.12, color=GROUP_COLORS[i % len(GROUP_COLORS)])
        )
        mid = math.radians((a0 + a1) / 2)
        ax.text(
            0.84 * math.cos(mid),
            0.84 * math.sin(mid),
            entity,
            ha="center",
            va="center",
            fontsize=11,
            fontweight="bold",
            color="#555555",
        )
    drawn = strongest_edges(graph, strongest)
    top = max((w for _, _, w, _ in drawn), default=1.0)
    for source, target, weight, kind in drawn:
        color = WRITE_COLOR if graph.nodes[target].kind == "write" else READ_COLOR
        ax.add_patch(
            FancyArrowPatch(
                positions[source],
                positions[target],
                arrowstyle="-|>",
                mutation_scale=10,
                connectionstyle="arc3,rad=0.15",
                color=color,
                alpha=0.55,
                linewidth=0.6 + 2.4 * weight / top,
                linestyle={"key": "-", "effect": ":"}.get(kind, "--"),
                shrinkA=9,
                shrinkB=9,
            )
        )
    for name, (x, y) in positions.items():
        node = graph.nodes[name]
        color = WRITE_COLOR if node.kind == "write" else READ_COLOR
        ax.scatter([x], [y], s=180, color=color, zorder=3, edgecolors="white", linewidths=1.5)
        angle = math.degrees(math.atan2(y, x))
        flip = angle > 90 or angle < -90
        ax.annotate(
            name,
            (x, y),
            xytext=(1.08 * x, 1.08 * y),
            textcoords="data",
            ha="right" if flip else "left",
            va="center",
            fontsize=8.5,
            zorder=4,
            rotation=angle + 180 if flip else angle,
            rotation_mode="anchor",
        )
    if graph.transitions:
        ax.text(
            -1.95,
            -1.9,
            "\n".join(transition_lines(graph.transitions)),
            fontsize=8,
            va="bottom",
            family="monospace",
            bbox={"boxstyle": "round", "facecolor": "#F7F7F7", "edgecolor": "#CCCCCC"},
        )
    ax.scatter([], [], color=READ_COLOR, label="read tool")
    ax.scatter([], [], color=WRITE_COLOR, label="write tool")
    ax.plot([], [], color="#888888", label="a key flows")
    ax.plot([], [], color="#888888", linestyle="--", label="a value flows")
    if any(e.kind == "effect" for e in graph.edges):  # the user's tools, joined by effects
        ax.plot([], [], color="#888888", linestyle=":", label="a write reaches what it reads")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title(
        title
        or f"{graph.domain}: {len(graph.nodes)} tools, {len(graph.edges)} edges "
        f"(the {strongest} strongest from each tool drawn: {len(drawn)})"
    )
    ax.set_xlim(-2.0, 2.0)
    ax.set_ylim(-2.0, 2.0)
    ax.set_aspect("equal")
    ax.axis("off")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
