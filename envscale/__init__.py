"""envscale: declarative domain specs compiled into verifiable SQLite tool-use environments."""

from __future__ import annotations

__version__ = "0.1.0"

from envscale.api import load

__all__ = ["__version__", "load"]
