"""The database as one invariant check sees it, narrowed to one record.

A per-row invariant's check walks every record of its entity; run on a `RowView`, it judges
one record alone, so a failure can name that record (loading data) and a generator can try
values for it before storing them. `referred`, a record of another entity, is what a lookup
of that record's key finds instead of the stored one.
"""

from __future__ import annotations

from typing import Any

from envscale.runtime.errors import ToolError


class RowView:
    def __init__(
        self, db: Any, entity: str, record: dict, referred: tuple[str, dict] | None = None
    ):
        self._db = db
        self._entity = entity
        self._record = record
        self._referred = referred

    def all(self, entity: str) -> list[dict]:
        return [self._record] if entity == self._entity else self._db.all(entity)

    def query(
        self,
        entity: str,
        fields: tuple[str, ...] | None,
        where: str = "",
        params: tuple = (),
        by: dict[str, Any] | None = None,
    ) -> list[dict]:
        """A planned query over every record (`E.all()`): this one alone; its condition, which
        the tool's code judges after the query, does the rest."""
        if entity == self._entity and by is None:
            return [self._record]
        return self._db.query(entity, fields, where, params, by)

    def changed(self, entity: str) -> list[dict]:
        return [self._record] if entity == self._entity else self._db.changed(entity)

    def affected(self, entity: str, links: tuple = ()) -> list[dict]:
        return [self._record] if entity == self._entity else self._db.affected(entity, links)

    def find(self, entity: str, key: Any) -> dict | None:
        if self._referred is not None and entity == self._referred[0]:
            other = self._referred[1]
            if self._db.tables[entity].key_of(other) == key:
                return other
        return self._db.find(entity, key)

    def get(self, entity: str, key: Any) -> dict:
        found = self.find(entity, key)
        return found if found is not None else self._db.get(entity, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def run_check(check: Any, db: Any) -> str | None:
    """A check's message over every record, or None when it holds. A condition that cannot be
    evaluated does not hold: a tool error (a lookup that finds nothing, a division by zero)
    gives its message, any other exception is named."""
    try:
        return check(db, every_row=True)
    except ToolError as error:
        return error.message
    except Exception as error:
        return f"the condition cannot be evaluated ({type(error).__name__}: {error})"


def failing_record(check: Any, db: Any, entity: str) -> dict | None:
    """The first record of the entity that the check fails on by itself."""
    for record in db.all(entity):
        if run_check(check, RowView(db, entity, record)) is not None:
            return record
    return None
