"""The built-in functions of the spec language: their signatures for the type checker."""

from __future__ import annotations

from dataclasses import dataclass

from envscale.compiler import types as t


@dataclass(frozen=True)
class Builtin:
    name: str
    summary: str
    min_args: int
    max_args: int
    keywords: tuple[str, ...] = ()


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin("round", "round(x, digits=0): a number rounded half to even, as Python does", 1, 2),
        Builtin("abs", "abs(x): absolute value", 1, 1),
        Builtin("min", "min(list) or min(a, b, ...): the smallest", 1, 8),
        Builtin("max", "max(list) or max(a, b, ...): the largest", 1, 8),
        Builtin("sum", "sum(list): the total of a list of numbers", 1, 1),
        Builtin("count", "count(list): how many items", 1, 1),
        Builtin("len", "len(x): length of a list, map or string", 1, 1),
        Builtin("any", "any(list<bool>): true if one is true", 1, 1),
        Builtin("all", "all(list<bool>): true if all are true", 1, 1),
        Builtin("sorted", "sorted(list, by: \"field\", desc: false): a sorted copy", 1, 1, ("by", "desc")),
        Builtin("reversed", "reversed(list): a reversed copy", 1, 1),
        Builtin("unique", "unique(list): items in first-seen order, without repeats", 1, 1),
        Builtin("keys", "keys(map): its keys in insertion order", 1, 1),
        Builtin("values", "values(map): its values in insertion order", 1, 1),
        Builtin("get", "get(map, key, default): the value or the default", 3, 3),
        Builtin("format", "format(template, args...): '{}' placeholders filled in order", 1, 16),
        Builtin("str", "str(x): text form", 1, 1),
        Builtin("int", "int(x): integer (truncates)", 1, 1),
        Builtin("float", "float(x): floating point", 1, 1),
        Builtin("lower", "lower(s)", 1, 1),
        Builtin("upper", "upper(s)", 1, 1),
        Builtin("strip", "strip(s): without surrounding spaces", 1, 1),
        Builtin("startswith", "startswith(s, prefix)", 2, 2),
        Builtin("endswith", "endswith(s, suffix)", 2, 2),
        Builtin("split", "split(s, sep)", 2, 2),
        Builtin("join", "join(list<str>, sep)", 2, 2),
        Builtin("replace", "replace(s, old, new)", 3, 3),
        Builtin("now", "now(): the environment's fixed clock, a datetime", 0, 0),
        Builtin("today", "today(): the date of the environment's fixed clock", 0, 0),
        Builtin("date", "date(s): a date from 'YYYY-MM-DD' (or the date part of a datetime)", 1, 1),
        Builtin("datetime", "datetime(s): a datetime from 'YYYY-MM-DDTHH:MM:SS'", 1, 1),
        Builtin("add_days", "add_days(d, n): a date or datetime n days later", 2, 2),
        Builtin("days_between", "days_between(a, b): whole days from a to b", 2, 2),
        Builtin("range", "range(n) or range(start, stop): the integers start, ..., stop - 1", 1, 2),
        Builtin("evaluate", "evaluate(text): the value of an arithmetic expression of numbers, + - * / ( ) and spaces, "
                            "as a float; a malformed one is a tool error", 1, 1),
        Builtin("next_key", "next_key(Entity, \"PREFIX\", width=0): the next unused key PREFIX<n>", 2, 3),
        Builtin("free_key", "free_key(Entity or map, \"FIRST\"): the first key, counting up from FIRST, that is not "
                            "taken (its last run of letters and digits counts like an odometer: A1Z9, A2A0, ...)", 2, 2),
    ]
}

# Builtins whose value the SQL CHECK compiler can express, and their SQL names.
SQL_FUNCTIONS = {"len": "length", "abs": "abs", "lower": "lower", "upper": "upper", "round": "round"}

COMPARABLE_ORDER = (t.INT, t.FLOAT, t.STR, t.DATE, t.DATETIME)
