"""Which subscripts of generated code cannot fail, from what the spec has already checked.

`xs[i]` in the spec language fails as a tool error when the index is out of range or the key
is missing; generated code calls `lib.item` for that. Where an earlier check proves the item
is there, it subscripts directly. A fact `(container, index)` says `container[index]` exists:
`require len(found) > 0` proves `found[0]`, `k in m` proves `m[k]`, a loop over
`range(len(xs))` proves `xs[i]` (and `ys[i]` once `len(xs) == len(ys)` was required). Only
paths of plain names and fields count. A fact holds until a name in it is bound again; any
change made inside a container forgets every fact, since another name may share it.

The same facts say which values cannot be none: `x != none` proves `x` present, so
`x != none and x >= 0` orders `x` directly instead of through `lib.compare`.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass, field

from envscale.compiler import types as t
from envscale.dsl import ast

PRESENT = "!= none"  # the index of a fact that a value is not none


@dataclass(frozen=True)
class Fact:
    container: str
    index: str
    names: frozenset[str] = field(compare=False)  # the names whose rebinding ends it


@dataclass
class Bounds:
    types: dict[int, t.Type]
    facts: set[Fact] = field(default_factory=set)
    same_length: set[frozenset[str]] = field(default_factory=set)

    def type_of(self, e: ast.Expr) -> t.Type:
        return self.types.get(id(e), t.ANY)

    def path(self, e: ast.Expr) -> tuple[str, frozenset[str]] | None:
        """A key for a value that only a new binding or a change inside a container alters."""
        if isinstance(e, ast.Name):
            return e.id, frozenset({e.id})
        if isinstance(e, ast.Literal) and type(e.value) in (int, str):
            return repr(e.value), frozenset()
        if isinstance(e, ast.Member):
            obj_type = self.type_of(e.obj)
            if isinstance(obj_type, t.StructT | t.RowT):
                inner = self.path(e.obj)
                if inner is not None:
                    return f"{inner[0]}.{e.attr}", inner[1]
        return None

    def safe(self, container: ast.Expr, index: ast.Expr) -> bool:
        if not isinstance(self.type_of(container), t.ListT | t.MapT):
            return False
        c, i = self.path(container), self.path(index)
        return c is not None and i is not None and Fact(c[0], i[0], c[1] | i[1]) in self.facts

    def present(self, e: ast.Expr) -> bool:
        """Whether an earlier check proves that the value of `e` is not none."""
        found = self.path(e)
        return found is not None and Fact(found[0], PRESENT, found[1]) in self.facts

    # ---- learning

    def proven_by(self, condition: ast.Expr) -> set[Fact]:
        """Facts that hold wherever `condition` is true."""
        if isinstance(condition, ast.Binary) and condition.op == "and":
            return self.proven_by(condition.left) | self.proven_by(condition.right)
        if not isinstance(condition, ast.Binary):
            return set()
        left, op, right = condition.left, condition.op, condition.right
        if op == "!=" and (_is_none(left) or _is_none(right)):
            found = self.path(right if _is_none(left) else left)
            return set() if found is None else {Fact(found[0], PRESENT, found[1])}
        if op == "in" and isinstance(self.type_of(right), t.MapT):
            return self._fact(right, left)
        measured = _length_of(left)
        if measured is not None and not isinstance(self.type_of(measured), t.ListT):
            return set()
        if measured is not None and _is_int(right, 0) and op in (">", "!="):
            return self._fact(measured, ast.Literal(0, condition.span))
        if measured is not None and _is_int(right, 1) and op == ">=":
            return self._fact(measured, ast.Literal(0, condition.span))
        return set()

    def learn_lengths(self, condition: ast.Expr) -> None:
        """`len(xs) == len(ys)` (alone or in a conjunction) makes their indexes shared."""
        if isinstance(condition, ast.Binary) and condition.op == "and":
            self.learn_lengths(condition.left)
            self.learn_lengths(condition.right)
        elif isinstance(condition, ast.Binary) and condition.op == "==":
            a, b = _length_of(condition.left), _length_of(condition.right)
            pa, pb = (self.path(a) if a else None), (self.path(b) if b else None)
            if pa is not None and pb is not None:
                self.same_length.add(frozenset({pa[0], pb[0]}))

    def loop_facts(self, var: str, iterable: ast.Expr) -> set[Fact]:
        """`for i in range(len(xs))` proves `xs[i]` (and the same for lists of equal length);
        `for k in m` and `for k in keys(m)` prove `m[k]`."""
        if _is_call(iterable, "keys"):
            iterable = iterable.args[0].value  # type: ignore[union-attr]
        if isinstance(self.type_of(iterable), t.MapT):  # iterating a map gives its keys
            found = self.path(iterable)
            return set() if found is None else {Fact(found[0], var, found[1] | {var})}
        if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)):
            return set()
        if iterable.func.id != "range" or len(iterable.args) != 1:
            return set()
        measured = _length_of(iterable.args[0].value)
        found = self.path(measured) if measured is not None else None
        if found is None or not isinstance(self.type_of(measured), t.ListT):
            return set()
        containers = {found[0]}
        for pair in self.same_length:
            if found[0] in pair:
                containers |= pair
        names = found[1] | {var} | {c.split(".")[0] for c in containers}
        return {Fact(c, var, names) for c in containers}

    def _fact(self, container: ast.Expr, index: ast.Expr) -> set[Fact]:
        c, i = self.path(container), self.path(index)
        if c is None or i is None:
            return set()
        return {Fact(c[0], i[0], c[1] | i[1])}

    # ---- forgetting

    def forget(self, written: Writes) -> None:
        if written.changes_inside:
            self.facts.clear()
            self.same_length.clear()
            return
        self.facts = {f for f in self.facts if not f.names & written.bound}
        self.same_length = {
            pair for pair in self.same_length if not {p.split(".")[0] for p in pair} & written.bound
        }


@dataclass
class Writes:
    bound: set[str] = field(default_factory=set)
    changes_inside: bool = False


def writes_of(body: tuple[ast.Stmt, ...]) -> Writes:
    """Names that statements bind, and whether they change anything inside a container."""
    out = Writes()
    for s in _statements(body):
        match s:
            case ast.Let():
                out.bound.add(s.name)
            case ast.For():
                out.bound.add(s.var)
            case ast.Set() if not s.target.steps:
                out.bound.add(s.target.root)
            case ast.Set() | ast.Delete():
                out.changes_inside = True
    return out


def _statements(body: tuple[ast.Stmt, ...]) -> Iterator[ast.Stmt]:
    for s in body:
        yield s
        for name in type(s).__slots__:
            value = getattr(s, name)
            if isinstance(value, tuple) and value and not isinstance(value[0], ast.Arg):
                yield from _statements(tuple(v for v in value if _is_stmt(v)))


def _is_stmt(value: object) -> bool:
    return isinstance(value, _STMT_TYPES)


_STMT_TYPES = typing.get_args(ast.Stmt)


def _length_of(e: ast.Expr) -> ast.Expr | None:
    if _is_call(e, "len") or _is_call(e, "count"):
        return e.args[0].value  # type: ignore[union-attr]
    return None


def _is_call(e: ast.Expr, name: str) -> bool:
    """A call of the built-in `name` with one positional argument."""
    return (
        isinstance(e, ast.Call)
        and isinstance(e.func, ast.Name)
        and e.func.id == name
        and len(e.args) == 1
        and e.args[0].name is None
    )


def _is_none(e: ast.Expr) -> bool:
    return isinstance(e, ast.Literal) and e.value is None


def _is_int(e: ast.Expr, value: int) -> bool:
    return isinstance(e, ast.Literal) and type(e.value) is int and e.value == value
