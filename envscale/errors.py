"""The error every stage raises for input that does not fit: data, records, files."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN = 20  # problems listed in the message; all of them stay in `problems`


class DataError(Exception):
    """Input that does not fit what it claims to be (seed data, a task or trajectory file, a
    compiled domain); lists every problem found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        shown = self.problems[:SHOWN]
        more = (
            f"\n  ... and {len(self.problems) - SHOWN} more" if len(self.problems) > SHOWN else ""
        )
        super().__init__("invalid data:\n  " + "\n  ".join(shown) + more)
