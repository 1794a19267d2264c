"""Reads of records planned to decode only what is used (runtime/reads.py runs them).

- `E[k].f` and `r.f` where `r` is a reference: a record read for one field reads that
  column alone (`lib.field_of`), not the whole record.
- A map field read at one key, `E[k].f[key]`, `key in E[k].f`, `get(E[k].f, key, d)`: the
  map holding only that entry (`lib.entry_of`), found by a JSON path in SQLite.
- In a planned query (query_plan.py), a map field that the comprehension or loop reads only
  at one key computed outside it (`f.dates[date]` for a parameter `date`) comes as the map
  of that entry (`lib.query_at`).

The code around such a read is what it is without planning: a map of that one entry answers
`key in m`, `m[key]` and `get(m, key, d)` as the whole map does. The key is evaluated where
the language evaluates it: a key that cannot fail is computed before the read, and one that
may fail after the record is known to exist (`lib.existing`), so the first failure is the
same. A key that reads the database or loops is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from envscale.compiler import types as t
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast

TypeOf = Callable[[ast.Expr], t.Type]


@dataclass(frozen=True)
class Temporary:
    """A record read for one field: `E[key].field` or `ref.field`."""

    entity: str
    key: ast.Expr  # the key (a reference's value), or the index of `E[...]`
    field: str


def temporary(e: ast.Expr, type_of: TypeOf) -> Temporary | None:
    """The record read for its field `e` (a Member), where the record must exist."""
    if not isinstance(e, ast.Member):
        return None
    obj_type = type_of(e.obj)
    if isinstance(obj_type, t.RefT):
        return Temporary(obj_type.entity, e.obj, e.attr)
    obj = e.obj
    if (
        isinstance(obj, ast.Index)
        and len(obj.keys) == 1
        and isinstance(type_of(obj.obj), t.EntityClass)
        and isinstance(obj_type, t.RowT)
    ):
        return Temporary(obj_type.entity, obj.keys[0], e.attr)
    return None


def map_field(e: ast.Expr, type_of: TypeOf) -> Temporary | None:
    """`e` as a map field of a record read for it, one that can be read at one entry."""
    found = temporary(e, type_of)
    if found is None or not isinstance(type_of(e), t.MapT):
        return None
    return found


def pure(e: ast.Expr, type_of: TypeOf) -> bool:
    """Whether evaluating `e` twice gives one value and reads nothing of the database: no
    record read, insert, tool call or loop in it."""
    for node in ast.walk(e):
        if isinstance(node, ast.Comprehension | ast.Insert):
            return False
        if isinstance(node, ast.Member) and isinstance(t.strip_optional(type_of(node.obj)), t.RefT):
            return False
        if isinstance(node, ast.Index) and isinstance(
            t.strip_optional(type_of(node.obj)), t.EntityClass
        ):
            return False
        if isinstance(node, ast.Call):
            if isinstance(type_of(node.func), t.Method | t.ToolFn):
                return False
            if isinstance(node.func, ast.Name) and node.func.id in ("next_key", "free_key"):
                return False
    return True


def cannot_fail(e: ast.Expr, type_of: TypeOf, safe_index: Callable[[ast.Index], bool]) -> bool:
    """Whether evaluating `e` cannot fail: a literal, a name, a field of a struct or record at
    hand, an index proven in range (`safe_index`)."""
    match e:
        case ast.Literal() | ast.Name():
            return not isinstance(type_of(e), t.EntityClass | t.EnumClass | t.StructClass)
        case ast.Member(obj=obj):
            base = type_of(obj)
            return isinstance(base, t.StructT | t.RowT) and cannot_fail(obj, type_of, safe_index)
        case ast.Index(obj=obj, keys=(key,)):
            return (
                safe_index(e)
                and cannot_fail(obj, type_of, safe_index)
                and cannot_fail(key, type_of, safe_index)
            )
    return False


def fresh(e: ast.Expr, type_of: TypeOf) -> bool:
    """Whether `e` is a part of a record just read for it, which nothing else holds: a copy
    of it would change nothing."""
    node = e
    while True:
        if isinstance(node, ast.Index):
            if isinstance(type_of(node.obj), t.EntityClass):
                return True
            node = node.obj
        elif isinstance(node, ast.Member):
            if isinstance(t.strip_optional(type_of(node.obj)), t.RefT):
                return True
            node = node.obj
        elif isinstance(node, ast.Call):
            method = type_of(node.func)
            return isinstance(method, t.Method) and method.name == "get"
        else:
            return False


def same(a: ast.Expr, b: ast.Expr) -> bool:
    """Whether two expressions are written alike (names, literals, fields, indexes)."""
    match a, b:
        case ast.Literal(), ast.Literal():
            return type(a.value) is type(b.value) and a.value == b.value
        case ast.Name(), ast.Name():
            return a.id == b.id
        case ast.Member(), ast.Member():
            return a.attr == b.attr and same(a.obj, b.obj)
        case ast.Index(), ast.Index():
            return (
                len(a.keys) == len(b.keys)
                and same(a.obj, b.obj)
                and all(same(x, y) for x, y in zip(a.keys, b.keys, strict=True))
            )
    return False


def map_access(node: ast.Node, type_of: TypeOf) -> tuple[ast.Expr, ast.Expr] | None:
    """(the map, the key) of `m[key]`, `key in m`, `key not in m` or `get(m, key, d)`."""
    if isinstance(node, ast.Index) and len(node.keys) == 1:
        if isinstance(t.strip_optional(type_of(node.obj)), t.MapT):
            return node.obj, node.keys[0]
    elif isinstance(node, ast.Binary) and node.op in ("in", "not in"):
        if isinstance(t.strip_optional(type_of(node.right)), t.MapT):
            return node.right, node.left
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "get"
        and not isinstance(type_of(node.func), t.StructClass | t.Method | t.ToolFn)
        and len(node.args) == 3
        and all(a.name is None for a in node.args)
    ):
        return node.args[0].value, node.args[1].value
    return None


def names_in(e: ast.Expr) -> set[str]:
    return {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}


def entries_read(
    var: str,
    record: RecordInfo,
    roots: list[ast.Node],
    type_of: TypeOf,
    outside: Callable[[ast.Expr], bool],
    bound: set[str] | None = None,
) -> dict[str, ast.Expr]:
    """The map fields of the loop's record `var` that the nodes read only at one key, each
    with that key (computed outside the loop: `outside`, and bound nowhere among the nodes)."""
    if bound is None:
        bound = {name for node in ast.walk(*roots) if (name := _binds(node)) is not None}
    keyed: dict[int, ast.Expr] = {}
    for node in ast.walk(*roots):
        found = map_access(node, type_of)
        if found is not None:
            keyed[id(found[0])] = found[1]
    keys: dict[str, ast.Expr | None] = {}
    for node in ast.walk(*roots):
        if not (isinstance(node, ast.Member) and isinstance(node.obj, ast.Name)):
            continue
        if node.obj.id != var or node.attr not in record.fields:
            continue
        info = record.fields[node.attr]
        if not isinstance(info.type, t.MapT) or info.as_written:
            continue
        key = keyed.get(id(node))
        earlier = keys.get(node.attr, key)
        usable = (
            key is not None
            and earlier is not None
            and same(key, earlier)
            and outside(key)
            and not names_in(key) & bound
        )
        keys[node.attr] = key if usable else None
    return {name: key for name, key in keys.items() if key is not None}


@dataclass(frozen=True)
class Projection:
    """A record held by a name for some of its fields: `let f = Flight.get(k)` where only
    `f.origin` and `f.dates[day]` are read."""

    fields: tuple[str, ...]
    at: tuple[tuple[str, ast.Expr], ...]


def _binds(node: ast.Node) -> str | None:
    if isinstance(node, ast.Let):
        return node.name
    if isinstance(node, ast.Set | ast.Delete):
        return node.target.root
    if isinstance(node, ast.For | ast.Comprehension):
        return node.var
    return None


def let_projection(
    s: ast.Let,
    scope: tuple[ast.Stmt, ...],
    record: RecordInfo,
    derived: bool,
    type_of: TypeOf,
    safe_index: Callable[[ast.Index], bool],
) -> Projection | None:
    """The fields that the statements after `let x = E.get(k)` (or `E[k]`) read of `x`,
    where they read it only field by field (or compare it with none) and bind it to nothing
    else; a field they write is read whole, and none may be written where the entity has
    derived fields (`derived`: those are computed from the whole record)."""
    var = s.name
    bound: set[str] = set()
    for node in ast.walk(*scope):
        name = _binds(node)
        if name is None:
            continue
        if name == var and not isinstance(node, ast.Set | ast.Delete):
            return None
        bound.add(name)
    read = list(record.key)
    members: set[int] = set()
    written: set[str] = set()
    for node in ast.walk(*scope):
        if isinstance(node, ast.Set | ast.Delete) and node.target.root == var:
            steps = node.target.steps
            if derived or not steps or not isinstance(steps[0], ast.AttrStep):
                return None
            written.add(steps[0].name)
        elif isinstance(node, ast.Member) and isinstance(node.obj, ast.Name):
            if node.obj.id == var:
                if node.attr not in record.fields:
                    return None
                members.add(id(node.obj))
        elif isinstance(node, ast.Binary) and node.op in ("==", "!="):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if isinstance(side, ast.Name) and side.id == var:
                    if not (isinstance(other, ast.Literal) and other.value is None):
                        return None
                    members.add(id(side))
    for node in ast.walk(*scope):
        if isinstance(node, ast.Name) and node.id == var and id(node) not in members:
            return None
    at = entries_read(
        var,
        record,
        list(scope),
        type_of,
        lambda key: (
            var not in names_in(key)
            and cannot_fail(key, type_of, safe_index)
            and pure(key, type_of)
        ),
        bound=bound,
    )
    for node in ast.walk(*scope):
        if (
            isinstance(node, ast.Member)
            and isinstance(node.obj, ast.Name)
            and node.obj.id == var
            and node.attr not in read
            and node.attr not in at
        ):
            read.append(node.attr)
    for name in written:
        at.pop(name, None)
        if name not in read:
            read.append(name)
    fields = tuple(f for f in record.fields if f in read)
    if len(fields) == len(record.fields):
        return None
    return Projection(fields, tuple(at.items()))


_SCALAR = (t.Prim, t.EnumT, t.RefT, t.NoneT)


def _root(e: ast.Expr) -> str | None:
    """The name a chain of fields and indexes starts from: `x` of `x.a[k].b`."""
    while isinstance(e, ast.Member | ast.Index):
        e = e.obj
    return e.id if isinstance(e, ast.Name) else None


def copy_unneeded(var: str, scope: tuple[ast.Stmt, ...], type_of: TypeOf) -> bool:
    """Whether `let var = <a part of another value>` needs no copy of it: the statements after
    it change no value in place (no `set` of a field or item, no `delete`, no tool call) and
    read of `var` only scalars (`var.a`, `var.m[k].b`, `k in var.m`), so neither its value nor
    the one it is part of can change while the other is read, and it goes nowhere else."""
    covered: set[int] = set()
    for node in ast.walk(*scope):
        if _changes(node, var, type_of):
            return False
        chain = None
        if isinstance(node, ast.Member | ast.Index) and _root(node) == var:
            if isinstance(t.strip_optional(type_of(node)), _SCALAR):
                chain = node
        elif (
            isinstance(node, ast.Binary)
            and node.op in ("in", "not in")
            and _root(node.right) == var
        ):
            chain = node.right
        while chain is not None:
            covered.add(id(chain))
            chain = chain.obj if isinstance(chain, ast.Member | ast.Index) else None
    return all(
        id(node) in covered
        for node in ast.walk(*scope)
        if isinstance(node, ast.Name) and node.id == var
    )


def _changes(node: ast.Node, var: str, type_of: TypeOf) -> bool:
    """Whether a node changes a value in place, may (a tool call), or binds `var` again."""
    if isinstance(node, ast.Delete):
        return True
    if isinstance(node, ast.Set):
        return bool(node.target.steps) or node.target.root == var
    if isinstance(node, ast.Let):
        return node.name == var
    if isinstance(node, ast.For | ast.Comprehension):
        return node.var == var
    return isinstance(node, ast.Call) and isinstance(type_of(node.func), t.ToolFn)
