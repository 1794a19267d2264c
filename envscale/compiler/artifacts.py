"""The names of a compiled domain's artifacts, in the order they are written."""

from __future__ import annotations

ARTIFACTS = ("schema.sql", "tools.py", "models.py", "tools.json", "manifest.json")
