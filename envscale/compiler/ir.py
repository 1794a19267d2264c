"""The lowered form of a domain: what code generation and the runtime need, nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envscale.compiler.types import Type
from envscale.dsl import ast


@dataclass
class Column:
    field: str  # the spec's field name, also the key in records
    name: str  # the SQL column
    sql_type: str  # INTEGER, REAL, TEXT
    kind: str  # str int float bool date datetime enum json ref
    type: Type
    nullable: bool
    unique: bool = False
    index: bool = False
    default: Any = None
    has_default: bool = False
    enum: list[str] | None = None
    ref: str | None = None  # entity referred to
    ref_column: str | None = None
    # (name, SQL condition) of the CHECKs that every value meets by the column's type.
    type_checks: list[tuple[str, str]] = field(default_factory=list)
    derived: str | None = None  # the source of its @derived expression
    hidden: bool = False  # left out of tool results
    as_written: bool = False  # an ANY column: keeps whatever str, int or float is written


@dataclass
class Check:
    name: str  # the constraint name, pointing back to the spec
    sql: str | None  # None: SQL would mean something else; a runtime invariant checks it
    message: str
    where: str  # the spec file's name
    facts: list[dict[str, Any]] = field(default_factory=list)  # see compiler/facts.py


@dataclass
class Table:
    entity: str
    doc: str | None
    columns: list[Column]
    key: list[str]  # field names
    checks: list[Check] = field(default_factory=list)
    # The field tuples that tools and invariants filter on with `.where(...)`, in first-use order.
    queried: list[tuple[str, ...]] = field(default_factory=list)
    # SQL expressions that planned queries compare by equality (label, expression): a JSON
    # path, a folded text (compiler/query_plan.py); each gets an expression index.
    query_expressions: list[tuple[str, str]] = field(default_factory=list)
    # The derived fields, each after those it reads: the order the runtime computes them in.
    derived: list[str] = field(default_factory=list)

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)


@dataclass
class Param:
    name: str
    type: Type
    doc: str | None
    default: Any = None
    has_default: bool = False
    choices: list | None = None  # @choices: offered in the schema, checked by the body
    as_sent: bool = False  # @as_sent: passed to the body as sent, whatever its JSON type


@dataclass
class Tool:
    name: str
    doc: str
    kind: str  # read or write
    reads: list[str]
    writes: list[str]
    params: list[Param]
    returns: Type | None
    decl: ast.Tool
    # "Entity.field" -> the members the record a parameter names must be in, and may be left
    # in (compiler/states.py).
    needs: dict[str, list[str]] = field(default_factory=dict)
    leaves: dict[str, list[str]] = field(default_factory=dict)
    stores: list[str] = field(default_factory=list)  # parameters written into records
    # parameter -> the entity of the record another parameter names that its value is part of
    parts: dict[str, str] = field(default_factory=dict)
    side: str = "agent"  # agent, user or internal
    role: str = "tool"  # tool, sync (runs after every successful call) or assertion


@dataclass(frozen=True)
class Link:
    """A record of `entity` can affect the rows whose `row_field` equals its `field`."""

    entity: str
    field: str
    row_field: str


@dataclass
class Invariant:
    name: str
    entity: str | None
    sql: str | None  # set when it became a CHECK constraint
    reads: list[str]
    decl: ast.Invariant
    where: str
    # A row invariant that reads nothing beyond its own row: only rows that changed can break it.
    own_row: bool = False
    # A field's `@check` checked at runtime: it holds on a row where this field is none.
    holds_when_none: str | None = None
    # A row invariant that reads other records through links (affected.py): after a call only
    # the rows those links reach from the changed records, and the changed rows, are judged.
    affected_by: tuple[Link, ...] | None = None


@dataclass(frozen=True)
class Chain:
    """How an argument leads to a record: `param` names a record, and the references `via`
    (each "Entity.field") lead from it to the bound record; none when it names that record."""

    param: str
    via: tuple[str, ...]


@dataclass
class Binding:
    """What a bound `before` rule is met for: records of `entity`, one by one. `params` holds
    the parameter of each requirement tool that names the record (a requirement tool not
    listed is met by any successful call); `chains` how each subject tool's arguments lead to
    such records (a subject tool not listed concerns none)."""

    entity: str
    params: dict[str, str]
    chains: dict[str, list[Chain]]


@dataclass
class Rule:
    kind: str  # before | at_most
    subject: list[str]
    requirement: list[str]
    limit: int | None
    binding: Binding | None = None


@dataclass
class Policy:
    name: str
    doc: str | None
    rules: list[Rule]


@dataclass(frozen=True)
class KeyFormat:
    """How the tools make new keys of an entity: `next_key`'s prefix and width (keys
    PREFIX0042), or, with `first`, `free_key`'s first key, counted up from."""

    prefix: str = ""
    width: int = 0
    first: str = ""


@dataclass
class DomainIR:
    name: str
    description: str
    policy: str
    clock: str
    source: str  # the spec file as given
    spec_hash: str
    enums: dict[str, list[str]]
    structs: dict[str, Any]  # name -> RecordInfo
    tables: list[Table]
    tools: list[Tool]
    invariants: list[Invariant]
    policies: list[Policy]
    types: dict[int, Type]
    symbols: Any
    includes: list[str] = field(default_factory=list)  # files the spec reads, relative to it
    # Per entity with a single str key that the tools make new keys for.
    key_formats: dict[str, KeyFormat] = field(default_factory=dict)
    # "Entity.field" -> each state to the states a write may move it to.
    transitions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Whether comprehensions over an entity become planned queries (compiler/query_plan.py);
    # off only to compare the answers of both ways.
    plan_queries: bool = True

    def table(self, entity: str) -> Table:
        return next(t for t in self.tables if t.entity == entity)

    @property
    def runtime_invariants(self) -> list[Invariant]:
        """Invariants that SQL cannot hold; the runtime checks them after write tools."""
        return [inv for inv in self.invariants if inv.sql is None]
