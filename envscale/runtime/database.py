"""The database handle that generated tools use, and its change journal.

Records are dicts keyed by field name; references hold the referred record's key; JSON
fields are decoded. Every write goes through `Db`, which remembers the first version of each
record an episode touched: that journal is what makes reset, diff and the state hash cost
what the episode changed rather than the size of the database.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import apsw
import orjson

from envscale.compiler.sql_expr import quote_ident
from envscale.records import EntityInfo, Manifest
from envscale.runtime.errors import ToolError
from envscale.runtime.limits import UNLIMITED_STEPS
from envscale.runtime.refs import Collector, NestedRefs
from envscale.runtime.values import INT_MAX, INT_MIN, number_problem, stored_problem

HASH_MODULUS = 1 << 256
NO_MATCH = object()  # a query value that no stored value equals
_NOT_READ = object()  # a record's earlier version, not read yet
_UNCACHED = object()  # a record not read in the call in progress
_UNHELD = object()  # a record the call in progress has not written
_WANTED, _OPEN = "wanted", "open"


# What json.dumps would build for these options on every call, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def load_json(text: str) -> Any:
    """A stored JSON value. Stored numbers are the language's (64-bit ints, finite floats), which
    orjson reads exactly as json does; any text orjson refuses goes to json.loads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# orjson refuses what plain JSON of the language cannot hold (ints past 53 bits, keys that are
# no text, lone surrogates, and with these options dates, dataclasses and subclasses), and
# writes NaN and the infinities as null: text with a null in it is kept only when it reads
# back as the value (each null was a none).
_FAST_JSON_OPTIONS = (
    orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def fast_json(value: Any) -> str | None:
    """The compact JSON text of a value made only of the language's plain values, or None
    where the value may be anything else (the caller then takes json's way and its checks)."""
    try:
        text = orjson.dumps(value, option=_FAST_JSON_OPTIONS)
    except TypeError:
        return None
    if b"null" in text and orjson.loads(text) != value:
        return None
    return text.decode()


def plain_numbers(value: Any, text: str) -> bool:
    """Whether a value, whose JSON json wrote as `text`, holds only numbers of the language,
    told without a walk in Python: no NaN or infinity (json writes them by name; an
    occurrence in a string only costs the walk) and no int past 53 bits (which orjson's
    strict mode refuses, as it refuses anything that is not plain JSON). False: walk to know."""
    if "NaN" in text or "Infinity" in text:
        return False
    try:
        orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return False
    return True


def canonical_json(value: Any) -> str:
    return _CANONICAL(value)


def record_digest(entity: str, record: dict, text: str | None = None) -> int:
    """The record's digest; `text`, its canonical JSON when the caller has it already."""
    entry = f"[{json.dumps(entity, ensure_ascii=False)},{text or canonical_json(record)}]"
    return int.from_bytes(hashlib.sha256(entry.encode("utf-8")).digest(), "big")


@dataclass
class TableMeta:
    """How one entity is stored: columns, key, and the SQL to read and write it."""

    entity: str
    fields: list[str]
    columns: list[str]
    kinds: list[str]
    key: list[str]
    refs: dict[str, str]  # field -> referred entity
    # Derived fields in the order they are computed, each with its compiled function.
    derived: dict[str, Callable[[Db, dict], Any]] = field(default_factory=dict)
    # field -> each state to the states a write may move it to (declared transitions).
    moves: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    floats: tuple[str, ...] = ()  # float fields: an int written to one is stored as a float
    # @as_written fields: they keep a value of another plain type than their own.
    loose: frozenset[str] = frozenset()
    select_sql: str = ""
    exists_sql: str = ""
    insert_sql: str = ""
    delete_sql: str = ""
    all_sql: str = ""
    # Positions of the columns decoded after reading: (index, field, is JSON; else a bool).
    _decoded: tuple[tuple[int, str, bool], ...] = ()
    # Per field, the Python type a value of its column is read back as, where a value of that
    # type is stored as it is bound (None: an ANY column or a reference, which may convert).
    stored_types: tuple[type | None, ...] = ()
    _positions: dict[str, int] = field(default_factory=dict)
    _update_sql: dict[tuple[str, ...], str] = field(default_factory=dict)
    _update_plans: dict[tuple[tuple[str, ...], bool, tuple[str, ...]], UpdatePlan] = field(
        default_factory=dict
    )
    _where_sql: dict[tuple[str, ...], str] = field(default_factory=dict)
    _queries: dict[tuple, tuple[str, Callable[[tuple], dict]]] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, entity: str, spec: EntityInfo) -> TableMeta:
        fields = [f.name for f in spec.fields]
        columns = [f.column for f in spec.fields]
        meta = cls(
            entity=entity,
            fields=fields,
            columns=columns,
            kinds=[f.kind for f in spec.fields],
            key=list(spec.key),
            refs={f.name: f.ref for f in spec.fields if f.ref},
            floats=tuple(f.name for f in spec.fields if f.kind == "float"),
            loose=frozenset(f.name for f in spec.fields if f.as_written),
        )
        meta.stored_types = tuple(
            None if f.as_written or f.ref else _STORED_TYPES.get(f.kind) for f in spec.fields
        )
        meta._positions = {name: i for i, name in enumerate(fields)}
        meta._decoded = tuple(
            (i, name, kind == "json")
            for i, (name, kind) in enumerate(zip(meta.fields, meta.kinds, strict=True))
            if kind in ("json", "bool")
        )
        table = quote_ident(entity)
        where = " AND ".join(f"{quote_ident(meta.column(k))} = ?" for k in meta.key)
        order = ", ".join(quote_ident(meta.column(k)) for k in meta.key)
        meta.select_sql = f"SELECT * FROM {table} WHERE {where}"
        meta.exists_sql = f"SELECT 1 FROM {table} WHERE {where} LIMIT 1"
        meta.delete_sql = f"DELETE FROM {table} WHERE {where}"
        meta.all_sql = f"SELECT * FROM {table} ORDER BY {order}"
        names = ", ".join(quote_ident(c) for c in columns)
        meta.insert_sql = (
            f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
        )
        return meta

    def column(self, field_name: str) -> str:
        return self.columns[self.fields.index(field_name)]

    def update_sql(self, field_names: tuple[str, ...]) -> str:
        sql = self._update_sql.get(field_names)
        if sql is None:
            where = " AND ".join(f"{quote_ident(self.column(k))} = ?" for k in self.key)
            columns = ", ".join(f"{quote_ident(self.column(f))} = ?" for f in field_names)
            sql = f"UPDATE {quote_ident(self.entity)} SET {columns} WHERE {where}"
            self._update_sql[field_names] = sql
        return sql

    def where_sql(self, field_names: tuple[str, ...]) -> str:
        sql = self._where_sql.get(field_names)
        if sql is None:
            where = " AND ".join(f"{quote_ident(self.column(f))} IS ?" for f in field_names)
            order = ", ".join(quote_ident(self.column(k)) for k in self.key)
            sql = f"SELECT * FROM {quote_ident(self.entity)} WHERE {where} ORDER BY {order}"
            self._where_sql[field_names] = sql
        return sql

    def query_sql(
        self, fields: tuple[str, ...] | None, where: str, by: tuple[str, ...]
    ) -> tuple[str, Callable[[tuple], dict]]:
        """The SELECT of a planned query (see compiler/query_plan.py) and the decoder of its
        rows: the named fields (every field for None), `by` none-aware equalities first."""
        slot = (fields, where, by)
        found = self._queries.get(slot)
        if found is None:
            names = list(fields) if fields is not None else self.fields
            columns = ", ".join(quote_ident(self.column(f)) for f in names)
            terms = [f"{quote_ident(self.column(f))} IS ?" for f in by]
            if where:
                terms.append(f"({where})" if terms else where)
            order = ", ".join(quote_ident(self.column(k)) for k in self.key)
            condition = f" WHERE {' AND '.join(terms)}" if terms else ""
            sql = f"SELECT {columns} FROM {quote_ident(self.entity)}{condition} ORDER BY {order}"
            decode = self.decode if fields is None else self._projection(names)
            found = self._queries[slot] = (sql, decode)
        return found

    def _projection(self, names: list[str]) -> Callable[[tuple], dict]:
        kinds = [self.kinds[self.fields.index(n)] for n in names]
        shape = list(zip(names, kinds, strict=True))

        def decode(row: tuple) -> dict:
            out = {}
            for (name, kind), value in zip(shape, row, strict=True):
                if value is not None:
                    if kind == "json":
                        value = json.loads(value)
                    elif kind == "bool":
                        value = bool(value)
                out[name] = value
            return out

        return decode

    def written_row(self, row: tuple, field_names: tuple[str, ...], values: list) -> tuple | None:
        """The row as an UPDATE of these fields with these bound values leaves it, or None
        where SQLite might store a value otherwise than it is bound."""
        out = list(row)
        for name, value in zip(field_names, values, strict=True):
            i = self._positions[name]
            if name in self.key or (value is not None and type(value) is not self.stored_types[i]):
                return None
            out[i] = value
        return tuple(out)

    def key_of(self, record: dict) -> Any:
        if len(self.key) == 1:
            return record[self.key[0]]
        return tuple(record[k] for k in self.key)

    def key_params(self, key: Any) -> tuple:
        return key if isinstance(key, tuple) else (key,)

    def decode(self, row: tuple) -> dict:
        out = dict(zip(self.fields, row, strict=True))
        loads = orjson.loads
        for i, name, is_json in self._decoded:
            value = row[i]
            if value is not None:
                if not is_json:
                    out[name] = bool(value)
                    continue
                try:
                    out[name] = loads(value)
                except orjson.JSONDecodeError:
                    out[name] = json.loads(value)
        return out

    def field_value(self, row: tuple, field_name: str) -> Any:
        """One field of a stored row, decoded."""
        i = self.fields.index(field_name)
        value, kind = row[i], self.kinds[i]
        if value is None:
            return None
        if kind == "json":
            return load_json(value)
        return bool(value) if kind == "bool" else value

    def encode_value(self, field_name: str, value: Any) -> Any:
        kind = self.kinds[self._positions[field_name]]
        return self._encode(field_name, kind, value)

    def encode(self, record: dict) -> tuple:
        """The row's column values; a value that cannot be stored (see values.py) is a
        ToolError that names the field."""
        return tuple(
            self._encode(name, kind, record.get(name))
            for name, kind in zip(self.fields, self.kinds, strict=True)
        )

    def _encode(self, field_name: str, kind: str, value: Any) -> Any:
        # The plain values of typed code, stored as they are: no check below refuses them.
        plain = type(value)
        if value is None:
            return None
        if plain is str and kind in _TEXT_KINDS and "\0" not in value:
            return value
        if plain is int and kind == "int" and INT_MIN <= value <= INT_MAX:
            return value
        if plain is float and kind == "float" and math.isfinite(value):
            return value
        if kind == "json":
            if (fast := fast_json(value)) is not None:
                return fast
            try:
                text = _COMPACT(value)
            except (TypeError, ValueError, RecursionError):
                text = None  # the checks below name the problem, if they know it
            if text is not None and plain_numbers(value, text):
                return text
        if (why := stored_problem(value, text=kind != "json")) is not None:
            raise ToolError(f"{self.entity}.{field_name}: {why}")
        if field_name not in self.loose and (why := _wrong_type(kind, value)) is not None:
            # Typed code writes no such value; an @as_sent argument passed on may be one.
            raise ToolError(f"{self.entity}.{field_name}: {why}")
        return _encode(kind, value)

    def query_value(self, field_name: str, value: Any) -> Any:
        """`value` as a query parameter for the field, or NO_MATCH when no stored value can
        equal it: NaN equals nothing, and an int beyond 64 bits only the float it is."""
        if isinstance(value, float) and math.isnan(value):
            return NO_MATCH
        if isinstance(value, int) and not isinstance(value, bool) and number_problem(value):
            if self.kinds[self.fields.index(field_name)] != "float":
                return NO_MATCH
            try:
                near = float(value)
            except OverflowError:
                return NO_MATCH
            return near if near == value else NO_MATCH
        return value


@dataclass(frozen=True)
class UpdatePlan:
    """What `Db.update` of one set of fields of an entity does, worked out once."""

    names: tuple[str, ...]  # the fields written: those named, then the derived ones
    sql: str
    moved: bool  # a declared transition applies to a field written
    complete: bool  # derived or float fields: the record is completed before it is written
    refs: tuple[tuple[str, str], ...]  # reference fields written, with their entities
    nested: tuple[tuple[str, Collector], ...]  # fields written that hold references inside
    encoders: tuple[tuple[str, str], ...]  # (field, kind) of each field written


def update_plan(
    meta: TableMeta,
    nested: NestedRefs,
    field_names: tuple[str, ...],
    as_move: bool,
    refs_kept: tuple[str, ...] = (),
) -> UpdatePlan:
    """The plan of an update of these fields, made on first use and kept by the table;
    `refs_kept`: fields whose references inside are all stored ones (none is looked up)."""
    plan = meta._update_plans.get((field_names, as_move, refs_kept))
    if plan is not None:
        return plan
    names = field_names
    if meta.derived:
        names = (*field_names, *(n for n in meta.derived if n not in field_names))
    shapes = nested.fields.get(meta.entity, {})
    plan = UpdatePlan(
        names=names,
        sql=meta.update_sql(names),
        moved=as_move and not meta.moves.keys().isdisjoint(field_names),
        complete=bool(meta.derived or meta.floats),
        refs=tuple((n, meta.refs[n]) for n in names if n in meta.refs),
        nested=tuple(
            (n, nested.collector(shapes[n])) for n in shapes if n in names and n not in refs_kept
        ),
        encoders=tuple((n, meta.kinds[meta._positions[n]]) for n in names),
    )
    meta._update_plans[(field_names, as_move, refs_kept)] = plan
    return plan


def build_tables(
    manifest: Manifest, derived: dict[str, dict[str, Callable]]
) -> dict[str, TableMeta]:
    """How each entity of a domain is stored; `derived`, the compiled DERIVED of its tools."""
    tables = {name: TableMeta.from_manifest(name, spec) for name, spec in manifest.entities.items()}
    for entity, functions in derived.items():
        tables[entity].derived = dict(functions)
    for slot, moves in manifest.transitions.items():
        entity, field_name = slot.split(".", 1)
        tables[entity].moves[field_name] = moves
    return tables


def same_row(a: tuple | None, b: tuple | None) -> bool:
    """Whether two versions of a row hold the same values, as the exported JSON tells them
    apart: 9 and 9.0 differ, and so do 0.0 and -0.0."""
    if a is None or b is None:
        return a is b
    return a == b and all(
        type(x) is type(y)
        and (type(x) is not float or math.copysign(1.0, x) == math.copysign(1.0, y))
        for x, y in zip(a, b, strict=True)
    )


def watched_entities(
    tables: dict[str, TableMeta], affected_by: dict[str, tuple[tuple[str, str, str], ...]]
) -> frozenset[str]:
    """The entities that link to invariants' rows by a field other than their key."""
    return frozenset(
        source
        for links in affected_by.values()
        for source, field_name, _ in links
        if source in tables and tables[source].key != [field_name]
    )


def shown_key(key: Any) -> str:
    return ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _shown_key(key: Any) -> str:
    """A key as messages quote it: 'U1', or 'A, 1' for a key of several fields."""
    if isinstance(key, tuple | str | int):
        return f"'{shown_key(key)}'"
    return json.dumps(key, ensure_ascii=False)


# The Python type a STRICT column of a kind reads back as (bools are stored as 0 and 1).
_STORED_TYPES: dict[str, type] = {
    "str": str,
    "date": str,
    "datetime": str,
    "enum": str,
    "json": str,
    "int": int,
    "float": float,
    "bool": int,
}

_TEXT_KINDS = frozenset({"str", "date", "datetime", "enum"})

# The Python types a plain field's values have, by kind.
_PLAIN: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "date": (str,),
    "datetime": (str,),
    "enum": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


def _wrong_type(kind: str, value: Any) -> str | None:
    types = _PLAIN.get(kind)
    if value is None or types is None:
        return None
    if isinstance(value, types) and (kind == "bool" or not isinstance(value, bool)):
        return None
    return f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not {type(value).__name__}"


def bindable(value: Any) -> bool:
    """Whether SQLite holds the value exactly as a query parameter."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return "\0" not in value
    if isinstance(value, int | float):
        return number_problem(value) is None
    return False


def _encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        return _COMPACT(value)
    if kind == "bool":
        return 1 if value else 0
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class _Stored:
    """A record's version at reset, as the row it was stored in: decoded when first asked for
    (the diff, the state hash), since most calls never ask."""

    __slots__ = ("meta", "row")

    def __init__(self, meta: TableMeta, row: tuple) -> None:
        self.meta, self.row = meta, row


class Db:
    """What generated tool code sees of the environment."""

    def __init__(
        self,
        connection: apsw.Connection,
        tables: dict[str, TableMeta],
        clock: str,
        nested: NestedRefs | None = None,
    ):
        self.connection = connection
        # One cursor for the statements that return no rows (writes, savepoints): each runs
        # to its end in `execute`, and a cursor made per statement costs more than it does.
        self._writes = connection.cursor() if connection is not None else None
        self.tables = tables
        self.clock = clock
        # Where JSON fields hold references, which the database cannot check itself.
        self.nested = nested or NestedRefs({})
        # (entity, key) -> the record as it was at reset (None: it did not exist); read it
        # through `originals()`, which decodes what is still a stored row.
        self.original: dict[tuple[str, Any], dict | _Stored | None] = {}
        # Keys first touched by the call in progress, forgotten again if it rolls back.
        self.touched_in_call: list[tuple[str, Any]] = []
        # (entity, key) -> the stored row of the record before the call in progress wrote it
        # (None: it did not exist, or it is of an entity outside `watched`, whose earlier
        # version no check reads). Invariants judge what the call's writes reach (`affected`).
        self.call_before: dict[tuple[str, Any], tuple | None] = {}
        # Entities whose fields other than the key link them to invariants' rows (AFFECTED_BY
        # of the generated tools): a write may move such a link, so the version before it counts.
        self.watched: frozenset[str] = frozenset()
        # What `affected` found since the latest write: the checks after a call share it.
        self._affected: dict[tuple[str, tuple], list[dict]] = {}
        # What is left of the call's step budget; generated loops spend it (`lib.counted`).
        self.steps_left = UNLIMITED_STEPS
        self.step_limit = UNLIMITED_STEPS
        # The stored rows the call in progress read, by (entity, key), until it writes them;
        # None outside a call, where savepoints of other code may change rows under it.
        self._rows: dict[tuple[str, Any], tuple | None] | None = None
        # During a call: per record, the latest dict `find` decoded whole, and, once the call
        # wrote the record through that same dict alone, the dict with the row it left
        # (None: written some other way). The checks after the call read such a record as
        # that dict instead of decoding its row again; generated code writes back every
        # change it makes to a record, so the dict holds what is stored.
        self._found: dict[tuple[str, Any], dict] = {}
        # During a call: whether a record has the key, as `exists` found it since the call
        # last wrote that record.
        self._known: dict[tuple[str, Any], bool] = {}
        # During a call: the undecoded answers of planned part reads (`reads.py`), per entity
        # by statement and parameters, until the call next writes a record of that entity
        # (no schema cascades or triggers: a write changes the rows of its own table alone).
        self.parts: dict[str, dict[tuple, tuple | None]] = {}
        self._held: dict[tuple[str, Any], tuple[dict, tuple] | None] = {}
        # False while a tool that declares no writes runs, outside any savepoint: a write
        # then is a bug in envscale, refused before it changes anything.
        self.writable = True
        # The call's savepoint: "" none, _WANTED opened by the first write, _OPEN opened.
        self._savepoint = ""
        # During a call: the record `find` decoded whole last, with its stored row.
        self.last_found: tuple[dict, tuple] | None = None

    # ---- reads

    def find(self, entity: str, key: Any) -> dict | None:
        row = self.row(entity, key)
        if row is None:
            return None
        record = self.tables[entity].decode(row)
        if self._rows is not None:
            self.last_found = (record, row)
            if type(key) in (str, int):
                self._found[(entity, key)] = record
        return record

    def _current(self, entity: str, key: Any) -> dict | None:
        """The record as stored now, for the checks after a call: the dict the call wrote it
        through, while the stored row is the one that write left; else decoded."""
        held = self._held.get((entity, key))
        if held is not None and self._rows is not None and self._rows.get((entity, key)) is held[1]:
            return held[0]
        return self.find(entity, key)

    def row(self, entity: str, key: Any) -> tuple | None:
        """The stored columns of a record, not decoded."""
        rows = self._rows
        # Only str and int keys are kept: 1, 1.0 and True are one dict key, not one SQL key.
        cached = rows is not None and type(key) in (str, int)
        if cached:
            row = rows.get((entity, key), _UNCACHED)
            if row is not _UNCACHED:
                return row
        meta = self.tables[entity]
        params = meta.key_params(key)
        if type(key) is not str and any(number_problem(p) for p in params):
            return None  # no stored key is out of range
        row = next(self.connection.execute(meta.select_sql, params), None)
        if cached:
            rows[(entity, key)] = row
        return row

    def exists(self, entity: str, key: Any) -> bool:
        """Whether a record has the key, told by the key's index without reading the row
        (a row the call already read answers)."""
        rows = self._rows
        cached = rows is not None and type(key) in (str, int)
        if cached:
            row = rows.get((entity, key), _UNCACHED)
            if row is not _UNCACHED:
                return row is not None
            known = self._known.get((entity, key))
            if known is not None:
                return known
        meta = self.tables[entity]
        params = meta.key_params(key)
        if type(key) is not str and any(number_problem(p) for p in params):
            return False  # no stored key is out of range
        found = next(self.connection.execute(meta.exists_sql, params), None) is not None
        if cached:
            self._known[(entity, key)] = found
        return found

    def get(self, entity: str, key: Any) -> dict:
        record = self.find(entity, key)
        if record is None:
            raise ToolError(f"{entity} '{shown_key(key)}' not found")
        return record

    def select(self, entity: str, sql: str, params: tuple) -> list[dict]:
        meta = self.tables[entity]
        return [meta.decode(row) for row in self.connection.execute(sql, params)]

    def where(self, entity: str, fields: dict[str, Any]) -> list[dict]:
        """The records whose fields hold these values (None matches a missing value), by key."""
        meta = self.tables[entity]
        params = tuple(meta.query_value(name, value) for name, value in fields.items())
        if NO_MATCH in params:
            return []
        sql = meta.where_sql(tuple(fields))
        return [meta.decode(row) for row in self.connection.execute(sql, params)]

    def query(
        self,
        entity: str,
        fields: tuple[str, ...] | None,
        where: str = "",
        params: tuple = (),
        by: dict[str, Any] | None = None,
    ) -> list[dict]:
        """A query the compiler planned: the records (by key, with the fields named, every
        field for None) whose `by` fields hold these values and that `where` may keep.
        `where` only narrows what the tool's own condition then judges: a value SQLite cannot
        bind exactly drops it."""
        meta = self.tables[entity]
        values: tuple = ()
        if by:
            values = tuple(meta.query_value(name, value) for name, value in by.items())
            if NO_MATCH in values:
                return []
        if where and not all(bindable(p) for p in params):
            where, params = "", ()
        sql, decode = meta.query_sql(fields, where, tuple(by) if by else ())
        return [decode(row) for row in self.connection.execute(sql, values + params)]

    def all(self, entity: str) -> list[dict]:
        meta = self.tables[entity]
        return [meta.decode(row) for row in self.connection.execute(meta.all_sql)]

    def originals(self) -> dict[tuple[str, Any], dict | None]:
        """(entity, key) -> the record as it was at reset (None: it did not exist)."""
        original = self.original
        for slot, before in original.items():
            if type(before) is _Stored:
                original[slot] = before.meta.decode(before.row)
        return original  # type: ignore[return-value]

    def changed(self, entity: str) -> list[dict]:
        """The current records of an entity that the episode changed, in first-change order."""
        rows = (self.find(e, key) for e, key in self.original if e == entity)
        return [row for row in rows if row is not None]

    def affected(self, entity: str, links: tuple[tuple[str, str, str], ...] = ()) -> list[dict]:
        """The current records of an entity that the call in progress wrote, and those that
        `links` (entity, field, this entity's field) reach from any record it wrote: the rows
        whose field equals that record's field, before or after the call. In key order, as a
        check over every record meets them. The records are shared by the checks that ask
        until the next write: checks only read them."""
        memo = self._affected.get((entity, links))
        if memo is not None:
            return memo
        meta = self.tables[entity]
        found: dict[Any, dict | None] = {}
        for source, key in self.call_before:
            if source == entity and key not in found:
                found[key] = self._current(entity, key)
        by_key = len(meta.key) == 1
        for source, field_name, row_field in links:
            keyed = self.tables[source].key == [field_name]
            for (written, key), before in self.call_before.items():
                if written != source:
                    continue
                values: list[Any] = [key]
                if not keyed:
                    source_meta = self.tables[source]
                    versions = (before, self.row(source, key))
                    values = []
                    for row in versions:
                        value = None if row is None else source_meta.field_value(row, field_name)
                        if value is not None and value not in values:
                            values.append(value)
                for value in values:
                    if by_key and row_field == meta.key[0]:
                        if value not in found:
                            found[value] = self._current(entity, value)
                        continue
                    for record in self.where(entity, {row_field: value}):
                        found.setdefault(meta.key_of(record), record)
        try:
            ordered = sorted(found)
        except TypeError:  # keys of mixed types (loosely typed data): as found
            ordered = list(found)
        records = [record for key in ordered if (record := found[key]) is not None]
        self._affected[(entity, links)] = records
        return records

    def count(self, entity: str) -> int:
        return next(self.connection.execute(f"SELECT count(*) FROM {quote_ident(entity)}"))[0]

    def next_key(self, entity: str, prefix: str, width: int = 0) -> str:
        """The prefix and one more than the highest number (ASCII digits) that follows it in a
        key of the entity, zero-filled to `width`. The keys with the prefix are a range of the
        key's index; SQLite reads that range alone, and reads numbers of up to 18 digits."""
        meta = self.tables[entity]
        column = quote_ident(meta.column(meta.key[0]))
        rest = f"substr({column}, {len(prefix) + 1})"
        where = [f"substr({column}, 1, ?) = ?", f"{rest} <> ''", f"{rest} NOT GLOB '*[^0-9]*'"]
        params: list[Any] = [len(prefix), prefix]
        if prefix and ord(prefix[-1]) < 0x10FFFF:
            where[:0] = [f"{column} >= ?", f"{column} < ?"]
            params[:0] = [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        table = quote_ident(entity)
        condition = " AND ".join(where)
        sql = (
            f"SELECT max(CAST({rest} AS INTEGER)), max(length({rest})) "
            f"FROM {table} WHERE {condition}"
        )
        highest, digits = next(self.connection.execute(sql, params))
        if digits is not None and digits > 18:  # past what SQLite's integers hold: Python's
            sql = f"SELECT {rest} FROM {table} WHERE {condition}"
            highest = max(int(text) for (text,) in self.connection.execute(sql, params))
        return f"{prefix}{str((highest or 0) + 1).zfill(width)}"

    # ---- writes

    def _remember(self, entity: str, key: Any, before: dict | _Stored | None) -> None:
        slot = (entity, key)
        self._check_writable(entity)
        if slot not in self.original:
            self.original[slot] = before
            self.touched_in_call.append(slot)

    def begin_call(self) -> None:
        """Forget what the previous call wrote."""
        self.touched_in_call = []
        self.call_before = {}
        self._affected.clear()
        self._found.clear()
        self._held.clear()
        self._known.clear()
        self.parts.clear()
        if self._rows is not None:
            self._rows.clear()

    def start_call(self, saved: bool, steps: int) -> None:
        """Begin a tool call: what the previous one wrote forgotten, the rows it reads kept,
        its step budget set, and a savepoint opened by its first write (`saved`); without
        one, the tool must write nothing."""
        # Fresh dicts rather than cleared ones: nothing else holds them.
        self.touched_in_call = []
        self.call_before = {}
        self._affected = {}
        self._found = {}
        self._held = {}
        self._known = {}
        self.parts = {}
        self._rows = {}
        self.last_found = None
        if saved:
            self._savepoint = _WANTED
        else:
            self.writable = False
        self.steps_left = self.step_limit = steps

    def end_call(self) -> None:
        """Stop what `start_call` began but the savepoint, which the caller keeps or undoes."""
        self._rows = None
        self.parts = {}
        self.last_found = None
        self.writable = True
        self.steps_left = self.step_limit = UNLIMITED_STEPS

    def fresh_record(self, value: Any, result_bytes: int) -> bool:
        """Whether `value` is the record that `find` last decoded whole in this call, while
        no write is allowed (a tool that writes nothing changes no record in place), and its
        stored row bounds its JSON within `result_bytes`: such a record shares nothing and
        needs no copy. The bound: no character of the row's repr (which writes each of its
        characters as one at least, and each value as one at least) takes more than 6 bytes
        of JSON, and field names and punctuation take what the table's names do."""
        last = self.last_found
        if last is None or value is not last[0] or self.writable:
            return False
        record, row = last
        names = 8 * len(record) + sum(map(len, record))
        return 6 * len(repr(row)) + names <= result_bytes

    def keep_rows(self, on: bool) -> None:
        """Keep the rows read during a call (`on`), or stop keeping them when it ends."""
        self._rows = {} if on else None
        self.parts.clear()

    def _check_writable(self, entity: str) -> None:
        if not self.writable:
            raise RuntimeError(f"a tool that declares no writes wrote {entity}")
        if self._savepoint == _WANTED:
            self._writes.execute("SAVEPOINT call")
            self._savepoint = _OPEN

    def save_on_write(self) -> None:
        """Open a savepoint for the call in progress before its first write: a call that
        fails before it writes, or writes nothing, has nothing to roll back."""
        self._savepoint = _WANTED

    def end_savepoint(self, keep: bool) -> None:
        """Release the call's savepoint, if a write opened it; rolled back to first unless
        `keep`."""
        opened = self._savepoint == _OPEN
        self._savepoint = ""
        if opened:
            if not keep:
                self._writes.execute("ROLLBACK TO call")
            self._writes.execute("RELEASE call")

    def _written(self, entity: str, key: Any, before: Any = _NOT_READ) -> None:
        """Note, before writing it, that the call in progress writes this record; `before`,
        its stored row as it is now when the caller has read it."""
        self._check_writable(entity)
        self._affected.clear()
        self.parts.pop(entity, None)
        slot = (entity, key)
        if slot not in self.call_before:
            if before is _NOT_READ:
                before = self.row(entity, key) if entity in self.watched else None
            self.call_before[slot] = before
        self._forget_row(entity, key)

    def _forget_row(self, entity: str, key: Any) -> None:
        if self._rows is not None:
            self._rows.pop((entity, key), None)
        self._known.pop((entity, key), None)

    def _check_refs(self, meta: TableMeta, record: dict, only: str | None = None) -> None:
        refs = meta.refs.items() if only is None else ((only, meta.refs.get(only)),)
        for name, target in refs:
            if target is None:
                continue
            value = record.get(name)
            if value is not None and not self.exists(target, value):
                raise ToolError(f"{target} '{value}' not found")

    def complete(self, entity: str, record: dict) -> dict:
        """The record as it is stored, in place: its derived fields computed, in order, and
        an int in a float field made the float that is stored."""
        meta = self.tables[entity]
        for name, compute in meta.derived.items():
            try:
                record[name] = compute(self, record)
            except ToolError as error:
                raise ToolError(f"{entity}.{name} cannot be computed: {error.message}") from None
        for name in meta.floats:
            value = record.get(name)
            if type(value) is int and number_problem(value) is None:
                record[name] = float(value)
        return record

    def _check_nested(self, entity: str, record: dict, names: tuple[str, ...] | None) -> None:
        """Every reference inside the record's JSON fields (or the named ones) must name a
        record of its entity."""
        shapes = self.nested.fields.get(entity)
        if not shapes:
            return
        for name, shape in shapes.items():
            if names is not None and name not in names:
                continue
            for target, key, path in self.nested.found(shape, record.get(name), name):
                if self.missing(target, key):
                    raise ToolError(f"{entity}.{path}: {target} {_shown_key(key)} not found")

    def missing(self, entity: str, key: Any) -> bool:
        """Whether no record of the entity has this key (a value that is no key has none)."""
        if not isinstance(key, str | int) or isinstance(key, bool):
            return True
        return not self.exists(entity, key)

    def _referred_inside(self, entity: str, key: Any) -> str | None:
        """Where a JSON field of another record still refers to this one, if anywhere."""
        token = json.dumps(key, ensure_ascii=False) if isinstance(key, str) else str(key)
        for source, name in self.nested.referrers.get(entity, []):
            meta = self.tables[source]
            sql = (
                f"SELECT * FROM {quote_ident(source)} "
                f"WHERE instr({quote_ident(meta.column(name))}, ?) > 0"
            )
            for row in self.connection.execute(sql, (token,)):
                record = meta.decode(row)
                if source == entity and meta.key_of(record) == key:
                    continue  # the record itself, going away with its references
                shape = self.nested.fields[source][name]
                for target, held, path in self.nested.found(shape, record[name], name):
                    if target == entity and held == key:
                        return f"{source} {_shown_key(meta.key_of(record))}: {path}"
        return None

    def insert(self, entity: str, record: dict) -> dict:
        meta = self.tables[entity]
        record = self.complete(entity, dict(record))
        key = meta.key_of(record)
        if self.row(entity, key) is not None:
            raise ToolError(f"{entity} '{key}' already exists")
        self._check_refs(meta, record)
        self._check_nested(entity, record, None)
        self._remember(entity, key, None)
        self._written(entity, key, None)
        self._writes.execute(meta.insert_sql, meta.encode(record))
        self._forget_row(entity, key)
        if self._rows is not None:
            self._held[(entity, key)] = None
        return dict(record)

    def update(
        self,
        entity: str,
        record: dict,
        *field_names: str,
        as_move: bool = True,
        refs_kept: tuple[str, ...] = (),
    ) -> None:
        """Write the named fields of a record back, in one statement; its derived fields are
        computed again and written with them, into `record` too. `as_move=False` writes a
        state, not a move (code that makes data): declared transitions do not apply.
        `refs_kept`: fields whose references inside the tool cannot have changed since it
        read the record (compiler/codegen/kept_refs.py), so each names a record still."""
        meta = self.tables[entity]
        plan = update_plan(meta, self.nested, field_names, as_move, refs_kept)
        key = meta.key_of(record)
        slot = (entity, key)
        rows = self._rows if type(key) in (str, int) else None
        first = slot not in self.original
        # The stored row before this write: the version at reset if the episode had not
        # written the record yet, and what the declared transitions start from.
        row = self.row(entity, key) if plan.moved or first else None
        if row is None and rows is not None:
            row = rows.get(slot)
        if not self.writable or self._savepoint == _WANTED:
            self._check_writable(entity)
        if first:
            self.original[slot] = None if row is None else _Stored(meta, row)
            self.touched_in_call.append(slot)
        if self._affected:
            self._affected = {}
        if entity in self.parts:
            del self.parts[entity]
        if slot not in self.call_before:
            before = row if first else (self.row(entity, key) if entity in self.watched else None)
            self.call_before[slot] = before
        if rows is not None:
            rows.pop(slot, None)
        self._known.pop(slot, None)
        if plan.moved and row is not None:
            self._check_moves(meta, key, row, record, field_names)
        if plan.complete:
            self.complete(entity, record)
        for name, target in plan.refs:
            value = record.get(name)
            if value is not None and not self.exists(target, value):
                raise ToolError(f"{target} '{value}' not found")
        if plan.nested:
            self._check_collected(entity, record, plan.nested)
        values = []
        for name, kind in plan.encoders:
            value = record[name]
            plain = type(value)
            # The usual values of typed code, as `_encode` stores them, without its checks.
            if value is None or (plain is str and kind in _TEXT_KINDS and "\0" not in value):
                values.append(value)
            elif kind == "json" and (text := fast_json(value)) is not None:
                values.append(text)
            else:
                values.append(meta._encode(name, kind, value))
        self._writes.execute(plan.sql, (*values, *meta.key_params(key)))
        if rows is not None:
            # What the record reads as now, kept for the checks after the call.
            after = None if row is None else meta.written_row(row, plan.names, values)
            if after is None:
                rows.pop(slot, None)
                self._held[slot] = None
            else:
                rows[slot] = after
                held = self._held.get(slot, _UNHELD)
                by_one = held is _UNHELD or (held is not None and held[0] is record)
                whole = by_one and self._found.get(slot) is record
                self._held[slot] = (record, after) if whole else None

    def _check_collected(
        self, entity: str, record: dict, nested: tuple[tuple[str, Collector], ...]
    ) -> None:
        """`_check_nested` of these fields: the keys gathered without their paths, which only
        a missing one needs (found again the way `_check_nested` finds it)."""
        held: list[tuple[str, Any]] = []
        for name, collect in nested:
            collect(record.get(name), held)
        known = self._known
        for target, key in held:
            # A text key this call already found (the call forgets it when it writes it).
            if type(key) is str and known.get((target, key)) is True:
                continue
            if self.missing(target, key):
                self._check_nested(entity, record, tuple(name for name, _ in nested))

    def _check_moves(
        self, meta: TableMeta, key: Any, row: tuple, record: dict, field_names: tuple[str, ...]
    ) -> None:
        """A declared field may change only along its transitions; keeping its value is no move."""
        for name in field_names:
            moves = meta.moves.get(name)
            if moves is None:
                continue
            before, after = meta.field_value(row, name), record.get(name)
            if before == after or after in moves.get(before, ()):
                continue
            allowed = moves.get(before, [])
            then = (
                f"from '{before}' it can change to {_either(allowed)}"
                if allowed
                else f"'{before}' is final"
            )
            raise ToolError(
                f"{meta.entity} '{shown_key(key)}': {name} cannot change from '{before}' to "
                f"'{after}'; {then}"
            )

    def delete(self, entity: str, record: dict) -> None:
        meta = self.tables[entity]
        key = meta.key_of(record)
        where = self._referred_inside(entity, key)
        if where is not None:
            raise ToolError(f"{entity} {_shown_key(key)} is still referred to by {where}")
        if (entity, key) not in self.original:
            row = self.row(entity, key)
            self._remember(entity, key, None if row is None else _Stored(meta, row))
            self._written(entity, key, row)
        else:
            self._written(entity, key)
        self._writes.execute(meta.delete_sql, meta.key_params(key))
        self._forget_row(entity, key)
        if self._rows is not None:
            self._held[(entity, key)] = None


def _either(states: list[str]) -> str:
    quoted = [f"'{s}'" for s in states]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
