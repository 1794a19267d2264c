"""What a spec declares, by name: the symbol table every pass reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from envscale.compiler.types import PRIMITIVES, STR, OptionalT, RefT, Type, strip_optional
from envscale.dsl import ast


@dataclass
class FieldInfo:
    name: str
    type: Type
    decl: ast.Field
    key: bool = False
    unique: bool = False
    index: bool = False
    external: bool = False  # the record's address, not part of its shown form
    sparse: bool = False  # omitted from the shown form when none
    default: ast.Expr | None = None
    checks: list[ast.Expr] = field(default_factory=list)
    derived: ast.Expr | None = None  # @derived(expr): computed from the record's other fields
    hidden: bool = False  # @hidden: stored, but left out of every tool result
    as_written: bool = False  # @as_written: keeps a value of any type a tool writes to it

    @property
    def optional(self) -> bool:
        return isinstance(self.type, OptionalT)


@dataclass
class RecordInfo:
    """An entity or a struct: named, typed fields."""

    name: str
    decl: ast.Entity | ast.Struct
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    is_entity: bool = True

    @property
    def key(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.key]


@dataclass
class ParamInfo:
    name: str
    type: Type
    decl: ast.Param
    choices: list | None = None  # @choices: the values the schema offers; the body checks them
    as_sent: bool = False  # @as_sent: the value reaches the body unvalidated, as the agent sent it


@dataclass
class ToolInfo:
    name: str
    decl: ast.Tool
    params: dict[str, ParamInfo] = field(default_factory=dict)
    returns: Type | None = None
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    side: str = "agent"  # agent, user or internal (compiler/check_sides.py)
    role: str = "tool"  # tool, sync or assertion

    @property
    def kind(self) -> str:
        return "write" if self.writes else "read"

    @cached_property
    def body_nodes(self) -> list[ast.Node]:
        """Every node of the body, each before its children, in source order."""
        return list(ast.walk(*self.decl.body))


@dataclass
class Symbols:
    domain: ast.Domain | None = None
    policy_text: str = ""
    enums: dict[str, ast.Enum] = field(default_factory=dict)
    structs: dict[str, RecordInfo] = field(default_factory=dict)
    entities: dict[str, RecordInfo] = field(default_factory=dict)
    tools: dict[str, ToolInfo] = field(default_factory=dict)
    invariants: dict[str, ast.Invariant] = field(default_factory=dict)
    policies: dict[str, ast.Policy] = field(default_factory=dict)
    transition_decls: list[ast.Transitions] = field(default_factory=list)
    # "Entity.field" -> each state to the states a write may move it to (checked declarations).
    transitions: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def type_names(self) -> list[str]:
        return [*PRIMITIVES, *self.enums, *self.structs, *self.entities]

    def enum_members(self) -> dict[str, list[str]]:
        """Each member name to the enums that declare it."""
        found: dict[str, list[str]] = {}
        for enum in self.enums.values():
            for member in enum.members:
                found.setdefault(member, []).append(enum.name)
        return found

    def record(self, name: str) -> RecordInfo | None:
        return self.entities.get(name) or self.structs.get(name)


def stored_key_type(entities: dict[str, RecordInfo], entity: str) -> Type:
    """The type of what refers to a record of `entity`: its key's, followed through keys that
    are references themselves (a profile keyed by its user is referred to by the user's id)."""
    seen: set[str] = set()
    while entity not in seen:
        seen.add(entity)
        record = entities.get(entity)
        if record is None or len(record.key) != 1:
            return STR
        key = strip_optional(record.fields[record.key[0]].type)
        if not isinstance(key, RefT):
            return key
        entity = key.entity
    return STR
