"""The canonical layout of a spec: spec text to spec text, only whitespace changed.

The text is parsed by grammar.lark keeping every token; the parse tree decides where lines
break and how deep they are indented, needs_space() how tokens on a line are spaced. Tokens
are written as the source spells them, so the result says exactly what the source says;
format_spec() checks that before it returns.

The layout, as the README's language reference states it:
- a declaration starts a line at indent 0, one blank line between declarations;
- inside `{ ... }` of a struct, entity, tool, policy, transitions and statement block each
  field, statement, rule and chain starts its own line, indented two spaces a level, and the
  closing brace has a line of its own; an enum lists its members on one line;
- a tool with two or more parameters lists one a line; its doc string opens the body;
- an invariant writes its condition and its `else` on lines of their own, one level in;
- a list, map, call or insert whose last element is followed by a comma lists one element a
  line, one level in, its closing bracket on a line of its own;
- everything else (expressions, types, attributes) stays on its declaration's or statement's
  line;
- a comment stays where it is: on its own line (indented as what follows it) or at the end of
  its line after two spaces; a single blank line is kept where the source has blank lines
  between members or before a comment, never after an opening brace or before a closing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark import Lark, Token, Tree

from envscale.dsl.diagnostics import Diagnostic
from envscale.dsl.grammar import lark_parser
from envscale.dsl.parser import parse
from envscale.dsl.tokens import needs_space, roles, scan

INDENT = "  "

# Rules whose `{ ... }` hold one member a line.
_BLOCKS = frozenset(
    {"struct_decl", "entity_decl", "tool_decl", "policy_decl", "transitions_decl", "block"}
)
# The member rules of those blocks, and the statements of a body or block.
_MEMBERS = frozenset(
    {
        "field",
        "rule_before",
        "rule_at_most",
        "chain",
        "let_stmt",
        "require_stmt",
        "fail_stmt",
        "set_stmt",
        "insert_stmt",
        "delete_stmt",
        "for_stmt",
        "if_stmt",
        "return_stmt",
    }
)
_TYPE_BRACKETS = frozenset({"list_type", "map_type"})
# Bracketed lists of expressions: written one element a line when the last one has a comma.
_LISTS = frozenset({"list_lit", "map_lit", "call", "insert"})
_OPEN = frozenset({"LSQB", "LBRACE", "LPAR"})
_CLOSE = frozenset({"RSQB", "RBRACE", "RPAR"})


class FormatError(Exception):
    """The formatted text would not say what the source says: a bug, so nothing is written."""


@dataclass(slots=True)
class _Mark:
    """How the layout treats one token: where its line breaks, what it opens or closes."""

    brk: str = ""  # decl, member, close, cont (a new line one level in)
    opens: bool = False  # the next lines go one level deeper
    closes: bool = False  # this line and the next go one level out
    role: str = ""


def _parser() -> Lark:
    return lark_parser(keep_all_tokens=True, maybe_placeholders=False)


def _first_token(node: Tree | Token) -> Token:
    while isinstance(node, Tree):
        node = node.children[0]
    return node


def _tokens(kids: list, *types: str) -> list[Token]:
    return [k for k in kids if isinstance(k, Token) and k.type in types]


class _Marks(dict[int, _Mark]):
    def __call__(self, token: Token) -> _Mark:
        return self.setdefault(token.start_pos, _Mark())

    def block(self, opening: Token, closing: Token) -> None:
        self(opening).opens = True
        self(closing).closes = True
        self(closing).brk = "close"


def _mark_tree(tree: Tree) -> _Marks:
    """Line breaks, levels and bracket roles from the parse tree, by token position."""
    mark = _Marks()
    for decl in tree.children:
        mark(_first_token(decl)).brk = "decl"
    for node in tree.iter_subtrees():
        kids = node.children
        if node.data in _BLOCKS:
            braces = _tokens(kids, "LBRACE", "RBRACE")
            mark.block(braces[0], braces[-1])
        if node.data in _BLOCKS or node.data == "body":
            for kid in kids:
                if isinstance(kid, Tree) and kid.data in _MEMBERS:
                    mark(_first_token(kid)).brk = "member"
        if node.data == "tool_decl":
            _mark_tool(kids, mark)
        elif node.data == "invariant_decl":
            rest = kids[kids.index(_tokens(kids, "COLON")[0]) + 1 :]
            mark(_first_token(rest[0])).brk = "cont"
            for token in _tokens(rest, "ELSE"):
                mark(token).brk = "cont"
        elif node.data in _LISTS:
            _mark_list(kids, mark)
        elif node.data in _TYPE_BRACKETS:
            for token in _tokens(kids, "LESSTHAN", "MORETHAN"):
                mark(token).role = "type"
        elif node.data == "enum_decl":
            for token in _tokens(kids, "LBRACE", "RBRACE"):
                mark(token).role = "enum"
    return mark


def _mark_tool(kids: list, mark: _Marks) -> None:
    """A tool's doc string opens its body; two or more parameters take a line each."""
    brace = kids.index(_tokens(kids, "LBRACE")[0])
    for doc in _tokens(kids[brace + 1 :], "STRING"):
        mark(doc).brk = "member"
    for kid in kids:
        if isinstance(kid, Tree) and kid.data == "params":
            params = [p for p in kid.children if isinstance(p, Tree)]
            if len(params) > 1:
                for p in params:
                    mark(_first_token(p)).brk = "member"
                mark.block(_tokens(kids, "LPAR")[0], _tokens(kids, "RPAR")[0])


def _mark_list(kids: list, mark: _Marks) -> None:
    """One element a line in a bracketed list whose last element has a trailing comma."""
    opening = next(i for i, k in enumerate(kids) if isinstance(k, Token) and k.type in _OPEN)
    closing = max(i for i, k in enumerate(kids) if isinstance(k, Token) and k.type in _CLOSE)
    before = kids[closing - 1]
    if closing - opening < 2 or not (isinstance(before, Token) and before.type == "COMMA"):
        return
    for kid in kids[opening + 1 : closing]:
        if not (isinstance(kid, Token) and kid.type == "COMMA"):
            mark(_first_token(kid)).brk = "member"
    mark.block(kids[opening], kids[closing])


def _blank_between(source: str, start: int, end: int) -> bool:
    return source.count("\n", start, end) >= 2


def _layout(source: str, tree: Tree) -> str:
    marks = _mark_tree(tree)
    tokens, comments = scan(source)
    token_roles = roles(tokens)
    lines: list[str] = []
    line = ""
    level = 0  # the level of the current member's line
    ci = 0  # the next comment

    def finish() -> None:
        nonlocal line
        if line:
            lines.append(line.rstrip())
        line = ""

    def blank(allowed: bool) -> None:
        if allowed and lines and lines[-1] != "" and not lines[-1].endswith(("{", "(", "[")):
            lines.append("")

    prev_end = 0
    prev_text, prev_role = "", ""
    for index, tok in enumerate(tokens):
        m = marks.get(tok.start, _Mark())
        role = m.role or token_roles[index]
        if role in ("map", "map_end") and m.role == "enum":
            role = ""
        if m.closes:
            level -= 1
        target = {"decl": 0, "member": level, "close": level}.get(m.brk, level + 1)
        at = prev_end
        broke = False
        decl_blank = m.brk == "decl" and index > 0
        while ci < len(comments) and comments[ci].start < tok.start:
            c = comments[ci]
            ci += 1
            text = c.text.rstrip()
            if line and "\n" not in source[at : c.start]:
                line += "  " + text
            else:
                finish()
                blank(decl_blank or _blank_between(source, at, c.start))
                decl_blank = False
                comment_level = level + 1 if m.brk == "close" or not m.brk else target
                lines.append(INDENT * comment_level + text)
            broke = True
            at = c.end
        if m.brk or broke or not line:
            finish()
            if decl_blank:
                blank(True)
            elif m.brk in ("decl", "member") or (broke and m.brk != "cont"):
                blank(_blank_between(source, at, tok.start) and m.brk != "close")
            if m.brk in ("decl", "member", "close"):
                level = target
            line = INDENT * target + tok.text
        else:
            if needs_space(prev_text, prev_role, tok.text, role):
                line += " "
            line += tok.text
        if m.opens:
            level += 1
        prev_end = tok.end
        prev_text, prev_role = tok.text, role
    for c in comments[ci:]:
        text = c.text.rstrip()
        if line and "\n" not in source[prev_end : c.start]:
            line += "  " + text
        else:
            finish()
            blank(_blank_between(source, prev_end, c.start))
            lines.append(text)
        prev_end = c.end
    finish()
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def format_spec(source: str, file: str = "<spec>") -> tuple[str | None, list[Diagnostic]]:
    """The spec in its canonical layout, or None and the syntax diagnostics.

    Raises FormatError when the result would differ from the source in more than whitespace
    and the placement of comments (it never should)."""
    module, diagnostics = parse(source, file)
    if module is None:
        return None, diagnostics
    text = _layout(source, _parser().parse(source))
    before, before_comments = scan(source)
    after, after_comments = scan(text)
    if [t.text for t in before] != [t.text for t in after]:
        raise FormatError(f"{file}: formatting would change the spec's tokens")
    if [c.text.rstrip() for c in before_comments] != [c.text for c in after_comments]:
        raise FormatError(f"{file}: formatting would change the spec's comments")
    _parser().parse(text)
    return text, []
