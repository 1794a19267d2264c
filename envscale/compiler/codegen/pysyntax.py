"""Python expressions as layout documents that know their precedence.

An operand gets parentheses only where Python's precedence needs them. A statement's
expression is wrapped in parentheses that show only when it breaks, unless `ruff format`
would rather split the brackets it already has (one loosest operator whose last operand, or
whose first, is bracketed): the same choice, so the output is what ruff would print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from envscale.compiler.codegen.layout import (
    LINE,
    OP_LINE,
    SOFT_LINE,
    Bracketed,
    Doc,
    Group,
    Indent,
    bracket,
    parenthesize_if_breaks,
)

# Binding strength, loosest first; OR and AND share a level when splitting, as in ruff.
OR, AND, NOT, COMPARE, ADD, MUL, UNARY, ATOM = range(8)
PRECEDENCE = {
    "or": OR,
    "and": AND,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"), COMPARE),
    "+": ADD,
    "-": ADD,
    "*": MUL,
    "/": MUL,
    "%": MUL,
}


def _level(prec: int) -> int:
    return OR if prec == AND else prec


@dataclass(slots=True)
class Code:
    """An expression: its document, precedence, and what ruff looks at to place parentheses."""

    build: Doc | Callable[[], Doc]  # the document, or how to make it (most lines fit flat)
    flat: str  # the expression on one line
    prec: int = ATOM
    bracketed: bool = False  # has brackets of its own, not empty (a call, a literal, a group)
    subscript: bool = False
    any_brackets: bool = False  # some unparenthesized part of it has brackets
    loosest: int = ATOM  # the loosest operator level among its unparenthesized parts
    count: int = 0  # how many operators it has on that level
    first_bracketed: bool = False  # it starts with a bracket
    last_bracketed: bool = False  # its last operand has brackets of its own
    operands: tuple[Code, str, Code] | None = None  # of a binary operator

    @property
    def doc(self) -> Doc:
        if callable(self.build):
            self.build = self.build()
        return self.build


def text(value: str) -> Code:
    return Code(value, value)


def string(value: str) -> str:
    """A string literal as ruff writes it: double quotes unless single ones need fewer escapes."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return quote + "".join(out) + quote


def constant(value: object) -> str:
    """A literal for a constant value (str, number, bool, None, lists and dicts of them)."""
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ", ".join(constant(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{constant(k)}: {constant(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _open(doc: Doc | Callable[[], Doc], flat: str, *, starts: bool = True) -> Code:
    return Code(doc, flat, bracketed=True, any_brackets=True, first_bracketed=starts)


def call(func: str | Code, args: list[Code], keywords: dict[str, Code] | None = None) -> Code:
    flats = [a.flat for a in args]
    named = list((keywords or {}).items())
    flats += [f"{name}={value.flat}" for name, value in named]
    head = func if isinstance(func, Code) else text(func)
    if not flats:
        return Code(lambda: (head.doc, "()"), head.flat + "()", any_brackets=head.any_brackets)

    def build() -> Doc:
        items: list[Doc] = [a.doc for a in args]
        items += [(f"{name}=", value.doc) for name, value in named]
        return (head.doc, bracket("(", items, ")", nested=True))

    return _open(build, f"{head.flat}({', '.join(flats)})", starts=False)


def list_of(items: list[Code]) -> Code:
    if not items:
        return text("[]")
    flat = "[" + ", ".join([i.flat for i in items]) + "]"
    return _open(lambda: bracket("[", [i.doc for i in items], "]"), flat)


def tuple_of(items: list[Code]) -> Code:
    if len(items) == 1:
        return _open(lambda: ("(", items[0].doc, ",)"), f"({items[0].flat},)")
    flat = "(" + ", ".join([i.flat for i in items]) + ")"
    return _open(lambda: bracket("(", [i.doc for i in items], ")"), flat)


def dict_of(items: list[tuple[Code, Code]]) -> Code:
    if not items:
        return text("{}")
    flat = "{" + ", ".join([f"{k.flat}: {v.flat}" for k, v in items]) + "}"
    return _open(lambda: bracket("{", [(k.doc, ": ", v.doc) for k, v in items], "}"), flat)


def unpacked(parts: list[Code | tuple[str, Code]]) -> Code:
    """A list literal of items and `*spread` lists: `[*xs, y]` rather than `xs + [y]`."""
    items = [p if isinstance(p, Code) else _star(p[0], atom(p[1])) for p in parts]
    flat = "[" + ", ".join([i.flat for i in items]) + "]"
    return _open(lambda: bracket("[", [i.doc for i in items], "]"), flat)


def concat(code: Code, tail: str) -> Code:
    return Code(lambda: (code.doc, tail), code.flat + tail)


def _star(star: str, code: Code) -> Code:
    return Code(lambda: (star, code.doc), star + code.flat)


def comprehension(element: Code, var: str, iterable: Code, condition: Code | None) -> Code:
    flat = f"[{element.flat} for {var} in {iterable.flat}"
    if condition is not None:
        flat += f" if {condition.flat}"

    def build() -> Doc:
        parts: list[Doc] = [element.doc, LINE, f"for {var} in ", iterable.doc]
        if condition is not None:
            parts += [LINE, "if ", condition.doc]
        body = Indent((SOFT_LINE, Group(tuple(parts))))
        return Group(("[", Bracketed((body,)), SOFT_LINE, "]"))

    return _open(build, flat + "]")


def subscript(obj: Code, key: Code) -> Code:
    inner = atom(obj)
    return Code(
        lambda: (inner.doc, bracket("[", [key.doc], "]", nested=True)),
        f"{inner.flat}[{key.flat}]",
        subscript=True,
        any_brackets=True,
    )


def attribute(obj: Code, name: str) -> Code:
    inner = atom(obj)
    return Code(
        lambda: (inner.doc, ".", name), f"{inner.flat}.{name}", any_brackets=inner.any_brackets
    )


def parenthesized(code: Code) -> Code:
    def build() -> Doc:
        return Group(("(", Bracketed((Indent((SOFT_LINE, code.doc)),)), SOFT_LINE, ")"))

    return _open(build, f"({code.flat})")


def atom(code: Code) -> Code:
    return code if code.prec == ATOM else parenthesized(code)


def unary(op: str, operand: Code) -> Code:
    prec = NOT if op == "not" else UNARY
    inner = operand if operand.prec >= prec else parenthesized(operand)
    loosest, count = _combine(prec, [inner])
    head = f"{op} " if op == "not" else op
    return Code(
        lambda: (head, inner.doc),
        head + inner.flat,
        prec=prec,
        any_brackets=inner.any_brackets,
        loosest=loosest,
        count=count,
        last_bracketed=inner.bracketed or (inner.last_bracketed and inner.prec == prec),
    )


def binary(op: str, left: Code, right: Code) -> Code:
    prec = PRECEDENCE[op]
    # Comparisons would chain, and for the rest the right operand of an equal one is grouped,
    # except for `and` and `or`, which give the same value either way.
    left_ok = left.prec > prec or (left.prec == prec and prec != COMPARE)
    right_ok = right.prec > prec or (right.prec == prec and prec in (AND, OR))
    # `and` inside `or` is grouped too, to show which binds first (ruff's RUF021).
    left_ok = left_ok and not (op == "or" and left.prec == AND)
    right_ok = right_ok and not (op == "or" and right.prec == AND)
    left = left if left_ok else parenthesized(left)
    right = right if right_ok else parenthesized(right)
    loosest, count = _combine(prec, [left, right])
    code = Code(
        lambda: Group(tuple(_chain(code, prec))),
        f"{left.flat} {op} {right.flat}",
        prec=prec,
        any_brackets=left.any_brackets or right.any_brackets,
        loosest=loosest,
        count=count,
        first_bracketed=left.first_bracketed,
        last_bracketed=right.bracketed if right.prec == ATOM else right.last_bracketed,
        operands=(left, op, right),
    )
    return code


def _chain(code: Code, prec: int) -> list[Doc]:
    """The operands and operators of a chain of one precedence, which breaks as one."""
    if code.prec != prec or code.operands is None:
        return [code.doc]
    left, op, right = code.operands
    return [*_chain(left, prec), OP_LINE, f"{op} ", *_chain(right, prec)]


def _combine(prec: int, operands: list[Code]) -> tuple[int, int]:
    loosest, count = _level(prec), 1
    for operand in operands:
        if operand.prec == ATOM or operand.count == 0:
            continue
        level = _level(operand.loosest)
        if level < loosest:
            loosest, count = level, operand.count
        elif level == loosest:
            count += operand.count
    return loosest, count


def statement_expr(code: Code) -> Doc:
    """The expression of a statement (`return x`, `if x:`, `y = x`), parenthesized if it
    breaks, unless splitting its own brackets is what ruff prefers."""
    if code.prec == ATOM:
        return code.doc
    if code.any_brackets and code.count <= 1 and (code.last_bracketed or code.first_bracketed):
        return code.doc
    return parenthesize_if_breaks(code.doc)
