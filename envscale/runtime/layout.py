"""Document layouts: a database held as JSON files of records keyed by id.

A layout file maps each document table to an entity:

    {"tables": {"users": {"entity": "User", "key": "user_id", "file": "users.json"}}}

Each file is a JSON object from key to record; a record may leave its key out (the layout
puts it back on import, and the entity's `@external` key keeps it out on export).

Two optional keys beside `tables`:
- `"document": "db.json"`: every table is in that one file, a JSON object from table name to
  the table's records (a table's `file` is then not read);
- `"values": "as_models"`: records are stored as the entity models validate them, the way an
  implementation that validates its documents into models holds them: ints in float fields
  become floats and optional fields left out become none. By default (`"as_written"`) the
  documents' own values are stored, so 100 in a float field stays 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envscale.records import Manifest
from envscale.runtime.errors import DataError, read_json


@dataclass(frozen=True)
class TableLayout:
    name: str
    entity: str
    key: str
    file: str


VALUES = ("as_written", "as_models")


@dataclass(frozen=True)
class Layout:
    tables: tuple[TableLayout, ...]
    document: str | None = None  # the one file holding every table, if any
    values: str = "as_written"

    @property
    def as_models(self) -> bool:
        return self.values == "as_models"

    @classmethod
    def read(cls, path: str | Path) -> Layout:
        raw = read_json(Path(path), "layout file")
        tables_spec = raw.get("tables") if isinstance(raw, dict) else None
        if not isinstance(tables_spec, dict):
            raise DataError(
                [f"{path}: expected a JSON object with 'tables': table name -> entity, key, file"]
            )
        problems = []
        tables = []
        for name, spec in tables_spec.items():
            if not isinstance(spec, dict):
                problems.append(f"{path}: table '{name}' must be a JSON object")
                continue
            missing = [k for k in ("entity", "key") if not isinstance(spec.get(k), str)]
            if missing:
                problems.append(f"{path}: table '{name}' needs {', '.join(missing)} (a string)")
                continue
            tables.append(
                TableLayout(
                    name, spec["entity"], spec["key"], str(spec.get("file", f"{name}.json"))
                )
            )
        document = raw.get("document")
        if document is not None and not isinstance(document, str):
            problems.append(f"{path}: 'document' must be a file name")
        values = raw.get("values", "as_written")
        if values not in VALUES:
            problems.append(f"{path}: 'values' must be one of {', '.join(VALUES)}")
        if problems or not tables:
            raise DataError(problems or [f"{path}: no tables"])
        return cls(tuple(tables), document, values)

    def check(self, manifest: Manifest) -> None:
        problems = []
        for table in self.tables:
            entity = manifest.entities.get(table.entity)
            if entity is None:
                problems.append(f"table '{table.name}': the spec has no entity '{table.entity}'")
            elif entity.key != [table.key]:
                problems.append(
                    f"table '{table.name}': the key of {table.entity} is {entity.key}, not "
                    f"'{table.key}'"
                )
        if problems:
            raise DataError(problems)

    def load(self, folder: str | Path) -> dict[str, list[dict]]:
        """Records per entity from the layout's JSON files in `folder`."""
        records: dict[str, list[dict]] = {}
        whole = None
        if self.document is not None:
            whole = read_json(Path(folder) / self.document, "data file")
            if not isinstance(whole, dict):
                raise DataError(
                    [f"{Path(folder) / self.document}: expected a JSON object of tables"]
                )
        for table in self.tables:
            path = Path(folder) / (self.document or table.file)
            if whole is not None:
                if table.name not in whole:
                    raise DataError([f"{path}: no table '{table.name}'"])
                document = whole[table.name]
            else:
                document = read_json(path, "data file")
            if not isinstance(document, dict):
                raise DataError([f"{path}: expected a JSON object from key to record"])
            rows = []
            for key, record in document.items():
                if not isinstance(record, dict):
                    raise DataError([f"{path}: record '{key}' is not a JSON object"])
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
            if change.before == change.after:
                # The documents' diff compares records by value, as tau-bench does: a balance
                # of 9 that became 9.0 is a change of state, but not of the document.
                continue
            table = self.table_of(change.entity)
            name = table.name if table else change.entity
            out.setdefault(name, {})[str(change.key)] = env.domain.show_record(
                change.entity, change.after
            )
        return out

    def export(self, env: Any) -> dict[str, dict[str, Any]]:
        """The whole current state as documents: per table, key to shown record."""
        out = {}
        for table in self.tables:
            records = env.db.all(table.entity)
            out[table.name] = {
                str(r[table.key]): env.domain.show_record(table.entity, r) for r in records
            }
        return out
