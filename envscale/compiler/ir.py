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


@dataclass
class Check:
    name: str  # the constraint name, pointing back to the spec
    sql: str
    message: str
    where: str  # file:line
    facts: list[dict[str, Any]] = field(default_factory=list)  # see compiler/facts.py


@dataclass
class Table:
    entity: str
    doc: str | None
    columns: list[Column]
    key: list[str]  # field names
    checks: list[Check] = field(default_factory=list)

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


@dataclass
class Rule:
    kind: str  # before | at_most
    subject: list[str]
    requirement: list[str]
    limit: int | None


@dataclass
class Policy:
    name: str
    doc: str | None
    rules: list[Rule]


@dataclass
class Edge:
    source: str
    target: str
    param: str
    via: str  # Entity.field whose value feeds the parameter


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
    tool_graph: list[Edge]
    types: dict[int, Type]
    symbols: Any
    includes: list[str] = field(default_factory=list)  # files the spec reads, relative to it

    def table(self, entity: str) -> Table:
        return next(t for t in self.tables if t.entity == entity)
