"""The spec AST: small frozen dataclasses, each carrying the span it was parsed from.

Passes visit it through `children` and `walk`, which read a node's dataclass fields, so a
new kind of node needs no walker of its own.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, fields


@dataclass(frozen=True, slots=True)
class Span:
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


Expr = Literal | Name | Member | Index | Call | Unary | Binary | ListLit | MapLit | Comprehension | Insert


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


@dataclass(frozen=True, slots=True)
class Selector:
    names: tuple[tuple[str, Span], ...]
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


Decl = Domain | Enum | Struct | Entity | Invariant | Tool | Policy


@dataclass(frozen=True, slots=True)
class Module:
    file: str
    source: str
    declarations: tuple[Decl, ...] = field(default_factory=tuple)


Node = (
    Expr | Stmt | Decl | Module | TypeRef | Arg | AttrStep | IndexStep | Target | Attribute | Field | Param
    | Effect | Selector | Rule
)
NODE_TYPES: tuple[type, ...] = typing.get_args(Node)


# Names in field annotations that stand for nodes. The annotations are text (see the
# __future__ import), read here without evaluating them.
_NODE_NAMES = frozenset({cls.__name__ for cls in NODE_TYPES} | {"Expr", "Stmt", "Decl", "Node"})


def _node_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if _NODE_NAMES.intersection(re.findall(r"\w+", str(f.type))))


# The fields of each node class that can hold nodes, in declaration order.
_NODE_FIELDS: dict[type, tuple[str, ...]] = {cls: _node_fields(cls) for cls in NODE_TYPES}


def _gather(value: object, out: list[Node]) -> None:
    if isinstance(value, tuple):
        for item in value:
            _gather(item, out)
    elif value is not None and type(value) in _NODE_FIELDS:
        out.append(value)  # type: ignore[arg-type]


def children(node: Node) -> list[Node]:
    """The nodes directly under `node`, in the order of its fields and of their items."""
    out: list[Node] = []
    for name in _NODE_FIELDS[type(node)]:
        _gather(getattr(node, name), out)
    return out


def walk(*roots: Node) -> Iterator[Node]:
    """Every node under the roots, each before its children, in source order; not recursive."""
    stack: list[Node] = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def height(node: Node) -> int:
    """The number of nodes on the longest path down from `node`; not recursive."""
    tallest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        if level > tallest:
            tallest = level
        stack.extend((child, level + 1) for child in children(current))
    return tallest
