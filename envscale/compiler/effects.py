"""Pass: which entities each tool reads and writes, inferred from its body."""

from __future__ import annotations

from collections.abc import Iterator

from envscale.compiler import types as t
from envscale.compiler.context import Compilation
from envscale.dsl import ast


def expressions(node: object) -> Iterator[ast.Expr]:
    """Every expression under a statement or expression, outermost first."""
    match node:
        case ast.Literal() | ast.Name():
            yield node
        case ast.Member():
            yield node
            yield from expressions(node.obj)
        case ast.Index():
            yield node
            yield from expressions(node.obj)
            for k in node.keys:
                yield from expressions(k)
        case ast.Call():
            yield node
            yield from expressions(node.func)
            for a in node.args:
                yield from expressions(a.value)
        case ast.Unary():
            yield node
            yield from expressions(node.operand)
        case ast.Binary():
            yield node
            yield from expressions(node.left)
            yield from expressions(node.right)
        case ast.ListLit():
            yield node
            for i in node.items:
                yield from expressions(i)
        case ast.MapLit():
            yield node
            for _, v in node.items:
                yield from expressions(v)
        case ast.Comprehension():
            yield node
            yield from expressions(node.element)
            yield from expressions(node.iterable)
            if node.condition is not None:
                yield from expressions(node.condition)
        case ast.Insert():
            yield node
            for a in node.args:
                yield from expressions(a.value)
        case ast.Let():
            yield from expressions(node.value)
        case ast.Require():
            yield from expressions(node.condition)
            yield from expressions(node.message)
        case ast.Fail():
            yield from expressions(node.message)
        case ast.Set():
            yield from _target_expressions(node.target)
            yield from expressions(node.value)
        case ast.InsertStmt():
            yield from expressions(node.insert)
        case ast.Delete():
            yield from _target_expressions(node.target)
        case ast.For():
            yield from expressions(node.iterable)
            for s in node.body:
                yield from expressions(s)
        case ast.If():
            yield from expressions(node.condition)
            for s in (*node.then, *node.otherwise):
                yield from expressions(s)
        case ast.Return():
            if node.value is not None:
                yield from expressions(node.value)


def _target_expressions(target: ast.Target) -> Iterator[ast.Expr]:
    for step in target.steps:
        if isinstance(step, ast.IndexStep):
            yield from expressions(step.key)


def statements(body: tuple[ast.Stmt, ...]) -> Iterator[ast.Stmt]:
    for s in body:
        yield s
        if isinstance(s, ast.For):
            yield from statements(s.body)
        elif isinstance(s, ast.If):
            yield from statements(s.then)
            yield from statements(s.otherwise)


def reads_of(c: Compilation, node: object) -> set[str]:
    found: set[str] = set()
    for e in expressions(node):
        match e:
            case ast.Index() if isinstance(c.type_of(e.obj), t.EntityClass):
                found.add(c.type_of(e.obj).entity)
            case ast.Call() if isinstance(c.type_of(e.func), t.Method):
                found.add(c.type_of(e.func).entity)
            case ast.Call(func=ast.Name(id="next_key" | "free_key"), args=(first, *_)) if isinstance(
                    c.type_of(first.value), t.EntityClass):
                found.add(c.type_of(first.value).entity)
            case ast.Member() if isinstance(t.strip_optional(c.type_of(e.obj)), t.RefT):
                found.add(t.strip_optional(c.type_of(e.obj)).entity)
    return found


def infer_effects(c: Compilation) -> None:
    for tool in c.symbols.tools.values():
        body = tool.decl.body
        reads: set[str] = set()
        writes: set[str] = set()
        for s in body:
            reads |= reads_of(c, s)
        for s in statements(body):
            for e in expressions(s):
                if isinstance(e, ast.Insert) and e.entity in c.symbols.entities:
                    writes.add(e.entity)
            if isinstance(s, ast.Set | ast.Delete) and (s.target.steps or isinstance(s, ast.Delete)):
                root = t.strip_optional(c.types.get(id(s.target), t.ANY))
                if isinstance(root, t.RowT):
                    writes.add(root.entity)
        for param in tool.decl.params:
            if param.default is not None:
                reads |= reads_of(c, param.default)
        tool.reads, tool.writes = reads, writes
        _compare_declared(c, tool.name, tool.decl, reads, writes)


def _compare_declared(c: Compilation, name: str, decl: ast.Tool, reads: set[str], writes: set[str]) -> None:
    declared: dict[str, set[str]] = {}
    known = set(c.symbols.entities)
    for effect in decl.effects:
        bucket = declared.setdefault(effect.kind, set())
        for entity, span in effect.entities:
            if entity not in known:
                from envscale.dsl.diagnostics import did_you_mean

                c.error("E102", f"unknown entity '{entity}'", span, did_you_mean(entity, known))
            else:
                bucket.add(entity)
    # Declaring any effect claims the tool's writes: a tool that says only `reads` must not write.
    if declared:
        declared_writes = declared.get("writes", set())
        extra = declared_writes - writes
        missing = writes - declared_writes
        if missing:
            c.error("E401", f"tool '{name}' writes {', '.join(sorted(missing))} but does not declare it",
                    decl.name_span, f"add: writes {', '.join(sorted(declared_writes | writes))}")
        if extra:
            c.error("E401", f"tool '{name}' declares writes {', '.join(sorted(extra))} but never writes it",
                    decl.name_span, "remove it from the writes clause, or make the body write it")
    if "reads" in declared:
        allowed = declared["reads"] | declared.get("writes", set())
        missing = reads - allowed
        extra = declared["reads"] - reads
        if missing:
            c.error("E401", f"tool '{name}' reads {', '.join(sorted(missing))} but does not declare it",
                    decl.name_span, f"add: reads {', '.join(sorted(declared['reads'] | missing))}")
        if extra:
            c.error("E401", f"tool '{name}' declares reads {', '.join(sorted(extra))} but never reads it",
                    decl.name_span, "remove it from the reads clause")


def check_write_positions(c: Compilation) -> None:
    """An insert is a write: it may stand as a statement or as the whole value of let, set and
    return in a tool body, where its order among the other writes is plain. Anywhere else,
    inside a condition, a message, a bigger expression, an invariant or a default, it is E402."""
    for tool in c.symbols.tools.values():
        for param in tool.decl.params:
            if param.default is not None:
                _no_insert(c, param.default, f"in the default of parameter '{param.name}'")
        for s in statements(tool.decl.body):
            for root in _direct_expressions(s):
                _no_insert(c, root, "inside a larger expression")
    for inv in c.symbols.invariants.values():
        _no_insert(c, inv.condition, f"in invariant '{inv.name}'")
        _no_insert(c, inv.message, f"in invariant '{inv.name}'")


def _direct_expressions(s: ast.Stmt) -> list[ast.Expr]:
    """A statement's own expressions (not those of nested blocks), an allowed insert unwrapped."""
    roots: list[ast.Expr] = []
    match s:
        case ast.Let() | ast.Set() | ast.Return() if isinstance(s.value, ast.Insert):
            roots.extend(a.value for a in s.value.args)
        case ast.InsertStmt():
            roots.extend(a.value for a in s.insert.args)
        case ast.Let() | ast.Return():
            roots.extend([s.value] if s.value is not None else [])
        case ast.Set():
            roots.append(s.value)
        case ast.Require():
            roots.extend([s.condition, s.message])
        case ast.Fail():
            roots.append(s.message)
        case ast.For():
            roots.append(s.iterable)
        case ast.If():
            roots.append(s.condition)
    if isinstance(s, ast.Set | ast.Delete):
        roots.extend(step.key for step in s.target.steps if isinstance(step, ast.IndexStep))
    return roots


def _no_insert(c: Compilation, root: ast.Expr, where: str) -> None:
    for e in expressions(root):
        if isinstance(e, ast.Insert):
            c.error("E402", f"insert writes to the database and cannot appear {where}", e.span,
                    f"insert as its own statement, or bind it first: let x = insert {e.entity}(...)")
