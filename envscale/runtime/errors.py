"""Errors that reach a user as data: a refused tool call, input that does not fit the spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envscale.errors import DataError  # the one DataError, re-exported here


class ToolError(Exception):
    """A tool refused the call: a failed require, a missing record, a bad value.

    The runtime rolls the call back and returns the message to the agent.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def read_json(path: Path, what: str) -> Any:
    """A JSON file's value; a missing, unreadable or malformed file is a DataError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError([f"{what} not found: {path}"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(
            [f"cannot read {what} {path}: {getattr(error, 'strerror', None) or error}"]
        ) from None
    except json.JSONDecodeError as error:
        raise DataError(
            [f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"]
        ) from None
