"""Two-phase supervised fine-tuning on envscale trajectories (needs the `train` extra).

    from envscale.trainer import train
    summary = train("examples/train-tiny.toml")

torch and transformers are imported only when training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import TrainConfig, load_config

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["TrainConfig", "audit", "load_config", "train"]


def train(
    config: str | Path | dict[str, Any] | TrainConfig,
    *,
    resume: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Train every phase of `config` (a TOML path, a dict or a TrainConfig); return the summary."""
    from .loop import train as _train

    return _train(config, resume=resume, overrides=overrides)


def audit(config: str | Path | TrainConfig, samples: int = 2, overrides: Sequence[str] = ()) -> str:
    """Audit every sample's loss mask; return a report showing a few with supervised spans
    marked."""
    from .loop import audit_report

    return audit_report(config, overrides=overrides, samples=samples)
