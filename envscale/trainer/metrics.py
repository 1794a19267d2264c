"""metrics.jsonl, one record per logged step or evaluation, and the loss-curve plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    def __init__(self, path: Path, keep_until_step: int, enabled: bool) -> None:
        """Open the log; records past `keep_until_step` (a resumed run redoes them) are dropped."""
        self.path = path
        self.enabled = enabled
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_metrics(path) if r["global_step"] <= keep_until_step]
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    phases = list(dict.fromkeys(r["phase"] for r in records))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, phase in enumerate(phases):
        color = colors[i % len(colors)]
        train = [r for r in records if r["phase"] == phase and r["kind"] == "train"]
        evals = [r for r in records if r["phase"] == phase and r["kind"] == "eval"]
        if train:
            ax.plot(
                [r["global_step"] for r in train],
                [r["loss"] for r in train],
                color=color,
                alpha=0.8,
                label=f"{phase} train",
            )
            ax.axvline(train[0]["global_step"] - 0.5, color="grey", lw=0.6, ls=":")
        if evals:
            ax.plot(
                [r["global_step"] for r in evals],
                [r["loss"] for r in evals],
                "o--",
                color=color,
                label=f"{phase} eval",
            )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss per supervised token")
    ax.set_title("Training loss by phase")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
