"""Pass: which entities each tool reads and writes, inferred from its body."""

from __future__ import annotations

from collections.abc import Iterable

from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS
from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean

# Statement classes as tuples, built once rather than as a union on every node.
_CHANGES = (ast.Set, ast.Delete)
_HOLDS_VALUE = (ast.Let, ast.Set, ast.Return)


def reads_of(c: Compilation, nodes: Iterable[ast.Node]) -> set[str]:
    """The entities that evaluating the nodes reads (each node is looked at alone: pass them all,
    as ast.walk gives them)."""
    found: set[str] = set()
    for e in nodes:
        kind = type(e)
        if kind is ast.Index:
            obj = c.type_of(e.obj)
            if isinstance(obj, t.EntityClass):
                found.add(obj.entity)
        elif kind is ast.Call:
            callee = c.type_of(e.func)
            if isinstance(callee, t.Method):
                found.add(callee.entity)
            elif isinstance(e.func, ast.Name) and e.args and e.func.id in BUILTINS:
                first = c.type_of(e.args[0].value)
                if BUILTINS[e.func.id].on_entity is not None and isinstance(first, t.EntityClass):
                    found.add(first.entity)
        elif kind is ast.Member:
            obj = t.strip_optional(c.type_of(e.obj))
            if isinstance(obj, t.RefT):
                found.add(obj.entity)
    return found


def infer_effects(c: Compilation) -> None:
    calls: dict[str, dict[str, ast.Span]] = {}
    for tool in c.symbols.tools.values():
        defaults = [p.default for p in tool.decl.params if p.default is not None]
        reads = reads_of(c, tool.body_nodes) | reads_of(c, ast.walk(*defaults))
        writes: set[str] = set()
        calls[tool.name] = {}
        for node in tool.body_nodes:
            if isinstance(node, ast.Insert) and node.entity in c.symbols.entities:
                writes.add(node.entity)
            elif isinstance(node, _CHANGES) and (node.target.steps or isinstance(node, ast.Delete)):
                root = t.strip_optional(c.types.get(id(node.target), t.ANY))
                if isinstance(root, t.RowT):
                    writes.add(root.entity)
            elif isinstance(node, ast.Call):
                callee = c.types.get(id(node.func))
                if isinstance(callee, t.ToolFn):
                    calls[tool.name].setdefault(callee.name, node.func.span)
        tool.reads, tool.writes = reads, writes
    _add_callees(c, calls)
    for tool in c.symbols.tools.values():
        _compare_declared(c, tool.name, tool.decl, tool.reads, tool.writes)


def _add_callees(c: Compilation, calls: dict[str, dict[str, ast.Span]]) -> None:
    """A tool that calls another reads and writes what that one does, transitively; a tool
    that reaches itself through its calls is E111 (generated code would recurse forever)."""
    tools = c.symbols.tools
    for name, callees in calls.items():
        reached: set[str] = set()
        stack = list(callees)
        while stack:
            callee = stack.pop()
            if callee in reached:
                continue
            reached.add(callee)
            stack.extend(calls.get(callee, {}))
        if name in reached:
            c.error(
                "E111",
                f"tool '{name}' calls itself" + ("" if name in callees else " through others"),
                next(iter(callees.values())),
                "a tool may call others, but no call may lead back to it",
            )
        for callee in reached:
            tools[name].reads |= tools[callee].reads
            tools[name].writes |= tools[callee].writes


def _compare_declared(
    c: Compilation, name: str, decl: ast.Tool, reads: set[str], writes: set[str]
) -> None:
    declared: dict[str, set[str]] = {}
    known = set(c.symbols.entities)
    for effect in decl.effects:
        bucket = declared.setdefault(effect.kind, set())
        for entity, span in effect.entities:
            if entity not in known:
                c.error("E102", f"unknown entity '{entity}'", span, did_you_mean(entity, known))
            else:
                bucket.add(entity)
    # Declaring any effect claims the tool's writes: a tool that says only `reads` must not write.
    if declared:
        declared_writes = declared.get("writes", set())
        extra = declared_writes - writes
        missing = writes - declared_writes
        if missing:
            c.error(
                "E401",
                f"tool '{name}' writes {', '.join(sorted(missing))} but does not declare it",
                decl.name_span,
                f"add: writes {', '.join(sorted(declared_writes | writes))}",
            )
        if extra:
            c.error(
                "E401",
                f"tool '{name}' declares writes {', '.join(sorted(extra))} but never writes it",
                decl.name_span,
                "remove it from the writes clause, or make the body write it",
            )
    if "reads" in declared:
        allowed = declared["reads"] | declared.get("writes", set())
        missing = reads - allowed
        extra = declared["reads"] - reads
        if missing:
            c.error(
                "E401",
                f"tool '{name}' reads {', '.join(sorted(missing))} but does not declare it",
                decl.name_span,
                f"add: reads {', '.join(sorted(declared['reads'] | missing))}",
            )
        if extra:
            c.error(
                "E401",
                f"tool '{name}' declares reads {', '.join(sorted(extra))} but never reads it",
                decl.name_span,
                "remove it from the reads clause",
            )


def check_write_positions(c: Compilation) -> None:
    """An insert is a write: it may stand as a statement or as the whole value of let, set and
    return in a tool body, where its order among the other writes is plain. Anywhere else,
    inside a condition, a message, a bigger expression, an invariant or a default, it is E402."""
    for tool in c.symbols.tools.values():
        for param in tool.decl.params:
            if param.default is not None:
                _no_insert(c, param.default, f"in the default of parameter '{param.name}'")
        allowed: set[int] = set()
        # Statements come before what they hold, so an allowed insert is known when it is reached.
        for node in tool.body_nodes:
            if isinstance(node, ast.InsertStmt):
                allowed.add(id(node.insert))
            elif isinstance(node, _HOLDS_VALUE) and isinstance(node.value, ast.Insert):
                allowed.add(id(node.value))
            elif isinstance(node, ast.Insert) and id(node) not in allowed:
                _report_insert(c, node, "inside a larger expression")
    for inv in c.symbols.invariants.values():
        _no_insert(c, inv.condition, f"in invariant '{inv.name}'")
        _no_insert(c, inv.message, f"in invariant '{inv.name}'")


def _no_insert(c: Compilation, root: ast.Expr, where: str) -> None:
    for e in ast.walk(root):
        if isinstance(e, ast.Insert):
            _report_insert(c, e, where)


def _report_insert(c: Compilation, e: ast.Insert, where: str) -> None:
    c.error(
        "E402",
        f"insert writes to the database and cannot appear {where}",
        e.span,
        f"insert as its own statement, or bind it first: let x = insert {e.entity}(...)",
    )
