"""`envscale train CONFIG.toml`: the trainer's own command, which needs the 'train' extra only
when it runs (`python -m envscale.trainer` and `accelerate launch` use the same one)."""

from __future__ import annotations

from envscale.trainer.command import register

__all__ = ["register"]
