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

A document may be TOML (`"document": "db.toml"`, read with tomllib). A table of it may be a
list of records, each holding its key; and a table may be one record (`"record": "device"`:
the document's `device` is that record, stored under that key, which an `@external` key
keeps out of the shown form). Its diff is then per attribute: each changed field's new value.
`"datetime_text": ["Customer.created_at", ...]` names text fields holding a date and time:
loaded, they are written as `YYYY-MM-DD HH:MM:SS`, however the document writes them.
`"records": {"Entity": [...]}` adds records the documents do not hold (constants of the spec).
`"carried": ["Entity", ...]`: entities whose records a replay of recorded cases keeps from one
case to the next, and `"random_ids": {"Entity": "regex"}`: the ids the recording drew at random
for new records, compared whatever they are (see conformance/tau2.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
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
    record: str | None = None  # the key of the one record this table is


VALUES = ("as_written", "as_models")


@dataclass(frozen=True)
class Layout:
    tables: tuple[TableLayout, ...]
    document: str | None = None  # the one file holding every table, if any
    values: str = "as_written"
    datetime_text: tuple[str, ...] = ()  # "Entity.field" holding a date and time as text
    records: dict[str, list[dict]] = field(default_factory=dict)  # records beside the documents
    # Entities whose records a replay of recorded cases carries from case to case, as the
    # recording implementation's process kept them.
    carried: tuple[str, ...] = ()
    # Entity -> the pattern of the random ids the recording implementation gives new records:
    # a replay compares such records whatever their ids.
    random_ids: dict[str, str] = field(default_factory=dict)

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
            record = spec.get("record")
            if record is not None and not isinstance(record, str):
                problems.append(f"{path}: table '{name}': 'record' must be the record's key")
                continue
            tables.append(
                TableLayout(
                    name,
                    spec["entity"],
                    spec["key"],
                    str(spec.get("file", f"{name}.json")),
                    record,
                )
            )
        document = raw.get("document")
        if document is not None and not isinstance(document, str):
            problems.append(f"{path}: 'document' must be a file name")
        values = raw.get("values", "as_written")
        if values not in VALUES:
            problems.append(f"{path}: 'values' must be one of {', '.join(VALUES)}")
        datetime_text = raw.get("datetime_text", [])
        if not isinstance(datetime_text, list) or not all(
            isinstance(f, str) and f.count(".") == 1 for f in datetime_text
        ):
            problems.append(f"{path}: 'datetime_text' must list fields as Entity.field")
            datetime_text = []
        extra = raw.get("records", {})
        if not isinstance(extra, dict) or not all(
            isinstance(v, list) and all(isinstance(r, dict) for r in v) for v in extra.values()
        ):
            problems.append(f"{path}: 'records' must map an entity to a list of records")
            extra = {}
        if problems or not tables:
            raise DataError(problems or [f"{path}: no tables"])
        carried = raw.get("carried", [])
        if not isinstance(carried, list) or not all(isinstance(e, str) for e in carried):
            problems.append(f"{path}: 'carried' must list entity names")
            carried = []
        random_ids = raw.get("random_ids", {})
        if not isinstance(random_ids, dict) or not all(
            isinstance(v, str) for v in random_ids.values()
        ):
            problems.append(f"{path}: 'random_ids' must map an entity to a pattern")
            random_ids = {}
        if problems:
            raise DataError(problems)
        return cls(
            tuple(tables),
            document,
            values,
            tuple(datetime_text),
            extra,
            tuple(carried),
            random_ids,
        )

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
            whole = _read_document(Path(folder) / self.document)
            if not isinstance(whole, dict):
                raise DataError(
                    [f"{Path(folder) / self.document}: expected a JSON object of tables"]
                )
        for table in self.tables:
            path = Path(folder) / (self.document or table.file)
            if whole is not None:
                if table.name not in whole and table.record is None:
                    raise DataError([f"{path}: no table '{table.name}'"])
                # A one-record table left out is a record of defaults.
                document = whole.get(table.name, {})
            else:
                document = read_json(path, "data file")
            if table.record is not None and isinstance(document, dict):
                document = {table.record: document}
            elif isinstance(document, list):
                if not all(isinstance(r, dict) and table.key in r for r in document):
                    raise DataError([f"{path}: table '{table.name}': each record needs its key"])
                document = {r[table.key]: r for r in document}
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
        for name in self.datetime_text:
            entity, field_name = name.split(".")
            for row in records.get(entity, []):
                if isinstance(row.get(field_name), str | datetime):
                    row[field_name] = _datetime_text(row[field_name], name)
        for entity, extra in self.records.items():
            records.setdefault(entity, []).extend(dict(r) for r in extra)
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
            after = env.domain.show_record(change.entity, change.after)
            if table is not None and table.record is not None:
                before = env.domain.show_record(change.entity, change.before) or {}
                changed = {k: v for k, v in (after or {}).items() if before.get(k, v) != v}
                changed.update({k: v for k, v in (after or {}).items() if k not in before})
                if changed:
                    out.setdefault(name, {}).update(changed)
                continue
            out.setdefault(name, {})[str(change.key)] = after
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


def _read_document(path: Path) -> Any:
    if path.suffix != ".toml":
        return read_json(path, "data file")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as error:
        raise DataError([f"{path}: cannot read the data file: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise DataError([f"{path}: invalid TOML: {error}"]) from None


def _datetime_text(value: str | datetime, where: str) -> str:
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except ValueError:
        raise DataError([f"{where}: {value!r} is not a date and time"]) from None
    return str(when)
