"""A small layout printer for generated Python, splitting long lines the way `ruff format` does.

Code is built as a document: text, groups, indentation and line breaks that a group either
keeps flat (a line break becomes a space or nothing) or breaks (each becomes a newline). A
group stays flat when it fits in what is left of the line, counting the text up to the next
possible break after it. Brackets use two groups, as ruff does for calls: the outer one puts
the contents on their own indented line, the inner one then puts one item per line, with a
trailing comma, only if that line is still too long. Operator breaks (`OP_LINE`) only count
inside brackets; outside them they print as a space, so that an unbracketed statement can only
split inside the brackets it has.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 100
INDENT = "    "


@dataclass(frozen=True, slots=True)
class Group:
    parts: tuple[Doc, ...]


@dataclass(frozen=True, slots=True)
class Indent:
    parts: tuple[Doc, ...]


@dataclass(frozen=True, slots=True)
class Bracketed:
    """Contents inside brackets, where operator breaks are allowed."""

    parts: tuple[Doc, ...]


@dataclass(frozen=True, slots=True)
class Line:
    flat: str  # what the break prints as when its group is flat
    operator: bool = False  # an operator break: a space outside brackets


@dataclass(frozen=True, slots=True)
class IfBreak:
    text: str  # printed only when the enclosing group breaks


Doc = str | Group | Indent | Bracketed | Line | IfBreak | tuple

SOFT_LINE = Line("")
LINE = Line(" ")
OP_LINE = Line(" ", operator=True)


def group(*parts: Doc) -> Group:
    return Group(parts)


def bracket(open_: str, items: list[Doc], close: str, *, nested: bool = False) -> Doc:
    """Comma-separated items in brackets. `nested`: the two-level split of calls and
    subscripts; otherwise (collections) the items go one per line as soon as they break."""
    if not items:
        return open_ + close
    joined: list[Doc] = []
    for i, item in enumerate(items):
        if i:
            joined += [",", LINE]
        joined.append(item)
    if len(items) > 1:
        joined.append(IfBreak(","))
    body: Doc = Group(tuple(joined)) if nested else tuple(joined)
    return Group((open_, Bracketed((Indent((SOFT_LINE, body)),)), SOFT_LINE, close))


def parenthesize_if_breaks(doc: Doc) -> Doc:
    """Parentheses that appear only when the contents do not fit on the line."""
    return Group((IfBreak("("), Bracketed((Indent((SOFT_LINE, doc)),)), SOFT_LINE, IfBreak(")")))


# ---- printing

_FLAT, _BREAK = 0, 1


def _flat_text(doc: Doc, memo: dict[int, str]) -> str:
    """flat(doc), remembering the text of every node by its id for the rest of one rendering."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, Line):
        return doc.flat
    if isinstance(doc, IfBreak):
        return ""
    known = memo.get(id(doc))
    if known is None:
        parts = doc if isinstance(doc, tuple) else doc.parts
        known = memo[id(doc)] = "".join([_flat_text(d, memo) for d in parts])
    return known


def _fits(
    first: Doc, rest: list[tuple[Doc, int, int, bool]], width: int, memo: dict[int, str]
) -> bool:
    """Whether `first`, flat, and what follows it up to the next line break fit in width."""
    width -= len(_flat_text(first, memo))
    stack: list[tuple[Doc, int, bool]] = []
    rest_index = len(rest)
    while width >= 0:
        if not stack:
            if rest_index == 0:
                return True
            rest_index -= 1
            doc, _, mode, inside = rest[rest_index]
            stack.append((doc, mode, inside))
            continue
        doc, mode, inside = stack.pop()
        if isinstance(doc, str):
            width -= len(doc)
        elif isinstance(doc, tuple):
            stack.extend([(d, mode, inside) for d in reversed(doc)])
        elif isinstance(doc, (Group, Indent)):
            # A group after `first` is not decided yet: its first break may end the line.
            stack.extend([(d, mode, inside) for d in reversed(doc.parts)])
        elif isinstance(doc, Bracketed):
            stack.extend([(d, mode, True) for d in reversed(doc.parts)])
        elif isinstance(doc, Line):
            if mode == _BREAK and (inside or not doc.operator):
                return True
            width -= len(doc.flat)
        elif isinstance(doc, IfBreak) and mode == _BREAK:
            width -= len(doc.text)
    return False


def flat(doc: Doc) -> str:
    """The document on one line."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, tuple):
        return "".join([flat(d) for d in doc])
    if isinstance(doc, Line):
        return doc.flat
    if isinstance(doc, IfBreak):
        return ""
    return "".join([flat(d) for d in doc.parts])


def render(doc: Doc, indent: int = 0, width: int = WIDTH) -> str:
    """The document as text, starting at `indent` levels; lines do not end in spaces."""
    column = len(INDENT) * indent
    line = flat(doc)
    if column + len(line) <= width:  # the common case: it all fits
        return line
    return render_split(doc, indent, width)


def render_split(doc: Doc, indent: int = 0, width: int = WIDTH) -> str:
    """The document as text, for one known not to fit on one line."""
    column = len(INDENT) * indent
    out: list[str] = []
    memo: dict[int, str] = {}
    # Everything on the stack is in a broken context: a group that fits is printed flat at
    # once, so its contents never come onto the stack.
    stack: list[tuple[Doc, int, int, bool]] = [(doc, indent, _BREAK, False)]
    pop, push = stack.pop, stack.append
    while stack:
        doc, level, mode, inside = pop()
        if isinstance(doc, str):
            out.append(doc)
            column += len(doc)
        elif isinstance(doc, tuple):
            for d in reversed(doc):
                push((d, level, mode, inside))
        elif isinstance(doc, Group):
            if _fits(doc, stack, width - column, memo):
                text = memo[id(doc)]
                out.append(text)
                column += len(text)
            else:
                for d in reversed(doc.parts):
                    push((d, level, _BREAK, inside))
        elif isinstance(doc, Indent):
            for d in reversed(doc.parts):
                push((d, level + 1, mode, inside))
        elif isinstance(doc, Bracketed):
            for d in reversed(doc.parts):
                push((d, level, mode, True))
        elif isinstance(doc, Line):
            if inside or not doc.operator:
                while out and out[-1].endswith(" "):
                    out[-1] = out[-1].rstrip(" ")
                pad = INDENT * level
                out.append("\n" + pad)
                column = len(pad)
            else:
                out.append(doc.flat)
                column += len(doc.flat)
        elif isinstance(doc, IfBreak):
            out.append(doc.text)
            column += len(doc.text)
    return "".join(out)
