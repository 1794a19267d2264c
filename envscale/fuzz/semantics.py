"""One expression, one meaning: random conditions over edge values, judged by the environment
(a SQL CHECK in schema.sql, or the runtime in Python where SQL would mean something else)
and by the compiled Python of the same condition. Any difference is a SQL/Python problem.

Each input is a random condition over a row of every scalar type, optional and not, made of
the operators and built-ins a check can hold: comparisons, `and`/`or`/`not`, `in [...]`,
arithmetic, `abs`, `round`, `len`, `lower`, `upper`. It is compiled twice, as an `invariant
on R` and as a field's `@check`, and rows of edge values (zero, negatives, none, huge ints near
±2**63, half-way floats, ±1e308, unicode whose case maps change length, NUL; and NaN, ±inf and
ints past 64 bits, which are refused before they reach a row) are stored through a tool call.
The call must succeed exactly where the compiled Python check of the row holds. Each input
also filters the stored rows with `where()` on an edge value and compares with Python's `==`.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from typing import Any

from envscale.compiler import ir
from envscale.compiler.build import spec_hash
from envscale.compiler.codegen import generate
from envscale.compiler.codegen.python import invariant_source
from envscale.compiler.pipeline import analyze
from envscale.dsl import ast
from envscale.fuzz.report import ESCAPED_EXCEPTION, SQL_PYTHON, Attack, Problem, Tally, shorten
from envscale.runtime import lib
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.runtime.errors import ToolError
from envscale.runtime.values import number_problem, stored_problem

# The row's fields: name -> type. Optional ones may be none.
FIELDS = {
    "n": "int",
    "m": "int?",
    "x": "float",
    "y": "float?",
    "s": "str",
    "u": "str?",
    "b": "bool",
    "c": "bool?",
}
INTS = [0, 1, -1, 2, -2, 3, -7, 7, 10, 2**31, 2**53 + 1, 2**62, 2**63 - 1, -(2**63), 1 - 2**63]
FLOATS = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1.0, -1.0, 3.0, 0.1, 7.5, -7.5]
FLOATS += [1e308, -1e308, 5e-324, float(2**53), 9.223372036854776e18, -9.223372036854776e18]
TEXTS = ["", "a", "A", "abc", "ABC", "z", "ß", "SS", "ss", "ẞ", "İ", "i̇", "ǅ", "ǆ", "Ǆ"]
TEXTS += ["é", "é", "ΣΑΣ", "σας", "\U0001f600", "ﬃ", "FFI", "K", "k"]
# Values no row can hold: the call or the store refuses them, in both meanings alike.
REFUSED = {
    "int": [2**63, -(2**63) - 1, 10**30],
    "float": [float("nan"), float("inf"), float("-inf")],
    "str": ["a\0b", "\0"],
}
_EDGES = {"int": INTS, "float": FLOATS, "str": TEXTS, "bool": [True, False]}

SPEC = """domain probe "Conditions over edge values"

entity R {{
  id: str @key
{fields}
}}
{invariant}
tool put({params}) {{
  "Store one row."
  insert R(id: id, {args})
}}
"""
ACCEPT, REJECT, REFUSE = "accept", "reject", "refused"


# ---- random conditions


def _literal(r: random.Random, kind: str) -> str:
    if kind == "int":
        return str(r.choice(INTS))
    if kind == "float":
        return _float_text(r.choice(FLOATS))
    if kind == "bool":
        return r.choice(["true", "false"])
    return _text(r.choice(TEXTS))


def _float_text(value: float) -> str:
    text = repr(abs(value))
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return f"-{text}" if str(value).startswith("-") else text


def _text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Conditions:
    """Random conditions, each well typed: optional fields appear where the language lets
    a none go (equality, `in`, ordering, `len`), others anywhere."""

    r: random.Random
    depth: int = 3

    def condition(self, depth: int | None = None) -> str:
        d = self.depth if depth is None else depth
        forms = [self.ordering, self.equality, self.membership, self.text_order, self.length]
        if d > 0:
            forms += [self.negation, self.connective, self.connective, self.flag]
        return self.r.choice(forms)(d)

    def number(self, d: int) -> str:
        r = self.r
        atoms = ["n", "x", _literal(r, "int"), _literal(r, "float")]
        if d <= 0 or r.random() < 0.35:
            return r.choice(atoms)
        op = r.choice(["+", "-", "*", "/", "%", "neg", "abs", "round", "round2", "len"])
        if op == "neg":
            return f"-({self.number(d - 1)})"
        if op == "abs":
            return f"abs({self.number(d - 1)})"
        if op == "round":
            return f"round({self.number(d - 1)})"
        if op == "round2":
            return f"round({self.number(d - 1)}, {r.choice([0, 1, 2, -1])})"
        if op == "len":
            return f"len({self.text(d - 1)})"
        return f"({self.number(d - 1)} {op} {self.number(d - 1)})"

    def text(self, d: int) -> str:
        r = self.r
        if d <= 0 or r.random() < 0.5:
            return r.choice(["s", _literal(r, "str")])
        return f"{r.choice(['lower', 'upper'])}({self.text(d - 1)})"

    def maybe_none_number(self, d: int) -> str:
        return self.r.choice(["m", "y", self.number(d)])

    def ordering(self, d: int) -> str:
        op = self.r.choice(["<", "<=", ">", ">="])
        return f"{self.maybe_none_number(d - 1)} {op} {self.maybe_none_number(d - 1)}"

    def equality(self, d: int) -> str:
        r = self.r
        op = r.choice(["==", "!="])
        kind = r.choice(["number", "text", "bool"])
        if kind == "number":
            left, right = (
                self.maybe_none_number(d - 1),
                r.choice(["none", "m", "y", self.number(d - 1)]),
            )
        elif kind == "text":
            left, right = (
                r.choice(["u", self.text(d - 1)]),
                r.choice(["none", "u", "s", self.text(d - 1)]),
            )
        else:
            left, right = r.choice(["b", "c"]), r.choice(["none", "b", "c", "true", "false"])
        return f"{left} {op} {right}"

    def membership(self, d: int) -> str:
        r = self.r
        kind = r.choice(["int", "float", "str"])
        subject = {"int": ["n", "m"], "float": ["x", "y"], "str": ["s", "u"]}[kind]
        items = [_literal(r, kind) for _ in range(r.randint(1, 3))]
        if r.random() < 0.3:
            items.append("none")
        op = r.choice(["in", "not in"])
        return f"{r.choice(subject)} {op} [{', '.join(items)}]"

    def text_order(self, d: int) -> str:
        op = self.r.choice(["<", "<=", ">", ">=", "==", "!="])
        return f"{self.r.choice(['u', self.text(d - 1)])} {op} {self.text(d - 1)}"

    def length(self, d: int) -> str:
        op = self.r.choice(["<", "<=", ">", ">=", "==", "!="])
        return f"len({self.r.choice(['s', 'u', self.text(d - 1)])}) {op} {self.r.randint(0, 3)}"

    def negation(self, d: int) -> str:
        return f"not ({self.condition(d - 1)})"

    def connective(self, d: int) -> str:
        op = self.r.choice(["and", "or"])
        return f"({self.condition(d - 1)}) {op} ({self.condition(d - 1)})"

    def flag(self, d: int) -> str:
        return self.r.choice(["b", "not b", "b == c", "c == true"])


def rows(r: random.Random, count: int) -> list[dict[str, Any]]:
    """Rows of edge values; the first has every optional field none, some hold a refused one."""
    out = []
    for i in range(count):
        row: dict[str, Any] = {"id": f"r{i}"}
        for name, kind in FIELDS.items():
            base = kind.rstrip("?")
            if kind.endswith("?") and (i == 0 or r.random() < 0.3):
                row[name] = None
            elif base in REFUSED and r.random() < 0.03:
                row[name] = r.choice(REFUSED[base])
            else:
                row[name] = r.choice(_EDGES[base])
        out.append(row)
    return out


# ---- judging one condition


@dataclass
class Probe:
    """A condition compiled as a spec: its environment, and its Python check."""

    condition: str
    form: str  # "invariant" or "check"
    domain: Domain
    python: Any  # the compiled check function: (db, every_row) -> message or None
    held_by: str  # "sql" or "runtime"


def spec_text(condition: str, form: str, on_field: str = "m") -> str:
    fields = []
    for name, kind in FIELDS.items():
        check = f" @check({condition})" if form == "check" and name == on_field else ""
        fields.append(f"  {name}: {kind}{check}")
    params = ", ".join(
        ["id: str"]
        + [f"{n}: {k}" + (" = none" if k.endswith("?") else "") for n, k in FIELDS.items()]
    )
    invariant = f'invariant probe on R: {condition} else "no"' if form == "invariant" else ""
    args = ", ".join(f"{n}: {n}" for n in FIELDS)
    return SPEC.format(fields="\n".join(fields), invariant=invariant, params=params, args=args)


def compile_probe(condition: str, form: str = "invariant", on_field: str = "m") -> Probe | None:
    """The condition compiled, or None when it does not compile (it is then no input)."""
    text = spec_text(condition, form, on_field)
    c = analyze(text, "probe.domain")
    if c.diagnostics.has_errors or c.ir is None:
        return None
    d = c.ir
    d.spec_hash = spec_hash(text, {})
    if form == "invariant":
        inv = next(i for i in d.invariants if i.name == "probe")
        held_by = "sql" if inv.sql is not None else "runtime"
    else:
        check = d.table("R").checks[0]
        held_by = "sql" if check.sql is not None else "runtime"
        inv = _as_invariant(c, on_field)
    namespace: dict[str, Any] = {"lib": lib}
    # `-2 - 2 == none` compiles to `-2 - 2 is None`, which Python warns of; it is still right.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        exec(compile(invariant_source(d, inv), "<probe check>", "exec"), namespace)
        domain = Domain(generate(d))
    return Probe(condition, form, domain, namespace[f"check_{inv.name}"], held_by)


def _as_invariant(c: Any, on_field: str) -> ir.Invariant:
    """A field's check as the runtime would evaluate it, whether or not SQL holds it."""
    expr = c.symbols.entities["R"].fields[on_field].checks[0]
    decl = ast.Invariant("field_check", "R", expr, ast.Literal("no", expr.span), expr.span)
    guard = on_field if FIELDS[on_field].endswith("?") else None
    return ir.Invariant(
        "field_check", "R", None, ["R"], decl, "", own_row=True, holds_when_none=guard
    )


class _OneRow:
    """What a compiled check reads of the database: this one row."""

    def __init__(self, row: dict[str, Any]):
        self.row = row

    def all(self, entity: str) -> list[dict]:
        return [self.row]

    changed = all


def python_verdict(probe: Probe, row: dict[str, Any], stored: dict[str, Any]) -> str:
    """What the language says of storing the row: refused, accepted or rejected. Raises what
    the compiled Python raises other than a ToolError."""
    if any(number_problem(v) for v in row.values()):
        return REFUSE
    if any(stored_problem(v, text=True) for v in row.values()):
        return REFUSE
    try:
        message = probe.python(_OneRow(stored), every_row=True)
    except ToolError:
        return REJECT  # a condition that cannot be evaluated does not hold
    return ACCEPT if message is None else REJECT


@dataclass
class Verdicts:
    tried: int = 0
    problems: list[Problem] = field(default_factory=list)


def judge(probe: Probe, table: list[dict[str, Any]]) -> Verdicts:
    """Store each row through a tool call and compare with the Python verdict."""
    out = Verdicts()
    env = Environment.create(probe.domain, None)
    try:
        meta = env.db.tables["R"]
        for row in table:
            out.tried += 1
            where = f"[{probe.form}, held by {probe.held_by}] {probe.condition}  row {row!r}"
            result = env.call("put", row)
            if result.internal:
                out.problems.append(Problem(ESCAPED_EXCEPTION, result.error or "", shorten(where)))
                continue
            if result.ok:
                seen = ACCEPT
            elif result.error and any(
                mark in result.error
                for mark in ("out of range", "not a finite number", "cannot hold a NUL")
            ):
                seen = REFUSE
            else:
                seen = REJECT
            try:
                stored = meta.decode(meta.encode(row)) if seen != REFUSE else row
                expected = python_verdict(probe, row, stored)
            except ToolError:
                expected = REFUSE
            except Exception as error:  # the compiled Python itself broke: a bug
                detail = f"compiled Python raised {type(error).__name__}: {error}"
                out.problems.append(Problem(ESCAPED_EXCEPTION, detail, shorten(where)))
                continue
            if seen != expected:
                detail = f"the environment says {seen}, the compiled Python says {expected}"
                if result.error:
                    detail += f" ({result.error})"
                out.problems.append(Problem(SQL_PYTHON, shorten(detail), shorten(where)))
        out.problems.extend(filter_problems(env, random.Random(probe.condition)))
    finally:
        env.close()
    return out


def filter_problems(env: Environment, r: random.Random, tries: int = 3) -> list[Problem]:
    """`where()` on an edge value against Python's `==` over the stored rows."""
    problems = []
    stored = env.export()["R"]
    for _ in range(tries):
        name, kind = r.choice(list(FIELDS.items()))
        base = kind.rstrip("?")
        choices = _EDGES[base] + REFUSED.get(base, []) + [None]
        if base == "float":
            choices = [*choices, r.choice(INTS), 2**63, 2**63 + 1]  # an int asks a float too
        value = r.choice(choices)
        where = f"R.where({name}: {value!r}) over {len(stored)} rows"
        try:
            found = [row["id"] for row in env.db.where("R", {name: value})]
        except Exception as error:
            problems.append(Problem(ESCAPED_EXCEPTION, f"{type(error).__name__}: {error}", where))
            continue
        expected = [row["id"] for row in stored if row[name] == value]
        if found != expected:
            detail = f"where() found {found}, Python's == finds {expected}"
            problems.append(Problem(SQL_PYTHON, shorten(detail), shorten(where)))
    return problems


# ---- the attack


def run_expressions(count: int, seed: int) -> Tally:
    tally = Tally("semantics.expressions")
    r = random.Random(f"envscale-fuzz-semantics:{seed}")
    for _ in range(count):
        tally.tried += 1
        condition = Conditions(r, depth=r.randint(1, 3)).condition()
        form = r.choice(["invariant", "check"])
        try:
            probe = compile_probe(condition, form, on_field=r.choice(list(FIELDS)))
            if probe is None:
                continue
            for problem in judge(probe, rows(r, 8)).problems:
                tally.add(problem)
        except Exception as error:  # compiling or running broke: envscale's fault
            detail = f"{type(error).__name__}: {error}"
            tally.add(Problem(ESCAPED_EXCEPTION, shorten(detail), shorten(f"[{form}] {condition}")))
    return tally


ATTACKS = [Attack("semantics.expressions", "expressions", run_expressions)]
