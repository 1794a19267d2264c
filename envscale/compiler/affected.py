"""Which records of an invariant's entity a change to another record can affect.

An invariant on an entity that reads other records judges each row by what it finds through
the row's own fields: a record the row refers to (`self.slot.start`, `Slot[self.slot]`) or the
records of a `.where(...)` whose argument is one of the row's fields (`Payment.where(invoice:
self.invoice_id)`). A changed record of that other entity can then only affect the rows whose
field equals the changed record's field, before or after the change. `affected_by` finds those
links; when the condition reads the database in any other way, no set of rows short of the
whole table is known to be enough, and it returns None.
"""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS
from envscale.compiler.context import Compilation
from envscale.compiler.ir import Link
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast


def affected_by(c: Compilation, inv: ast.Invariant, record: RecordInfo) -> tuple[Link, ...] | None:
    """The links by which other records reach the invariant's rows, in first-use order, or
    None when the condition reads the database in a way no link describes."""
    nodes = list(ast.walk(inv.condition))
    bound = {n.var for n in nodes if isinstance(n, ast.Comprehension)}
    links: list[Link] = []

    def row_field(e: ast.Expr) -> str | None:
        """The row's field that the expression is, if it is one and holds a plain value (a
        link's values are looked up: a list or a struct is none to look up by)."""
        name = None
        if type(e) is ast.Name and e.id in record.fields and e.id not in bound:
            name = e.id
        elif type(e) is ast.Member and type(e.obj) is ast.Name and e.obj.id == "self":
            name = e.attr
        if name is None or name not in record.fields:
            return None
        return None if t.is_json(record.fields[name].type) else name

    def by_key(entity: str, e: ast.Expr) -> bool:
        target = c.symbols.entities.get(entity)
        name = row_field(e)
        if target is None or name is None or len(target.key) != 1:
            return False
        links.append(Link(entity, target.key[0], name))
        return True

    for e in nodes:
        kind = type(e)
        if kind is ast.Member:
            obj = t.strip_optional(c.type_of(e.obj))
            if isinstance(obj, t.RefT) and not by_key(obj.entity, e.obj):
                return None
        elif kind is ast.Index:
            obj = c.type_of(e.obj)
            if isinstance(obj, t.EntityClass) and not (
                len(e.keys) == 1 and by_key(obj.entity, e.keys[0])
            ):
                return None
        elif kind is ast.Call:
            if not _call_linked(c, e, row_field, by_key, links):
                return None
        elif kind is ast.Insert:
            return None
    unique: list[Link] = []
    for link in links:
        if link not in unique:
            unique.append(link)
    return tuple(unique)


def _call_linked(c: Compilation, e: ast.Call, row_field, by_key, links: list[Link]) -> bool:
    """Whether a call reads nothing, or reads records linked to the row (adding the link)."""
    callee = c.type_of(e.func)
    if isinstance(callee, t.Method):
        if callee.name == "get":
            return len(e.args) == 1 and by_key(callee.entity, e.args[0].value)
        if callee.name != "where":
            return False
        target = c.symbols.entities.get(callee.entity)
        for arg in e.args:
            name = row_field(arg.value) if arg.name else None
            plain = target is not None and arg.name in target.fields
            if name is not None and plain and not t.is_json(target.fields[arg.name].type):
                links.append(Link(callee.entity, arg.name, name))
                return True
        return False
    if isinstance(callee, t.ToolFn):
        return False
    if isinstance(e.func, ast.Name) and e.args and e.func.id in BUILTINS:
        first = c.type_of(e.args[0].value)
        if BUILTINS[e.func.id].on_entity is not None and isinstance(first, t.EntityClass):
            return False
    return True
