"""An environment: one SQLite database of a compiled domain, and the tool-call contract.

Every call runs in a savepoint inside the episode's transaction. A failed call rolls its
savepoint back; `reset()` rolls the whole episode back. Both cost what changed.

A call fails in one of two ways. An ordinary failure is the agent's doing or the data's: an
unknown tool, arguments that do not validate, a policy that forbids the call now, a ToolError
(a failed require, a missing record, a bad value; lib.py turns every failure a spec author
cannot rule out into one), a constraint of the schema (a CHECK, UNIQUE, NOT NULL or foreign
key) or an invariant the call would break. Any other exception is internal: a bug in
envscale (generated code, the runtime), never something to learn from. Its call is rolled
back all the same, its result says `internal` and its message starts `internal error: `, and
it is counted in INTERNAL_ERRORS, which the test suite checks after every test.
"""

from __future__ import annotations

import difflib
import json
import re
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Protocol

import apsw
import pydantic

from envscale.records import Manifest
from envscale.runtime.database import HASH_MODULUS, Db, TableMeta, canonical_json, record_digest
from envscale.runtime.errors import DataError, ToolError, read_json
from envscale.runtime.policy import PolicyMonitor

INTERNAL_PREFIX = "internal error: "
# How deeply an agent's arguments may nest lists and objects; deeper is a failed call.
MAX_ARGUMENT_DEPTH = 64
TOO_DEEP = f"arguments nest lists and objects more than {MAX_ARGUMENT_DEPTH} levels deep"
TOO_MANY_DIGITS = "arguments hold a number with too many digits to read"
# A lone surrogate (`\ud800`, which JSON text can spell) is not Unicode text: SQLite cannot
# store it and no message holding it can be encoded, so such an argument is refused.
_SURROGATE = re.compile("[\ud800-\udfff]")


class CompiledDomain(Protocol):
    """What an environment needs of its domain (`envscale.runtime.domain.Domain` has it)."""

    files: dict[str, str]
    manifest: Manifest
    models: ModuleType
    tools_module: ModuleType
    invariants_after: dict[str, list[tuple[str, Callable[..., str | None]]]]
    tool_kinds: dict[str, str]
    check_messages: dict[str, str]

    def show_result(self, tool: str, value: Any) -> Any: ...


@dataclass
class CallResult:
    tool: str
    ok: bool
    content: Any = None
    error: str | None = None
    internal: bool = False  # failed on a bug in envscale, not on anything the agent did

    @property
    def text(self) -> str:
        """What the agent reads: the JSON of the content, or `Error: message`."""
        if not self.ok:
            return f"Error: {self.error}"
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, ensure_ascii=False)

    def to_dict(self) -> dict:
        return {
            "tool": self.tool,
            "ok": self.ok,
            "content": self.content,
            "error": self.error,
            "internal": self.internal,
        }


class Outcome(NamedTuple):
    tool: str
    ok: bool
    internal: bool = False


@dataclass(frozen=True)
class InternalError:
    tool: str
    message: str
    traceback: str


class InternalErrors:
    """The internal errors of this process's environments: how many, and the latest in full."""

    def __init__(self, keep: int = 20) -> None:
        self.count = 0
        self.latest: deque[InternalError] = deque(maxlen=keep)

    def record(self, tool: str, error: BaseException) -> InternalError:
        entry = InternalError(
            tool, f"{type(error).__name__}: {error}", "".join(traceback.format_exception(error))
        )
        self.count += 1
        self.latest.append(entry)
        return entry

    def since(self, count: int) -> list[InternalError]:
        """Those recorded after the count was `count` (as far as the latest reach back)."""
        new = self.count - count
        return list(self.latest)[-new:] if new > 0 else []


INTERNAL_ERRORS = InternalErrors()


@dataclass
class Change:
    entity: str
    key: Any
    before: dict | None
    after: dict | None

    @property
    def kind(self) -> str:
        return "insert" if self.before is None else ("delete" if self.after is None else "update")

    def to_dict(self) -> dict:
        return {
            "entity": self.entity,
            "key": self.key,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class Environment:
    domain: CompiledDomain
    connection: apsw.Connection
    db: Db
    enforce_policies: bool = True
    # The calls since reset, by tool name and outcome. Contents are not kept: an episode's
    # results can be large, and freeing them would make reset cost what the calls returned.
    history: list[Outcome] = field(default_factory=list)
    monitor: PolicyMonitor | None = None
    _base_hash: int | None = None

    @classmethod
    def create(
        cls,
        domain: CompiledDomain,
        data: dict | str | Path | None,
        path: str | Path | None = None,
        enforce_policies: bool = True,
    ) -> Environment:
        connection = apsw.Connection(str(path) if path else ":memory:")
        connection.execute("PRAGMA foreign_keys = ON")
        if path:
            connection.execute("PRAGMA journal_mode = WAL")
        existing = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        tables = {
            name: TableMeta.from_manifest(name, spec)
            for name, spec in domain.manifest.entities.items()
        }
        if not existing:
            connection.execute(domain.files["schema.sql"])
        elif data is not None:
            connection.close()
            raise DataError(
                [f"{path} already holds a database; omit the data to reopen it, or remove the file"]
            )
        db = Db(connection, tables, domain.manifest.clock)
        env = cls(domain, connection, db, enforce_policies)
        env.monitor = PolicyMonitor(domain.manifest.policies, domain.tool_kinds)
        if data is not None:
            env._load(_read_data(data))
        connection.execute("BEGIN")
        return env

    # ---- data

    def _load(self, data: dict) -> None:
        models = self.domain.models.ENTITIES
        problems: list[str] = []
        unknown = [name for name in data if name not in self.db.tables]
        for name in unknown:
            hint = difflib.get_close_matches(name, list(self.db.tables), n=1)
            problems.append(
                f"unknown entity '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
            )
        rows: list[tuple[TableMeta, tuple]] = []
        for name, meta in self.db.tables.items():
            records = data.get(name, [])
            if isinstance(records, dict):
                records = list(records.values())
            for i, record in enumerate(records):
                try:
                    checked = models[name].model_validate(record)
                except pydantic.ValidationError as error:
                    for e in error.errors():
                        where = ".".join(str(p) for p in e["loc"])
                        problems.append(f"{name}[{i}].{where}: {e['msg']}")
                    continue
                # The record's own values are stored, so data round-trips exactly (100 stays 100);
                # the model only supplies the defaults of fields the record leaves out.
                values = {
                    f: record[f] if f in record else _dump(getattr(checked, f)) for f in meta.fields
                }
                rows.append((meta, meta.encode(values)))
        if problems:
            raise DataError(problems)
        with self.connection:
            self.connection.execute("PRAGMA defer_foreign_keys = ON")
            for meta, row in rows:
                try:
                    self.connection.execute(meta.insert_sql, row)
                except apsw.ConstraintError as error:
                    problems.append(
                        f"{meta.entity} {row[: len(meta.key)]}: {self._constraint_message(error)}"
                    )
            if not problems:
                violations = list(self.connection.execute("PRAGMA foreign_key_check"))
                for table, rowid, parent, _ in violations[:20]:
                    problems.append(f"{table} row {rowid}: refers to a missing {parent}")
            if not problems:
                for name, check in self.domain.tools_module.INVARIANTS.items():
                    message = check(self.db, every_row=True)
                    if message is not None:
                        problems.append(f"invariant '{name}' does not hold: {message}")
            if problems:
                raise DataError(problems)

    def export(self) -> dict[str, list[dict]]:
        """The current state, records per entity, in key order."""
        return {name: self.db.all(name) for name in self.db.tables}

    # ---- calls

    @property
    def tools(self) -> dict:
        return self.domain.tools_module.TOOLS

    def call(self, name: str, arguments: dict | str | None = None) -> CallResult:
        try:
            result = self._call(name, arguments)
        except Exception as error:  # any other exception is a bug: flagged, not raised
            entry = INTERNAL_ERRORS.record(str(name), error)
            result = CallResult(
                str(name), False, error=INTERNAL_PREFIX + entry.message, internal=True
            )
        self.history.append(Outcome(result.tool, result.ok, result.internal))
        return result

    def _call(self, name: str, arguments: dict | str | None) -> CallResult:
        function = self.tools.get(name) if isinstance(name, str) else None
        if function is None:
            close = (
                difflib.get_close_matches(name, list(self.tools), n=1)
                if isinstance(name, str)
                else []
            )
            hint = f" Did you mean '{close[0]}'?" if close else ""
            return CallResult(str(name), False, error=f"unknown tool '{_printable(name)}'.{hint}")
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as error:
                return CallResult(name, False, error=f"arguments are not valid JSON: {error.msg}")
            except RecursionError:
                return CallResult(name, False, error=TOO_DEEP)
            except ValueError:  # an integer past Python's limit on digits it converts
                return CallResult(name, False, error=TOO_MANY_DIGITS)
        if not isinstance(arguments, dict):
            return CallResult(name, False, error="arguments must be a JSON object")
        if nesting_exceeds(arguments, MAX_ARGUMENT_DEPTH):
            return CallResult(name, False, error=TOO_DEEP)
        if (where := not_text(arguments)) is not None:
            why = f"argument '{where}' is not valid Unicode text (a lone surrogate)"
            return CallResult(name, False, error=why)
        try:
            validated = self.domain.models.ARGUMENTS[name].model_validate(arguments)
        except pydantic.ValidationError as error:
            return CallResult(name, False, error=_argument_errors(error))
        if self.enforce_policies and (why := self.monitor.violation(name)):
            return CallResult(name, False, error=why)
        # Arguments reach the tool as the agent sent them once they validate, so 100 stays 100.
        # They go by position: a parameter may be named like a Python keyword or like `db`.
        values = [
            arguments[key] if key in arguments else _dump(getattr(validated, key))
            for key in type(validated).model_fields
        ]
        self.db.touched_in_call = []
        self.connection.execute("SAVEPOINT call")
        try:
            content = function(self.db, *values)
            for invariant, check in self.domain.invariants_after[name]:
                if (message := check(self.db)) is not None:
                    raise ToolError(f"invariant '{invariant}' violated: {message}")
            # A copy in plain JSON values: the result shares nothing with the tool's records.
            content = json.loads(
                json.dumps(self.domain.show_result(name, content), ensure_ascii=False)
            )
        except ToolError as error:
            return self._rollback(name, error.message)
        except apsw.ConstraintError as error:
            return self._rollback(name, self._constraint_message(error))
        except BaseException:
            # Not the agent's doing (a bug, an interrupt): still leave the state as it was;
            # `call` reports a bug as an internal error, an interrupt goes on up.
            self._rollback(name, "")
            raise
        self.connection.execute("RELEASE call")
        self.monitor.record(name)
        return CallResult(name, True, content)

    def _rollback(self, name: str, message: str) -> CallResult:
        self.connection.execute("ROLLBACK TO call")
        self.connection.execute("RELEASE call")
        for slot in self.db.touched_in_call:
            self.db.original.pop(slot, None)
        self.db.touched_in_call = []
        return CallResult(name, False, error=message)

    def _constraint_message(self, error: apsw.ConstraintError) -> str:
        text = str(error).split(": ", 1)[-1] if ": " in str(error) else str(error)
        for prefix, explain in (
            ("CHECK constraint failed: ", None),
            ("UNIQUE constraint failed: ", "must be unique"),
            ("NOT NULL constraint failed: ", "is required"),
        ):
            if prefix in str(error):
                detail = str(error).split(prefix, 1)[1]
                if explain is None:
                    return f"constraint failed: {self.domain.check_messages.get(detail, detail)}"
                return f"{detail} {explain}"
        if "FOREIGN KEY" in str(error):
            return "the record is still referred to by other records"
        return text

    # ---- state

    def reset(self) -> None:
        """Back to the state the environment was created with."""
        self.connection.execute("ROLLBACK")
        self.connection.execute("BEGIN")
        self.db.original.clear()
        self.db.touched_in_call = []
        self.monitor.reset()
        self.history.clear()

    def changes(self) -> list[Change]:
        """The records that differ from reset, compared as stored: 9 and 9.0 differ, and so do
        0.0 and -0.0, as they do in the exported JSON."""
        return [change for change, _, _ in self._changes()]

    def _changes(self) -> Iterator[tuple[Change, str | None, str | None]]:
        """Each change, with the canonical JSON of its record before and after."""
        for (entity, key), before in self.db.original.items():
            after = self.db.find(entity, key)
            before_text = None if before is None else canonical_json(before)
            after_text = None if after is None else canonical_json(after)
            if before_text != after_text:
                yield Change(entity, key, before, after), before_text, after_text

    def diff(self) -> list[dict]:
        """What changed since reset, record by record."""
        return [c.to_dict() for c in self.changes()]

    def _initial_hash(self) -> int:
        if self._base_hash is None:
            total = 0
            for name, meta in self.db.tables.items():
                for row in self.connection.execute(meta.all_sql):
                    total += record_digest(name, meta.decode(row))
            # Rows an episode already changed count as they were at reset.
            for (entity, key), before in self.db.original.items():
                current = self.db.find(entity, key)
                if current is not None:
                    total -= record_digest(entity, current)
                if before is not None:
                    total += record_digest(entity, before)
            self._base_hash = total % HASH_MODULUS
        return self._base_hash

    def state_hash(self) -> str:
        """A hash of the whole state, equal iff the states are equal, independent of row order."""
        total = self._initial_hash()
        for change, before_text, after_text in self._changes():
            if change.before is not None:
                total -= record_digest(change.entity, change.before, before_text)
            if change.after is not None:
                total += record_digest(change.entity, change.after, after_text)
        return format(total % HASH_MODULUS, "064x")

    def close(self) -> None:
        self.connection.close()


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest deeper than `limit` in value; without recursion."""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [
            child
            for item in level
            if isinstance(item, list | dict)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return True


def not_text(arguments: dict) -> str | None:
    """Where a string (or a key) holding a lone surrogate is, as a dotted path with the
    surrogates escaped; None when there is none. Arguments are already known to nest at most
    MAX_ARGUMENT_DEPTH levels."""
    stack: list[tuple[str, Any]] = [("", arguments)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return where or "arguments"
        elif isinstance(value, dict):
            for key, child in value.items():
                path = f"{where}.{_printable(key)}" if where else _printable(key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    return path
                stack.append((path, child))
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}", child) for i, child in enumerate(value))
    return None


def _printable(text: Any) -> str:
    """Text with any lone surrogate written as its escape, safe to put in a message."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump()
    return value


def _argument_errors(error: pydantic.ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "arguments"
        if e["type"] == "missing":
            parts.append(f"missing argument '{where}'")
        elif e["type"] == "extra_forbidden":
            parts.append(f"unexpected argument '{where}'")
        else:
            parts.append(f"argument '{where}': {e['msg']}")
    return "invalid arguments: " + "; ".join(parts)


def _read_data(data: dict | str | Path) -> dict:
    if isinstance(data, dict):
        return data
    path = Path(data)
    data = read_json(path, "data file")
    if not isinstance(data, dict):
        raise DataError([f"{path}: expected a JSON object of records per entity"])
    return data
