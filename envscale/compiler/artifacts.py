"""The names of a compiled domain's files: what the compiler writes and a loader reads."""

from __future__ import annotations

ARTIFACTS = ("schema.sql", "tools.py", "models.py", "tools.json", "manifest.json")
