"""Queries planned from comprehensions over an entity: `[u.user_id for u in User.all() if ...]`.

A comprehension over `E.all()` or `E.where(...)` becomes one SQL query that selects the
fields the comprehension reads (its projection) and narrows the rows by the parts of the
condition that SQL can say. The SQL is a prefilter: the comprehension keeps its condition
and judges every row the query returns, so the answer is the language's by construction.
What the prefilter must never do is drop a row that the condition keeps, or one on which
the condition fails (a tool error); that is the soundness each rule below keeps:

- a comparison of a field (a column, or a scalar inside a struct field read by
  `json_extract`) with a value computed outside the loop (a parameter, a local, a literal)
  is said in SQL: `==`/`!=` none-aware (`IS`/`IS NOT`), an ordering only where neither side
  may be none (ordering a none fails in the language, SQLite gives NULL);
- `lower(f) == x` and `upper(f) == x` compare SQLite's `lower`/`upper`, which fold ASCII
  letters only: a value with any character outside printable ASCII is always returned (the
  expression gives 0, which no text equals), so folding beyond ASCII is judged in Python;
- `a and b` narrows by both only where `a` cannot fail (else a row that `b` drops might be
  one on which `a` fails); `a or b` by either; anything else narrows nothing.

Values are bound as parameters; the runtime drops the prefilter for a value that SQLite
cannot hold exactly (an integer beyond 64 bits, a NaN, a text with a NUL), so every value
is right, whatever an agent sends. The rows come ordered by key, as `E.all()` gives them.
The equalities a plan says get indexes (schema.sql): plain columns, and expression indexes
on a JSON path or a folded text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from envscale.compiler import types as t
from envscale.compiler.access_plan import entries_read
from envscale.compiler.check_entities import column_name
from envscale.compiler.sql_expr import INT_MAX, INT_MIN, quote_ident
from envscale.compiler.symbols import RecordInfo, Symbols
from envscale.dsl import ast

TypeOf = Callable[[ast.Expr], t.Type]

_ORDERING = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
# Kinds of values whose order means the same in SQLite (UTF-8 bytes, numbers) as in Python.
_ORDERED = t.COMPARABLE_ORDER
_SCALARS = (t.Prim, t.EnumT)
_VALUES = (*_SCALARS, t.RefT)  # a reference holds the referred key, a scalar
# A text with a character outside printable ASCII; SQLite's GLOB reads characters.
_BEYOND_ASCII = "'*[^ -~]*'"


@dataclass(frozen=True)
class QueryIndex:
    """An index a plan's equality wants: on plain fields, or on one SQL expression."""

    label: str
    fields: tuple[str, ...] = ()
    expression: str | None = None


@dataclass(frozen=True)
class QueryPlan:
    entity: str
    fields: tuple[str, ...] | None  # the fields read, or None: every field
    where: str  # SQL over the entity's columns with `?` placeholders; "" narrows nothing
    params: tuple[ast.Expr, ...]  # the values of the placeholders, computed before the query
    indexes: tuple[QueryIndex, ...]
    # Map fields read at one key only, each with that key: they come holding that entry alone.
    at: tuple[tuple[str, ast.Expr], ...] = ()


@dataclass(frozen=True)
class _Term:
    sql: str | None  # None: narrows nothing
    safe: bool  # the language's evaluation of it cannot fail
    params: tuple[ast.Expr, ...] = ()
    indexes: tuple[QueryIndex, ...] = ()
    joined_by: str | None = None  # "AND" or "OR" when its SQL is a chain of them


@dataclass(frozen=True)
class _Slot:
    """One field of the row as SQL reads it."""

    sql: str
    label: str
    type: t.Type  # the language's type, optional or not
    column: bool  # a plain column (not a path inside JSON)
    field: str


def plan_query(e: ast.Comprehension, symbols: Symbols, type_of: TypeOf) -> QueryPlan | None:
    """The query for a comprehension over an entity's records, or None when there is none
    to make (not over an entity, or nothing to narrow and every field read)."""
    entity = _entity_of(e.iterable, type_of)
    if entity is None:
        return None
    record = symbols.entities[entity]
    # Under `.where(...)` the index of its equalities serves: the prefilter's terms are
    # kept off every index (SQLite, without statistics, might take a less selective one).
    by_where = bool(isinstance(e.iterable, ast.Call) and e.iterable.args)
    planner = _Planner(e.var, record, symbols, type_of, indexed=not by_where)
    term = planner.term(e.condition) if e.condition is not None else _Term(None, True)
    roots: list[ast.Node] = [e.element] + ([e.condition] if e.condition is not None else [])
    at = entries_read(e.var, record, roots, type_of, planner.outside)
    fields = _fields_read(e.var, record, roots, partial=set(at))
    if fields is None:
        at = {}
    if term.sql is None and fields is None:
        return None
    return QueryPlan(entity, fields, term.sql or "", term.params, term.indexes, tuple(at.items()))


def _entity_of(iterable: ast.Expr, type_of: TypeOf) -> str | None:
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Member)):
        return None
    method = type_of(iterable.func)
    if not isinstance(method, t.Method):
        return None
    if method.name == "all" and not iterable.args:
        return method.entity
    if method.name == "where" and iterable.args and all(a.name for a in iterable.args):
        return method.entity
    return None


def _fields_read(
    var: str,
    record: RecordInfo,
    roots: list[ast.Node],
    also: tuple[str, ...] = (),
    partial: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, ...] | None:
    """The fields that the nodes read off the loop's record `var` (the key and `also` among
    them, the `partial` ones, read at one entry, not); None where the record is used whole,
    written, or its name is bound again."""
    read = [*record.key, *also]
    members = set()
    for node in ast.walk(*roots):
        if isinstance(node, ast.Comprehension | ast.For) and node.var == var:
            return None
        if isinstance(node, ast.Let) and node.name == var:
            return None
        if isinstance(node, ast.Set | ast.Delete) and node.target.root == var:
            return None
        if isinstance(node, ast.Member) and isinstance(node.obj, ast.Name) and node.obj.id == var:
            members.add(id(node.obj))
            if node.attr not in record.fields:
                return None
            if node.attr not in read and node.attr not in partial:
                read.append(node.attr)
    for node in ast.walk(*roots):
        if isinstance(node, ast.Name) and node.id == var and id(node) not in members:
            return None
    if any(f not in record.fields for f in read):
        return None
    if not partial and len(set(read)) == len(record.fields):
        return None
    return tuple(f for f in record.fields if f in read)


def loop_projection(
    s: ast.For, symbols: Symbols, type_of: TypeOf
) -> tuple[ast.Call, tuple[str, ...], tuple[tuple[str, ast.Expr], ...]] | None:
    """For `for r in E.all()` (or `E.where(...)`, or either `sorted(..., by: "f")`) whose body
    reads only some fields of `r` and writes none: the query call, those fields, and the map
    fields read at one key only (with the key)."""
    call, by = s.iterable, ()
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "sorted"
        and not isinstance(type_of(call.func), t.StructClass | t.Method | t.ToolFn)
    ):
        positional = [a.value for a in call.args if a.name is None]
        named = {a.name: a.value for a in call.args if a.name is not None}
        key = named.get("by")
        if len(positional) != 1 or not (isinstance(key, ast.Literal) and type(key.value) is str):
            return None
        call, by = positional[0], (key.value,)
    entity = _entity_of(call, type_of)
    if entity is None:
        return None
    assert isinstance(call, ast.Call)
    record = symbols.entities[entity]
    planner = _Planner(s.var, record, symbols, type_of)
    at = entries_read(s.var, record, list(s.body), type_of, planner.outside)
    if by and by[0] in at:
        at = {}
    fields = _fields_read(s.var, record, list(s.body), by, partial=set(at))
    return (call, fields, tuple(at.items())) if fields is not None else None


@dataclass
class _Planner:
    var: str
    record: RecordInfo
    symbols: Symbols
    type_of: TypeOf
    indexed: bool = True  # whether the terms may use an index (and ask for one)

    def term(self, e: ast.Expr) -> _Term:
        match e:
            case ast.Binary(op="and"):
                left, right = self.term(e.left), self.term(e.right)
                if not left.safe:
                    return _Term(left.sql, False, left.params, left.indexes, left.joined_by)
                return _both(left, right, "AND", safe=right.safe)
            case ast.Binary(op="or"):
                left, right = self.term(e.left), self.term(e.right)
                if left.sql is None or right.sql is None:
                    return _Term(None, left.safe and right.safe)
                return _both(left, right, "OR", safe=left.safe and right.safe)
            case ast.Binary(op=op) if op in _MIRROR:
                return self.comparison(e)
            case ast.Member() if t.strip_optional(self.type_of(e)) == t.BOOL:
                slot = self.slot(e)
                if slot is not None:  # truthiness: a none is false, as in the language
                    return _Term(f"{slot.sql} = 1", True)
        return _Term(None, False)

    def comparison(self, e: ast.Binary) -> _Term:
        op = e.op
        left, right = e.left, e.right
        if self.outside(left):
            left, right, op = right, left, _MIRROR[op]
        if not self.outside(right):
            return _Term(None, False)
        folded = _folding(left, self.type_of)
        slot = self.slot(folded[1] if folded else left)
        if slot is None:
            return _Term(None, False)
        if isinstance(t.strip_optional(self.type_of(right)), t.RowT):
            return _Term(None, False)  # records compare by key; left to Python
        if folded is not None:
            if op != "==" or t.strip_optional(slot.type) != t.STR:
                return _Term(None, False)
            # 0 stands for a text that SQLite does not fold as the language does (or none,
            # where folding fails): such rows are always returned, and judged in Python.
            function = folded[0]
            may_be_none = isinstance(slot.type, t.OptionalT)
            value = f"{function}({slot.sql})"
            if may_be_none:
                value = f"coalesce({value}, 0)"
            sql = f"(CASE WHEN {slot.sql} GLOB {_BEYOND_ASCII} THEN 0 ELSE {value} END)"
            index = QueryIndex(f"{function}({slot.label})", expression=sql)
            wanted = (index,) if self.indexed else ()
            return _Term(f"{sql} IN (?, 0)", not may_be_none, (right,), wanted)
        if op in ("==", "!="):
            index = (
                QueryIndex(slot.label, fields=(slot.field,))
                if slot.column
                else QueryIndex(slot.label, expression=slot.sql)
            )
            sql = f"{slot.sql} {'IS' if op == '==' else 'IS NOT'} ?"
            wanted = (index,) if op == "==" and self.indexed else ()
            return _Term(sql, True, (right,), wanted)
        if (
            isinstance(slot.type, t.OptionalT)
            or isinstance(self.type_of(right), t.OptionalT)
            or slot.type not in _ORDERED
            or t.strip_optional(self.type_of(right)) not in _ORDERED
        ):
            return _Term(None, False)
        return _Term(f"{slot.sql} {_ORDERING[op]} ?", True, (right,))

    def slot(self, e: ast.Expr) -> _Slot | None:
        """The field an expression reads off the loop's record: `u.f` (a scalar column) or
        `u.s.a.b` (a scalar inside a struct column)."""
        path: list[str] = []
        node = e
        while isinstance(node, ast.Member):
            path.append(node.attr)
            node = node.obj
        if not (isinstance(node, ast.Name) and node.id == self.var) or not path:
            return None
        path.reverse()
        info = self.record.fields.get(path[0])
        if info is None or info.as_written:
            return None
        column = quote_ident(column_name(self.record, path[0]))
        if len(path) == 1:
            base = t.strip_optional(info.type)
            if not isinstance(base, _VALUES):
                return None
            column = column if self.indexed else f"+{column}"  # unary + keeps the index off
            return _Slot(column, path[0], info.type, True, path[0])
        current, optional = info.type, isinstance(info.type, t.OptionalT)
        for name in path[1:]:
            base = t.strip_optional(current)
            if not isinstance(base, t.StructT):
                return None
            struct = self.symbols.structs[base.name]
            if name not in struct.fields or not name.isidentifier():
                return None
            current = struct.fields[name].type
            optional = optional or isinstance(current, t.OptionalT)
        if not isinstance(t.strip_optional(current), _SCALARS):
            return None
        sql = f"json_extract({column}, '$.{'.'.join(path[1:])}')"
        if not self.indexed:
            sql = f"+{sql}"
        kind = t.OptionalT(t.strip_optional(current)) if optional else current
        return _Slot(sql, ".".join(path), kind, False, path[0])

    def outside(self, e: ast.Expr) -> bool:
        """Whether the expression is a value computed outside the loop that cannot fail and
        reads no record: a literal, a name, a field of a record or struct at hand, or the
        folded case of one of those."""
        match e:
            case ast.Literal(value=value):
                if isinstance(value, int) and not isinstance(value, bool):
                    return INT_MIN <= value <= INT_MAX
                return isinstance(value, str | float | bool) or value is None
            case ast.Name(id=name):
                return name != self.var and isinstance(t.strip_optional(self.type_of(e)), _VALUES)
            case ast.Member(obj=obj):
                base = self.type_of(obj)
                if isinstance(base, t.EnumClass):
                    return True
                if isinstance(base, t.RowT | t.StructT) and isinstance(
                    t.strip_optional(self.type_of(e)), _VALUES
                ):
                    return self.outside_record(obj)
                return False
        folded = _folding(e, self.type_of)
        if folded is not None:
            return self.outside(folded[1]) and not isinstance(self.type_of(folded[1]), t.OptionalT)
        return False

    def outside_record(self, e: ast.Expr) -> bool:
        if isinstance(e, ast.Name):
            return e.id != self.var
        if isinstance(e, ast.Member) and isinstance(self.type_of(e.obj), t.RowT | t.StructT):
            return isinstance(self.type_of(e), t.StructT) and self.outside_record(e.obj)
        return False


def _folding(e: ast.Expr, type_of: TypeOf) -> tuple[str, ast.Expr] | None:
    """(`lower` or `upper`, its argument) for a call of the built-in on one argument."""
    if (
        isinstance(e, ast.Call)
        and isinstance(e.func, ast.Name)
        and e.func.id in ("lower", "upper")
        and len(e.args) == 1
        and e.args[0].name is None
        and not isinstance(type_of(e.func), t.StructClass | t.Method | t.ToolFn)
    ):
        return e.func.id, e.args[0].value
    return None


def _both(left: _Term, right: _Term, op: str, safe: bool) -> _Term:
    if left.sql is None:
        return _Term(right.sql, safe, right.params, right.indexes, right.joined_by)
    if right.sql is None:
        return _Term(left.sql, safe, left.params, left.indexes, left.joined_by)
    indexes = left.indexes + right.indexes if op == "AND" else ()
    sides = [
        part.sql if part.joined_by in (None, op) else f"({part.sql})" for part in (left, right)
    ]
    return _Term(f" {op} ".join(sides), safe, left.params + right.params, indexes, op)


def plans_of(nodes: list[ast.Node], symbols: Symbols, type_of: TypeOf) -> list[QueryPlan]:
    """The plans of every comprehension among the nodes, in order."""
    return [
        plan
        for node in nodes
        if isinstance(node, ast.Comprehension)
        and (plan := plan_query(node, symbols, type_of)) is not None
    ]
