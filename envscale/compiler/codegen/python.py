"""tools.py: one readable Python function per tool, generated from the IR.

Generated code sees records as dicts keyed by field name (references hold the referred key),
talks to the database only through `db`, and signals a tool failure by raising
lib.ToolError, which the runtime turns into an error result. The code is laid out as
`ruff format` would lay it out (see layout.py), so that it reads like code written by hand.
"""

from __future__ import annotations

import keyword
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

from envscale.compiler import access_plan as access
from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS
from envscale.compiler.codegen import pysyntax as py
from envscale.compiler.codegen.bounds import Bounds, Writes, writes_of
from envscale.compiler.codegen.escape import docstring_lines
from envscale.compiler.codegen.layout import WIDTH, Doc, bracket, render, render_split
from envscale.compiler.codegen.pysyntax import Code
from envscale.compiler.kept_refs import holds_reference, kept_references
from envscale.compiler.query_plan import QueryPlan, loop_projection, plan_query
from envscale.dsl import ast

NEGATED_OPS = {"==": "!=", "!=": "==", "in": "not in", "not in": "in"}
ORDER_NEGATED = {"<": ">=", ">=": "<", ">": "<=", "<=": ">"}
RESERVED = set(keyword.kwlist) | {"db", "lib", "row", "self", "None", "True", "False"}
# Types whose values are totally ordered, so `not a < b` is `a >= b` (floats have NaN).
TOTAL_ORDER = (t.Prim("int"), t.Prim("str"), t.Prim("date"), t.Prim("datetime"))


def py_name(name: str) -> str:
    return f"{name}_" if name in RESERVED else name


def py_str(value: str) -> str:
    return py.string(value)


def _name_code(name: str) -> Code:
    return py.text(name)


@dataclass
class Emitter:
    d: ir.DomainIR
    # Names bound to a row's fields (invariants on an entity), mapped to the row variable.
    field_row: str | None = None
    current_fields: set[str] = field(default_factory=set)
    locals_: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    bounds: Bounds = field(init=False)
    # Whether comprehensions over an entity become planned queries (compiler/query_plan.py).
    plan_queries: bool = True
    # The WHERE texts of the planned queries met so far: (constant name, SQL).
    queries: list[tuple[str, str]] = field(default_factory=list)
    query_prefix: str = "QUERY"
    # Entity queries (`E.all()`, `E.where(...)`, by node id) that read only these fields, and
    # these map fields at one key.
    projections: dict[int, tuple[tuple[str, ...], tuple[tuple[str, ast.Expr], ...]]] = field(
        default_factory=dict
    )
    # What follows each `let` in its block (by node id): where its name is read.
    scopes: dict[int, tuple[ast.Stmt, ...]] = field(default_factory=dict)
    # (entity, field) of the fields holding references inside whose references the tool
    # cannot change (see kept_refs.py): its updates of them look no key up again.
    refs_kept: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        self.bounds = Bounds(self.d.types)
        self.plan_queries = self.plan_queries and self.d.plan_queries

    def type_of(self, e: ast.Expr) -> t.Type:
        return self.d.types.get(id(e), t.ANY)

    def key_field(self, entity: str) -> list[str]:
        return self.d.table(entity).key

    def key_expr(self, code: Code, entity: str) -> Code:
        key = self.key_field(entity)
        if len(key) == 1:
            return py.subscript(code, py.text(py_str(key[0])))
        return py.tuple_of([py.subscript(code, py.text(py_str(k))) for k in key])

    def as_stored(self, e: ast.Expr, want: t.Type) -> Code:
        """Code for e converted to how a slot of type `want` stores it (records as keys)."""
        got = t.strip_optional(self.type_of(e))
        wanted = t.strip_optional(want)
        if isinstance(wanted, t.ListT | t.MapT) and t.nested_refs(wanted):
            return self.refs_stored(e, wanted, got)
        code = self.expr(e)
        if isinstance(wanted, t.RefT) and isinstance(got, t.RowT):
            if isinstance(self.type_of(e), t.OptionalT):
                return self.lib("key_of", [code, py.text(py_str(self.key_field(got.entity)[0]))])
            return self.key_expr(code, got.entity)
        return code

    def refs_stored(self, e: ast.Expr, want: t.ListT | t.MapT, got: t.Type) -> Code:
        """A list or map stored where references are: records among its items become keys."""
        item = want.item if isinstance(want, t.ListT) else want.value
        if isinstance(e, ast.ListLit) and isinstance(want, t.ListT):
            return py.list_of([self.as_stored(i, item) for i in e.items])
        if isinstance(e, ast.MapLit) and isinstance(want, t.MapT):
            return py.dict_of([(py.text(py_str(k)), self.as_stored(v, item)) for k, v in e.items])
        if isinstance(e, ast.Binary) and e.op == "+" and t.nested_refs(got):
            return self._binary(e)  # typed as the list of references, and written as one
        held = got.item if isinstance(got, t.ListT) else getattr(got, "value", None)
        if isinstance(t.strip_optional(held), t.RowT):
            entity = t.strip_optional(held).entity
            key = py.text(py_str(self.key_field(entity)[0]))
            return self.lib("keys_of", [self.expr(e), key])
        return self.expr(e)

    def lib(self, name: str, args: list[Code], keywords: dict[str, Code] | None = None) -> Code:
        return py.call(f"lib.{name}", args, keywords)

    def db(self, name: str, args: list[Code]) -> Code:
        return py.call(f"db.{name}", args)

    # ---- expressions

    def expr(self, e: ast.Expr) -> Code:
        return _EXPRESSIONS[type(e)](self, e)

    def _literal(self, e: ast.Literal) -> Code:
        return py.text(py.constant(e.value))

    def _name(self, e: ast.Name) -> Code:
        if self.field_row is not None:
            if e.id == "self":
                return _name_code(self.field_row)
            if e.id in self.current_fields:
                return py.subscript(_name_code(self.field_row), py.text(py_str(e.id)))
        if isinstance(self.type_of(e), t.EnumT) and e.id not in self.locals_:
            return py.text(py_str(e.id))
        return _name_code(py_name(e.id))

    def _member(self, e: ast.Member) -> Code:
        obj_type = self.type_of(e.obj)
        base = t.strip_optional(obj_type)
        attr = py.text(py_str(e.attr))
        if isinstance(base, t.EnumClass):
            return attr
        if self.plan_queries and (read := access.temporary(e, self.type_of)) is not None:
            return self.field_read(read)
        obj = self.expr(e.obj)
        if isinstance(base, t.RefT):
            getter = "find" if isinstance(obj_type, t.OptionalT) else "get"
            obj = self.db(getter, [py.text(py_str(base.entity)), obj])
            if isinstance(obj_type, t.OptionalT):
                return self.lib("field", [obj, attr])
            return py.subscript(obj, attr)
        if isinstance(obj_type, t.OptionalT):
            return self.lib("field", [obj, attr])
        if isinstance(base, t.StructT) and self.d.structs[base.name].fields[e.attr].optional:
            return py.call(
                py.attribute(obj, "get"), [attr]
            )  # an optional struct field may be absent
        return py.subscript(obj, attr)

    def _index(self, e: ast.Index) -> Code:
        obj_type = t.strip_optional(self.type_of(e.obj))
        keys = [self.expr(k) for k in e.keys]
        if isinstance(obj_type, t.EntityClass):
            key = keys[0] if len(keys) == 1 else py.tuple_of(keys)
            return self.db("get", [py.text(py_str(obj_type.entity)), key])
        container = self.map_of(e.obj, e.keys[0])
        if self.bounds.safe(e.obj, e.keys[0]):
            return py.subscript(container, keys[0])
        return self.lib("item", [container, keys[0]])

    def unshared(self, s: ast.Let) -> bool:
        """Whether the value a `let` takes needs no copy (see compiler/access_plan.py): a part
        of a record just read, or one that nothing changes or takes while it is held."""
        if access.fresh(s.value, self.type_of):
            return True
        return access.copy_unneeded(s.name, self.scopes.get(id(s), ()), self.type_of)

    def projected_read(self, s: ast.Let) -> Code | None:
        """`let x = E.get(k)` (or `E[k]`) reading only the fields that the code after it reads
        of `x` (see compiler/access_plan.py), or None."""
        e = s.value
        if not self.plan_queries:
            return None
        if isinstance(e, ast.Call) and isinstance(method := self.type_of(e.func), t.Method):
            if method.name != "get" or len(e.args) != 1:
                return None
            entity, key, function = method.entity, e.args[0].value, "find_part"
        elif (
            isinstance(e, ast.Index)
            and isinstance(entity_class := self.type_of(e.obj), t.EntityClass)
            and len(e.keys) == 1
        ):
            entity, key, function = entity_class.entity, e.keys[0], "get_part"
        else:
            return None
        record = self.d.symbols.entities[entity]
        derived = any(info.derived is not None for info in record.fields.values())
        projection = access.let_projection(
            s, self.scopes.get(id(s), ()), record, derived, self.type_of, self._safe_index
        )
        if projection is None:
            return None
        fields = py.tuple_of([py.text(py_str(f)) for f in projection.fields])
        args = [py.text("db"), py.text(py_str(entity)), self.expr(key), fields]
        if projection.at:
            args.append(self.entries(projection.at))
        return self.lib(function, args)

    def field_read(self, read: access.Temporary) -> Code:
        """`E[k].f` or `ref.f`: the record's one column (runtime/reads.py)."""
        entity = py.text(py_str(read.entity))
        return self.lib(
            "field_of", [py.text("db"), entity, self.expr(read.key), py.text(py_str(read.field))]
        )

    def map_of(self, container: ast.Expr, key: ast.Expr) -> Code:
        """The code of a map read at `key`: a map field of a record read for it comes as the
        map of that entry alone where the key allows (see compiler/access_plan.py)."""
        read = access.map_field(container, self.type_of) if self.plan_queries else None
        if read is None or not access.pure(key, self.type_of):
            return self.expr(container)
        entity = py.text(py_str(read.entity))
        record_key = self.expr(read.key)
        if not access.cannot_fail(key, self.type_of, self._safe_index):
            # The key is evaluated once the record is known to exist, as without planning.
            record_key = self.lib("existing", [py.text("db"), entity, record_key])
        args = [py.text("db"), entity, record_key, py.text(py_str(read.field)), self.expr(key)]
        return self.lib("entry_of", args)

    def _safe_index(self, e: ast.Index) -> bool:
        return self.bounds.safe(e.obj, e.keys[0])

    def _unary(self, e: ast.Unary) -> Code:
        if e.op == "not":
            return self.negated(e.operand)
        return py.unary("-", self.expr(e.operand))

    def negated(self, e: ast.Expr) -> Code:
        """Code for `not e`, written the way a person would (`x != y`, `x not in y`)."""
        if isinstance(e, ast.Unary) and e.op == "not":
            return self.expr(e.operand)
        if isinstance(e, ast.Binary) and e.op in NEGATED_OPS:
            return self._binary(e, NEGATED_OPS[e.op])
        if isinstance(e, ast.Binary) and e.op in ORDER_NEGATED and self._totally_ordered(e):
            return self._binary(e, ORDER_NEGATED[e.op])
        if isinstance(e, ast.Binary) and e.op in ("and", "or") and self._folds(e):
            # De Morgan; the right side runs only where the left one held (`and`) or failed.
            left = self.negated(e.left)
            if e.op == "and":
                right = self._with_facts(e.left, lambda: self.negated(e.right))
            else:
                right = self.negated(e.right)
            return py.binary("or" if e.op == "and" else "and", left, right)
        return py.unary("not", self.expr(e))

    def _totally_ordered(self, e: ast.Binary) -> bool:
        return all(self.type_of(side) in TOTAL_ORDER for side in (e.left, e.right))

    def _folds(self, e: ast.Expr) -> bool:
        """Whether `not e` can be written without a `not`."""
        if isinstance(e, ast.Unary) and e.op == "not":
            return True
        if isinstance(e, ast.Binary):
            if e.op in NEGATED_OPS:
                return True
            if e.op in ORDER_NEGATED:
                return self._totally_ordered(e)
            if e.op in ("and", "or"):
                return self._folds(e.left) and self._folds(e.right)
        return False

    def _with_facts(self, condition: ast.Expr, make: Callable[[], Code]) -> Code:
        saved = set(self.bounds.facts)
        self.bounds.facts |= self.bounds.proven_by(condition)
        try:
            return make()
        finally:
            self.bounds.facts = saved

    def _binary(self, e: ast.Binary, op: str | None = None) -> Code:
        op = op or e.op
        if op in ("==", "!="):
            if _is_none(e.left) or _is_none(e.right):
                side = e.right if _is_none(e.left) else e.left
                if isinstance(side, ast.Literal):  # `"a" is None` is a SyntaxWarning
                    return py.text(str((side.value is None) == (op == "==")))
                other = self.expr(side)
                return py.binary("is not" if op == "!=" else "is", other, py.text("None"))
            return py.binary(op, self._comparable(e.left), self._comparable(e.right))
        if op in ("in", "not in"):
            right_type = t.strip_optional(self.type_of(e.right))
            item = right_type.item if isinstance(right_type, t.ListT) else None
            left = self.as_stored(e.left, item) if item is not None else self.expr(e.left)
            if isinstance(right_type, t.MapT):
                return py.binary(op, left, self.map_of(e.right, e.left))
            return py.binary(op, left, self.expr(e.right))
        if op in ORDER_NEGATED and any(
            isinstance(self.type_of(side), t.OptionalT) and not self.bounds.present(side)
            for side in (e.left, e.right)
        ):
            # Ordering a none is a tool error, not Python's TypeError.
            return self.lib("compare", [self.expr(e.left), py.text(py_str(op)), self.expr(e.right)])
        literal = isinstance(e.left, ast.ListLit) or isinstance(e.right, ast.ListLit)
        result = t.strip_optional(self.type_of(e))
        if op == "+" and isinstance(result, t.ListT) and t.nested_refs(result):
            # Joined into a list of references: records on either side are stored as keys.
            if literal:
                return py.unpacked([*self._spread(e.left, result), *self._spread(e.right, result)])
            return py.binary("+", self.as_stored(e.left, result), self.as_stored(e.right, result))
        if op == "+" and literal and isinstance(result, t.ListT):
            return py.unpacked([*self._spread(e.left), *self._spread(e.right)])
        left = self.expr(e.left)
        if op == "and":
            return py.binary(op, left, self._with_facts(e.left, lambda: self.expr(e.right)))
        right = self.expr(e.right)
        if op == "/":
            return self.lib("divide", [left, right])
        if op == "%":
            return self.lib("modulo", [left, right])
        return py.binary(op, left, right)

    def _spread(self, e: ast.Expr, want: t.ListT | None = None) -> list[Code | tuple[str, Code]]:
        """The items of one side of a list `+`; with `want`, each stored as its items are."""
        if isinstance(e, ast.ListLit):
            if want is not None:
                return [self.as_stored(i, want.item) for i in e.items]
            return [self.expr(i) for i in e.items]
        return [("*", self.as_stored(e, want) if want is not None else self.expr(e))]

    def _comparable(self, e: ast.Expr) -> Code:
        """Records compare by key, so a record equals a reference to it."""
        ty = t.strip_optional(self.type_of(e))
        if isinstance(ty, t.RowT):
            code = self.expr(e)
            if isinstance(self.type_of(e), t.OptionalT):
                return self.lib("key_of", [code, py.text(py_str(self.key_field(ty.entity)[0]))])
            return self.key_expr(code, ty.entity)
        return self.expr(e)

    def _listlit(self, e: ast.ListLit) -> Code:
        return py.list_of([self.expr(i) for i in e.items])

    def _maplit(self, e: ast.MapLit) -> Code:
        return py.dict_of([(py.text(py_str(k)), self.expr(v)) for k, v in e.items])

    def _comprehension(self, e: ast.Comprehension) -> Code:
        var = py_name(e.var)
        plan = plan_query(e, self.d.symbols, self.type_of) if self.plan_queries else None
        self.locals_.add(e.var)
        if plan is None:
            iterable = self.counted(e.iterable)
        else:
            iterable = self.lib("counted", [py.text("db"), self.query(plan, e.iterable)])
        saved = set(self.bounds.facts), set(self.bounds.same_length)
        self.bounds.forget(_bound({e.var}))
        self.bounds.facts |= self.bounds.loop_facts(e.var, e.iterable)
        condition = self.expr(e.condition) if e.condition is not None else None
        if e.condition is not None:
            self.bounds.facts |= self.bounds.proven_by(e.condition)
        element = self.expr(e.element)
        self.bounds.facts, self.bounds.same_length = saved
        return py.comprehension(element, var, iterable, condition)

    def query(self, plan: QueryPlan, iterable: ast.Expr) -> Code:
        """`db.query(...)` for a planned comprehension: its projection, the WHERE text (a
        module constant) and its parameters, and the equalities of a `.where(...)`."""
        fields = (
            py.tuple_of([py.text(py_str(f)) for f in plan.fields])
            if plan.fields is not None
            else py.text("None")
        )
        args = [py.text(py_str(plan.entity)), fields]
        if plan.where:
            name = next((n for n, sql in self.queries if sql == plan.where), None)
            if name is None:
                name = self.query_prefix
                if self.queries:
                    name = f"{name}_{len(self.queries) + 1}"
                self.queries.append((name, plan.where))
            args += [py.text(name), py.tuple_of([self._comparable(p) for p in plan.params])]
        keywords = None
        assert isinstance(iterable, ast.Call)
        if iterable.args:
            keywords = {"by": self.equalities(iterable, plan.entity)}
        if plan.at:
            args[2:2] = [self.entries(plan.at)]
            return self.lib("query_at", [py.text("db"), *args], keywords)
        return py.call("db.query", args, keywords)

    def entries(self, at: tuple[tuple[str, ast.Expr], ...]) -> Code:
        """The map fields a query reads at one entry, each with the key of that entry."""
        return py.dict_of([(py.text(py_str(name)), self.expr(key)) for name, key in at])

    def counted(self, iterable: ast.Expr) -> Code:
        """What a loop or comprehension iterates, charged to the call's step budget first
        (`range` charges its elements itself)."""
        code = self.expr(iterable)
        if _is_builtin_call(iterable, "range", self.type_of):
            return code
        return self.lib("counted", [py.text("db"), code])

    def _insert(self, e: ast.Insert) -> Code:
        return self.db("insert", [py.text(py_str(e.entity)), self.record_literal(e.entity, e.args)])

    def record_literal(self, name: str, args: tuple[ast.Arg, ...]) -> Code:
        record = self.d.symbols.record(name)
        given = {a.name: a.value for a in args}
        items = []
        for info in record.fields.values():
            if info.name in given:
                value = self.as_stored(given[info.name], info.type)
            elif info.default is not None:
                value = self.constant(info.default)
            else:
                value = py.text("None")
            items.append((py.text(py_str(info.name)), value))
        return py.dict_of(items)

    def constant(self, e: ast.Expr) -> Code:
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            return self.lib(e.func.id, [py.text("db")])
        if isinstance(e, ast.Name):
            return py.text(py_str(e.id))
        if isinstance(e, ast.Member):
            return py.text(py_str(e.attr))
        if isinstance(e, ast.ListLit):
            return py.list_of([self.constant(i) for i in e.items])
        if isinstance(e, ast.MapLit):
            return py.dict_of([(py.text(py_str(k)), self.constant(v)) for k, v in e.items])
        return self.expr(e)

    def _call(self, e: ast.Call) -> Code:
        callee = self.type_of(e.func)
        if isinstance(callee, t.StructClass):
            return self.record_literal(callee.name, e.args)
        if isinstance(callee, t.Method):
            return self.method(e, callee)
        if isinstance(callee, t.ToolFn):
            return self.tool_call(e, callee.name)
        assert isinstance(e.func, ast.Name)
        spec = BUILTINS[e.func.id]
        positional = [a.value for a in e.args if a.name is None]
        keywords = {a.name: a.value for a in e.args if a.name is not None}
        first = self.type_of(positional[0]) if positional else None
        if spec.on_entity is not None and isinstance(first, t.EntityClass):
            rest = [self.expr(a) for a in positional[1:]]
            args = [py.text(py_str(first.entity)), *rest]
            return py.call(spec.on_entity, [py.text("db"), *args] if spec.entity_with_db else args)
        args = [self.expr(a) for a in positional]
        if e.func.id == "get" and len(positional) == 3:
            args[0] = self.map_of(positional[0], positional[1])
        if spec.several is not None and len(positional) > 1:
            return py.call(spec.several, [py.list_of(args)])
        options = {k: self.expr(keywords[k]) for k in spec.keywords if k in keywords}
        if spec.with_db:
            args = [py.text("db"), *args]
        assert spec.python is not None, f"{spec.name}() is typed only on an entity"
        return py.call(spec.python.format(name=spec.name), args, options)

    def tool_call(self, e: ast.Call, name: str) -> Code:
        """Another tool's function, its arguments by position (a parameter may be named like
        a Python keyword), defaults written out."""
        params = list(self.d.symbols.tools[name].params.values())
        given = {
            (params[i].name if a.name is None else a.name): a.value for i, a in enumerate(e.args)
        }
        args = [
            self.expr(given[p.name]) if p.name in given else self.constant(p.decl.default)
            for p in params
            if p.name in given or p.decl.default is not None
        ]
        return py.call(py_name(name), [py.text("db"), *args])

    def method(self, e: ast.Call, m: t.Method) -> Code:
        entity = py.text(py_str(m.entity))
        if m.name == "get":
            keys = [self.expr(a.value) for a in e.args]
            key = keys[0] if len(keys) == 1 else py.tuple_of(keys)
            return self.db("find", [entity, key])
        projected = self.projections.get(id(e))
        if projected is not None:
            fields = py.tuple_of([py.text(py_str(f)) for f in projected[0]])
            by = {"by": self.equalities(e, m.entity)} if e.args else None
            if projected[1]:
                at = self.entries(projected[1])
                return self.lib("query_at", [py.text("db"), entity, fields, at], by)
            return py.call("db.query", [entity, fields], by)
        if not e.args:
            return self.db("all", [entity])
        return self.db("where", [entity, self.equalities(e, m.entity)])

    def equalities(self, e: ast.Call, entity: str) -> Code:
        """The field -> value map of a `.where(...)` call, each value as its field stores it."""
        table = self.d.table(entity)
        conditions = []
        for arg in e.args:
            column = table.column(arg.name)  # type: ignore[arg-type]
            conditions.append(
                (py.text(py_str(column.field)), self.as_stored(arg.value, column.type))
            )
        return py.dict_of(conditions)

    # ---- statements

    def emit(self, text: str, depth: int) -> None:
        self.lines.append("    " * depth + text)

    def statement(self, head: str | Code, code: Code | None, tail: str, depth: int) -> None:
        """`head code tail` on one line if it fits, else split as ruff would."""
        head_code = py.text(head) if isinstance(head, str) else head
        flat = head_code.flat + (code.flat if code is not None else "") + tail
        pad = "    " * depth
        if len(pad) + len(flat) <= WIDTH:
            self.lines.append(pad + flat)
            return
        doc = (head_code.doc, py.statement_expr(code) if code is not None else "", tail)
        self.lines.append(pad + render_split(doc, depth))

    def block(self, body: tuple[ast.Stmt, ...], depth: int) -> None:
        if not body:
            self.emit("pass", depth)
        # Consecutive changes to records are written back once per record, after the last.
        pending: dict[str, tuple[str, list[str]]] = {}
        for i, s in enumerate(body):
            if isinstance(s, ast.Let):
                self.scopes[id(s)] = body[i + 1 :]
            if not self._joins_update_group(s):
                self._flush(pending, depth)
            self.stmt(s, depth, pending)
        self._flush(pending, depth)

    def _joins_update_group(self, s: ast.Stmt) -> bool:
        if isinstance(s, ast.Set):
            # A derived field is computed when its record is written back: reading one must
            # see the changes before it.
            return not any(
                _reads_db(node, self.d.types) or self._reads_derived(node)
                for node in (
                    s.value,
                    *(step.key for step in s.target.steps if isinstance(step, ast.IndexStep)),
                )
            )
        if isinstance(s, ast.Delete):
            return bool(s.target.steps) and not _reads_db(s.target.steps[-1], self.d.types)
        return False

    def _reads_derived(self, node: ast.Node) -> bool:
        for n in ast.walk(node):
            if isinstance(n, ast.Member):
                base = t.strip_optional(self.d.types.get(id(n.obj), t.ANY))
                if isinstance(base, t.RowT):
                    info = self.d.symbols.entities[base.entity].fields.get(n.attr)
                    if info is not None and info.derived is not None:
                        return True
        return False

    def _flush(self, pending: dict[str, tuple[str, list[str]]], depth: int) -> None:
        for root, (entity, fields) in pending.items():
            args = [py.text(py_str(entity)), _name_code(py_name(root))]
            args += [py.text(py_str(f)) for f in fields]
            kept = [py.text(py_str(f)) for f in fields if (entity, f) in self.refs_kept]
            keywords = {"refs_kept": py.tuple_of(kept)} if kept else None
            self.statement(py.call("db.update", args, keywords), None, "", depth)
        pending.clear()

    def stmt(self, s: ast.Stmt, depth: int, pending: dict[str, tuple[str, list[str]]]) -> None:
        match s:
            case ast.Let():
                self.locals_.add(s.name)
                value = self.projected_read(s) or self.expr(s.value)
                if (
                    t.is_json(self.type_of(s.value))
                    and isinstance(s.value, ast.Member | ast.Index)
                    and not (self.plan_queries and self.unshared(s))
                ):
                    value = self.lib("copy", [value])
                self.bounds.forget(_bound({s.name}))
                self.statement(f"{py_name(s.name)} = ", value, "", depth)
            case ast.Require():
                self.raise_unless(s.condition, s.message, "if", depth)
                self.bounds.facts |= self.bounds.proven_by(s.condition)
                self.bounds.learn_lengths(s.condition)
            case ast.Fail():
                self.raise_(s.message, depth)
            case ast.Set():
                self.set(s, depth, pending)
            case ast.InsertStmt():
                self.statement(self.expr(s.insert), None, "", depth)
            case ast.Delete():
                self.delete(s, depth, pending)
            case ast.For():
                self.locals_.add(s.var)
                projected = loop_projection(s, self.d.symbols, self.type_of)
                if projected is not None and self.plan_queries:
                    self.projections[id(projected[0])] = (projected[1], projected[2])
                iterable = self.counted(s.iterable)
                written = writes_of((s,))
                self.bounds.forget(written)
                saved = set(self.bounds.facts)
                in_body = writes_of(s.body)
                if not in_body.changes_inside:
                    loop = self.bounds.loop_facts(s.var, s.iterable)
                    self.bounds.facts |= {f for f in loop if not f.names & in_body.bound}
                self.statement(f"for {py_name(s.var)} in ", iterable, ":", depth)
                self.block(s.body, depth + 1)
                self.bounds.facts = saved
            case ast.If():
                written = writes_of((s,))
                saved = set(self.bounds.facts)
                self.if_(s, depth, "if")
                self.bounds.facts = saved
                self.bounds.forget(written)
            case ast.Return():
                if s.value is None:
                    self.emit("return", depth)
                else:
                    self.statement("return ", self.expr(s.value), "", depth)

    def raise_(self, message: ast.Expr, depth: int) -> None:
        self.statement("raise ", py.call("lib.ToolError", [self.expr(message)]), "", depth)

    def raise_unless(
        self,
        condition: ast.Expr,
        message: ast.Expr,
        keyword_: str,
        depth: int,
        before: Code | None = None,
    ) -> None:
        test = self.negated(condition)
        if before is not None:
            test = py.binary("and", before, test)
        self.statement(f"{keyword_} ", test, ":", depth)
        self.raise_(message, depth + 1)

    def if_(self, s: ast.If, depth: int, keyword_: str) -> None:
        saved = set(self.bounds.facts)
        condition, then = self.expr(s.condition), s.then
        self.bounds.facts |= self.bounds.proven_by(s.condition)
        # Without an else, a lone nested `if` or `require` joins the condition: the same
        # behaviour, and the flat form that linters ask for.
        while not s.otherwise and len(then) == 1:
            inner = then[0]
            if isinstance(inner, ast.If) and not inner.otherwise:
                condition = py.binary("and", condition, self.expr(inner.condition))
                self.bounds.facts |= self.bounds.proven_by(inner.condition)
                then = inner.then
            elif isinstance(inner, ast.Require):
                self.raise_unless(inner.condition, inner.message, keyword_, depth, before=condition)
                self.bounds.facts = saved
                return
            else:
                break
        self.statement(f"{keyword_} ", condition, ":", depth)
        self.block(then, depth + 1)
        self.bounds.facts = saved
        if len(s.otherwise) == 1 and isinstance(s.otherwise[0], ast.If):
            self.if_(s.otherwise[0], depth, "elif")
        elif s.otherwise:
            self.emit("else:", depth)
            self.block(s.otherwise, depth + 1)
            self.bounds.facts = saved

    def path(self, target: ast.Target, steps: tuple) -> Code:
        code = _name_code(py_name(target.root))
        for step in steps:
            key = (
                py.text(py_str(step.name))
                if isinstance(step, ast.AttrStep)
                else self.expr(step.key)
            )
            code = py.subscript(code, key)
        return code

    def set(self, s: ast.Set, depth: int, pending: dict[str, tuple[str, list[str]]]) -> None:
        root = t.strip_optional(self.d.types.get(id(s.target), t.ANY))
        target = s.target
        want = self._target_type(target)
        value = self.as_stored(s.value, want)
        self.bounds.forget(writes_of((s,)))
        self.statement(py.concat(self.path(target, target.steps), " = "), value, "", depth)
        if isinstance(root, t.RowT) and target.steps:
            self._changed(pending, target, root.entity)

    def _changed(
        self, pending: dict[str, tuple[str, list[str]]], target: ast.Target, entity: str
    ) -> None:
        first = target.steps[0].name  # type: ignore[union-attr]
        _, fields = pending.setdefault(target.root, (entity, []))
        if first not in fields:
            fields.append(first)

    def _target_type(self, target: ast.Target) -> t.Type:
        current = self.d.types.get(id(target), t.ANY)
        for step in target.steps:
            base = t.strip_optional(current)
            if isinstance(step, ast.AttrStep):
                record = self.d.symbols.record(
                    getattr(base, "entity", None) or getattr(base, "name", "")
                )
                current = record.fields[step.name].type if record else t.ANY
            elif isinstance(base, t.ListT):
                current = base.item
            elif isinstance(base, t.MapT):
                current = base.value
        return current

    def delete(self, s: ast.Delete, depth: int, pending: dict[str, tuple[str, list[str]]]) -> None:
        root = t.strip_optional(self.d.types.get(id(s.target), t.ANY))
        target = s.target
        self.bounds.forget(writes_of((s,)))
        if isinstance(root, t.RowT) and not target.steps:
            args = [py.text(py_str(root.entity)), _name_code(py_name(target.root))]
            self.statement(self.db("delete", args), None, "", depth)
            return
        *inner, last = target.steps
        removal = self.lib("remove", [self.path(target, tuple(inner)), self.expr(last.key)])
        self.statement(removal, None, "", depth)
        if isinstance(root, t.RowT):
            self._changed(pending, target, root.entity)


# The method that writes each kind of expression, by the node's class: `_literal` for Literal.
_EXPRESSIONS: dict[type, Callable[[Emitter, ast.Expr], Code]] = {
    cls: getattr(Emitter, f"_{cls.__name__.lower()}") for cls in typing.get_args(ast.Expr)
}


def _bound(names: set[str]) -> Writes:
    return Writes(bound=names)


def _is_builtin_call(e: ast.Expr, name: str, type_of: Callable[[ast.Expr], t.Type]) -> bool:
    if not (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == name):
        return False
    return not isinstance(type_of(e.func), t.StructClass | t.Method)


def _is_none(e: ast.Expr) -> bool:
    return isinstance(e, ast.Literal) and e.value is None


def _reads_db(node: ast.Node, types: dict[int, t.Type]) -> bool:
    """Whether evaluating an expression may read the database (and see a pending write)."""
    for n in ast.walk(node):
        if isinstance(n, ast.Member):
            if isinstance(t.strip_optional(types.get(id(n.obj), t.ANY)), t.RefT):
                return True
        elif isinstance(n, ast.Index):
            if isinstance(t.strip_optional(types.get(id(n.obj), t.ANY)), t.EntityClass):
                return True
        elif isinstance(n, ast.Insert):
            return True
        elif isinstance(n, ast.Call):
            if isinstance(types.get(id(n.func), t.ANY), t.Method | t.ToolFn):
                return True
            if isinstance(n.func, ast.Name) and n.func.id in ("next_key", "free_key"):
                return True
    return False


def annotation(d: ir.DomainIR, ty: t.Type | None) -> str:
    """The Python type of a value as generated code holds it: records and structs are dicts,
    references hold the referred key, dates are ISO strings, enums their member names."""
    if ty is None:
        return "None"
    if isinstance(ty, t.OptionalT):
        return f"{annotation(d, ty.inner)} | None"
    match ty:
        case t.Prim(name="date" | "datetime"):
            return "str"
        case t.Prim():
            return ty.name
        case t.EnumT():
            return "str"
        case t.RefT():
            table = d.table(ty.entity)
            key = table.column(table.key[0]) if len(table.key) == 1 else None
            return annotation(d, key.type) if key is not None else "tuple"
        case t.RowT() | t.StructT():
            return "dict"
        case t.ListT():
            return f"list[{annotation(d, ty.item)}]"
        case t.MapT():
            return f"dict[{annotation(d, ty.key)}, {annotation(d, ty.value)}]"
    return "object"


def docstring_block(text: str, depth: int, *, closing_line: bool = True) -> list[str]:
    """A docstring at `depth` levels; a multi-line one ends with its quotes on their own line
    unless `closing_line` is False (then its text keeps no trailing newline)."""
    pad = "    " * depth
    lines = docstring_lines(text, width=100 - len(pad))
    if len(lines) == 1 and len(pad) + len(lines[0]) + 6 > 100:
        # Ruff joins a lone line to its closing quotes: one that cannot hold them is wrapped.
        lines = docstring_lines(text, width=100 - len(pad) - 3)
    lines[0] = '"""' + lines[0]
    last_fits = len(pad) + len(lines[-1]) + 3 <= 100
    if (len(lines) == 1 or not closing_line) and last_fits:
        lines[-1] += '"""'
        return [pad + line if line else "" for line in lines]
    return [pad + line if line else "" for line in lines] + [pad + '"""']


def query_constants(queries: list[tuple[str, str]]) -> list[str]:
    """Module constants holding planned queries' WHERE texts, written after the function that
    uses them; split at spaces where a line would be too long, as ruff leaves an implicitly
    joined string."""
    lines: list[str] = []
    for name, sql in queries:
        flat = f"{name} = {py_str(sql)}"
        if len(flat) <= WIDTH:
            lines += ["", "", flat]
            continue
        parts, current = [], ""
        for word in sql.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and len(py_str(candidate + " ")) > WIDTH - 4:
                parts.append(current + " ")
                current = word
            else:
                current = candidate
        parts.append(current)
        lines += ["", "", f"{name} = (", *(f"    {py_str(p)}" for p in parts), ")"]
    return lines


def tool_source(d: ir.DomainIR, tool: ir.Tool) -> str:
    e = Emitter(d, query_prefix=f"{tool.name.upper()}_WHERE")
    e.locals_ = {p.name for p in tool.params}
    structs = d.symbols.structs
    nested = {
        name: {
            f.name
            for f in record.fields.values()
            if not isinstance(t.strip_optional(f.type), t.RefT) and holds_reference(f.type, structs)
        }
        for name, record in d.symbols.entities.items()
    }
    e.refs_kept = kept_references(tool.decl.body, d.types, e._target_type, nested, structs)
    params: list[Doc] = ["db: lib.Db"]
    # The runtime passes every argument, in order, defaults filled in; the signature shows the
    # defaults where Python allows them (only after the last parameter without one).
    required = [i for i, p in enumerate(tool.params) if not p.has_default]
    for i, p in enumerate(tool.params):
        default = ""
        if p.has_default and i > max(required, default=-1):
            default = f" = {py.constant(p.default)}"
        params.append(f"{py_name(p.name)}: {annotation(d, p.type)}{default}")
    head = (
        f"def {tool.name}",
        bracket("(", params, ")", nested=True),
        f" -> {annotation(d, tool.returns)}:",
    )
    lines = [render(head)]
    doc = "\n".join(line.strip() for line in (tool.doc.strip() or tool.name).splitlines())
    reads, writes = ", ".join(tool.reads) or "-", ", ".join(tool.writes) or "-"
    effects = f"Kind: {tool.kind}. Reads: {reads}. Writes: {writes}."
    lines += docstring_block(f"{doc}\n\n{effects}", 1)
    # Defaults that are not plain constants are computed on entry.
    for p in tool.params:
        if p.has_default and p.default is None and p.type is not None:
            param_decl = next(x for x in tool.decl.params if x.name == p.name)
            if not (
                isinstance(param_decl.default, ast.Literal) and param_decl.default.value is None
            ):
                lines.append(f"    if {py_name(p.name)} is None:")
                e.statement(f"{py_name(p.name)} = ", e.expr(param_decl.default), "", 2)
                lines.extend(e.lines)
                e.lines.clear()
    e.block(tool.decl.body, 1)
    lines.extend(e.lines)
    return "\n".join([*lines, *query_constants(e.queries)])


def invariant_source(d: ir.DomainIR, inv: ir.Invariant) -> str:
    """A check function returning the violation message, or None.

    With `every_row`, a per-row invariant checks every record (when data is loaded);
    otherwise one whose condition reads only its own row checks just the records the call
    changed, since no other record can have broken it, and one that reads other records
    through the row's links (`inv.affected_by`) checks those and the rows the links reach
    from the records the call changed. One that reads other records otherwise checks them all.
    """
    e = Emitter(d, query_prefix=f"CHECK_{inv.name.upper()}_WHERE")
    head = f"def check_{inv.name}(db: lib.Db, every_row: bool = False) -> str | None:"
    if inv.entity is None:
        lines = [head, *docstring_block(f"{inv.name} ({inv.where}).", 1)]
        e.statement("if ", e.negated(inv.decl.condition), ":", 1)
        e.statement("return ", e.expr(inv.decl.message), "", 2)
        return "\n".join([*lines, *e.lines, "    return None", *query_constants(e.queries)])
    table = d.table(inv.entity)
    e.field_row = "row"
    e.current_fields = {c.field for c in table.columns}
    entity = py_str(inv.entity)
    if inv.own_row or inv.affected_by is not None:
        links = "" if inv.own_row else f", AFFECTED_BY[{py_str(inv.name)}]"
        scope = "written by the call" if inv.own_row else "those the call's writes reach"
        rows = _conditional(
            "rows", f"db.all({entity})", "every_row", f"db.affected({entity}{links})"
        )
        loop = "row in rows"
    else:
        rows, scope, loop = [], "every one", f"row in db.all({entity})"
    lines = [head, *docstring_block(f"{inv.name} ({inv.where}), on each {inv.entity}: {scope}.", 1)]
    lines.extend(rows)
    lines.append(f"    for {loop}:")
    condition = inv.decl.condition
    if inv.holds_when_none is None:
        broken = e.negated(condition)
    else:  # a field's check: it holds where the field is none
        span = inv.decl.span
        present = ast.Binary(
            "!=", ast.Name(inv.holds_when_none, span), ast.Literal(None, span), span
        )
        broken = py.binary(
            "and", e.expr(present), e._with_facts(present, lambda: e.negated(condition))
        )
    e.statement("if ", broken, ":", 2)
    e.statement("return ", e.expr(inv.decl.message), "", 3)
    return "\n".join([*lines, *e.lines, "    return None", *query_constants(e.queries)])


def _conditional(name: str, then: str, test: str, otherwise: str) -> list[str]:
    """`name = then if test else otherwise` in a function body, split as ruff would."""
    flat = f"{then} if {test} else {otherwise}"
    if len(f"    {name} = {flat}") <= WIDTH:
        return [f"    {name} = {flat}"]
    if len(f"        {flat}") <= WIDTH:
        return [f"    {name} = (", f"        {flat}", "    )"]
    split = [f"        {then}", f"        if {test}", f"        else {otherwise}"]
    return [f"    {name} = (", *split, "    )"]


def affected_by_source(d: ir.DomainIR) -> str:
    """`AFFECTED_BY`: per invariant checked on linked rows, its links (entity, field, the
    row's field); empty when there is none."""
    entries = []
    for inv in d.runtime_invariants:
        if inv.affected_by is None or inv.own_row:
            continue
        links = [
            f"({py_str(k.entity)}, {py_str(k.field)}, {py_str(k.row_field)})"
            for k in inv.affected_by
        ]
        entries.extend(_tuple_entry(py_str(inv.name), links))
    if not entries:
        return ""
    return "\n".join(["AFFECTED_BY = {", *entries, "}"])


def _tuple_entry(key: str, items: list[str]) -> list[str]:
    """The lines of `key: (items...)` in a dict literal: on one line where it fits, one item a
    line otherwise."""
    flat = f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    head = f"    {key}: "
    if len(head + flat) + 1 <= WIDTH:
        return [f"{head}{flat},"]
    return [f"{head}(", *(f"        {item}," for item in items), "    ),"]


def cannot_break_source(unbroken: dict[str, list[str]]) -> str:
    """`CANNOT_BREAK`: per tool, the invariants it writes the entity of but cannot break
    (compiler/unbroken.py); empty when there is none."""
    entries = []
    for tool, names in sorted(unbroken.items()):
        entries.extend(_tuple_entry(py_str(tool), [py_str(n) for n in names]))
    if not entries:
        return ""
    return "\n".join(["CANNOT_BREAK = {", *entries, "}"])


def derive_function(entity: str, field: str) -> str:
    return f"derive_{entity}_{field}"


def derived_source(d: ir.DomainIR, table: ir.Table, field: str) -> str:
    """The function computing one derived field from the other fields of a record."""
    info = d.symbols.entities[table.entity].fields[field]
    e = Emitter(d, query_prefix=f"{derive_function(table.entity, field).upper()}_WHERE")
    e.field_row = "row"
    e.current_fields = {c.field for c in table.columns}
    where = info.derived.span.file.rsplit("/", 1)[-1]
    head = (
        f"def {derive_function(table.entity, field)}(db: lib.Db, row: dict) -> "
        f"{annotation(d, info.type)}:"
    )
    doc = f"{table.entity}.{field} ({where}), computed from the record's other fields."
    e.statement("return ", e.expr(info.derived), "", 1)
    return "\n".join([head, *docstring_block(doc, 1), *e.lines, *query_constants(e.queries)])


def module_docstring(text: str) -> str:
    return "\n".join(docstring_block(text, 0))
