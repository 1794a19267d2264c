"""An environment: one SQLite database of a compiled domain, and the tool-call contract.

Every call that writes runs in a savepoint inside the episode's transaction, opened by its
first write. A failed call rolls its savepoint back; `reset()` rolls the whole episode back.
Both cost what changed.

A call fails in one of two ways. An ordinary failure is the agent's doing or the data's: an
unknown tool, arguments that do not validate, a policy that forbids the call now, a ToolError
(a failed require, a missing record, a bad value; lib.py turns every failure a spec author
cannot rule out into one), a constraint of the schema (a CHECK, UNIQUE, NOT NULL or foreign
key), an invariant the call would break, or a limit (`limits.py`: argument and result sizes,
the work a call may do) or a resource (memory, a number's range) it would exceed. Any other
exception is internal: a bug in envscale (generated code, the runtime), never something to
learn from. Its call is rolled back all the same, its result says `internal` and its message
starts `internal error: `, and it is counted in INTERNAL_ERRORS, which the test suite checks
after every test.
"""

from __future__ import annotations

import difflib
import json
import math
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Protocol

import apsw
import pydantic

from envscale.jsonl import escape_surrogates
from envscale.records import Manifest
from envscale.runtime.database import (
    HASH_MODULUS,
    Db,
    TableMeta,
    build_tables,
    canonical_json,
    record_digest,
    same_row,
    shown_key,
    watched_entities,
)
from envscale.runtime.defaults import StructDefaults
from envscale.runtime.errors import DataError, ToolError, read_json
from envscale.runtime.limits import (
    DEFAULT_LIMITS,
    Limits,
    admit_arguments,
    result_copy,
    too_deep,
)
from envscale.runtime.plainargs import PlainCheck, plain_check
from envscale.runtime.policy import PolicyMonitor
from envscale.runtime.refs import NestedRefs
from envscale.runtime.rowview import failing_record, run_check

INTERNAL_PREFIX = "internal error: "
# The default depth limit and its message (see `Limits`).
MAX_ARGUMENT_DEPTH = DEFAULT_LIMITS.depth
TOO_DEEP = too_deep(MAX_ARGUMENT_DEPTH)
_MAX_TOOL_NAME = 200
STATEMENT_CACHE = 512
# Resources that what an agent sends can exhaust (a huge list built, a date pushed past year
# 9999): running out of one is a failed call, with this message.
RESOURCE_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (MemoryError, "the call needs more memory than there is"),
    (RecursionError, "the call nests values too deeply"),
    (OverflowError, "a number is out of range"),
    (apsw.TooBigError, "a value is too big to store"),
)
_RESOURCE_KINDS = tuple(kind for kind, _ in RESOURCE_ERRORS)
# Who calls a tool: the agent, the user on their own device, or set-up code (a task's
# initialisation actions), which may call any tool but sync blocks and assertions.
SIDES = ("agent", "user", "internal")


class CompiledDomain(Protocol):
    """What an environment needs of its domain (`envscale.runtime.domain.Domain` has it)."""

    files: dict[str, str]
    manifest: Manifest
    models: ModuleType
    tools_module: ModuleType
    invariants_after: dict[str, list[tuple[str, Callable[..., str | None]]]]
    tool_kinds: dict[str, str]
    check_messages: dict[str, str]
    limits: Limits
    tool_sides: dict[str, str]
    sync_tools: list[str]
    assertions: list[str]

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
    side: str = "agent"


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
class _Seen:
    """What a journalled record was found to be the last time the state was looked at: its
    stored row, and what follows from it while the row stays the same."""

    before: dict | None  # the journal's version, by identity
    row: tuple | None
    change: Change | None  # None: the record is as it was at reset
    before_text: str | None
    after_text: str | None
    delta: int | None = None  # what the record adds to the state hash, once computed


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
    limits: Limits = DEFAULT_LIMITS
    _base_hash: int | None = None
    struct_defaults: StructDefaults | None = None
    # Tools with @as_sent parameters: a type error in their bodies is the agent's doing.
    as_sent_tools: frozenset[str] = frozenset()
    # Tools that write no entity: their calls need no savepoint.
    read_only_tools: frozenset[str] = frozenset()
    # Per journalled record, what the diff and the state hash last made of it.
    _seen: dict[tuple[str, Any], _Seen] = field(default_factory=dict)
    # Per (side, role), the names of the tools that side may call in that role.
    _allowed: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Per tool, the one-pass check of plain arguments (None: every call goes the full way);
    # `plain_arguments = False` sends every call the full way.
    _plain: dict[str, PlainCheck | None] = field(default_factory=dict)
    plain_arguments: bool = True

    @classmethod
    def create(
        cls,
        domain: CompiledDomain,
        data: dict | str | Path | None,
        path: str | Path | None = None,
        enforce_policies: bool = True,
        limits: Limits | None = None,
        as_models: bool = False,
    ) -> Environment:
        """`limits` default to the domain's. `as_models`: store loaded records as the entity
        models validate them (ints in float fields floats, optional fields left out none)
        rather than as written."""
        # Every statement's text is made once (database.py), so each is prepared once and then
        # found in apsw's per-connection cache, kept large enough for a domain's statements.
        connection = apsw.Connection(
            str(path) if path else ":memory:", statementcachesize=STATEMENT_CACHE
        )
        connection.execute("PRAGMA foreign_keys = ON")
        if path:
            connection.execute("PRAGMA journal_mode = WAL")
        existing = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        tables = build_tables(domain.manifest, getattr(domain.tools_module, "DERIVED", {}))
        if not existing:
            connection.execute(domain.files["schema.sql"])
        elif data is not None:
            connection.close()
            raise DataError(
                [f"{path} already holds a database; omit the data to reopen it, or remove the file"]
            )
        nested = NestedRefs.from_manifest(domain.manifest)
        db = Db(connection, tables, domain.manifest.clock, nested)
        db.watched = watched_entities(tables, getattr(domain.tools_module, "AFFECTED_BY", {}))
        env = cls(domain, connection, db, enforce_policies, limits=limits or domain.limits)
        env.struct_defaults = StructDefaults(domain.manifest)
        env.as_sent_tools = frozenset(t.name for t in domain.manifest.tools if t.as_sent)
        env.read_only_tools = frozenset(t.name for t in domain.manifest.tools if not t.writes)
        env._plain = {name: plain_check(model) for name, model in domain.models.ARGUMENTS.items()}
        env.monitor = PolicyMonitor(domain.manifest.policies, domain.tool_kinds, env._find)
        if data is not None:
            env._load(_read_data(data), as_models)
        connection.execute("BEGIN")
        return env

    # ---- data

    def _load(self, data: dict, as_models: bool = False) -> None:
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
                    f: self._given(record[f], getattr(checked, f))
                    if f in record and not as_models
                    else _dump(getattr(checked, f))
                    for f in meta.fields
                }
                try:
                    if meta.derived:
                        problems.extend(self._derive_loaded(meta, f"{name}[{i}]", record, values))
                    rows.append((meta, meta.encode(values)))
                except ToolError as error:
                    problems.append(f"{name}[{i}]: {error.message}")
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
                problems.extend(self._dangling_inside()[:20])
            if not problems:
                on = {inv.name: inv.entity for inv in self.domain.manifest.invariants}
                for name, check in self.domain.tools_module.INVARIANTS.items():
                    message = run_check(check, self.db)  # a condition that cannot be
                    if message is None:  # evaluated fails, with the reason
                        continue
                    entity = on.get(name)
                    record = failing_record(check, self.db, entity) if entity else None
                    if record is not None:
                        key = self.db.tables[entity].key_of(record)
                        shown = shown_key(key)
                        problems.append(
                            f"invariant '{name}' does not hold for {entity} '{shown}': {message}"
                        )
                    else:
                        problems.append(f"invariant '{name}' does not hold: {message}")
            if problems:
                raise DataError(problems)

    def _given(self, raw: Any, validated: Any) -> Any:
        """A value as the data or the agent gave it, struct defaults filled in."""
        defaults = self.struct_defaults
        return defaults.fill(raw, validated) if defaults else raw

    def _derive_loaded(self, meta: TableMeta, where: str, record: dict, values: dict) -> list[str]:
        """Compute a loaded record's derived fields into `values`. Data may leave them out
        (or give none); a value it does give must be the computed one (numbers within a
        billionth), since a silently different value would hide an error in the data."""
        self.db.complete(meta.entity, values)
        problems = []
        for name in meta.derived:
            stated = record.get(name)
            if stated is not None and not _same_value(stated, values[name]):
                problems.append(
                    f"{where}.{name}: the data gives {stated!r}, but {name} is derived and "
                    f"computes to {values[name]!r}; leave it out to have it computed"
                )
        return problems

    def _dangling_inside(self) -> list[str]:
        """References inside JSON fields of the loaded data that name no record."""
        nested = self.db.nested
        keys: dict[str, set] = {}
        problems = []
        for entity, shapes in nested.fields.items():
            meta = self.db.tables[entity]
            for record in self.db.all(entity):
                for name, shape in shapes.items():
                    for target, key, path in nested.found(shape, record.get(name), name):
                        if target not in keys:
                            keys[target] = {
                                self.db.tables[target].key_of(r) for r in self.db.all(target)
                            }
                        usable = isinstance(key, str | int) and not isinstance(key, bool)
                        if not usable or key not in keys[target]:
                            problems.append(
                                f"{entity} {meta.key_of(record)!r}: {path} refers to a missing "
                                f"{target} {json.dumps(key, ensure_ascii=False)}"
                            )
        return problems

    def export(self) -> dict[str, list[dict]]:
        """The current state, records per entity, in key order."""
        return {name: self.db.all(name) for name in self.db.tables}

    # ---- calls

    @property
    def tools(self) -> dict:
        return self.domain.tools_module.TOOLS

    def call(
        self, name: str, arguments: dict | str | None = None, side: str = "agent"
    ) -> CallResult:
        """Call a tool as `side` (agent, user or internal); each side sees only its own tools.
        After a successful call the domain's sync blocks run, in the same savepoint."""
        if side not in SIDES:
            raise ValueError(f"unknown side {side!r}: one of {', '.join(SIDES)}")
        return self._guarded(name, arguments, side, "tool")

    def assertion(self, name: str, arguments: dict | str | None = None) -> CallResult:
        """Run a named assertion of the domain on the current state: content is a bool when
        it ran; an unknown assertion or a failing one is an ordinary failed call."""
        return self._guarded(name, arguments, "internal", "assertion")

    def sync(self) -> CallResult | None:
        """Run the domain's sync blocks now (as after a call); the failed result, if any."""
        for name in self.domain.sync_tools:
            result = self._guarded(name, {}, "internal", "sync")
            if not result.ok:
                return result
        return None

    def _guarded(self, name: str, arguments: dict | str | None, side: str, role: str) -> CallResult:
        try:
            result = self._call(name, arguments, side, role)
        except Exception as error:  # any other exception is a bug: flagged, not raised
            entry = INTERNAL_ERRORS.record(str(name), error)
            result = CallResult(
                str(name), False, error=INTERNAL_PREFIX + entry.message, internal=True
            )
        self.history.append(Outcome(result.tool, result.ok, result.internal, side))
        return result

    def _callable(self, name: Any, side: str, role: str) -> bool:
        sides = self.domain.tool_sides
        if not isinstance(name, str) or name not in self.tools:
            return False
        if role != "tool":
            wanted = self.domain.sync_tools if role == "sync" else self.domain.assertions
            return name in wanted
        if name in self.domain.sync_tools or name in self.domain.assertions:
            return False
        return side == "internal" or sides.get(name, "agent") == side

    def _call(
        self, name: str, arguments: dict | str | None, side: str = "agent", role: str = "tool"
    ) -> CallResult:
        tools = self.tools
        function = tools.get(name) if isinstance(name, str) else None
        allowed = self._allowed.get((side, role))
        if allowed is None:
            allowed = frozenset(n for n in tools if self._callable(n, side, role))
            self._allowed[(side, role)] = allowed
        if function is not None and name not in allowed and not self._callable(name, side, role):
            # Another side's tool, an internal one, or not an assertion: not this side's to call.
            shown = _printable(name)
            return CallResult(shown, False, error=f"Tool '{shown}' not found.")
        if function is None:
            # A name far longer than any tool's is no near miss, and is not echoed whole.
            plausible = isinstance(name, str) and len(name) <= _MAX_TOOL_NAME
            close = difflib.get_close_matches(name, list(self.tools), n=1) if plausible else []
            hint = f" Did you mean '{close[0]}'?" if close else ""
            shown = _printable(name if plausible else f"{str(name)[:_MAX_TOOL_NAME]}...")
            return CallResult(shown, False, error=f"unknown tool '{shown}'.{hint}")
        accepted = None
        if type(arguments) is dict and self.plain_arguments:
            plain = self._plain.get(name, _UNMADE)
            if plain is _UNMADE:
                plain = self._plain[name] = plain_check(self.domain.models.ARGUMENTS[name])
            if plain is not None:
                accepted = plain(arguments, self.limits)
        if accepted is not None:
            values, checked = accepted
        else:
            try:
                arguments = admit_arguments(arguments, self.limits)
            except ToolError as error:
                return CallResult(name, False, error=error.message)
            try:
                validated = self.domain.models.ARGUMENTS[name].model_validate(arguments)
            except pydantic.ValidationError as error:
                return CallResult(name, False, error=_argument_errors(error))
            checked = _checked(validated)
            values = self._values(arguments, validated, checked)
        policed = self.enforce_policies and side == "agent"
        if policed and (why := self.monitor.violation(name, checked)):
            return CallResult(name, False, error=why)
        # A tool that writes nothing, with no sync blocks after it, has nothing to roll back.
        saved = name not in self.read_only_tools or (
            role == "tool" and bool(self.domain.sync_tools)
        )
        db = self.db
        db.start_call(saved, self.limits.steps)
        try:
            content = function(db, *values)
            checks = self.domain.invariants_after[name]
            if checks:
                self._check_invariants(checks)
            shown = self.domain.show_result(name, content)
            if db.fresh_record(content, self.limits.result_bytes):
                # A record decoded whole for this call and returned as it is by a tool that
                # writes nothing (so changes nothing in place) shares nothing already.
                content = shown
            else:  # a copy in plain JSON values: the result shares nothing with the records
                content = result_copy(shown, self.limits)
            if role == "tool":
                for sync in self.domain.sync_tools:
                    self.tools[sync](db)
                    self._check_invariants(self.domain.invariants_after[sync])
        except ToolError as error:
            return self._rollback(name, error.message, saved)
        except apsw.ConstraintError as error:
            return self._rollback(name, self._constraint_message(error), saved)
        except _RESOURCE_KINDS as error:
            return self._rollback(name, _resource_message(error), saved)
        except (TypeError, AttributeError) as error:
            # An argument passed as sent (@as_sent) may be of any type: what a body then
            # cannot do with it fails the call, with Python's words. Elsewhere it is a bug.
            self._rollback(name, "", saved)
            if name in self.as_sent_tools:
                return CallResult(name, False, error=str(error))
            raise
        except BaseException:
            # Not the agent's doing (a bug, an interrupt): still leave the state as it was;
            # `call` reports a bug as an internal error, an interrupt goes on up.
            self._rollback(name, "", saved)
            raise
        finally:
            db.end_call()
        if saved:
            db.end_savepoint(keep=True)
        if side == "agent":
            self.monitor.record(name, checked)
        return CallResult(name, True, content)

    def _values(self, arguments: dict, validated: pydantic.BaseModel, checked: dict) -> list:
        """What the tool gets: the arguments as the agent sent them once they validate, so
        100 stays 100, by position (a parameter may be named like a Python keyword or `db`)."""
        if self.struct_defaults:
            return [
                self._given(arguments[key], getattr(validated, key)) if key in arguments else value
                for key, value in checked.items()
            ]
        # No struct has a default to fill in: the arguments as sent.
        return [arguments.get(key, value) for key, value in checked.items()]

    def _check_invariants(self, checks: list[tuple[str, Callable[..., str | None]]]) -> None:
        for invariant, check in checks:
            if (message := check(self.db)) is not None:
                raise ToolError(f"invariant '{invariant}' violated: {message}")

    def checked_arguments(self, name: str, arguments: dict) -> dict | None:
        """The arguments as a call of `name` passes them to the policies (defaults filled
        in), or None when they would not validate."""
        model = self.domain.models.ARGUMENTS.get(name)
        if model is None:
            return None
        try:
            return _checked(model.model_validate(admit_arguments(arguments, self.limits)))
        except (ToolError, pydantic.ValidationError):
            return None

    def _find(self, entity: str, key: Any) -> dict | None:
        """The record for a policy's question, or None; a key SQLite cannot take finds none."""
        try:
            return self.db.find(entity, key)
        except (UnicodeEncodeError, OverflowError):
            return None

    def _rollback(self, name: str, message: str, saved: bool = True) -> CallResult:
        """Undo the call in progress; `saved`: it runs in a savepoint (a call of a tool that
        writes nothing runs in none, and has nothing to undo)."""
        if saved:
            self.db.end_savepoint(keep=False)
        for slot in self.db.touched_in_call:
            self.db.original.pop(slot, None)
            self._seen.pop(slot, None)
        self.db.begin_call()
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
        self._seen.clear()
        self.db.begin_call()
        self.monitor.reset()
        self.history.clear()

    def changes(self) -> list[Change]:
        """The records that differ from reset, compared as stored: 9 and 9.0 differ, and so do
        0.0 and -0.0, as they do in the exported JSON."""
        return [change for change, _, _ in self._changes()]

    def _changes(self) -> Iterator[tuple[Change, str | None, str | None]]:
        """Each change, with the canonical JSON of its record before and after."""
        for seen in self._journal():
            if seen.change is not None:
                yield seen.change, seen.before_text, seen.after_text

    def _journal(self) -> Iterator[_Seen]:
        """Each journalled record as it is now; one whose stored row is as it was when last
        looked at is not decoded again."""
        for slot, before in self.db.originals().items():
            entity, key = slot
            row = self.db.row(entity, key)
            seen = self._seen.get(slot)
            if seen is None or seen.before is not before or not same_row(seen.row, row):
                after = None if row is None else self.db.tables[entity].decode(row)
                before_text = None if before is None else canonical_json(before)
                after_text = None if after is None else canonical_json(after)
                change = None
                if before_text != after_text:
                    change = Change(entity, key, before, after)
                seen = _Seen(before, row, change, before_text, after_text)
                self._seen[slot] = seen
            yield seen

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
            for (entity, key), before in self.db.originals().items():
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
        for seen in self._journal():
            if seen.delta is None:
                seen.delta = 0
                change = seen.change
                if change is not None and change.before is not None:
                    seen.delta -= record_digest(change.entity, change.before, seen.before_text)
                if change is not None and change.after is not None:
                    seen.delta += record_digest(change.entity, change.after, seen.after_text)
            total += seen.delta
        return format(total % HASH_MODULUS, "064x")

    def close(self) -> None:
        self.connection.close()


def _resource_message(error: BaseException) -> str:
    message = next(text for kind, text in RESOURCE_ERRORS if isinstance(error, kind))
    return f"{message} ({error})" if str(error) else message


_UNMADE: Any = object()
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per argument model, its fields in order
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _checked(validated: pydantic.BaseModel) -> dict[str, Any]:
    model = type(validated)
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = tuple(model.model_fields)
    checked = {}
    for key in names:
        value = getattr(validated, key)
        checked[key] = value if type(value) in _SCALARS else _dump(value)
    return checked


def _same_value(stated: Any, computed: Any) -> bool:
    numbers = (int, float)
    if (
        isinstance(stated, numbers)
        and isinstance(computed, numbers)
        and not isinstance(stated, bool)
        and not isinstance(computed, bool)
    ):
        return math.isclose(stated, computed, rel_tol=1e-9, abs_tol=1e-9)
    return stated == computed


def _printable(text: Any) -> str:
    """Text with any lone surrogate written as its escape, safe to put in a message."""
    return escape_surrogates(str(text))


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
    for e in error.errors(include_url=False):
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
