"""What one run made per entity, and why records were dropped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class EntityReport:
    """How many records of one entity were asked for and made, and why the rest were not."""

    asked: int = 0
    made: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def line(self, entity: str) -> str:
        why = "; ".join(
            reason if n == 1 or self.asked - self.made == n else f"{reason} ({n})"
            for reason, n in self.dropped.most_common()
        )
        return f"{entity}: {self.made} of {self.asked} records: {why or 'no record could be made'}"
