"""Reinforcement-learning environments over compiled domains and their tasks, with adapters
for TRL's GRPOTrainer, OpenEnv and Gymnasium (extra `rl`; see docs/design.md)."""

from envscale.rl.environment import (
    Action,
    Observation,
    Say,
    Step,
    TaskEnvironment,
    ToolCall,
    Turn,
    Verdict,
)

__all__ = [
    "Action",
    "Observation",
    "Say",
    "Step",
    "TaskEnvironment",
    "ToolCall",
    "Turn",
    "Verdict",
]
