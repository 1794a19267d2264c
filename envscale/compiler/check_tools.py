"""Pass: type-check every tool's parameters, defaults and body."""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.check_derived import derived_hint
from envscale.compiler.context import Compilation
from envscale.compiler.resolve_types import resolve_type
from envscale.compiler.symbols import ParamInfo, ToolInfo
from envscale.compiler.typecheck import Binding, Checker, Scope, path_of, terminates
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


def check_tools(c: Compilation) -> None:
    checker = Checker(c)
    for tool in c.symbols.tools.values():
        _ToolChecker(checker, tool).run()


class _ToolChecker:
    def __init__(self, checker: Checker, tool: ToolInfo):
        self.k = checker
        self.c = checker.c
        self.tool = tool

    def run(self) -> None:
        scope = Scope()
        for param in self.tool.params.values():
            for attr in param.decl.attributes:
                self.param_attribute(param, attr)
            if param.decl.default is not None:
                got = self.k.expr_as(param.decl.default, Scope(), param.type)
                self.k.expect(
                    param.decl.default, got, param.type, f"default of parameter '{param.name}'"
                )
            scope.names[param.name] = Binding(param.type, "param")
        self.block(self.tool.decl.body, scope)
        returns = self.tool.returns
        if (
            returns is not None
            and not isinstance(returns, t.NoneT | t.OptionalT)
            and not terminates(self.tool.decl.body)
        ):
            self.c.error(
                "E205",
                f"tool '{self.tool.name}' can reach its end without returning a value (it "
                f"declares -> {returns})",
                self.tool.decl.name_span,
                'end every path with return ... or fail "..."',
            )

    def param_attribute(self, param: ParamInfo, attr: ast.Attribute) -> None:
        """`@choices(v, ...)`: the values a tool's schema offers for a parameter. They are not
        enforced before the body runs, so the body's own checks decide which error comes first.
        `@as_sent`: the argument is not validated against the parameter's type; the body gets
        the JSON value as sent, and a type error it then meets fails the call."""
        if attr.name == "as_sent":
            if attr.args:
                self.c.error("E302", "'@as_sent' takes no arguments", attr.span)
            param.as_sent = True
            return
        if attr.name != "choices":
            self.c.error(
                "E302",
                f"unknown parameter attribute '@{attr.name}'",
                attr.span,
                "parameters take @choices(value, ...) and @as_sent",
            )
            return
        base = t.strip_optional(param.type)
        if base not in (t.STR, t.INT) or not attr.args:
            self.c.error(
                "E302", "'@choices' takes one or more values, on a str or int parameter", attr.span
            )
            return
        values = []
        for arg in attr.args:
            value = arg.value
            if (
                arg.name is not None
                or not isinstance(value, ast.Literal)
                or type(value.value) is not (str if base == t.STR else int)
            ):
                self.c.error("E302", f"'@choices' values must be {base} literals", arg.span)
                return
            values.append(value.value)
        if len(set(values)) != len(values):
            self.c.error("E302", "'@choices' lists a value twice", attr.span)
            return
        param.choices = values

    def block(self, body: tuple[ast.Stmt, ...], scope: Scope) -> None:
        for stmt in body:
            self.stmt(stmt, scope)
            match stmt:
                case ast.Require():
                    self.narrow(scope, scope, none_tested(stmt.condition, "!=", "and"))
                case ast.If() if terminates(stmt.then) and not stmt.otherwise:
                    self.narrow(scope, scope, none_tested(stmt.condition, "==", "or"))

    def narrow(self, source: Scope, target: Scope, tested: list[ast.Expr]) -> None:
        """Give each optional name or path of fields, as seen from source, its non-optional
        type in target."""
        for node in tested:
            if isinstance(node, ast.Name):
                binding = source.lookup(node.id)
                if binding is not None and isinstance(binding.type, t.OptionalT):
                    target.names[node.id] = Binding(binding.type.inner, binding.kind)
                continue
            path = path_of(node)
            seen = self.c.types.get(id(node))
            if path is not None and isinstance(seen, t.OptionalT):
                target.paths[path] = seen.inner

    def stmt(self, s: ast.Stmt, scope: Scope) -> None:
        k = self.k
        match s:
            case ast.Let():
                declared = resolve_type(self.c, s.type) if s.type is not None else None
                got = (
                    k.expr_as(s.value, scope, declared)
                    if declared is not None
                    else k.expr(s.value, scope)
                )
                if declared is not None:
                    k.expect(s.value, got, declared, f"value of '{s.name}'")
                    got = declared
                elif isinstance(got, t.NoneT):
                    self.c.error(
                        "E201",
                        f"the type of '{s.name}' cannot be told from none",
                        s.value.span,
                        f"declare it: let {s.name}: TYPE? = none",
                    )
                elif isinstance(got, t.EntityClass | t.EnumClass | t.StructClass | t.Method):
                    self.c.error("E203", f"'{s.name}' cannot hold {got}", s.value.span)
                    got = t.ANY
                if scope.lookup(s.name) is not None:
                    self.c.error(
                        "E101",
                        f"'{s.name}' is already defined",
                        s.span,
                        f"to change it, write: set {s.name} = ...",
                    )
                scope.names[s.name] = Binding(got, "local")
                scope.forget_paths(s.name, set())
            case ast.Require():
                k.expect(s.condition, k.expr(s.condition, scope), t.BOOL, "require condition")
                k.expect(s.message, k.expr(s.message, scope), t.STR, "require message")
            case ast.Fail():
                k.expect(s.message, k.expr(s.message, scope), t.STR, "fail message")
            case ast.Set():
                forget_written(scope, s.target)
                target = self.target(s.target, scope, for_delete=False)
                value = (
                    k.expr_as(s.value, scope, target)
                    if target is not None
                    else k.expr(s.value, scope)
                )
                if target is not None:
                    k.expect(s.value, value, target, "assigned value")
            case ast.InsertStmt():
                k.expr(s.insert, scope)
            case ast.Delete():
                forget_written(scope, s.target)
                self.target(s.target, scope, for_delete=True)
            case ast.For():
                item = k.iteration_type(s.iterable, k.expr(s.iterable, scope))
                # What the body writes may be none again on the next pass, before the write.
                for node in ast.walk(*s.body):
                    if isinstance(node, ast.Set | ast.Delete):
                        forget_written(scope, node.target)
                scope.forget_paths(s.var, set())
                inner = scope.child()
                inner.names[s.var] = Binding(item, "loop")
                self.block(s.body, inner)
            case ast.If():
                k.expect(s.condition, k.expr(s.condition, scope), t.BOOL, "if condition")
                then, otherwise = scope.child(), scope.child()
                self.narrow(scope, then, none_tested(s.condition, "!=", "and"))
                self.narrow(scope, otherwise, none_tested(s.condition, "==", "or"))
                self.block(s.then, then)
                self.block(s.otherwise, otherwise)
            case ast.Return():
                self.ret(s, scope)

    def ret(self, s: ast.Return, scope: Scope) -> None:
        returns = self.tool.returns
        if s.value is None:
            if returns is not None and not isinstance(returns, t.OptionalT):
                self.c.error(
                    "E201",
                    f"tool '{self.tool.name}' must return a value (it declares -> {returns})",
                    s.span,
                )
            return
        got = (
            self.k.expr_as(s.value, scope, returns)
            if returns is not None
            else self.k.expr(s.value, scope)
        )
        if returns is None:
            self.c.error(
                "E201",
                f"tool '{self.tool.name}' declares no return type but returns a {got}",
                s.value.span,
                f"declare it: tool {self.tool.name}(...) -> {got}",
            )
            return
        self.k.expect(s.value, got, returns, "returned value")

    def target(self, target: ast.Target, scope: Scope, *, for_delete: bool) -> t.Type | None:
        """Check the left side of set / the operand of delete; returns the slot's type."""
        binding = scope.lookup(target.root)
        if binding is None:
            self.c.error(
                "E104",
                f"unknown name '{target.root}'",
                target.root_span,
                did_you_mean(target.root, scope.all_names()),
            )
            return None
        current = binding.type
        self.c.types[id(target)] = current
        if isinstance(t.strip_optional(current), t.RowT) and not target.steps:
            if not for_delete:
                self.c.error(
                    "E204",
                    f"'{target.root}' is a record; set one of its fields instead",
                    target.span,
                    f"e.g. set {target.root}.FIELD = ...",
                )
                return None
            return current
        if not target.steps:
            if for_delete:
                self.c.error(
                    "E204",
                    f"'{target.root}' is not a record, a list item or a map entry",
                    target.span,
                )
                return None
            if binding.kind == "loop":
                self.c.error(
                    "E204", f"the loop variable '{target.root}' cannot be reassigned", target.span
                )
            return current
        for i, step in enumerate(target.steps):
            base = t.strip_optional(current)
            if isinstance(step, ast.AttrStep):
                if isinstance(base, t.RefT):
                    self.c.error(
                        "E204",
                        f"cannot change a {base.entity} through a reference",
                        step.span,
                        f"look it up first: let x = {base.entity}[...]; set x.{step.name} = ...",
                    )
                    return None
                record = self.k.record(base)
                if record is None:
                    if not isinstance(base, t.AnyT):
                        self.c.error("E203", f"a value of type {current} has no fields", step.span)
                    return None
                info = record.fields.get(step.name)
                if info is None:
                    self.c.error(
                        "E103",
                        f"'{record.name}' has no field '{step.name}'",
                        step.span,
                        did_you_mean(step.name, record.fields),
                    )
                    return None
                if i == 0 and isinstance(base, t.RowT) and info.derived is not None:
                    self.c.error(
                        "E710",
                        f"'{step.name}' of {record.name} is derived and cannot be written",
                        step.span,
                        derived_hint(record, step.name),
                    )
                    return None
                if i == 0 and isinstance(base, t.RowT) and info.key:
                    self.c.error(
                        "E204",
                        f"'{step.name}' is the key of {record.name} and cannot change",
                        step.span,
                        "insert a new record and delete the old one instead",
                    )
                    return None
                current = info.type
            else:
                key = self.k.expr(step.key, scope)
                if isinstance(base, t.ListT):
                    self.k.expect(step.key, key, t.INT, "list index")
                    current = base.item
                elif isinstance(base, t.MapT):
                    self.k.expect(step.key, key, base.key, "map key")
                    current = base.value
                else:
                    if not isinstance(base, t.AnyT):
                        self.c.error(
                            "E203", f"a value of type {current} cannot be indexed", step.span
                        )
                    return None
        if for_delete and not isinstance(target.steps[-1], ast.IndexStep):
            self.c.error(
                "E204",
                "delete removes a record, a list item or a map entry, not a field",
                target.span,
                "to clear an optional field: set x.FIELD = none",
            )
            return None
        return current


def none_tested(condition: ast.Expr, op: str, joiner: str) -> list[ast.Expr]:
    """Names and paths of fields compared with none by `op` in condition or in any of its
    `joiner` operands: `x != none and ...` proves x is set when true, `x == none or ...` when
    false."""
    if isinstance(condition, ast.Binary) and condition.op == joiner:
        return none_tested(condition.left, op, joiner) + none_tested(condition.right, op, joiner)
    if isinstance(condition, ast.Binary) and condition.op == op:
        for name, other in ((condition.left, condition.right), (condition.right, condition.left)):
            if path_of(name) is not None and isinstance(other, ast.Literal) and other.value is None:
                return [name]
    return []


def forget_written(scope: Scope, target: ast.Target) -> None:
    """Forget the narrowed paths a write to `target` may change: those from its name when it
    is rebound, and, since two names may hold the same record, every path through a field it
    writes."""
    fields = {step.name for step in target.steps if isinstance(step, ast.AttrStep)}
    scope.forget_paths(target.root if not target.steps else None, fields)
