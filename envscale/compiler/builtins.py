"""The built-in functions of the spec language, one record each.

A record says everything the compiler knows about a built-in: its signature, its result type,
the checks its arguments need beyond their types, and how generated code computes it (a
function of envscale.runtime.lib, a method of the database, or a SQL function inside CHECKs).
The type checker, the effect inference and the code generators read it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from envscale.compiler import formats
from envscale.compiler import types as t
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


class Checks(Protocol):
    """What a built-in's checks use of the type checker."""

    def expect(self, node: ast.Expr, got: t.Type, want: t.Type, what: str) -> None: ...

    def error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None: ...

    def record(self, type_: t.Type) -> RecordInfo | None: ...

    def key_type(self, entity: str) -> t.Type: ...


@dataclass
class BuiltinCall:
    """One call of a built-in, its argument count already right and no argument type unknown."""

    checker: Checks
    name: str
    call: ast.Call
    args: list[ast.Expr]  # the positional arguments
    types: list[t.Type]  # their types
    keywords: dict[str, ast.Arg]
    keyword_types: dict[str, t.Type]

    @property
    def first(self) -> t.Type | None:
        return t.strip_optional(self.types[0]) if self.types else None

    def expect(self, i: int, want: t.Type) -> None:
        self.checker.expect(self.args[i], self.types[i], want, f"argument {i + 1} of {self.name}()")

    def error(self, code: str, message: str, i: int | None = None, hint: str | None = None) -> None:
        """An error at argument i, or at the whole call."""
        span = self.args[i].span if i is not None else self.call.span
        self.checker.error(code, message, span, hint)

    def need_list(self, i: int = 0) -> t.ListT | None:
        base = t.strip_optional(self.types[i])
        if isinstance(base, t.ListT):
            return base
        self.error("E201", f"{self.name}() needs a list, found {self.types[i]}", i)
        return None

    def need_map(self) -> t.MapT | None:
        if isinstance(self.first, t.MapT):
            return self.first
        self.error("E201", f"{self.name}() needs a map, found {self.types[0]}", 0)
        return None

    def need_str_key(self, i: int, entity: str) -> None:
        if self.checker.key_type(entity) != t.STR:
            self.error(
                "E201",
                f"{self.name}() needs an entity with a single str key; '{entity}' has none",
                i,
            )


Check = Callable[[BuiltinCall], t.Type | None]


@dataclass(frozen=True)
class Builtin:
    name: str
    summary: str
    min_args: int
    max_args: int
    # The type each positional argument must have, checked in order before `check` runs.
    params: tuple[t.Type, ...] = ()
    # The result's type where it does not depend on the arguments' types.
    returns: t.Type | None = None
    # Further checks of the arguments; they give the result's type where `returns` is None.
    check: Check | None = None
    keywords: tuple[str, ...] = ()
    # The function generated code calls ({name}: the built-in's name), with the arguments in
    # order and the keywords given; with `with_db`, the database handle comes first.
    python: str | None = "lib.{name}"  # None: only the `on_entity` form exists
    with_db: bool = False
    # The function called with a list of the arguments when several positional ones are given.
    several: str | None = None
    # The function called when the first argument names an entity (whose records it reads):
    # the entity's name, then the other arguments; with `entity_with_db`, the database first.
    on_entity: str | None = None
    entity_with_db: bool = False
    # The SQL function computing it inside a CHECK constraint, where SQL's agrees with the
    # language's on every stored value (compiler/sql_expr.py says when it does).
    sql: str | None = None
    # Whether it may be a field default: a value of the environment's fixed clock.
    constant: bool = False

    @property
    def arity(self) -> str:
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


# ---- checks beyond the arguments' types


def _abs(c: BuiltinCall) -> t.Type:
    return c.first if c.first in t.NUMERIC else t.FLOAT


def _min_max(c: BuiltinCall) -> t.Type:
    if len(c.types) == 1:
        lst = c.need_list()
        if (
            lst is not None
            and lst.item not in t.COMPARABLE_ORDER
            and not isinstance(lst.item, t.AnyT)
        ):
            c.error("E201", f"{c.name}() needs comparable items, found {lst.item}", 0)
        return lst.item if lst is not None else t.ANY
    common: t.Type = c.types[0]
    for i in range(1, len(c.types)):
        ty = c.types[i]
        u = t.unify(common, ty) or (t.FLOAT if common in t.NUMERIC and ty in t.NUMERIC else None)
        if u is None:
            c.error("E201", f"{c.name}() arguments must share one type: {common} and {ty}", i)
        else:
            common = u
    return common


def _sum(c: BuiltinCall) -> t.Type:
    lst = c.need_list()
    if lst is None:
        return t.ANY
    if lst.item not in t.NUMERIC and not isinstance(lst.item, t.AnyT):
        c.error("E201", f"sum() needs a list of numbers, found {c.types[0]}", 0)
        return t.ANY
    return t.INT if lst.item == t.INT else t.FLOAT


def _count(c: BuiltinCall) -> None:
    c.need_list()


def _len(c: BuiltinCall) -> None:
    if not isinstance(c.first, t.ListT | t.MapT) and c.first != t.STR:
        c.error("E201", f"len() needs a list, map or string, found {c.types[0]}", 0)


def _any_all(c: BuiltinCall) -> None:
    lst = c.need_list()
    if lst is not None and lst.item != t.BOOL and not isinstance(lst.item, t.AnyT):
        c.error("E201", f"{c.name}() needs a list<bool>, found {c.types[0]}", 0)


def _sorted(c: BuiltinCall) -> t.Type:
    lst = c.need_list()
    if lst is None:
        return t.ANY
    if "by" in c.keywords:
        by = c.keywords["by"].value
        record = c.checker.record(lst.item)
        if not (isinstance(by, ast.Literal) and isinstance(by.value, str)):
            c.checker.error(
                "E202", "sorted(by: ...) takes a field name as a string literal", by.span
            )
        elif record is None or isinstance(t.strip_optional(lst.item), t.RefT):
            hint = None
            if record is not None:  # references hold keys, not the records' fields
                hint = f"look the records up first: [{record.name}[k] for k in ...]"
            c.checker.error(
                "E202",
                f"sorted(by: ...) needs a list of records, found {c.types[0]}",
                by.span,
                hint,
            )
        elif by.value not in record.fields:
            c.checker.error(
                "E103",
                f"'{record.name}' has no field '{by.value}'",
                by.span,
                did_you_mean(by.value, record.fields),
            )
    elif lst.item not in t.COMPARABLE_ORDER and not isinstance(lst.item, t.AnyT | t.EnumT | t.RefT):
        c.error("E202", f'sorting a list of {lst.item} needs by: "field"')
    if "desc" in c.keyword_types:
        c.checker.expect(
            c.keywords["desc"].value, c.keyword_types["desc"], t.BOOL, "sorted(desc: ...)"
        )
    return lst


def _same_list(c: BuiltinCall) -> t.Type:
    lst = c.need_list()
    return lst if lst is not None else t.ANY


def _keys(c: BuiltinCall) -> t.Type:
    m = c.need_map()
    return t.ListT(m.key) if m is not None else t.ANY


def _json(c: BuiltinCall) -> t.Type:
    """json(x) writes records and structs whole: one with a hidden field would show it."""
    seen: set[str] = set()
    pending = [c.types[0]]
    while pending:
        ty = t.strip_optional(pending.pop())
        if isinstance(ty, t.ListT):
            pending.append(ty.item)
        elif isinstance(ty, t.MapT):
            pending.append(ty.value)
        elif isinstance(ty, t.RowT | t.StructT) and str(ty) not in seen:
            seen.add(str(ty))
            record = c.checker.record(ty)
            if record is None:
                continue
            hidden = [f.name for f in record.fields.values() if f.hidden]
            if hidden:
                c.error(
                    "E203",
                    f"json() would show {record.name}'s hidden field(s) {', '.join(hidden)}",
                    0,
                    "return the record itself: results leave hidden fields out",
                )
                return _STR
            pending.extend(f.type for f in record.fields.values())
    return _STR


def _values(c: BuiltinCall) -> t.Type:
    m = c.need_map()
    return t.ListT(m.value) if m is not None else t.ANY


def _get(c: BuiltinCall) -> t.Type:
    m = c.need_map()
    if m is None:
        return t.ANY
    c.expect(1, m.key)
    c.expect(2, t.optional(m.value))  # a none default makes the result optional
    return m.value if not isinstance(c.types[2], t.NoneT) else t.optional(m.value)


def _format(c: BuiltinCall) -> None:
    template = c.args[0]
    if not (isinstance(template, ast.Literal) and isinstance(template.value, str)):
        return  # a template made at run time is checked when it is used
    try:
        found = formats.holes(formats.parse_template(template.value))
    except formats.FormatError as error:
        c.error("E750", error.message, 0, error.hint)
        return
    if len(found) != len(c.args) - 1:
        c.error(
            "E202",
            f"format() template has {len(found)} hole(s) but {len(c.args) - 1} value(s) follow",
        )
    for i, spec in enumerate(found[: len(c.args) - 1], start=1):
        if spec is not None:
            _fits_spec(c, i, spec)


def _fits_spec(c: BuiltinCall, i: int, spec: formats.Spec) -> None:
    """Whether the value of argument i can be written by `{:spec}`."""
    got = c.types[i]
    want = "an int" if spec.kind == "d" else "a number"
    if isinstance(got, t.OptionalT) and spec.numeric:
        c.error(
            "E751",
            f"'{{:{spec.text}}}' needs {want}, found {got}",
            i,
            'the value may be none: check it with `require x != none else "..."` first',
        )
    elif spec.kind == "d" and got != t.INT:
        hint = "write it with {:.0f}, or convert it with int(...)" if got == t.FLOAT else None
        c.error("E751", f"'{{:{spec.text}}}' needs an int, found {got}", i, hint)
    elif spec.numeric and got not in t.NUMERIC:
        c.error("E751", f"'{{:{spec.text}}}' needs a number, found {got}", i)


def _converts(*sources: t.Type) -> Check:
    def check(c: BuiltinCall) -> None:
        if c.first not in sources:
            c.error("E201", f"{c.name}() cannot convert a {c.types[0]}", 0)

    return check


def _date_text(c: BuiltinCall) -> None:
    if c.first not in (t.STR, t.DATE, t.DATETIME):
        c.error("E201", f"{c.name}() needs a string, found {c.types[0]}", 0)


def _add_days(c: BuiltinCall) -> t.Type:
    first = c.first
    if first == t.STR:  # ISO text, as agents send dates; a malformed one is a tool error
        first = t.DATE
    elif first not in (t.DATE, t.DATETIME):
        c.error("E201", f"add_days() needs a date or datetime, found {c.types[0]}", 0)
        first = t.DATE
    c.expect(1, t.INT)
    return first


def _days_between(c: BuiltinCall) -> None:
    for i in range(2):
        if t.strip_optional(c.types[i]) not in (t.DATE, t.DATETIME):
            c.error("E201", f"days_between() needs dates, found {c.types[i]}", i)


def _need_datetime(c: BuiltinCall, i: int) -> None:
    """Hours and minutes need a time of day: a date has none (text may hold a datetime)."""
    got = t.strip_optional(c.types[i])
    if got not in (t.DATETIME, t.STR):
        hint = None
        if got == t.DATE:
            hint = "make it a datetime first, e.g. datetime(d) for its midnight"
        c.error("E201", f"{c.name}() needs a datetime, found {c.types[i]}", i, hint)


def _add_time(c: BuiltinCall) -> t.Type:
    _need_datetime(c, 0)
    c.expect(1, t.INT)
    return t.DATETIME


def _time_between(c: BuiltinCall) -> None:
    for i in range(2):
        _need_datetime(c, i)


def _next_key(c: BuiltinCall) -> None:
    if not isinstance(c.types[0], t.EntityClass):
        c.error("E201", f"next_key() needs an entity name first, found {c.types[0]}", 0)
    else:
        c.need_str_key(0, c.types[0].entity)
    c.checker.expect(c.args[1], c.types[1], t.STR, "next_key() prefix")
    if len(c.args) == 3:
        c.checker.expect(c.args[2], c.types[2], t.INT, "next_key() width")


def _free_key(c: BuiltinCall) -> None:
    first = c.first
    if isinstance(first, t.EntityClass):
        c.need_str_key(0, first.entity)
    elif not (isinstance(first, t.MapT) and first.key == t.STR):
        c.error("E201", f"free_key() needs an entity or a map with str keys, found {c.types[0]}", 0)
    c.expect(1, t.STR)


_STR, _INT, _FLOAT, _BOOL = t.STR, t.INT, t.FLOAT, t.BOOL

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin(
            "round",
            "round(x, digits=0): a number rounded half to even, as Python does",
            1,
            2,
            params=(_FLOAT, _INT),
            returns=_FLOAT,
        ),
        Builtin("abs", "abs(x): absolute value", 1, 1, params=(_FLOAT,), check=_abs, sql="abs"),
        Builtin(
            "min",
            "min(list) or min(a, b, ...): the smallest",
            1,
            8,
            check=_min_max,
            several="lib.min_of",
        ),
        Builtin(
            "max",
            "max(list) or max(a, b, ...): the largest",
            1,
            8,
            check=_min_max,
            several="lib.max_of",
        ),
        Builtin("sum", "sum(list): the total of a list of numbers", 1, 1, check=_sum),
        Builtin("count", "count(list): how many items", 1, 1, returns=_INT, check=_count),
        Builtin(
            "len",
            "len(x): length of a list, map or string",
            1,
            1,
            returns=_INT,
            check=_len,
            sql="length",
        ),
        Builtin("any", "any(list<bool>): true if one is true", 1, 1, returns=_BOOL, check=_any_all),
        Builtin(
            "all", "all(list<bool>): true if all are true", 1, 1, returns=_BOOL, check=_any_all
        ),
        Builtin(
            "sorted",
            'sorted(list, by: "field", desc: false): a sorted copy',
            1,
            1,
            check=_sorted,
            keywords=("by", "desc"),
        ),
        Builtin("reversed", "reversed(list): a reversed copy", 1, 1, check=_same_list),
        Builtin(
            "unique",
            "unique(list): items in first-seen order, without repeats",
            1,
            1,
            check=_same_list,
        ),
        Builtin("keys", "keys(map): its keys in insertion order", 1, 1, check=_keys),
        Builtin("values", "values(map): its values in insertion order", 1, 1, check=_values),
        Builtin("get", "get(map, key, default): the value or the default", 3, 3, check=_get),
        Builtin(
            "format",
            "format(template, args...): holes filled in order, '{}' with the value as str() "
            "writes it, '{:SPEC}' with a number: [width][,][.precision][f|d], e.g. {:.2f}",
            1,
            16,
            params=(_STR,),
            returns=_STR,
            check=_format,
        ),
        Builtin(
            "money",
            "money(x): an amount with two decimals and thousands separated: 1,234.50",
            1,
            1,
            params=(_FLOAT,),
            returns=_STR,
        ),
        Builtin("str", "str(x): text form", 1, 1, returns=_STR),
        Builtin(
            "json",
            "json(x): x as JSON text, records and structs as objects in field order",
            1,
            1,
            check=_json,
        ),
        Builtin(
            "int",
            "int(x): integer (truncates)",
            1,
            1,
            returns=_INT,
            check=_converts(_INT, _FLOAT, _STR, _BOOL),
        ),
        Builtin(
            "float",
            "float(x): floating point",
            1,
            1,
            returns=_FLOAT,
            check=_converts(_INT, _FLOAT, _STR),
        ),
        Builtin("lower", "lower(s): Unicode lower case", 1, 1, params=(_STR,), returns=_STR),
        Builtin(
            "upper",
            "upper(s): Unicode upper case ('ß' becomes 'SS')",
            1,
            1,
            params=(_STR,),
            returns=_STR,
        ),
        Builtin(
            "strip", "strip(s): without surrounding spaces", 1, 1, params=(_STR,), returns=_STR
        ),
        Builtin("startswith", "startswith(s, prefix)", 2, 2, params=(_STR, _STR), returns=_BOOL),
        Builtin("endswith", "endswith(s, suffix)", 2, 2, params=(_STR, _STR), returns=_BOOL),
        Builtin("split", "split(s, sep)", 2, 2, params=(_STR, _STR), returns=t.ListT(_STR)),
        Builtin("join", "join(list<str>, sep)", 2, 2, params=(t.ListT(_STR), _STR), returns=_STR),
        Builtin("replace", "replace(s, old, new)", 3, 3, params=(_STR, _STR, _STR), returns=_STR),
        Builtin(
            "now",
            "now(): the environment's fixed clock, a datetime",
            0,
            0,
            returns=t.DATETIME,
            with_db=True,
            constant=True,
        ),
        Builtin(
            "today",
            "today(): the date of the environment's fixed clock",
            0,
            0,
            returns=t.DATE,
            with_db=True,
            constant=True,
        ),
        Builtin(
            "date",
            "date(s): a date from 'YYYY-MM-DD' (or the date part of a datetime)",
            1,
            1,
            returns=t.DATE,
            check=_date_text,
        ),
        Builtin(
            "datetime",
            "datetime(s): a datetime from 'YYYY-MM-DDTHH:MM:SS'",
            1,
            1,
            returns=t.DATETIME,
            check=_date_text,
        ),
        Builtin(
            "add_days", "add_days(d, n): a date or datetime n days later", 2, 2, check=_add_days
        ),
        Builtin(
            "days_between",
            "days_between(a, b): whole days from a to b",
            2,
            2,
            returns=_INT,
            check=_days_between,
        ),
        Builtin(
            "add_hours",
            "add_hours(t, n): a datetime n hours later (earlier when n < 0)",
            2,
            2,
            check=_add_time,
        ),
        Builtin(
            "add_minutes",
            "add_minutes(t, n): a datetime n minutes later (earlier when n < 0)",
            2,
            2,
            check=_add_time,
        ),
        Builtin(
            "hours_between",
            "hours_between(a, b): whole hours from a to b, counted toward zero",
            2,
            2,
            returns=_INT,
            check=_time_between,
        ),
        Builtin(
            "minutes_between",
            "minutes_between(a, b): whole minutes from a to b, counted toward zero",
            2,
            2,
            returns=_INT,
            check=_time_between,
        ),
        Builtin(
            "range",
            "range(n) or range(start, stop): the integers start, ..., stop - 1",
            1,
            2,
            params=(_INT, _INT),
            returns=t.ListT(_INT),
            with_db=True,  # its elements are charged to the call's step budget
        ),
        Builtin(
            "evaluate",
            "evaluate(text): the value of an arithmetic expression of numbers, + - * / ( ) and "
            "spaces, as a float; a malformed one is a tool error",
            1,
            1,
            params=(_STR,),
            returns=_FLOAT,
        ),
        Builtin(
            "next_key",
            'next_key(Entity, "PREFIX", width=0): the next unused key PREFIX<n>',
            2,
            3,
            returns=_STR,
            check=_next_key,
            python=None,
            on_entity="db.next_key",
        ),
        Builtin(
            "free_key",
            'free_key(Entity or map, "FIRST"): the first key, counting up from FIRST, that is '
            "not taken (its last run of letters and digits counts like an odometer: A1Z9, A2A0, "
            "...)",
            2,
            2,
            returns=_STR,
            check=_free_key,
            on_entity="lib.free_record_key",
            entity_with_db=True,
        ),
    ]
}

# Builtins whose value a SQL CHECK computes as the language does, and their SQL names.
SQL_FUNCTIONS = {b.name: b.sql for b in BUILTINS.values() if b.sql is not None}
# Builtins that may be field defaults.
CONSTANT_CALLS = frozenset(b.name for b in BUILTINS.values() if b.constant)
