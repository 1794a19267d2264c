"""The states a tool needs and leaves the record it names in, read off its body.

A tool names a record when it binds one by a parameter (`let o = Order.get(order_id)` or
`Order[order_id]`). For such a record, `needs` lists, per enum field, the members a top-level
`require o.status == pending` (or `in [...]`) accepts, and `leaves` the members a
`set o.status = cancelled` writes, plus the members it needed when such a set is conditional
(under an `if` or a `for`) or the tool has none for that field: the field then may keep its
value. `leaves` also holds what it writes into a record a named one refers to (`let o =
Order[d.order]` and `set o.status = delivered`: marking a delivery done delivers its order).
Keys are "Entity.field". A tool binding two records of one entity (a reschedule's old and new
slot) says nothing about that entity. The tool graph reads them: a write hands back
the record it changed, and that record feeds a next change to it only in a state it accepts.

`stored_params` lists the parameters a tool writes into records (a new address, the payment
method a transaction names), as against those it only picks by (a lookup's key, the item a
comprehension's condition matches): a record in a state the target refuses is another
record, and the graph lets its values feed only what the target stores.

`part_params` lists the parameters whose values must be parts of the record another parameter
names (`item_ids`, items of `order_id`'s order, read off `require`s and picks): the graph lets
only that entity's records feed them, in a state the target accepts.
"""

from __future__ import annotations

from collections.abc import Iterator

from envscale.compiler import ir
from envscale.compiler import types as t
from envscale.dsl import ast


def tool_states(d: ir.DomainIR, tool: ir.Tool) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(needs, leaves) of a tool, each "Entity.field" -> enum members, in declaration order."""
    params = {p.name for p in tool.params}
    bound: dict[str, str] = {}  # variable -> entity of the record it names
    seen: dict[str, int] = {}
    reached: dict[str, str] = {}  # variable -> entity of a record a named one refers to
    for stmt in _walk(tool.decl.body):
        if isinstance(stmt, ast.Let) and (entity := _named_record(d, stmt.value, params)):
            bound[stmt.name] = entity
            seen[entity] = seen.get(entity, 0) + 1
        elif isinstance(stmt, ast.Let) and (entity := _referred_record(d, stmt.value, bound)):
            reached[stmt.name] = entity
    bound = {v: e for v, e in bound.items() if seen[e] == 1}
    # a referred record counts only as the one record of its entity the tool binds
    reached = {
        v: e for v, e in reached.items() if e not in seen and list(reached.values()).count(e) == 1
    }
    needs: dict[str, set[str]] = {}
    for stmt in tool.decl.body:
        if isinstance(stmt, ast.Require):
            for where, members in _accepted(d, stmt.condition, bound):
                needs.setdefault(where, set()).update(members)
    sets: dict[str, set[str]] = {}
    partial: set[str] = set()  # set only under an if or a for: may keep its value
    unknown: set[str] = set()  # set to what is no literal member: any state
    writes = {**bound, **reached}
    for stmt, nested in _sets(tool.decl.body, False):
        target = stmt.target
        if target.root not in writes:
            continue
        entity = writes[target.root]
        if not target.steps:
            unknown.update(w for w in sets.keys() | needs.keys() if w.startswith(f"{entity}."))
            continue
        step = target.steps[0]
        if not isinstance(step, ast.AttrStep) or _enum(d, entity, step.name) is None:
            continue
        where = f"{entity}.{step.name}"
        members = _members(d, entity, step.name, stmt.value) if len(target.steps) == 1 else None
        if members is None:
            unknown.add(where)
            continue
        sets.setdefault(where, set()).update(members)
        if nested:
            partial.add(where)
    leaves: dict[str, set[str]] = {}
    for where in (sets.keys() | needs.keys()) - unknown:
        out = set(sets.get(where, set()))
        if where in partial or where not in sets:
            out |= needs.get(where, set())
        if out:
            leaves[where] = out
    return _ordered(d, needs), _ordered(d, leaves)


def _ordered(d: ir.DomainIR, found: dict[str, set[str]]) -> dict[str, list[str]]:
    out = {}
    for where in sorted(found):
        entity, field = where.split(".", 1)
        order = d.enums.get(_enum(d, entity, field) or "", [])
        out[where] = sorted(found[where], key=lambda m: (order.index(m) if m in order else 99, m))
    return out


def _walk(body: tuple[ast.Stmt, ...]) -> Iterator[ast.Stmt]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _walk(stmt.then)
            yield from _walk(stmt.otherwise)
        elif isinstance(stmt, ast.For):
            yield from _walk(stmt.body)


def _sets(body: tuple[ast.Stmt, ...], nested: bool) -> Iterator[tuple[ast.Set, bool]]:
    for stmt in body:
        if isinstance(stmt, ast.Set):
            yield stmt, nested
        elif isinstance(stmt, ast.If):
            yield from _sets(stmt.then, True)
            yield from _sets(stmt.otherwise, True)
        elif isinstance(stmt, ast.For):
            yield from _sets(stmt.body, True)


def _named_record(d: ir.DomainIR, e: ast.Expr, params: set[str]) -> str | None:
    """The entity of `E.get(param)` or `E[param]`, a record named by a parameter."""
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Member) and e.func.attr == "get":
        owner, args = e.func.obj, [a.value for a in e.args]
    elif isinstance(e, ast.Index):
        owner, args = e.obj, list(e.keys)
    else:
        return None
    if not isinstance(owner, ast.Name) or owner.id not in d.symbols.entities:
        return None
    if len(args) == 1 and isinstance(args[0], ast.Name) and args[0].id in params:
        return owner.id
    return None


def _referred_record(d: ir.DomainIR, e: ast.Expr, bound: dict[str, str]) -> str | None:
    """The entity of `E[v.field]` or `E.get(v.field)`, a record that a named record `v`
    refers to (a delivery's order)."""
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Member) and e.func.attr == "get":
        owner, args = e.func.obj, [a.value for a in e.args]
    elif isinstance(e, ast.Index):
        owner, args = e.obj, list(e.keys)
    else:
        return None
    if not isinstance(owner, ast.Name) or owner.id not in d.symbols.entities or len(args) != 1:
        return None
    key = args[0]
    if isinstance(key, ast.Member) and isinstance(key.obj, ast.Name) and key.obj.id in bound:
        return owner.id
    return None


def _accepted(d: ir.DomainIR, e: ast.Expr, bound: dict[str, str]) -> Iterator[tuple[str, set[str]]]:
    """("Entity.field", members) for each `v.field == member` / `v.field in [...]` a
    condition requires (both sides of an `and`)."""
    if not isinstance(e, ast.Binary):
        return
    if e.op == "and":
        yield from _accepted(d, e.left, bound)
        yield from _accepted(d, e.right, bound)
        return
    if e.op not in ("==", "in"):
        return
    left = e.left
    if not (isinstance(left, ast.Member) and isinstance(left.obj, ast.Name)):
        return
    entity = bound.get(left.obj.id)
    if entity is None:
        return
    members = _members(d, entity, left.attr, e.right, many=e.op == "in")
    if members:
        yield f"{entity}.{left.attr}", members


def _members(
    d: ir.DomainIR, entity: str, field: str, e: ast.Expr, many: bool = False
) -> set[str] | None:
    """The enum members an expression names (a member, a string, or a list of them for
    `in`), or None when it is not such a literal."""
    enum = _enum(d, entity, field)
    if enum is None:
        return None
    items = list(e.items) if many and isinstance(e, ast.ListLit) else [e]
    if many and not isinstance(e, ast.ListLit):
        return None
    out = set()
    for item in items:
        value = item.id if isinstance(item, ast.Name) else getattr(item, "value", None)
        if not isinstance(item, ast.Name | ast.Literal) or value not in d.enums[enum]:
            return None
        out.add(str(value))
    return out


def _enum(d: ir.DomainIR, entity: str, field: str) -> str | None:
    info = d.symbols.entities.get(entity)
    f = info.fields.get(field) if info is not None else None
    base = t.strip_optional(f.type) if f is not None else None
    return base.name if isinstance(base, t.EnumT) else None


def stored_params(tool: ir.Tool) -> list[str]:
    """The parameters whose values a tool writes into records: named (through any locals) in
    the value of a `set` of a field or in an `insert`. A parameter used only to pick (a key
    of a lookup, the condition of a comprehension) is not stored."""
    params = [p.name for p in tool.params]
    uses: dict[str, set[str]] = {}  # local -> the names its value is made from
    written: set[str] = set()
    for stmt in _walk(tool.decl.body):
        if isinstance(stmt, ast.Let):
            uses.setdefault(stmt.name, set()).update(_made_from(stmt.value, written))
        elif isinstance(stmt, ast.Set) and not stmt.target.steps:
            uses.setdefault(stmt.target.root, set()).update(_made_from(stmt.value, written))
        elif isinstance(stmt, ast.Set):
            written.update(_made_from(stmt.value, written))
        elif isinstance(stmt, ast.For):
            uses.setdefault(stmt.var, set()).update(_made_from(stmt.iterable, written))
        elif isinstance(stmt, ast.InsertStmt):
            _made_from(stmt.insert, written)
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            _made_from(stmt.value, written)
    seen: set[str] = set()
    todo = list(written)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(uses.get(name, ()))
    return [p for p in params if p in seen]


def _made_from(e: ast.Expr, inserted: set[str]) -> set[str]:
    """The names an expression's value is made from (not those that only pick: index keys,
    lookups' arguments, comprehension conditions); the names inside an `insert` are added to
    `inserted`."""
    out: set[str] = set()
    if isinstance(e, ast.Name):
        out.add(e.id)
    elif isinstance(e, ast.Member | ast.Index):
        out |= _made_from(e.obj, inserted)
    elif isinstance(e, ast.Call) and not isinstance(e.func, ast.Member):
        # a built-in's arguments; a lookup's (`Order.get(order_id)`, `.where(...)`) only pick
        for a in e.args:
            out |= _made_from(a.value, inserted)
    elif isinstance(e, ast.Unary):
        out |= _made_from(e.operand, inserted)
    elif isinstance(e, ast.Binary):
        out |= _made_from(e.left, inserted) | _made_from(e.right, inserted)
    elif isinstance(e, ast.ListLit):
        for item in e.items:
            out |= _made_from(item, inserted)
    elif isinstance(e, ast.MapLit):
        for _, item in e.items:
            out |= _made_from(item, inserted)
    elif isinstance(e, ast.Comprehension):
        out |= _made_from(e.element, inserted) | _made_from(e.iterable, inserted)
    elif isinstance(e, ast.Insert):
        for a in e.args:
            inserted |= _made_from(a.value, inserted)
    return out


def part_params(d: ir.DomainIR, tool: ir.Tool) -> dict[str, str]:
    """The parameters whose values must be parts of a record another parameter names, each
    with that record's entity: `item_ids` when every id must be an item of `order_id`'s order.
    Read off a required membership (`v in o.part`, or `count(...) <= count(...)` for a list of
    them; a conjunct of a `require` outside any `if`) of the parameter's value (through locals)
    in a part of the record, or off a pick from a part of the record that only the parameter's
    value finds: an index of a comprehension over it (`[i for i in o.items if i.item_id ==
    item_ids[k]][0]`) or of the part itself (`o.items[item_id]`)."""
    params = {p.name for p in tool.params}
    named: dict[str, tuple[str, str]] = {}  # variable -> (entity, the parameter naming it)
    seen: dict[str, int] = {}
    origins: dict[str, set[str]] = {}  # local -> the parameters and named records it is made from
    for stmt in _walk(tool.decl.body):
        if isinstance(stmt, ast.Let) and (entity := _named_record(d, stmt.value, params)):
            named[stmt.name] = (entity, _record_key(stmt.value))
            seen[entity] = seen.get(entity, 0) + 1
        elif isinstance(stmt, ast.Let):
            origins.setdefault(stmt.name, set()).update(_made_from(stmt.value, set()))
        elif isinstance(stmt, ast.For):
            origins.setdefault(stmt.var, set()).update(_made_from(stmt.iterable, set()))
    named = {v: n for v, n in named.items() if seen[n[0]] == 1}

    def roots(e: ast.Expr) -> set[str]:
        out: set[str] = set()
        todo, done = list(_made_from(e, set())), set()
        while todo:
            name = todo.pop()
            if name in done:
                continue
            done.add(name)
            if name in params or name in named:
                out.add(name)
            todo.extend(origins.get(name, ()))
        return out

    out: dict[str, str] = {}

    def relate(value: ast.Expr, part: ast.Expr) -> None:
        for var in roots(part) & named.keys():
            entity, key = named[var]
            for param in sorted((roots(value) & params) - {key}):
                out.setdefault(param, entity)

    for cond in _required(tool.decl.body):
        if isinstance(cond, ast.Binary) and (cond.op == "in" or _counts(cond)):
            relate(cond.left, cond.right)
    for e in ast.walk(*tool.decl.body):
        if not isinstance(e, ast.Index):
            continue
        if isinstance(e.obj, ast.Comprehension) and e.obj.condition is not None:
            relate(e.obj.condition, e.obj.iterable)
        elif isinstance(e.obj, ast.Member):
            for key in e.keys:
                relate(key, e.obj)
    return {p.name: out[p.name] for p in tool.params if p.name in out}


def _record_key(e: ast.Expr) -> str:
    """The parameter of `E.get(param)` or `E[param]` (`_named_record` found it to be one)."""
    arg = e.args[0].value if isinstance(e, ast.Call) else e.keys[0]  # type: ignore[union-attr]
    return arg.id  # type: ignore[union-attr]


def _counts(e: ast.Binary) -> bool:
    """`count(...) <= count(...)`: each of a list's values is among a part's, as often."""
    return e.op == "<=" and all(
        isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "count"
        for side in (e.left, e.right)
    )


def _required(body: tuple[ast.Stmt, ...]) -> Iterator[ast.Expr]:
    """The conjuncts of each `require` that every run reaching it checks: in the body or a
    `for`, not under an `if`; not the sides of an `or`."""
    for stmt in body:
        if isinstance(stmt, ast.Require):
            yield from _conjuncts(stmt.condition)
        elif isinstance(stmt, ast.For):
            yield from _required(stmt.body)


def _conjuncts(e: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        yield from _conjuncts(e.left)
        yield from _conjuncts(e.right)
    else:
        yield e
