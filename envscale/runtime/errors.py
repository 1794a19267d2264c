"""Errors that a tool call returns to the agent as data."""

from __future__ import annotations


class ToolError(Exception):
    """A tool refused the call: a failed require, a missing record, a bad value.

    The runtime rolls the call back and returns the message to the agent.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DataError(Exception):
    """Seed data that does not fit the spec; lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:20]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__("invalid data:\n  " + "\n  ".join(shown) + more)
