"""Pass: derived fields read their own record only, and do not depend on each other in a cycle.

A derived field may use any other field of its record, derived ones included, whatever the
order of declaration: the runtime computes them in the order of their dependencies
(`derived_order`), so a cycle among them has no value and is an error.
"""

from __future__ import annotations

from envscale.compiler.context import Compilation
from envscale.compiler.effects import reads_of
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast


def check_derived(c: Compilation) -> None:
    for record in c.symbols.entities.values():
        derived = {name: info for name, info in record.fields.items() if info.derived is not None}
        if not derived:
            continue
        for name, info in derived.items():
            assert info.derived is not None
            nodes = list(ast.walk(info.derived))
            read = reads_of(c, nodes)
            if read:
                c.error(
                    "E712",
                    f"the derived value of '{name}' reads {', '.join(sorted(read))} records",
                    info.derived.span,
                    "a derived field is computed from its own record's fields only; keep what "
                    "it needs in this record, or compute it in the tool",
                )
            for node in nodes:
                if isinstance(node, ast.Insert):
                    c.error(
                        "E712",
                        f"the derived value of '{name}' inserts a record",
                        node.span,
                        "a derived value is computed, it writes nothing",
                    )
        cycle = _cycle(record)
        if cycle is not None:
            loop = " -> ".join([*cycle, cycle[0]])
            first = record.fields[cycle[0]]
            assert first.derived is not None
            c.error(
                "E711",
                f"derived fields of '{record.name}' depend on each other: {loop}",
                first.derived.span,
                "compute one of them from stored fields only",
            )


def dependencies(record: RecordInfo, field: str) -> list[str]:
    """The fields of the record that a derived field's value reads, in field order; `self`
    as a whole reads every other field."""
    expr = record.fields[field].derived
    assert expr is not None
    nodes = list(ast.walk(expr))
    bound = {n.var for n in nodes if isinstance(n, ast.Comprehension)}
    member_objects = {id(n.obj) for n in nodes if isinstance(n, ast.Member)}
    used: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name) and node.id not in bound:
            if node.id == "self" and "self" not in record.fields:
                if id(node) not in member_objects:
                    used.update(f for f in record.fields if f != field)
            elif node.id in record.fields:
                used.add(node.id)
        elif (
            isinstance(node, ast.Member)
            and isinstance(node.obj, ast.Name)
            and node.obj.id == "self"
            and "self" not in record.fields
            and node.attr in record.fields
        ):
            used.add(node.attr)
    return [f for f in record.fields if f in used]


def derived_hint(record: RecordInfo, field: str) -> str:
    """What to change instead of a derived field: the fields its value is computed from."""
    names = dependencies(record, field)
    source = f" from {', '.join(names)}" if names else ""
    return f"{record.name}.{field} is computed by the runtime{source}; change those fields instead"


def _derived_graph(record: RecordInfo) -> dict[str, list[str]]:
    derived = {name for name, info in record.fields.items() if info.derived is not None}
    return {
        name: [d for d in dependencies(record, name) if d in derived]
        for name in record.fields
        if name in derived
    }


def _cycle(record: RecordInfo) -> list[str] | None:
    graph = _derived_graph(record)
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in graph[name]:
            if state.get(dep) == 1:
                return path[path.index(dep) :]
            if state.get(dep) is None and (found := visit(dep, path)) is not None:
                return found
        path.pop()
        state[name] = 2
        return None

    for name in graph:
        if state.get(name) is None and (found := visit(name, [])) is not None:
            return found
    return None


def derived_order(record: RecordInfo) -> list[str]:
    """The derived fields in an order where each comes after the derived fields it reads
    (declaration order where that leaves a choice); only for a record without cycles."""
    graph = _derived_graph(record)
    done: list[str] = []
    while len(done) < len(graph):
        for name, deps in graph.items():
            if name not in done and all(d in done for d in deps):
                done.append(name)
                break
    return done
