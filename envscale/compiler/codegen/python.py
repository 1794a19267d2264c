"""tools.py: one readable Python function per tool, generated from the IR.

Generated code sees records as dicts keyed by field name (references hold the referred key),
talks to the database only through `db` with parametrized SQL, and signals a tool failure
by raising ToolError, which the runtime turns into an error result.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS
from envscale.compiler.codegen.escape import docstring
from envscale.compiler.sql_expr import quote_ident
from envscale.dsl import ast

NEGATED_OPS = {"==": "!=", "!=": "==", "in": "not in", "not in": "in"}
RESERVED = set(keyword.kwlist) | {"db", "lib", "ToolError", "row", "self", "None", "True", "False"}


def py_name(name: str) -> str:
    return f"{name}_" if name in RESERVED else name


def py_str(value: str) -> str:
    return repr(value)


@dataclass
class Emitter:
    d: ir.DomainIR
    # Names bound to a row's fields (invariants on an entity), mapped to the row variable.
    field_row: str | None = None
    current_fields: set[str] = field(default_factory=set)
    locals_: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)

    def type_of(self, e: ast.Expr) -> t.Type:
        return self.d.types.get(id(e), t.ANY)

    def key_field(self, entity: str) -> list[str]:
        return self.d.table(entity).key

    def key_expr(self, code: str, entity: str) -> str:
        key = self.key_field(entity)
        if len(key) == 1:
            return f'{code}["{key[0]}"]'
        return "(" + ", ".join(f'{code}["{k}"]' for k in key) + ",)"

    def as_stored(self, e: ast.Expr, want: t.Type) -> str:
        """Code for e converted to how a slot of type `want` stores it (records as keys)."""
        code = self.expr(e)
        got = t.strip_optional(self.type_of(e))
        if isinstance(t.strip_optional(want), t.RefT) and isinstance(got, t.RowT):
            if isinstance(self.type_of(e), t.OptionalT):
                return f"lib.key_of({code}, {py_str(self.key_field(got.entity)[0])})"
            return self.key_expr(code, got.entity)
        return code

    # ---- expressions

    def expr(self, e: ast.Expr) -> str:
        return getattr(self, f"_{type(e).__name__.lower()}")(e)

    def _literal(self, e: ast.Literal) -> str:
        return repr(e.value)

    def _name(self, e: ast.Name) -> str:
        if self.field_row is not None:
            if e.id == "self":
                return self.field_row
            if e.id in self.current_fields:
                return f'{self.field_row}["{e.id}"]'
        if isinstance(self.type_of(e), t.EnumT) and e.id not in self.locals_:
            return py_str(e.id)
        return py_name(e.id)

    def _member(self, e: ast.Member) -> str:
        obj_type = self.type_of(e.obj)
        base = t.strip_optional(obj_type)
        if isinstance(base, t.EnumClass):
            return py_str(e.attr)
        obj = self.expr(e.obj)
        if isinstance(base, t.RefT):
            getter = "db.find" if isinstance(obj_type, t.OptionalT) else "db.get"
            obj = f"{getter}({py_str(base.entity)}, {obj})"
            if isinstance(obj_type, t.OptionalT):
                return f"lib.field({obj}, {py_str(e.attr)})"
            return f"{obj}[{py_str(e.attr)}]"
        if isinstance(obj_type, t.OptionalT):
            return f"lib.field({obj}, {py_str(e.attr)})"
        if isinstance(base, t.StructT) and self.d.structs[base.name].fields[e.attr].optional:
            return f"{obj}.get({py_str(e.attr)})"  # an optional struct field may be absent
        return f"{obj}[{py_str(e.attr)}]"

    def _index(self, e: ast.Index) -> str:
        obj_type = t.strip_optional(self.type_of(e.obj))
        keys = [self.expr(k) for k in e.keys]
        if isinstance(obj_type, t.EntityClass):
            key = keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ",)"
            return f"db.get({py_str(obj_type.entity)}, {key})"
        return f"lib.item({self.expr(e.obj)}, {keys[0]})"

    def _unary(self, e: ast.Unary) -> str:
        inner = self.expr(e.operand)
        return f"(not {inner})" if e.op == "not" else f"(-{inner})"

    def negated(self, e: ast.Expr) -> str:
        """Code for `not e`, written the way a person would (`x != y`, `x not in y`)."""
        if isinstance(e, ast.Unary) and e.op == "not":
            return self.expr(e.operand)
        if isinstance(e, ast.Binary) and e.op in NEGATED_OPS:
            return self._binary(e, NEGATED_OPS[e.op])
        return f"not {self.expr(e)}"

    def _binary(self, e: ast.Binary, op: str | None = None) -> str:
        op = op or e.op
        if op in ("==", "!="):
            left, right = self._comparable(e.left), self._comparable(e.right)
            if "None" in (left, right):
                other = right if left == "None" else left
                return f"({other} is {'not ' if op == '!=' else ''}None)"
            return f"({left} {op} {right})"
        if op in ("in", "not in"):
            right_type = t.strip_optional(self.type_of(e.right))
            item = right_type.item if isinstance(right_type, t.ListT) else None
            left = self.as_stored(e.left, item) if item is not None else self.expr(e.left)
            return f"({left} {op} {self.expr(e.right)})"
        left, right = self.expr(e.left), self.expr(e.right)
        if op == "/":
            return f"lib.divide({left}, {right})"
        if op == "%":
            return f"lib.modulo({left}, {right})"
        return f"({left} {op} {right})"

    def _comparable(self, e: ast.Expr) -> str:
        """Records compare by key, so a record equals a reference to it."""
        ty = t.strip_optional(self.type_of(e))
        if isinstance(ty, t.RowT):
            code = self.expr(e)
            if isinstance(self.type_of(e), t.OptionalT):
                return f"lib.key_of({code}, {py_str(self.key_field(ty.entity)[0])})"
            return self.key_expr(code, ty.entity)
        return self.expr(e)

    def _listlit(self, e: ast.ListLit) -> str:
        return "[" + ", ".join(self.expr(i) for i in e.items) + "]"

    def _maplit(self, e: ast.MapLit) -> str:
        return "{" + ", ".join(f"{py_str(k)}: {self.expr(v)}" for k, v in e.items) + "}"

    def _comprehension(self, e: ast.Comprehension) -> str:
        var = py_name(e.var)
        self.locals_.add(e.var)
        cond = f" if {self.expr(e.condition)}" if e.condition is not None else ""
        return f"[{self.expr(e.element)} for {var} in {self.expr(e.iterable)}{cond}]"

    def _insert(self, e: ast.Insert) -> str:
        return f"db.insert({py_str(e.entity)}, {self.record_literal(e.entity, e.args)})"

    def record_literal(self, name: str, args: tuple[ast.Arg, ...]) -> str:
        record = self.d.symbols.record(name)
        given = {a.name: a.value for a in args}
        parts = []
        for info in record.fields.values():
            if info.name in given:
                parts.append(f"{py_str(info.name)}: {self.as_stored(given[info.name], info.type)}")
            elif info.default is not None:
                parts.append(f"{py_str(info.name)}: {self.constant(info.default)}")
            else:
                parts.append(f"{py_str(info.name)}: None")
        return "{" + ", ".join(parts) + "}"

    def constant(self, e: ast.Expr) -> str:
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            return f"lib.{e.func.id}(db)"
        if isinstance(e, ast.Name):
            return py_str(e.id)
        if isinstance(e, ast.Member):
            return py_str(e.attr)
        if isinstance(e, ast.ListLit):
            return "[" + ", ".join(self.constant(i) for i in e.items) + "]"
        if isinstance(e, ast.MapLit):
            return "{" + ", ".join(f"{py_str(k)}: {self.constant(v)}" for k, v in e.items) + "}"
        return self.expr(e)

    def _call(self, e: ast.Call) -> str:
        callee = self.type_of(e.func)
        if isinstance(callee, t.StructClass):
            return self.record_literal(callee.name, e.args)
        if isinstance(callee, t.Method):
            return self.method(e, callee)
        assert isinstance(e.func, ast.Name)
        spec = BUILTINS[e.func.id]
        positional = [a.value for a in e.args if a.name is None]
        keywords = {a.name: a.value for a in e.args if a.name is not None}
        first = self.type_of(positional[0]) if positional else None
        if spec.on_entity is not None and isinstance(first, t.EntityClass):
            rest = ", ".join(self.expr(a) for a in positional[1:])
            return spec.on_entity.format(entity=py_str(first.entity), rest=rest)
        args = [self.expr(a) for a in positional]
        args.extend(f"{k}={self.expr(keywords[k])}" for k in spec.keywords if k in keywords)
        template = spec.several if spec.several is not None and len(positional) > 1 else spec.python
        return template.format(name=spec.name, args=", ".join(args))

    def method(self, e: ast.Call, m: t.Method) -> str:
        table = self.d.table(m.entity)
        entity = py_str(m.entity)
        if m.name == "get":
            keys = [self.expr(a.value) for a in e.args]
            key = keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ",)"
            return f"db.find({entity}, {key})"
        conditions, params = [], []
        for arg in e.args:
            column = table.column(arg.name)
            conditions.append(f"{quote_ident(column.name)} IS ?")
            params.append(self.as_stored(arg.value, column.type))
        order = ", ".join(quote_ident(table.column(k).name) for k in table.key)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT * FROM {quote_ident(m.entity)}{where} ORDER BY {order}"
        params_code = "(" + ", ".join(params) + ("," if len(params) == 1 else "") + ")"
        return f"db.select({entity}, {py_str(sql)}, {params_code})"

    # ---- statements

    def emit(self, line: str, depth: int) -> None:
        self.lines.append("    " * depth + line)

    def block(self, body: tuple[ast.Stmt, ...], depth: int) -> None:
        if not body:
            self.emit("pass", depth)
        for s in body:
            self.stmt(s, depth)

    def stmt(self, s: ast.Stmt, depth: int) -> None:
        match s:
            case ast.Let():
                self.locals_.add(s.name)
                value = self.expr(s.value)
                if t.is_json(self.type_of(s.value)) and isinstance(s.value, ast.Member | ast.Index):
                    value = f"lib.copy({value})"
                self.emit(f"{py_name(s.name)} = {value}", depth)
            case ast.Require():
                self.emit(f"if {self.negated(s.condition)}:", depth)
                self.emit(f"raise ToolError({self.expr(s.message)})", depth + 1)
            case ast.Fail():
                self.emit(f"raise ToolError({self.expr(s.message)})", depth)
            case ast.Set():
                self.set(s, depth)
            case ast.InsertStmt():
                self.emit(self.expr(s.insert), depth)
            case ast.Delete():
                self.delete(s, depth)
            case ast.For():
                self.locals_.add(s.var)
                self.emit(f"for {py_name(s.var)} in {self.expr(s.iterable)}:", depth)
                self.block(s.body, depth + 1)
            case ast.If():
                self.if_(s, depth, "if")
            case ast.Return():
                self.emit("return" if s.value is None else f"return {self.expr(s.value)}", depth)

    def if_(self, s: ast.If, depth: int, keyword_: str) -> None:
        condition, then = self.expr(s.condition), s.then
        # Without an else, a lone nested `if` or `require` joins the condition: the same
        # behaviour, and the flat form that linters ask for.
        while not s.otherwise and len(then) == 1:
            inner = then[0]
            if isinstance(inner, ast.If) and not inner.otherwise:
                condition, then = f"{condition} and {self.expr(inner.condition)}", inner.then
            elif isinstance(inner, ast.Require):
                condition = f"{condition} and {self.negated(inner.condition)}"
                self.emit(f"{keyword_} {condition}:", depth)
                self.emit(f"raise ToolError({self.expr(inner.message)})", depth + 1)
                return
            else:
                break
        self.emit(f"{keyword_} {condition}:", depth)
        self.block(then, depth + 1)
        if len(s.otherwise) == 1 and isinstance(s.otherwise[0], ast.If):
            self.if_(s.otherwise[0], depth, "elif")
        elif s.otherwise:
            self.emit("else:", depth)
            self.block(s.otherwise, depth + 1)

    def path(self, target: ast.Target, steps: tuple) -> str:
        code = py_name(target.root)
        for step in steps:
            code += f"[{py_str(step.name)}]" if isinstance(step, ast.AttrStep) else f"[{self.expr(step.key)}]"
        return code

    def set(self, s: ast.Set, depth: int) -> None:
        root = t.strip_optional(self.d.types.get(id(s.target), t.ANY))
        target = s.target
        want = self._target_type(target)
        value = self.as_stored(s.value, want)
        self.emit(f"{self.path(target, target.steps)} = {value}", depth)
        if isinstance(root, t.RowT) and target.steps:
            first = target.steps[0].name  # type: ignore[union-attr]
            self.emit(f"db.update({py_str(root.entity)}, {py_name(target.root)}, {py_str(first)})", depth)

    def _target_type(self, target: ast.Target) -> t.Type:
        current = self.d.types.get(id(target), t.ANY)
        for step in target.steps:
            base = t.strip_optional(current)
            if isinstance(step, ast.AttrStep):
                record = self.d.symbols.record(getattr(base, "entity", None) or getattr(base, "name", ""))
                current = record.fields[step.name].type if record else t.ANY
            elif isinstance(base, t.ListT):
                current = base.item
            elif isinstance(base, t.MapT):
                current = base.value
        return current

    def delete(self, s: ast.Delete, depth: int) -> None:
        root = t.strip_optional(self.d.types.get(id(s.target), t.ANY))
        target = s.target
        if isinstance(root, t.RowT) and not target.steps:
            self.emit(f"db.delete({py_str(root.entity)}, {py_name(target.root)})", depth)
            return
        *inner, last = target.steps
        self.emit(f"lib.remove({self.path(target, tuple(inner))}, {self.expr(last.key)})", depth)
        if isinstance(root, t.RowT):
            first = target.steps[0].name  # type: ignore[union-attr]
            self.emit(f"db.update({py_str(root.entity)}, {py_name(target.root)}, {py_str(first)})", depth)


def _annotation(ty: t.Type | None) -> str:
    if ty is None:
        return "None"
    base = t.strip_optional(ty)
    names = {"str": "str", "int": "int", "float": "float", "bool": "bool", "date": "str", "datetime": "str"}
    if isinstance(base, t.Prim):
        text = names[base.name]
    elif isinstance(base, t.EnumT):
        text = "str"
    elif isinstance(base, t.ListT):
        text = "list"
    elif isinstance(base, t.RefT):
        text = "str"
    else:
        text = "dict"
    return f"{text} | None" if isinstance(ty, t.OptionalT) else text


def tool_source(d: ir.DomainIR, tool: ir.Tool) -> str:
    e = Emitter(d)
    e.locals_ = {p.name for p in tool.params}
    params = ["db: Db"]
    # The runtime passes every argument, in order, defaults filled in; the signature shows the
    # defaults where Python allows them (only after the last parameter without one).
    required = [i for i, p in enumerate(tool.params) if not p.has_default]
    for i, p in enumerate(tool.params):
        default = ""
        if p.has_default and i > max(required, default=-1):
            default = f" = {p.default!r}"
        params.append(f"{py_name(p.name)}: {_annotation(p.type)}{default}")
    lines = [f"def {tool.name}({', '.join(params)}) -> {_annotation(tool.returns)}:"]
    doc = tool.doc.strip() or tool.name
    effects = f"Kind: {tool.kind}. Reads: {', '.join(tool.reads) or '-'}. Writes: {', '.join(tool.writes) or '-'}."
    lines.append('    """' + docstring("\n".join(line.strip() for line in doc.splitlines()), indent=4))
    lines.append("")
    lines.append(f"    {effects}")
    lines.append('    """')
    # Defaults that are not plain constants are computed on entry.
    for p in tool.params:
        if p.has_default and p.default is None and p.type is not None:
            param_decl = next(x for x in tool.decl.params if x.name == p.name)
            if not (isinstance(param_decl.default, ast.Literal) and param_decl.default.value is None):
                lines.append(f"    if {py_name(p.name)} is None:")
                lines.append(f"        {py_name(p.name)} = {e.expr(param_decl.default)}")
    e.block(tool.decl.body, 1)
    lines.extend(e.lines)
    return "\n".join(lines)


def invariant_source(d: ir.DomainIR, inv: ir.Invariant) -> str:
    """A check function returning the violation message, or None.

    With `every_row`, a per-row invariant checks every record (when data is loaded);
    otherwise one whose condition reads only its own row checks just the records changed
    since reset, since no other record can have broken it.
    """
    e = Emitter(d)
    head = f"def check_{inv.name}(db: Db, every_row: bool = False) -> str | None:"
    if inv.entity is None:
        return "\n".join([
            head,
            f'    """{docstring(f"{inv.name} ({inv.where}).")}"""',
            f"    if {e.negated(inv.decl.condition)}:",
            f"        return {e.expr(inv.decl.message)}",
            "    return None",
        ])
    table = d.table(inv.entity)
    e.field_row = "row"
    e.current_fields = {c.field for c in table.columns}
    entity = py_str(inv.entity)
    if inv.own_row:
        rows, scope = f"db.all({entity}) if every_row else db.changed({entity})", "changed since reset"
    else:
        rows, scope = f"db.all({entity})", "every one"
    return "\n".join([
        head,
        f'    """{docstring(f"{inv.name} ({inv.where}), on each {inv.entity}: {scope}.")}"""',
        f"    for row in {rows}:",
        f"        if {e.negated(inv.decl.condition)}:",
        f"            return {e.expr(inv.decl.message)}",
        "    return None",
    ])
