"""Text to AST by Lark: the parser built from grammar.lark and a pure Transformer to dataclasses.

It defines what the language is and words the diagnostics for text it rejects; parser.parse()
asks it only about text the hand-written parser in fastparse declines.
"""

from __future__ import annotations

import threading
import typing
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from envscale.dsl import ast
from envscale.dsl.diagnostics import Diagnostic, source_lines
from envscale.dsl.grammar import MAX_DEPTH, lark_parser
from envscale.dsl.strings import BadString, int_value, unquote

# The statement classes by the word their rule is named after: `let_stmt` builds an ast.Let.
_STATEMENTS = {cls.__name__.lower().removesuffix("stmt"): cls for cls in typing.get_args(ast.Stmt)}

# How expected terminals are named in "expected ..." hints.
_READABLE = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "COMPARE": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*', '/' or '%'",
    "OPTIONAL": "'?'",
    "$END": "end of file",
}


def _parser() -> Lark:
    return lark_parser(propagate_positions=True)


_local = threading.local()


def _transformer() -> _ToAst:
    """One transformer per thread: building one wraps every method, which costs more than a
    parse."""
    if not hasattr(_local, "transformer"):
        _local.transformer = _ToAst("<spec>")
    return _local.transformer


def _span(file: str, meta: Any) -> ast.Span:
    if getattr(meta, "empty", False):
        return ast.Span(file, 1, 1, 1, 1)
    return ast.Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(file: str, token: Token) -> ast.Span:
    return ast.Span(file, token.line, token.column, token.end_line, token.end_column)


class _ToAst(Transformer):
    """Parse tree to AST. Pure: it only builds dataclasses from what the tree says."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file

    def span(self, meta: Any) -> ast.Span:
        return _span(self.file, meta)

    def tspan(self, token: Token) -> ast.Span:
        return _token_span(self.file, token)

    @staticmethod
    def opt_str(token: Token | None) -> str | None:
        return unquote(token) if token is not None else None

    # ---- declarations

    def start(self, children: list) -> tuple:
        return tuple(children)

    @v_args(meta=True)
    def domain_decl(self, meta, children):
        name, description, extends, clock, policy = children
        kind, text, pspan = policy if policy else (None, None, None)
        return ast.Domain(
            name=str(name),
            description=unquote(description),
            clock=clock[0] if clock else None,
            policy=text if kind == "inline" else None,
            policy_file=text if kind == "file" else None,
            span=self.tspan(name),
            policy_span=pspan,
            clock_span=clock[1] if clock else None,
            extends=extends[0] if extends else None,
            extends_span=extends[1] if extends else None,
        )

    def extends(self, children):
        (token,) = children
        return unquote(token), self.tspan(token)

    def remove_decl(self, children):
        kind, name = children
        return ast.Remove(kind, str(name), self.tspan(name))

    def replace_decl(self, children):
        (decl,) = children
        return ast.Replace(decl)

    def removed_kind(self, children):
        (token,) = children
        return str(token)

    def clock(self, children):
        (token,) = children
        return unquote(token), self.tspan(token)

    def policy_inline(self, children):
        (token,) = children
        return "inline", unquote(token), self.tspan(token)

    def policy_file(self, children):
        (token,) = children
        return "file", unquote(token), self.tspan(token)

    @v_args(meta=True)
    def enum_decl(self, meta, children):
        name, doc, *members = children
        members = [m for m in members if m is not None]
        return ast.Enum(
            str(name),
            self.opt_str(doc),
            tuple(unquote(m) if m.type == "STRING" else str(m) for m in members),
            tuple(self.tspan(m) for m in members),
            self.tspan(name),
        )

    @v_args(meta=True)
    def struct_decl(self, meta, children):
        name, doc, *fields = children
        return ast.Struct(str(name), self.opt_str(doc), tuple(fields), self.tspan(name))

    @v_args(meta=True)
    def entity_decl(self, meta, children):
        name, doc, *fields = children
        return ast.Entity(str(name), self.opt_str(doc), tuple(fields), self.tspan(name))

    @v_args(meta=True)
    def field(self, meta, children):
        name, type_, *rest = children
        doc = rest.pop()
        return ast.Field(str(name), type_, tuple(rest), self.opt_str(doc), self.tspan(name))

    @v_args(meta=True)
    def attribute(self, meta, children):
        name, *args = children
        return ast.Attribute(str(name), tuple(args), self.span(meta))

    @v_args(meta=True)
    def invariant_decl(self, meta, children):
        name, entity, condition, message = children
        return ast.Invariant(
            str(name),
            str(entity) if entity is not None else None,
            condition,
            message,
            self.tspan(name),
            self.tspan(entity) if entity is not None else None,
        )

    @v_args(meta=True)
    def tool_decl(self, meta, children):
        name, params, returns, effects, attributes, doc, body = children
        return ast.Tool(
            name=str(name),
            params=params or (),
            returns=returns,
            effects=effects,
            doc=self.opt_str(doc),
            body=body,
            span=self.span(meta),
            name_span=self.tspan(name),
            attributes=attributes,
        )

    def tool_attrs(self, children):
        return tuple(children)

    def params(self, children):
        return tuple(children)

    def returns(self, children):
        return children[0]

    def effects(self, children):
        return tuple(children)

    def body(self, children):
        return tuple(children)

    @v_args(meta=True)
    def param(self, meta, children):
        name, type_, attributes, default, doc = children
        return ast.Param(str(name), type_, default, self.opt_str(doc), self.tspan(name), attributes)

    def param_attrs(self, children):
        return tuple(children)

    @v_args(meta=True)
    def reads(self, meta, children):
        return ast.Effect(
            "reads", tuple((str(t), self.tspan(t)) for t in children), self.span(meta)
        )

    @v_args(meta=True)
    def writes(self, meta, children):
        return ast.Effect(
            "writes", tuple((str(t), self.tspan(t)) for t in children), self.span(meta)
        )

    @v_args(meta=True)
    def policy_decl(self, meta, children):
        name, doc, *rules = children
        return ast.Policy(str(name), self.opt_str(doc), tuple(rules), self.tspan(name))

    @v_args(meta=True)
    def transitions_decl(self, meta, children):
        entity, field, *chains = children
        return ast.Transitions(
            str(entity), str(field), tuple(chains), self.tspan(entity), self.tspan(field)
        )

    def chain(self, children):
        return tuple(children)

    def states(self, children):
        return tuple(
            (unquote(s) if s.type == "STRING" else str(s), self.tspan(s)) for s in children
        )

    @v_args(meta=True)
    def rule_before(self, meta, children):
        subject, requirement = children
        return ast.Rule("before", subject, requirement, None, self.span(meta))

    @v_args(meta=True)
    def rule_at_most(self, meta, children):
        limit, subject = children
        return ast.Rule("at_most", subject, None, int_value(limit), self.span(meta))

    @v_args(meta=True)
    def selector(self, meta, children):
        return ast.Selector(
            tuple(name for name, _ in children),
            tuple(param for _, param in children),
            self.span(meta),
        )

    def choice(self, children):
        name, param = children
        return (str(name), self.tspan(name)), (
            (str(param), self.tspan(param)) if param is not None else None
        )

    # ---- types

    @v_args(meta=True)
    def type(self, meta, children):
        base, optional = children
        return ast.TypeRef(base.name, base.args, optional is not None, self.span(meta))

    @v_args(meta=True)
    def named_type(self, meta, children):
        (name,) = children
        return ast.TypeRef(str(name), (), False, self.span(meta))

    @v_args(meta=True)
    def list_type(self, meta, children):
        return ast.TypeRef("list", tuple(children), False, self.span(meta))

    @v_args(meta=True)
    def map_type(self, meta, children):
        return ast.TypeRef("map", tuple(children), False, self.span(meta))

    # ---- statements

    def __default__(self, data: str, children: list, meta: Any) -> Any:
        """A statement whose rule is `<word>_stmt` and whose children are its class's fields in
        order (a NAME as its text), so that such a statement needs no method of its own."""
        cls = _STATEMENTS.get(data.removesuffix("_stmt")) if data.endswith("_stmt") else None
        if cls is None:
            return super().__default__(data, children, meta)
        return cls(*(str(c) if isinstance(c, Token) else c for c in children), self.span(meta))

    @v_args(meta=True)
    def if_stmt(self, meta, children):
        condition, then, otherwise = children
        if otherwise is None:
            otherwise = ()
        elif isinstance(otherwise, ast.If):
            otherwise = (otherwise,)
        return ast.If(condition, then, otherwise, self.span(meta))

    def block(self, children):
        return tuple(children)

    @v_args(meta=True)
    def target(self, meta, children):
        root, *steps = children
        return ast.Target(str(root), tuple(steps), self.span(meta), self.tspan(root))

    @v_args(meta=True)
    def attr_step(self, meta, children):
        (name,) = children
        return ast.AttrStep(str(name), self.tspan(name))

    @v_args(meta=True)
    def index_step(self, meta, children):
        (key,) = children
        return ast.IndexStep(key, self.span(meta))

    # ---- expressions

    @v_args(meta=True)
    def or_op(self, meta, children):
        return ast.Binary("or", children[0], children[1], self.span(meta))

    @v_args(meta=True)
    def and_op(self, meta, children):
        return ast.Binary("and", children[0], children[1], self.span(meta))

    @v_args(meta=True)
    def not_op(self, meta, children):
        return ast.Unary("not", children[0], self.span(meta))

    @v_args(meta=True)
    def compare(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self.span(meta))

    @v_args(meta=True)
    def in_op(self, meta, children):
        return ast.Binary("in", children[0], children[1], self.span(meta))

    @v_args(meta=True)
    def not_in_op(self, meta, children):
        return ast.Binary("not in", children[0], children[1], self.span(meta))

    @v_args(meta=True)
    def binary(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self.span(meta))

    @v_args(meta=True)
    def neg(self, meta, children):
        return ast.Unary("-", children[0], self.span(meta))

    @v_args(meta=True)
    def member(self, meta, children):
        obj, attr = children
        return ast.Member(obj, str(attr), self.span(meta), self.tspan(attr))

    @v_args(meta=True)
    def index(self, meta, children):
        obj, *keys = children
        return ast.Index(obj, tuple(keys), self.span(meta))

    @v_args(meta=True)
    def call(self, meta, children):
        func, *args = children
        return ast.Call(func, tuple(a for a in args if a is not None), self.span(meta))

    @v_args(meta=True)
    def int_lit(self, meta, children):
        return ast.Literal(int_value(children[0]), self.span(meta))

    @v_args(meta=True)
    def float_lit(self, meta, children):
        return ast.Literal(float(children[0]), self.span(meta))

    @v_args(meta=True)
    def str_lit(self, meta, children):
        return ast.Literal(unquote(children[0]), self.span(meta))

    @v_args(meta=True)
    def true_lit(self, meta, children):
        return ast.Literal(True, self.span(meta))

    @v_args(meta=True)
    def false_lit(self, meta, children):
        return ast.Literal(False, self.span(meta))

    @v_args(meta=True)
    def none_lit(self, meta, children):
        return ast.Literal(None, self.span(meta))

    @v_args(meta=True)
    def name(self, meta, children):
        return ast.Name(str(children[0]), self.span(meta))

    @v_args(meta=True)
    def list_lit(self, meta, children):
        return ast.ListLit(tuple(c for c in children if c is not None), self.span(meta))

    @v_args(meta=True)
    def comprehension(self, meta, children):
        element, var, iterable, condition = children
        return ast.Comprehension(element, str(var), iterable, condition, self.span(meta))

    @v_args(meta=True)
    def map_lit(self, meta, children):
        return ast.MapLit(tuple(c for c in children if c is not None), self.span(meta))

    def map_item(self, children):
        key, value = children
        return unquote(key), value

    @v_args(meta=True)
    def insert(self, meta, children):
        entity, *args = children
        return ast.Insert(
            str(entity),
            tuple(a for a in args if a is not None),
            self.span(meta),
            self.tspan(entity),
        )

    @v_args(meta=True)
    def positional_arg(self, meta, children):
        return ast.Arg(None, children[0], self.span(meta))

    @v_args(meta=True)
    def keyword_arg(self, meta, children):
        name, value = children
        return ast.Arg(str(name), value, self.span(meta))


def _describe_expected(expected: set[str]) -> str:
    parser = _parser()
    names = []
    for term in sorted(expected):
        if term in _READABLE:
            names.append(_READABLE[term])
            continue
        try:
            pattern = parser.get_terminal(term).pattern
        except KeyError:
            names.append(term)
            continue
        names.append(f"'{pattern.value}'" if pattern.type == "str" else term.lower())
    # Closing brackets first: when input stops early, they are the likeliest fix.
    names = sorted(set(names), key=lambda n: (n not in ("'}'", "')'", "']'"), n))
    if len(names) > 8:
        names = [*names[:8], "…"]
    return ", ".join(names)


def _syntax_diagnostic(file: str, source: str, error: UnexpectedInput) -> Diagnostic:
    line = getattr(error, "line", 1) or 1
    column = getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        lines = source_lines(source)
        line, column = len(lines), len(lines[-1]) + 1
    if line < 1 or column < 1:
        line, column = 1, 1
    if isinstance(error, UnexpectedCharacters):
        char = source[error.pos_in_stream] if error.pos_in_stream < len(source) else ""
        span = ast.Span(file, line, column, line, column + 1)
        if char == '"':
            # `"""` that is never closed lexes as an empty string `""` and then a lone quote.
            at = error.pos_in_stream
            triple = source.startswith('"""', at) or (at >= 2 and source[at - 2 : at] == '""')
            if triple and not source.startswith('"""', at):
                span = ast.Span(file, line, column - 2, line, column + 1)
            quote = '"""' if triple else '"'
            return Diagnostic(
                "E003", "unterminated string", span, f"close the string with a matching '{quote}'"
            )
        return Diagnostic(
            "E002",
            f"unexpected character {char!r}",
            span,
            "remove it, or check for a missing quote",
        )
    if isinstance(error, UnexpectedToken):
        token = error.token
        shown = "end of file" if token.type == "$END" else f"'{token}'"
        end = column + max(1, len(str(token))) if token.type != "$END" else column + 1
        span = ast.Span(file, line, column, line, end)
        hint = f"expected {_describe_expected(error.expected)}" if error.expected else None
        if token.type != "$END" and str(token) in _reserved_words():
            hint = (
                f"'{token}' is a reserved word; {hint}" if hint else f"'{token}' is a reserved word"
            )
        return Diagnostic("E001", f"unexpected {shown}", span, hint)
    if isinstance(error, UnexpectedEOF):
        lines = source_lines(source)
        span = ast.Span(file, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        return Diagnostic(
            "E001",
            "unexpected end of file",
            span,
            f"expected {_describe_expected(set(error.expected))}",
        )
    return Diagnostic("E001", "syntax error", ast.Span(file, line, column, line, column + 1))


@cache
def _reserved_words() -> frozenset[str]:
    words = set()
    for term in _parser().terminals:
        if term.pattern.type == "str" and term.pattern.value.isidentifier():
            words.add(term.pattern.value)
    return frozenset(words)


def _too_deep(file: str, tree: Tree) -> Diagnostic | None:
    """E006 at the first node nested deeper than MAX_DEPTH; walks without recursion."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            span = _span(file, node.meta)
            span = ast.Span(file, span.line, span.column, span.line, span.column + 1)
            return Diagnostic(
                "E006",
                f"the spec nests more than {MAX_DEPTH} levels deep here",
                span,
                "split the expression or block into smaller parts with let",
            )
        # Reversed, so the leftmost offender in the source is the one reported.
        stack.extend(
            (child, depth + 1) for child in reversed(node.children) if isinstance(child, Tree)
        )
    return None


def _split_word(file: str, source: str, tree: Tree) -> Diagnostic | None:
    """E001 where the contextual lexer read one word as a keyword and a name (`index` as
    `in dex` where only `in` may follow): every name of the tree must be a whole word."""
    names = list(tree.scan_values(lambda v: isinstance(v, Token) and v.type == "NAME"))
    if not names:
        return None
    try:
        words = {(t.start_pos, t.end_pos) for t in _parser().lex(source)}
    except LarkError:  # the root lexer alone cannot read it: nothing to compare
        return None
    for name in names:
        if (name.start_pos, name.end_pos) not in words:
            start = next((a for a, b in words if a < name.start_pos < b), name.start_pos)
            line = source.count("\n", 0, start) + 1
            column = start - (source.rfind("\n", 0, start) + 1) + 1
            return Diagnostic(
                "E001",
                "syntax error: a keyword runs into a name here",
                ast.Span(file, line, column, line, column + 1),
                "put a space after the keyword, or rename",
            )
    return None


def parse(source: str, file: str = "<spec>") -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse spec text. Returns the module, or None and the syntax diagnostics."""
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as error:
        return None, [_syntax_diagnostic(file, source, error)]
    too_deep = _too_deep(file, tree)
    if too_deep is not None:
        return None, [too_deep]
    split = _split_word(file, source, tree)
    if split is not None:
        return None, [split]
    try:
        transformer = _transformer()
        transformer.file = file
        declarations = transformer.transform(tree)
    except VisitError as error:
        if not isinstance(error.orig_exc, BadString):
            raise
        bad = error.orig_exc
        token = bad.token
        span = _token_span(file, token) if isinstance(token, Token) else ast.Span(file, 1, 1, 1, 2)
        hint = "write a backslash as \\\\" if "escape" in bad.reason else None
        if bad.code == "E007":
            hint = "an integer literal lies within -2**63 .. 2**63 - 1, what SQLite stores"
        return None, [Diagnostic(bad.code, bad.reason, span, hint)]
    return ast.Module(file, source, declarations), []
