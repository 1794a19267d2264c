"""Reads the compiler planned to decode less than whole records (see compiler/access_plan.py).

`E[k].f` reads one column of one record; `E[k].f[key]` (and `key in E[k].f`,
`get(E[k].f, key, d)`) reads a map field as a map holding only that entry, found by SQLite's
JSON path operator, so a 3 kB map is not decoded for one of its values. A planned query may
read its map fields the same way (`query_at`). The generated code around them is unchanged:
a map of one entry (or none) answers `key in m`, `m[key]` and `get(m, key, d)` as the whole
map does, and the compiler plans these reads only where the code asks nothing else of it.

A path is used only where it means the key exactly: a key of plain text (no quote,
backslash, control character, and not empty), in a field whose text holds no `\\u0000`
(SQLite's labels end at a NUL). Otherwise the whole field is decoded, as without planning.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from envscale.compiler.sql_expr import quote_ident
from envscale.runtime.database import NO_MATCH, Db, TableMeta, bindable, load_json, shown_key
from envscale.runtime.errors import ToolError
from envscale.runtime.values import number_problem

# Whether a column's JSON text holds an escaped NUL (a SQL literal: backslashes are plain).
_HAS_NUL = "instr({}, '\\u0000')"
_MISSING = object()
_CONTROL = re.compile("[\x00-\x1f]")


def _sql(meta: TableMeta, slot: tuple, make: Any) -> str:
    """The SQL text of a read, made once per table (and so prepared once per connection)."""
    slot = ("reads", *slot)
    sql = meta._queries.get(slot)
    if sql is None:
        sql = meta._queries[slot] = make()
    return sql


def _path(key: Any) -> str | None:
    """The JSON path of a map's entry, or None where a path might not mean the key exactly."""
    if type(key) is not str or not key:
        return None
    if '"' in key or "\\" in key or _CONTROL.search(key):
        return None
    return f'$."{key}"'


def _decoded(meta: TableMeta, name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = meta.kinds[meta.fields.index(name)]
    if kind == "json":
        return load_json(value)
    if kind == "bool":
        return bool(value)
    return value


def _decoder(meta: TableMeta, fields: tuple[str, ...]) -> Any:
    """A function that makes the first columns of a row, these fields, a record (each
    decoded as `_decoded` decodes it); made once per table and field tuple."""
    slot = ("decoder", fields)
    made = meta._queries.get(slot)
    if made is not None:
        return made
    kinds = [meta.kinds[meta.fields.index(name)] for name in fields]
    if all(kind not in ("json", "bool") for kind in kinds):

        def decode(row: tuple) -> dict:
            return dict(zip(fields, row, strict=False))

    else:
        shape = tuple(zip(fields, kinds, strict=True))

        def decode(row: tuple) -> dict:
            record = {}
            for (name, kind), value in zip(shape, row, strict=False):
                if value is not None:
                    if kind == "json":
                        try:  # load_json, without its call
                            value = orjson.loads(value)
                        except orjson.JSONDecodeError:
                            value = json.loads(value)
                    elif kind == "bool":
                        value = bool(value)
                record[name] = value
            return record

    meta._queries[slot] = decode  # type: ignore[assignment]
    return decode


def _fetch(db: Db, entity: str, key: Any, sql: str, params: tuple) -> tuple | None:
    """The first row of a planned read of the record with `key`. During a call, a read asked
    again before the call writes a record of the entity is answered from the row kept
    (undecoded: each answer decodes its own copy), and a row found tells `db.exists` that
    the key is there. Rows are kept by text and int parameters alone: 1, 1.0 and True are
    one dict key, not one SQL value."""
    rows = db._rows
    if rows is None:
        return next(db.connection.execute(sql, params), None)
    for p in params:
        if type(p) is not str and type(p) is not int:
            return next(db.connection.execute(sql, params), None)
    parts = db.parts.get(entity)
    if parts is None:
        parts = db.parts[entity] = {}
    slot = (sql, params)
    kept = parts.get(slot, _MISSING)
    if kept is _MISSING:
        kept = parts[slot] = next(db.connection.execute(sql, params), None)
        if kept is not None:
            db._known[(entity, key)] = True
    return kept  # type: ignore[return-value]


def _key_sql(meta: TableMeta) -> str:
    return " AND ".join(f"{quote_ident(meta.column(k))} = ?" for k in meta.key)


def _params(meta: TableMeta, key: Any) -> tuple | None:
    if type(key) is str:
        return (key,)
    params = meta.key_params(key)
    return None if any(number_problem(p) for p in params) else params


def _viewed(db: Any) -> bool:
    """Whether `db` is a view that answers lookups from records of its own (a `RowView`
    judging one record before it is stored): its reads go through its lookups, whole."""
    return not isinstance(db, Db)


def existing(db: Db, entity: str, key: Any) -> Any:
    """The key, once a record has it (else the error `db.get` gives)."""
    if _viewed(db):
        db.get(entity, key)
        return key
    if not db.exists(entity, key):
        raise ToolError(f"{entity} '{shown_key(key)}' not found")
    return key


def field_of(db: Db, entity: str, key: Any, name: str) -> Any:
    """`E[key].name`: that field of a record that must exist, its column alone decoded."""
    if _viewed(db):
        return db.get(entity, key)[name]
    meta = db.tables[entity]
    params = (key,) if type(key) is str else _params(meta, key)
    sql = _sql(
        meta,
        ("field", name),
        lambda: (
            f"SELECT {quote_ident(meta.column(name))} FROM {quote_ident(entity)} "
            f"WHERE {_key_sql(meta)}"
        ),
    )
    row = None if params is None else _fetch(db, entity, key, sql, params)
    if row is None:
        raise ToolError(f"{entity} '{shown_key(key)}' not found")
    return _decoded(meta, name, row[0])


def entry_of(db: Db, entity: str, key: Any, name: str, at: Any) -> dict:
    """`E[key].name` (a map field) holding only its entry `at`, if it has one."""
    path = _path(at)
    if path is None or _viewed(db):
        return field_of(db, entity, key, name)
    meta = db.tables[entity]
    params = (key,) if type(key) is str else _params(meta, key)

    def make() -> str:
        column = quote_ident(meta.column(name))
        return (
            f"SELECT {column} -> ?, {_HAS_NUL.format(column)} FROM {quote_ident(entity)} "
            f"WHERE {_key_sql(meta)}"
        )

    sql = _sql(meta, ("entry", name), make)
    row = None if params is None else _fetch(db, entity, key, sql, (path, *params))
    if row is None:
        raise ToolError(f"{entity} '{shown_key(key)}' not found")
    value, nul = row
    if nul:
        return field_of(db, entity, key, name)
    return {} if value is None else {at: load_json(value)}


def find_part(
    db: Db, entity: str, key: Any, fields: tuple[str, ...], at: dict[str, Any] | None = None
) -> dict | None:
    """`E.get(key)` with only the named fields, and the map fields of `at` holding only the
    entry each names; None when no record has the key."""
    if _viewed(db):
        return db.find(entity, key)
    meta = db.tables[entity]
    params = (key,) if type(key) is str else _params(meta, key)
    if params is None:
        return None
    if not at:  # the common part read: fields alone, its statement and decoder made once
        sql = _sql(
            meta,
            ("part", fields, (), ()),
            lambda: _select(meta, fields, (), ()) + f" WHERE {_key_sql(meta)}",
        )
        row = _fetch(db, entity, key, sql, params)
        return None if row is None else _decoder(meta, fields)(row)
    if len(at) == 1:  # one map field at one entry, the usual case: no loops
        ((name, entry),) = at.items()
        path = _path(entry)
        names, paths, plain = (name,), (path,), (path is not None,)
        extra: tuple = () if path is None else (path,)
    else:
        names = tuple(at)
        paths = tuple(_path(at[n]) for n in names)
        plain = tuple(p is not None for p in paths)
        extra = tuple(p for p in paths if p is not None)
    sql = _sql(
        meta,
        ("part", fields, names, plain),
        lambda: _select(meta, fields, names, plain) + f" WHERE {_key_sql(meta)}",
    )
    row = _fetch(db, entity, key, sql, extra + params)
    if row is None:
        return None
    return _record(meta, fields, names, paths, at, row)


def get_part(
    db: Db, entity: str, key: Any, fields: tuple[str, ...], at: dict[str, Any] | None = None
) -> dict:
    """`E[key]` with only the named fields (and entries): `find_part` of a record that must
    exist."""
    record = find_part(db, entity, key, fields, at)
    if record is None:
        raise ToolError(f"{entity} '{shown_key(key)}' not found")
    return record


def query_at(
    db: Db,
    entity: str,
    fields: tuple[str, ...],
    at: dict[str, Any],
    where: str = "",
    params: tuple = (),
    by: dict[str, Any] | None = None,
) -> list[dict]:
    """`db.query(entity, fields, where, params, by)`, and each map field of `at` read as a
    map holding only the entry its key names."""
    if _viewed(db):
        return db.query(entity, None, where, params, by)
    meta = db.tables[entity]
    values: tuple = ()
    if by:
        values = tuple(meta.query_value(name, value) for name, value in by.items())
        if NO_MATCH in values:
            return []
    if where and not all(bindable(p) for p in params):
        where, params = "", ()
    names = tuple(at)
    paths = tuple(_path(at[n]) for n in names)
    plain = tuple(p is not None for p in paths)
    equal = tuple(by) if by else ()
    sql = _sql(
        meta,
        ("query", fields, names, plain, where, equal),
        lambda: _query_sql(meta, fields, names, plain, where, equal),
    )
    extra = tuple(p for p in paths if p is not None)
    rows = db.connection.execute(sql, extra + values + params)
    decode = _decoder(meta, fields)
    return [_record(meta, fields, names, paths, at, row, decode) for row in rows]


def _record(
    meta: TableMeta,
    fields: tuple[str, ...],
    names: tuple[str, ...],
    paths: tuple[str | None, ...],
    at: dict[str, Any],
    row: tuple,
    decode: Any = None,
) -> dict:
    """A row of `_select` as a record: its fields (by `decode`, the fields' decoder, when the
    caller has it), and the maps of one entry."""
    record = (decode or _decoder(meta, fields))(row)
    i = len(fields)
    for name, path in zip(names, paths, strict=True):
        if path is None:
            record[name] = _decoded(meta, name, row[i])
            i += 1
            continue
        value, nul, whole = row[i], row[i + 1], row[i + 2]
        i += 3
        if nul:
            record[name] = _decoded(meta, name, whole)
        else:
            record[name] = {} if value is None else {at[name]: load_json(value)}
    return record


def _query_sql(
    meta: TableMeta,
    fields: tuple[str, ...],
    names: tuple[str, ...],
    plain: tuple[bool, ...],
    where: str,
    by: tuple[str, ...],
) -> str:
    terms = [f"{quote_ident(meta.column(f))} IS ?" for f in by]
    if where:
        terms.append(f"({where})" if terms else where)
    order = ", ".join(quote_ident(meta.column(k)) for k in meta.key)
    condition = f" WHERE {' AND '.join(terms)}" if terms else ""
    return f"{_select(meta, fields, names, plain)}{condition} ORDER BY {order}"


def _select(
    meta: TableMeta, fields: tuple[str, ...], names: tuple[str, ...], plain: tuple[bool, ...]
) -> str:
    """SELECT of the fields, and of each map field of `names` at the entry a path names
    (`plain`) or whole."""
    columns = [quote_ident(meta.column(f)) for f in fields]
    for name, by_path in zip(names, plain, strict=True):
        column = quote_ident(meta.column(name))
        if by_path:
            # The whole text only for a field that holds an escaped NUL (then decoded whole).
            flag = _HAS_NUL.format(column)
            columns += [f"{column} -> ?", flag, f"CASE WHEN {flag} THEN {column} END"]
        else:
            columns.append(column)
    return f"SELECT {', '.join(columns)} FROM {quote_ident(meta.entity)}"
