"""Document layouts: a database held as JSON files of records keyed by id.

A layout file maps each document table to an entity:

    {"tables": {"users": {"entity": "User", "key": "user_id", "file": "users.json"}}}

Each file is a JSON object from key to record; a record may leave its key out (the layout
puts it back on import, and the entity's `@external` key keeps it out on export).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envscale.runtime.errors import DataError


@dataclass(frozen=True)
class TableLayout:
    name: str
    entity: str
    key: str
    file: str


@dataclass(frozen=True)
class Layout:
    tables: tuple[TableLayout, ...]

    @classmethod
    def read(cls, path: str | Path) -> Layout:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError([f"layout file not found: {path}"]) from None
        except json.JSONDecodeError as error:
            raise DataError([f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"]) from None
        problems = []
        tables = []
        for name, spec in raw.get("tables", {}).items():
            missing = [k for k in ("entity", "key") if k not in spec]
            if missing:
                problems.append(f"{path}: table '{name}' needs {', '.join(missing)}")
                continue
            tables.append(TableLayout(name, spec["entity"], spec["key"], spec.get("file", f"{name}.json")))
        if problems or not tables:
            raise DataError(problems or [f"{path}: no tables"])
        return cls(tuple(tables))

    def check(self, manifest: dict) -> None:
        problems = []
        for table in self.tables:
            entity = manifest["entities"].get(table.entity)
            if entity is None:
                problems.append(f"table '{table.name}': the spec has no entity '{table.entity}'")
            elif entity["key"] != [table.key]:
                problems.append(f"table '{table.name}': the key of {table.entity} is {entity['key']}, not '{table.key}'")
        if problems:
            raise DataError(problems)

    def load(self, folder: str | Path) -> dict[str, list[dict]]:
        """Records per entity from the layout's JSON files in `folder`."""
        records: dict[str, list[dict]] = {}
        for table in self.tables:
            path = Path(folder) / table.file
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise DataError([f"data file not found: {path}"]) from None
            except json.JSONDecodeError as error:
                raise DataError([f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"]) from None
            rows = []
            for key, record in document.items():
                row = dict(record)
                row.setdefault(table.key, key)
                rows.append(row)
            records[table.entity] = rows
        return records

    def table_of(self, entity: str) -> TableLayout | None:
        return next((t for t in self.tables if t.entity == entity), None)

    def document_diff(self, env: Any) -> dict[str, dict[str, Any]]:
        """What changed since reset, per table: each changed key's whole new shown record,
        or None for a record that disappeared."""
        out: dict[str, dict[str, Any]] = {}
        for change in env.changes():
            table = self.table_of(change.entity)
            name = table.name if table else change.entity
            out.setdefault(name, {})[str(change.key)] = env.domain.show_record(change.entity, change.after)
        return out

    def export(self, env: Any) -> dict[str, dict[str, Any]]:
        """The whole current state as documents: per table, key to shown record."""
        out = {}
        for table in self.tables:
            records = env.db.all(table.entity)
            out[table.name] = {str(r[table.key]): env.domain.show_record(table.entity, r) for r in records}
        return out
