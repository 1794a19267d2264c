"""The spec AST: small frozen dataclasses, each carrying the span it was parsed from.

Passes visit it through `children` and `walk`, which read a node's dataclass fields, so a
new kind of node needs no walker of its own.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import NamedTuple


class Span(NamedTuple):
    """Where a node was written: 1-based line and column of its first character and of the
    character after its last. A tuple, so that the thousands a parse makes are cheap."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# ---- types -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A type as written: `str`, `Order`, `list<Item>`, `map<str, int>`, `Address?`."""

    name: str  # a type name, or "list" / "map"
    args: tuple[TypeRef, ...]
    optional: bool
    span: Span


# ---- expressions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool | None
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Member:
    obj: Expr
    attr: str
    span: Span
    attr_span: Span


@dataclass(frozen=True, slots=True)
class Index:
    obj: Expr
    keys: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Arg:
    name: str | None  # None for a positional argument
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: Expr
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / % == != < <= > >= and or in "not in"
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MapLit:
    items: tuple[tuple[str, Expr], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Comprehension:
    element: Expr
    var: str
    iterable: Expr
    condition: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Insert:
    entity: str
    args: tuple[Arg, ...]
    span: Span
    entity_span: Span


Expr = (
    Literal
    | Name
    | Member
    | Index
    | Call
    | Unary
    | Binary
    | ListLit
    | MapLit
    | Comprehension
    | Insert
)


# ---- statements --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    type: TypeRef | None
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Require:
    condition: Expr
    message: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Fail:
    message: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class AttrStep:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class IndexStep:
    key: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Target:
    """The left side of `set` and the operand of `delete`: a name and a path into it."""

    root: str
    steps: tuple[AttrStep | IndexStep, ...]
    span: Span
    root_span: Span


@dataclass(frozen=True, slots=True)
class Set:
    target: Target
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class InsertStmt:
    insert: Insert
    span: Span


@dataclass(frozen=True, slots=True)
class Delete:
    target: Target
    span: Span


@dataclass(frozen=True, slots=True)
class For:
    var: str
    iterable: Expr
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    condition: Expr
    then: tuple[Stmt, ...]
    otherwise: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Return:
    value: Expr | None
    span: Span


Stmt = Let | Require | Fail | Set | InsertStmt | Delete | For | If | Return


# ---- declarations ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: TypeRef
    attributes: tuple[Attribute, ...]
    doc: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    description: str
    clock: str | None
    policy: str | None  # inline text
    policy_file: str | None  # path relative to the spec
    span: Span
    policy_span: Span | None = None
    clock_span: Span | None = None
    extends: str | None = None  # the base spec's path, relative to this one
    extends_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Enum:
    name: str
    doc: str | None
    members: tuple[str, ...]
    member_spans: tuple[Span, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Struct:
    name: str
    doc: str | None
    fields: tuple[Field, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    doc: str | None
    fields: tuple[Field, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    entity: str | None
    condition: Expr
    message: Expr
    span: Span
    entity_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: TypeRef
    default: Expr | None
    doc: str | None
    span: Span
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True, slots=True)
class Effect:
    kind: str  # "reads" or "writes"
    entities: tuple[tuple[str, Span], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    params: tuple[Param, ...]
    returns: TypeRef | None
    effects: tuple[Effect, ...]
    doc: str | None
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span
    # `@side(agent|user|internal)`, `@sync`, `@assertion` (compiler/check_sides.py).
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True, slots=True)
class Selector:
    """Tools or groups joined by `|`; each may bind a parameter: `verify_patient(patient_id)`."""

    names: tuple[tuple[str, Span], ...]
    params: tuple[tuple[str, Span] | None, ...]  # per name: the parameter it binds, if any
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # "before" or "at_most"
    subject: Selector
    requirement: Selector | None
    limit: int | None
    span: Span


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    doc: str | None
    rules: tuple[Rule, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Transitions:
    """`transitions Order.status { placed -> preparing; placed, preparing -> cancelled }`: each
    chain is a sequence of state groups, every state of a group moving to every state of the
    next; a group alone only names its states."""

    entity: str
    field: str
    chains: tuple[tuple[tuple[tuple[str, Span], ...], ...], ...]
    span: Span  # the entity's name
    field_span: Span


@dataclass(frozen=True, slots=True)
class Remove:
    """`remove tool think`: in a spec that extends another, leave the base's declaration out."""

    kind: str  # enum, struct, entity, invariant, tool or policy
    name: str
    span: Span  # the removed name


@dataclass(frozen=True, slots=True)
class Replace:
    """`replace tool t(...) {...}`: in a spec that extends another, a declaration that must
    take the place of one of the base's."""

    decl: Enum | Struct | Entity | Invariant | Tool | Policy | Transitions


Decl = Domain | Enum | Struct | Entity | Invariant | Tool | Policy | Transitions | Remove | Replace


@dataclass(frozen=True, slots=True)
class Module:
    file: str
    source: str
    declarations: tuple[Decl, ...] = field(default_factory=tuple)


Node = (
    Expr
    | Stmt
    | Decl
    | Module
    | TypeRef
    | Arg
    | AttrStep
    | IndexStep
    | Target
    | Attribute
    | Field
    | Param
    | Effect
    | Selector
    | Rule
)
NODE_TYPES: tuple[type, ...] = typing.get_args(Node)


# Names in field annotations that stand for nodes. The annotations are text (see the
# __future__ import), read here without evaluating them.
_NODE_NAMES = frozenset({cls.__name__ for cls in NODE_TYPES} | {"Expr", "Stmt", "Decl", "Node"})
# How a field holds nodes: one (or None), a tuple of them, or a tuple of (name, node) pairs.
_ONE, _MANY, _PAIRS = 0, 1, 2


def _node_fields(cls: type) -> tuple[tuple[str, int], ...]:
    found = []
    for f in fields(cls):
        annotation = str(f.type)
        if _NODE_NAMES.intersection(re.findall(r"\w+", annotation)):
            shape = (
                _PAIRS
                if annotation.startswith("tuple[tuple[")
                else (_MANY if annotation.startswith("tuple[") else _ONE)
            )
            found.append((f.name, shape))
    return tuple(found)


# The fields of each node class that can hold nodes, in declaration order, with their shape.
_NODE_FIELDS: dict[type, tuple[tuple[str, int], ...]] = {
    cls: _node_fields(cls) for cls in NODE_TYPES
}


def children(node: Node) -> list[Node]:
    """The nodes directly under `node`, in the order of its fields and of their items."""
    out: list[Node] = []
    for name, shape in _NODE_FIELDS[type(node)]:
        value = getattr(node, name)
        if shape == _ONE:
            if value is not None:
                out.append(value)
        elif shape == _MANY:
            out.extend(value)
        else:
            out.extend([item for _, item in value])
    return out


def walk(*roots: Node) -> Iterator[Node]:
    """Every node under the roots, each before its children, in source order; not recursive."""
    stack: list[Node] = list(reversed(roots))
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        yield node
        shapes = _NODE_FIELDS[type(node)]
        if len(shapes) == 1:  # most nodes: no list of children to build
            name, shape = shapes[0]
            value = getattr(node, name)
            if shape == _ONE:
                if value is not None:
                    push(value)
            elif shape == _MANY:
                extend(reversed(value))
            else:
                extend([item for _, item in reversed(value)])
        elif shapes:
            kids = children(node)
            kids.reverse()
            extend(kids)


def height(node: Node) -> int:
    """The number of nodes on the longest path down from `node`; not recursive."""
    tallest = 0
    stack = [(node, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        current, level = pop()
        if level > tallest:
            tallest = level
        level += 1
        for name, shape in _NODE_FIELDS[type(current)]:
            value = getattr(current, name)
            if shape == _ONE:
                if value is not None:
                    push((value, level))
            elif shape == _MANY:
                for item in value:
                    push((item, level))
            else:
                for _, item in value:
                    push((item, level))
    return tallest
