"""Name resolution and type checking of expressions and statements.

The checker records the type of every expression in `Compilation.types`, so later passes
(effects, SQL lowering, code generation) never have to guess.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS, BuiltinCall
from envscale.compiler.check_derived import derived_hint
from envscale.compiler.context import Compilation
from envscale.compiler.symbols import FieldInfo, RecordInfo, ToolInfo, stored_key_type
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


@dataclass
class Binding:
    type: t.Type
    kind: str  # "param", "local", "loop", "field"


# A path of fields from a name, `cart.restaurant` as ("cart", "restaurant").
Path = tuple[str, ...]


def path_of(e: ast.Expr) -> Path | None:
    """The path an expression reads, when it is a name followed by fields only."""
    steps: list[str] = []
    while isinstance(e, ast.Member):
        steps.append(e.attr)
        e = e.obj
    if not isinstance(e, ast.Name):
        return None
    return (e.id, *reversed(steps))


@dataclass
class Scope:
    names: dict[str, Binding] = field(default_factory=dict)
    parent: Scope | None = None
    # Paths of fields proven set (`require cart.restaurant != none`), to their narrowed type.
    paths: dict[Path, t.Type] = field(default_factory=dict)

    def narrowed(self, path: Path) -> t.Type | None:
        scope: Scope | None = self
        while scope is not None:
            if path in scope.paths:
                return scope.paths[path]
            scope = scope.parent
        return None

    def forget_paths(self, root: str | None, fields: set[str]) -> None:
        """Drop, here and in every enclosing scope, the narrowed paths from `root` and those
        through one of `fields`: a write to them may have made them none again."""
        scope: Scope | None = self
        while scope is not None:
            for path in list(scope.paths):
                if path[0] == root or fields & set(path[1:]):
                    del scope.paths[path]
            scope = scope.parent

    def lookup(self, name: str) -> Binding | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def all_names(self) -> list[str]:
        names: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            names.extend(scope.names)
            scope = scope.parent
        return names

    def child(self) -> Scope:
        return Scope(parent=self)


class Checker:
    def __init__(self, c: Compilation):
        self.c = c
        self.s = c.symbols
        self.members = self.s.enum_members()

    # ---- helpers

    def record(self, t_: t.Type) -> RecordInfo | None:
        base = t.strip_optional(t_)
        if isinstance(base, t.RowT | t.RefT):
            return self.s.entities.get(base.entity)
        if isinstance(base, t.StructT):
            return self.s.structs.get(base.name)
        return None

    def key_type(self, entity: str) -> t.Type:
        record = self.s.entities.get(entity)
        if record is None or len(record.key) != 1:
            return t.ANY
        key = record.fields[record.key[0]].type
        # A key that is a reference is, in the end, the key of the record it refers to.
        return stored_key_type(self.s.entities, entity) if isinstance(key, t.RefT) else key

    def lookup_key_type(self, entity: str, key_field: str, got: t.Type) -> t.Type:
        """What a lookup of `entity` by its key field accepts: the key's value, or a reference
        to the same entity (a reference is stored as the referred key)."""
        got_base = t.strip_optional(got)
        if (
            len(self.s.entities[entity].key) == 1
            and isinstance(got_base, t.RefT)
            and got_base.entity == entity
        ):
            return t.RefT(entity)
        want = self.s.entities[entity].fields[key_field].type
        if not isinstance(want, t.RefT):
            return want
        if isinstance(got_base, t.RefT) and got_base.entity == want.entity:
            return want  # a key field that refers to E takes a reference to E, as one key does
        return self.key_type(want.entity)

    def error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.c.error(code, message, span, hint)

    def note(self, node: object, type_: t.Type) -> t.Type:
        self.c.types[id(node)] = type_
        return type_

    def expect(self, node: ast.Expr, got: t.Type, want: t.Type, what: str) -> None:
        if t.assignable(got, want):
            return
        if (
            isinstance(node, ast.Literal)
            and isinstance(node.value, str)
            and isinstance(t.strip_optional(want), t.EnumT)
        ):
            self.check_enum_literal(node, t.strip_optional(want))
            return
        if self.fits(got, want):
            return
        hint = None
        if isinstance(got, t.OptionalT) and t.assignable(got.inner, want):
            hint = 'the value may be none: check it with `require x != none else "..."` first'
        elif got == t.FLOAT and want == t.INT:
            hint = "convert it with int(...) or round(...)"
        self.c.error("E201", f"{what}: expected {want}, found {got}", node.span, hint)

    def fits(self, got: t.Type, want: t.Type) -> bool:
        """Whether a value of type got may be stored where want is expected, a reference
        taking its entity's key value too (an id stored in `list<Order>` is a reference)."""
        if t.assignable(got, want):
            return True
        if isinstance(got, t.OptionalT) and not isinstance(want, t.OptionalT):
            return False
        g, w = t.strip_optional(got), t.strip_optional(want)
        if isinstance(w, t.RefT):
            return t.assignable(g, self.key_type(w.entity))
        if isinstance(g, t.ListT) and isinstance(w, t.ListT):
            return self.fits(g.item, w.item)
        if isinstance(g, t.MapT) and isinstance(w, t.MapT):
            return t.assignable(g.key, w.key) and self.fits(g.value, w.value)
        return False

    def check_enum_literal(self, node: ast.Literal, enum: t.EnumT) -> None:
        members = self.s.enums[enum.name].members
        if node.value not in members:
            self.c.error(
                "E106",
                f"'{node.value}' is not a member of enum '{enum.name}'",
                node.span,
                did_you_mean(str(node.value), members) or f"members: {', '.join(members)}",
            )
        self.note(node, enum)

    # ---- expressions

    def expr(self, e: ast.Expr, scope: Scope) -> t.Type:
        type_ = _EXPRESSION_RULES[type(e)](self, e, scope)
        self.c.types[id(e)] = type_
        return type_

    def expr_as(self, e: ast.Expr, scope: Scope, want: t.Type) -> t.Type:
        """The type of e where a `want` is expected: there, a bare member that several enums
        share means the expected enum's member (`status == open` with `status: SlotStatus`)."""
        base = t.strip_optional(want)
        if (
            isinstance(base, t.EnumT)
            and self.shared_member(e, scope)
            and base.name in self.members[e.id]
        ):  # type: ignore[union-attr]
            return self.note(e, base)
        if isinstance(e, ast.ListLit) and isinstance(base, t.ListT) and e.items:
            for item in e.items:
                self.expr_as(item, scope, base.item)
            return self.note(e, self._listlit(e, scope, typed=True))
        return self.expr(e, scope)

    def shared_member(self, e: ast.Expr, scope: Scope) -> bool:
        """Whether e is a bare name that only an enum member shared by several enums can mean."""
        if not isinstance(e, ast.Name) or scope.lookup(e.id) is not None:
            return False
        if e.id in self.s.entities or e.id in self.s.enums or e.id in self.s.structs:
            return False
        return len(self.members.get(e.id, ())) > 1

    def _literal(self, e: ast.Literal, scope: Scope) -> t.Type:
        v = e.value
        if v is None:
            return t.NONE
        if isinstance(v, bool):
            return t.BOOL
        if isinstance(v, int):
            return t.INT
        if isinstance(v, float):
            return t.FLOAT
        return t.STR

    def _name(self, e: ast.Name, scope: Scope) -> t.Type:
        binding = scope.lookup(e.id)
        if binding is not None:
            return binding.type
        if e.id in self.s.entities:
            return t.EntityClass(e.id)
        if e.id in self.s.enums:
            return t.EnumClass(e.id)
        if e.id in self.s.structs:
            return t.StructClass(e.id)
        owners = self.members.get(e.id)
        if owners and len(owners) == 1:
            return t.EnumT(owners[0])
        if owners:
            self.c.error(
                "E108",
                f"'{e.id}' is a member of several enums: {', '.join(owners)}",
                e.span,
                f"qualify it, e.g. {owners[0]}.{e.id}",
            )
            return t.ANY
        candidates = [
            *scope.all_names(),
            *self.members,
            *self.s.entities,
            *self.s.enums,
            *self.s.structs,
        ]
        hint = did_you_mean(e.id, candidates)
        if e.id in BUILTINS:
            hint = f"'{e.id}' is a function: call it as {e.id}(...)"
        self.c.error("E104", f"unknown name '{e.id}'", e.span, hint)
        return t.ANY

    def _member(self, e: ast.Member, scope: Scope) -> t.Type:
        obj = self.expr(e.obj, scope)
        base = t.strip_optional(obj)
        if isinstance(base, t.AnyT):
            return t.ANY
        if isinstance(base, t.EnumClass):
            members = self.s.enums[base.name].members
            if e.attr not in members:
                self.c.error(
                    "E106",
                    f"'{e.attr}' is not a member of enum '{base.name}'",
                    e.attr_span,
                    did_you_mean(e.attr, members) or f"members: {', '.join(members)}",
                )
                return t.ANY
            return t.EnumT(base.name)
        if isinstance(base, t.EntityClass):
            if e.attr in ("where", "all", "get"):
                return t.Method(base.entity, e.attr)
            self.c.error(
                "E103",
                f"entity '{base.entity}' has no method '{e.attr}'",
                e.attr_span,
                did_you_mean(e.attr, ["where", "all", "get"])
                or "use where(...), all() or get(key)",
            )
            return t.ANY
        record = self.record(base)
        if record is None:
            self.c.error("E203", f"a value of type {obj} has no fields", e.attr_span)
            return t.ANY
        info = record.fields.get(e.attr)
        if info is None:
            self.c.error(
                "E103",
                f"'{record.name}' has no field '{e.attr}'",
                e.attr_span,
                did_you_mean(e.attr, record.fields),
            )
            return t.ANY
        if isinstance(info.type, t.OptionalT):
            path = path_of(e)
            narrowed = scope.narrowed(path) if path is not None else None
            if narrowed is not None:
                return narrowed
        return info.type

    def _index(self, e: ast.Index, scope: Scope) -> t.Type:
        obj = self.expr(e.obj, scope)
        keys = [self.expr(k, scope) for k in e.keys]
        base = t.strip_optional(obj)
        if isinstance(base, t.AnyT):
            return t.ANY
        if isinstance(base, t.EntityClass):
            record = self.s.entities[base.entity]
            key_fields = record.key
            if len(keys) != len(key_fields):
                self.c.error(
                    "E202",
                    f"'{base.entity}' is looked up by {len(key_fields)} key value(s), got "
                    f"{len(keys)}",
                    e.span,
                    f"its key: {', '.join(key_fields) or '(none)'}",
                )
                return t.RowT(base.entity)
            for node, got, name in zip(e.keys, keys, key_fields, strict=True):
                self.expect(
                    node,
                    got,
                    self.lookup_key_type(base.entity, name, got),
                    f"key '{name}' of {base.entity}",
                )
            return t.RowT(base.entity)
        if len(keys) != 1:
            self.c.error("E202", "only entity lookups take several keys", e.span)
            return t.ANY
        if isinstance(base, t.ListT):
            self.expect(e.keys[0], keys[0], t.INT, "list index")
            return base.item
        if isinstance(base, t.MapT):
            self.expect(e.keys[0], keys[0], base.key, "map key")
            return base.value
        if base == t.STR:
            self.expect(e.keys[0], keys[0], t.INT, "string index")
            return t.STR
        self.c.error("E203", f"a value of type {obj} cannot be indexed", e.span)
        return t.ANY

    def _unary(self, e: ast.Unary, scope: Scope) -> t.Type:
        operand = self.expr(e.operand, scope)
        if e.op == "not":
            self.expect(e.operand, operand, t.BOOL, "operand of 'not'")
            return t.BOOL
        if operand in t.NUMERIC or isinstance(operand, t.AnyT):
            return operand
        self.c.error("E203", f"cannot negate a value of type {operand}", e.span)
        return t.ANY

    def _binary(self, e: ast.Binary, scope: Scope) -> t.Type:
        op = e.op
        if op in ("in", "not in"):
            left = self.expr(e.left, scope)
            right = self.expr_as(e.right, scope, t.ListT(left))
        elif self.shared_member(e.left, scope):
            right = self.expr(e.right, scope)
            left = self.expr_as(e.left, scope, right)
        else:
            left = self.expr(e.left, scope)
            right = self.expr_as(e.right, scope, left)
        if isinstance(left, t.AnyT) or isinstance(right, t.AnyT):
            return (
                t.BOOL
                if op in ("==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in")
                else t.ANY
            )
        if op in ("and", "or"):
            self.expect(e.left, left, t.BOOL, f"left side of '{op}'")
            self.expect(e.right, right, t.BOOL, f"right side of '{op}'")
            return t.BOOL
        if op in ("==", "!="):
            self.comparable_for_equality(e, left, right)
            return t.BOOL
        if op in ("<", "<=", ">", ">="):
            lb, rb = t.strip_optional(left), t.strip_optional(right)
            ok = (lb in t.NUMERIC and rb in t.NUMERIC) or (lb == rb and lb in t.COMPARABLE_ORDER)
            if not ok:
                self.c.error(
                    "E203",
                    f"cannot compare {left} {op} {right}",
                    e.span,
                    "ordering works on numbers, strings, dates and datetimes of the same kind",
                )
            return t.BOOL
        if op in ("in", "not in"):
            container = t.strip_optional(right)
            if isinstance(container, t.ListT):
                self.element_check(e.left, left, container.item)
            elif isinstance(container, t.MapT):
                self.element_check(e.left, left, container.key)
            elif container == t.STR:
                self.expect(e.left, left, t.STR, f"left side of '{op}' a string")
            else:
                self.c.error(
                    "E203",
                    f"'{op}' needs a list, map or string on its right, found {right}",
                    e.right.span,
                )
            return t.BOOL
        return self.arithmetic(e, left, right)

    def element_check(self, node: ast.Expr, got: t.Type, item: t.Type) -> None:
        if (
            isinstance(node, ast.Literal)
            and isinstance(node.value, str)
            and isinstance(item, t.EnumT)
        ):
            self.check_enum_literal(node, item)
            return
        if isinstance(t.strip_optional(item), t.RefT) and self.fits(got, t.optional(item)):
            return
        if t.unify(got, item) is None and not self._enum_vs_str(got, item):
            self.c.error("E201", f"a {got} cannot be in a collection of {item}", node.span)

    @staticmethod
    def _enum_vs_str(a: t.Type, b: t.Type) -> bool:
        a, b = t.strip_optional(a), t.strip_optional(b)
        return (isinstance(a, t.EnumT) and b == t.STR) or (isinstance(b, t.EnumT) and a == t.STR)

    def comparable_for_equality(self, e: ast.Binary, left: t.Type, right: t.Type) -> None:
        for lit, other in ((e.left, right), (e.right, left)):
            if (
                isinstance(lit, ast.Literal)
                and isinstance(lit.value, str)
                and isinstance(t.strip_optional(other), t.EnumT)
            ):
                self.check_enum_literal(lit, t.strip_optional(other))
                return
        lb, rb = t.strip_optional(left), t.strip_optional(right)
        if isinstance(lb, t.RowT | t.RefT) and t.assignable(rb, self.key_type(lb.entity)):
            return
        if isinstance(rb, t.RowT | t.RefT) and t.assignable(lb, self.key_type(rb.entity)):
            return
        if t.unify(left, right) is None and not self._enum_vs_str(left, right):
            self.c.error(
                "E203",
                f"cannot compare {left} with {right}",
                e.span,
                "both sides must have the same type",
            )

    def arithmetic(self, e: ast.Binary, left: t.Type, right: t.Type) -> t.Type:
        op = e.op
        if left in t.NUMERIC and right in t.NUMERIC:
            if op == "/" or t.FLOAT in (left, right):
                return t.FLOAT
            return t.INT
        if op == "+" and left == t.STR and right == t.STR:
            return t.STR
        if op == "+" and isinstance(left, t.ListT) and isinstance(right, t.ListT):
            common = t.unify(left.item, right.item)
            if common is None and self.fits(right.item, left.item):
                common = left.item  # keys appended to a list of references
            elif common is None and self.fits(left.item, right.item):
                common = right.item
            if common is not None:
                return t.ListT(common)
        self.c.error("E203", f"cannot apply '{op}' to {left} and {right}", e.span)
        return t.ANY

    def _listlit(self, e: ast.ListLit, scope: Scope, typed: bool = False) -> t.Type:
        item: t.Type = t.ANY
        for node in e.items:
            got = self.c.types[id(node)] if typed else self.expr(node, scope)
            common = t.unify(got, item)
            if common is None:
                self.c.error("E201", f"list items must share one type: {item} and {got}", node.span)
            else:
                item = common
        return t.ListT(item)

    def _maplit(self, e: ast.MapLit, scope: Scope) -> t.Type:
        value: t.Type = t.ANY
        for _key, node in e.items:
            got = self.expr(node, scope)
            common = t.unify(got, value)
            if common is None:
                self.c.error(
                    "E201", f"map values must share one type: {value} and {got}", node.span
                )
            else:
                value = common
        # Keys of a map literal are strings; `{}` has none, so it fits a map of any key type.
        return t.MapT(t.STR if e.items else t.ANY, value)

    def _comprehension(self, e: ast.Comprehension, scope: Scope) -> t.Type:
        iterable = self.expr(e.iterable, scope)
        inner = scope.child()
        inner.names[e.var] = Binding(self.iteration_type(e.iterable, iterable), "loop")
        if e.condition is not None:
            self.expect(
                e.condition, self.expr(e.condition, inner), t.BOOL, "comprehension condition"
            )
        return t.ListT(self.expr(e.element, inner))

    def iteration_type(self, node: ast.Expr, iterable: t.Type) -> t.Type:
        base = t.strip_optional(iterable)
        if isinstance(base, t.ListT):
            return base.item
        if isinstance(base, t.MapT):
            return base.key
        if isinstance(base, t.AnyT):
            return t.ANY
        self.c.error(
            "E203",
            f"cannot iterate over a value of type {iterable}",
            node.span,
            "iterate over a list, a map's keys, or a query such as Order.where(...)",
        )
        return t.ANY

    def _insert(self, e: ast.Insert, scope: Scope) -> t.Type:
        record = self.s.entities.get(e.entity)
        if record is None:
            for arg in e.args:
                self.expr(arg.value, scope)
            self.c.error(
                "E102",
                f"unknown entity '{e.entity}'",
                e.entity_span,
                did_you_mean(e.entity, self.s.entities),
            )
            return t.ANY
        self.record_args(record, e.args, scope, e.span, f"insert {e.entity}")
        return t.RowT(e.entity)

    def record_args(
        self, record: RecordInfo, args: tuple[ast.Arg, ...], scope: Scope, span: ast.Span, what: str
    ) -> None:
        given: set[str] = set()
        for arg in args:
            checked = self.field_arg(
                record,
                arg,
                scope,
                f"{what} takes named fields only",
                f"write it as field: value, e.g. {next(iter(record.fields), 'field')}: ...",
            )
            if checked is None:
                continue
            info, got = checked
            if arg.name in given:
                self.c.error("E107", f"field '{arg.name}' is given twice", arg.span)
            given.add(arg.name)
            if info.derived is not None:
                self.c.error(
                    "E710",
                    f"'{arg.name}' of {record.name} is derived and cannot be given",
                    arg.span,
                    derived_hint(record, info.name),
                )
                continue
            self.expect(arg.value, got, info.type, f"field '{arg.name}' of {record.name}")
        missing = [
            f.name
            for f in record.fields.values()
            if f.name not in given and not f.optional and f.default is None and f.derived is None
        ]
        if missing:
            self.c.error(
                "E202",
                f"{what} is missing required field(s): {', '.join(missing)}",
                span,
                "give every field that has no default and is not optional",
            )

    def field_arg(
        self, record: RecordInfo, arg: ast.Arg, scope: Scope, unnamed: str, unnamed_hint: str
    ) -> tuple[FieldInfo, t.Type] | None:
        """Check one `field: value` argument: the field and the value's type, or None after an
        error."""
        info = record.fields.get(arg.name) if arg.name is not None else None
        got = (
            self.expr_as(arg.value, scope, info.type)
            if info is not None
            else self.expr(arg.value, scope)
        )
        if arg.name is None:
            self.c.error("E202", unnamed, arg.span, unnamed_hint)
            return None
        if info is None:
            self.c.error(
                "E103",
                f"'{record.name}' has no field '{arg.name}'",
                arg.span,
                did_you_mean(arg.name, record.fields),
            )
            return None
        return info, got

    def names_something(self, name: str, scope: Scope) -> bool:
        return (
            scope.lookup(name) is not None
            or name in self.s.entities
            or name in self.s.enums
            or name in self.s.structs
            or name in self.members
        )

    def _call(self, e: ast.Call, scope: Scope) -> t.Type:
        if (
            isinstance(e.func, ast.Name)
            and e.func.id in BUILTINS
            and scope.lookup(e.func.id) is None
        ):
            return self.builtin(e, scope)
        if (
            isinstance(e.func, ast.Name)
            and e.func.id in self.s.tools
            and not self.names_something(e.func.id, scope)
        ):
            return self.tool_call(e, self.s.tools[e.func.id], scope)
        if isinstance(e.func, ast.Name) and not self.names_something(e.func.id, scope):
            self.note(e.func, t.ANY)
            for arg in e.args:
                self.expr(arg.value, scope)
            hint = did_you_mean(e.func.id, [*BUILTINS, *self.s.structs])
            self.c.error(
                "E109",
                f"unknown function '{e.func.id}'",
                e.func.span,
                hint or "call a built-in such as len(...), or a struct to build one",
            )
            return t.ANY
        callee = self.expr(e.func, scope)
        if isinstance(callee, t.AnyT):
            for arg in e.args:
                self.expr(arg.value, scope)
            return t.ANY
        if isinstance(callee, t.StructClass):
            self.record_args(self.s.structs[callee.name], e.args, scope, e.span, callee.name)
            return t.StructT(callee.name)
        if isinstance(callee, t.Method):
            return self.method(e, callee, scope)
        for arg in e.args:
            self.expr(arg.value, scope)
        if isinstance(e.func, ast.Name) and isinstance(callee, t.AnyT | t.EntityClass):
            pass
        if isinstance(callee, t.EntityClass):
            self.c.error(
                "E203",
                f"entity '{callee.entity}' is not called",
                e.span,
                f"look a record up with {callee.entity}[key], or create one with insert "
                f"{callee.entity}(...)",
            )
        else:
            self.c.error("E203", f"a value of type {callee} is not callable", e.span)
        return t.ANY

    def tool_call(self, e: ast.Call, tool: ToolInfo, scope: Scope) -> t.Type:
        """Another tool called as a function: its arguments by position or name, those with
        a default optional; its result (none without a return type). Its writes are the
        caller's too (effects.py); a sync block cannot be called."""
        self.note(e.func, t.ToolFn(tool.name))
        params = list(tool.params.values())
        given: set[str] = set()
        for i, arg in enumerate(e.args):
            if arg.name is None:
                if given - {p.name for p in params[:i]}:
                    self.c.error("E202", "a positional argument follows a named one", arg.span)
                param = params[i] if i < len(params) else None
            else:
                param = tool.params.get(arg.name)
            if param is None:
                self.expr(arg.value, scope)
                self.c.error(
                    "E202",
                    f"tool '{tool.name}' takes no argument "
                    + (f"'{arg.name}'" if arg.name else f"number {i + 1}"),
                    arg.span,
                    f"its parameters: {', '.join(tool.params) or 'none'}",
                )
                continue
            if param.name in given:
                self.c.error("E107", f"argument '{param.name}' is given twice", arg.span)
            given.add(param.name)
            got = self.expr_as(arg.value, scope, param.type)
            self.expect(arg.value, got, param.type, f"argument '{param.name}' of '{tool.name}'")
        missing = [p.name for p in params if p.name not in given and p.decl.default is None]
        if missing:
            self.c.error(
                "E202",
                f"call of tool '{tool.name}' is missing argument(s): {', '.join(missing)}",
                e.span,
            )
        if any(a.name == "sync" for a in tool.decl.attributes):
            self.c.error(
                "E203",
                f"'{tool.name}' is a sync block: the runtime runs it after every call",
                e.func.span,
            )
        return tool.returns if tool.returns is not None else t.NONE

    def method(self, e: ast.Call, m: t.Method, scope: Scope) -> t.Type:
        record = self.s.entities[m.entity]
        if m.name == "all":
            if e.args:
                self.c.error(
                    "E202",
                    f"{m.entity}.all() takes no arguments",
                    e.span,
                    f"filter with {m.entity}.where(field: value)",
                )
            return t.ListT(t.RowT(m.entity))
        if m.name == "get":
            keys = [a for a in e.args]
            if len(keys) != len(record.key) or any(a.name for a in keys):
                self.c.error(
                    "E202",
                    f"{m.entity}.get takes the key value(s): {', '.join(record.key)}",
                    e.span,
                )
            for arg, name in zip(keys, record.key, strict=False):
                got = self.expr(arg.value, scope)
                want = self.lookup_key_type(m.entity, name, got)
                # A missing reference finds nothing, so get() takes an optional one.
                want = t.optional(want) if isinstance(want, t.RefT) else want
                self.expect(arg.value, got, want, f"key '{name}' of {m.entity}")
            return t.OptionalT(t.RowT(m.entity))
        for arg in e.args:
            checked = self.field_arg(
                record,
                arg,
                scope,
                f"{m.entity}.where takes field: value conditions",
                f"e.g. {m.entity}.where({next(iter(record.fields))}: ...)",
            )
            if checked is None:
                continue
            info, got = checked
            if t.is_json(info.type):
                self.c.error(
                    "E203",
                    f"cannot query by '{arg.name}': it holds a {info.type}",
                    arg.span,
                    "query by a scalar field, then filter the list with [x for x in ... if ...]",
                )
                continue
            self.expect(
                arg.value,
                got,
                t.optional(info.type) if not info.optional else info.type,
                f"condition on '{arg.name}'",
            )
        return t.ListT(t.RowT(m.entity))

    def builtin(self, e: ast.Call, scope: Scope) -> t.Type:
        spec = BUILTINS[e.func.id]  # type: ignore[union-attr]
        positional = [a for a in e.args if a.name is None]
        keywords = {a.name: a for a in e.args if a.name is not None}
        types = [self.expr(a.value, scope) for a in positional]
        keyword_types = {k: self.expr(a.value, scope) for k, a in keywords.items()}
        self.note(e.func, t.ANY)
        if not spec.min_args <= len(positional) <= spec.max_args:
            self.c.error(
                "E202",
                f"{spec.name}() takes {spec.arity}, got {len(positional)}",
                e.span,
                spec.summary,
            )
            return t.ANY
        for k, a in keywords.items():
            if k not in spec.keywords:
                self.c.error("E202", f"{spec.name}() has no argument '{k}'", a.span, spec.summary)
        if any(isinstance(x, t.AnyT) for x in types):
            return spec.returns or t.ANY
        call = BuiltinCall(
            self, spec.name, e, [a.value for a in positional], types, keywords, keyword_types
        )
        for i, want in enumerate(spec.params[: len(types)]):
            call.expect(i, want)
        result = spec.check(call) if spec.check is not None else None
        if spec.returns is not None:
            return spec.returns
        assert result is not None, spec.name
        return result


# The method typing each kind of expression: Checker._literal for ast.Literal, and so on.
_EXPRESSION_RULES: dict[type, Callable[[Checker, Any, Scope], t.Type]] = {
    cls: getattr(Checker, f"_{cls.__name__.lower()}") for cls in typing.get_args(ast.Expr)
}


def terminates(body: tuple[ast.Stmt, ...]) -> bool:
    """Whether every path through a block ends in return or fail."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return | ast.Fail):
        return True
    if isinstance(last, ast.If):
        return terminates(last.then) and terminates(last.otherwise)
    return False
