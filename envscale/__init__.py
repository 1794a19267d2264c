"""envscale: declarative domain specs compiled into verifiable SQLite tool-use environments."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    # `envscale.load` is the façade's; importing it lazily keeps `import envscale.runtime.lib`
    # (what compiled tools do) from pulling in the compiler and its templates.
    if name == "load":
        from envscale.api import load

        return load
    raise AttributeError(f"module 'envscale' has no attribute {name!r}")
