"""Which references inside a tool's records the tool cannot change.

A field holding references inside JSON (`lines: list<Line>` with `product: Product` in the
struct) is checked by the runtime on every write of it (runtime/refs.py): each key it holds
must name a record. A record read from the database holds only keys that do (loading checks
them, every write checks them, and no record is deleted while a JSON value names it), so a
write needs to look up only keys the tool may have put there. Where no statement of the tool
can change a reference in that field of that entity, `db.update` is told so
(`refs_kept=(...)`) and does not look its keys up again.

A statement can change one when it sets or deletes a part of a record's field and the part's
type holds a reference: `set o.lines = ...`, `set o.lines[0] = Line(...)`, `set
o.lines[0].product = p`, `delete o.lines[0]`. A `set` or `delete` inside a value that is not
a record (a loop's item, a local) might reach into a record's field through it: then nothing
is kept, in any field. So is nothing in a tool that calls another tool.
"""

from __future__ import annotations

from collections.abc import Callable

from envscale.compiler import types as t
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast


def holds_reference(
    kind: t.Type, structs: dict[str, RecordInfo], seen: frozenset[str] = frozenset()
) -> bool:
    """Whether a value of this type may hold a reference: itself, or inside its lists,
    maps and structs."""
    kind = t.strip_optional(kind)
    if isinstance(kind, t.RefT | t.RowT | t.AnyT):
        return True
    if isinstance(kind, t.ListT):
        return holds_reference(kind.item, structs, seen)
    if isinstance(kind, t.MapT):
        return holds_reference(kind.value, structs, seen)
    if isinstance(kind, t.StructT) and kind.name not in seen:
        record = structs.get(kind.name)
        inner = seen | {kind.name}
        return record is None or any(
            holds_reference(f.type, structs, inner) for f in record.fields.values()
        )
    return False


def kept_references(
    body: tuple[ast.Stmt, ...],
    types: dict[int, t.Type],
    target_type: Callable[[ast.Target], t.Type],
    nested: dict[str, set[str]],
    structs: dict[str, RecordInfo],
) -> frozenset[tuple[str, str]]:
    """The (entity, field) pairs of `nested` (per entity, its fields holding references
    inside) that no statement of the body can change a reference in."""
    changed: set[tuple[str, str]] = set()
    for node in ast.walk(*body):
        if isinstance(node, ast.Call) and isinstance(types.get(id(node.func)), t.ToolFn):
            return frozenset()
        if not isinstance(node, ast.Set | ast.Delete) or not node.target.steps:
            continue
        root = t.strip_optional(types.get(id(node.target), t.ANY))
        first = node.target.steps[0]
        if isinstance(root, t.RowT) and isinstance(first, ast.AttrStep):
            if isinstance(node, ast.Delete) or holds_reference(target_type(node.target), structs):
                changed.add((root.entity, first.name))
            continue
        if isinstance(node, ast.Delete) or holds_reference(target_type(node.target), structs):
            return frozenset()
    return frozenset(
        (entity, name)
        for entity, names in nested.items()
        for name in names
        if (entity, name) not in changed
    )
