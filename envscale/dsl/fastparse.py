"""A hand-written parser for the language of grammar.lark: the same AST as the Lark path, faster.

It accepts only text the grammar accepts and then builds exactly the AST (spans included)
that Lark and the transformer build. On anything else it declines, and the Lark path
parses the text again and reports the diagnostics. It keeps no count of depth: parser.parse
leaves an AST deeper than grammar.FAST_DEPTH to Lark, which tells whether it is too deep.

What it mirrors of Lark, beyond the rules themselves:
- Spans: a node spans from the first to the last token its rule consumed, the punctuation
  included; a parenthesized expression keeps the span of what is inside the parentheses.
- The contextual lexer: a keyword is read as a name wherever the parser state accepts a name
  and not that keyword. Where a state accepts keywords but no name, Lark splits a longer word
  at a keyword ("inx" as "in", "x"); this parser reads the whole word and declines.
- Shift/reduce conflicts, which Lark resolves as shift: `return` followed by `insert` returns
  the inserted record, and `policy` right after a domain header is the domain's policy.
- Lark's single lookahead state after a type, shared by all types: it reads `reads` and
  `writes` as keywords even where a field name is due, so such a field is an error there.
"""

from __future__ import annotations

import re
from hashlib import sha256

from envscale.dsl import ast
from envscale.dsl.strings import int_value, unquote

# The grammar this parser implements, as grammar_digest() reads it. parser.py uses this parser
# only while grammar.lark still has this digest.
GRAMMAR_DIGEST = "c92dd99084ce7d3233695eb62ad1f2fdd14d4cf5b96a071493818faddd6cea2b"


class Decline(Exception):
    """The text is not one this parser takes: the grammar rejects it, or it is a case left to
    Lark."""


def grammar_digest(text: str) -> str:
    """A digest of the grammar's rules and terminals, blind to comments and layout."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            lines.append(" ".join(line.split()))
    return sha256("\n".join(lines).encode()).hexdigest()


# Lark's terminals; most frequent first, which the regex engine rewards. No two alternatives
# match at the same place, except FLOAT before INT, as in Lark.
_TOKEN = re.compile(
    r"[ \t\f\r\n]+"
    r"|(?P<N>[A-Za-z_]\w*)"
    r"|(?P<P>->|[=!<>]=|[-+*/%<>=(){}\[\],:;.@?|])"
    r'|(?P<S>(?s:"""(?:[^"\\]|\\.|"(?!""))*""")|"[^"\\\n]*(?:\\.[^"\\\n]*)*")'
    r"|(?P<F>[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<I>[0-9]+)"
    r"|#[^\n]*",
    re.ASCII,
)

# Words that are keywords where an expression starts; `not` only where a not_expr may start.
_ATOM_KEYWORDS = frozenset({"true", "false", "none", "insert"})
_ARG_KEYWORDS = _ATOM_KEYWORDS | {"not"}
# Words after `return` that end it without a value (not `insert`: shift wins).
_RETURN_ENDS = frozenset({"let", "require", "fail", "set", "delete", "for", "if", "return"})
# How tightly each binary operator binds; `not` here is the start of `not in`. The operand of
# a prefix `not` is a comparison or tighter, so `not` is a keyword only where such may start.
_NOT_LEVEL = 3
_COMPARE_LEVEL = 4
_LEVELS = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<=": 4,
    ">=": 4,
    "<": 4,
    ">": 4,
    "in": 4,
    "not": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_REMOVED_KINDS = frozenset({"enum", "struct", "entity", "invariant", "tool", "policy"})
_TYPE_FOLLOW_KEYWORDS = frozenset({"reads", "writes"})
_LITERALS = {"true": True, "false": False, "none": None}


def tokenize(
    source: str,
) -> tuple[list[str], list[str], list[int], list[int], list[int], list[int]]:
    """Kinds, texts, and 1-based start line and column and end line and column of each token.

    A token's kind is its text for punctuation, else S, F, I or N (a word); a `$` ends the list.
    """
    kinds: list[str] = []
    texts: list[str] = []
    lines: list[int] = []
    columns: list[int] = []
    end_lines: list[int] = []
    end_columns: list[int] = []
    line = 1
    line_start = 0
    pos = 0
    for match in _TOKEN.finditer(source):
        start = match.start()
        if start != pos:
            raise Decline
        pos = match.end()
        kind = match.lastgroup
        if kind is None:
            text = match.group()
            newlines = text.count("\n")
            if newlines:
                line += newlines
                line_start = start + text.rindex("\n") + 1
            continue
        text = match.group()
        kinds.append(text if kind == "P" else kind)
        texts.append(text)
        lines.append(line)
        columns.append(start - line_start + 1)
        if kind == "S" and "\n" in text:
            line += text.count("\n")
            line_start = start + text.rindex("\n") + 1
        end_lines.append(line)
        end_columns.append(pos - line_start + 1)
    if pos != len(source):
        raise Decline
    kinds.append("$")
    texts.append("")
    return kinds, texts, lines, columns, end_lines, end_columns


def parse_fast(source: str, file: str) -> tuple[ast.Decl, ...]:
    """The declarations of a spec, or Decline."""
    return _Parser(source, file).module()


class _Parser:
    """Recursive descent over the tokens, one method per rule of the grammar."""

    def __init__(self, source: str, file: str):
        self.k, self.v, self.line, self.col, self.end_line, self.end_col = tokenize(source)
        self.i = 0
        self.file = file

    # ---- tokens

    def span(self, first: int, last: int) -> ast.Span:
        return ast.Span(
            self.file, self.line[first], self.col[first], self.end_line[last], self.end_col[last]
        )

    def tspan(self, at: int) -> ast.Span:
        return ast.Span(self.file, self.line[at], self.col[at], self.end_line[at], self.end_col[at])

    def expect(self, kind: str) -> int:
        at = self.i
        if self.k[at] != kind:
            raise Decline
        self.i = at + 1
        return at

    def keyword(self, word: str) -> int:
        at = self.i
        if self.k[at] != "N" or self.v[at] != word:
            raise Decline
        self.i = at + 1
        return at

    def at_keyword(self, word: str) -> bool:
        return self.k[self.i] == "N" and self.v[self.i] == word

    def name(self) -> int:
        """A NAME where the parser state accepts no keyword, so every word is a name."""
        at = self.i
        if self.k[at] != "N":
            raise Decline
        self.i = at + 1
        return at

    def doc(self) -> str | None:
        at = self.i
        if self.k[at] != "S":
            return None
        self.i = at + 1
        return unquote(self.v[at])

    # ---- declarations

    def module(self) -> tuple[ast.Decl, ...]:
        declarations: list[ast.Decl] = []
        k, v = self.k, self.v
        while k[self.i] != "$":
            if k[self.i] != "N":
                raise Decline
            word = v[self.i]
            if word == "replace":
                self.i += 1
                if k[self.i] != "N" or v[self.i] in ("domain", "remove", "replace"):
                    raise Decline
                inner = self.declaration(v[self.i])
                assert not isinstance(inner, ast.Domain | ast.Remove | ast.Replace)
                declarations.append(ast.Replace(inner))
            else:
                declarations.append(self.declaration(word))
        return tuple(declarations)

    def declaration(self, word: str) -> ast.Decl:
        """The declaration that starts with the keyword `word`, at the current token."""
        if word == "tool":
            return self.tool()
        if word == "entity" or word == "struct":
            return self.record(word)
        if word == "enum":
            return self.enum()
        if word == "invariant":
            return self.invariant()
        if word == "policy":
            return self.policy()
        if word == "domain":
            return self.domain()
        if word == "transitions":
            return self.transitions()
        if word == "remove":
            return self.remove()
        raise Decline

    def domain(self) -> ast.Domain:
        self.i += 1
        name = self.name()
        description = unquote(self.v[self.expect("S")])
        clock = clock_span = policy = policy_file = policy_span = None
        extends = extends_span = None
        if self.at_keyword("extends"):
            self.i += 1
            at = self.expect("S")
            extends, extends_span = unquote(self.v[at]), self.tspan(at)
        if self.at_keyword("clock"):
            self.i += 1
            at = self.expect("S")
            clock, clock_span = unquote(self.v[at]), self.tspan(at)
        if self.at_keyword("policy"):
            self.i += 1
            if self.at_keyword("from"):
                self.i += 1
                at = self.expect("S")
                policy_file = unquote(self.v[at])
            else:
                at = self.expect("S")
                policy = unquote(self.v[at])
            policy_span = self.tspan(at)
        return ast.Domain(
            self.v[name],
            description,
            clock,
            policy,
            policy_file,
            self.tspan(name),
            policy_span,
            clock_span,
            extends,
            extends_span,
        )

    def remove(self) -> ast.Remove:
        self.i += 1
        kind = self.name()
        if self.v[kind] not in _REMOVED_KINDS:
            raise Decline
        name = self.name()
        return ast.Remove(self.v[kind], self.v[name], self.tspan(name))

    def enum(self) -> ast.Enum:
        self.i += 1
        name = self.name()
        doc = self.doc()
        self.expect("{")
        members = [self.enum_member()]
        while self.k[self.i] == ",":
            self.i += 1
            if self.k[self.i] == "}":
                break
            members.append(self.enum_member())
        self.expect("}")
        return ast.Enum(
            self.v[name],
            doc,
            tuple(value for value, _ in members),
            tuple(self.tspan(at) for _, at in members),
            self.tspan(name),
        )

    def enum_member(self) -> tuple[str, int]:
        at = self.i
        kind = self.k[at]
        if kind == "N":
            self.i = at + 1
            return self.v[at], at
        if kind == "S":
            self.i = at + 1
            return unquote(self.v[at]), at
        raise Decline

    def record(self, word: str) -> ast.Struct | ast.Entity:
        self.i += 1
        name = self.name()
        doc = self.doc()
        self.expect("{")
        fields = []
        after_type = False
        while self.k[self.i] == "N":
            if after_type and self.v[self.i] in _TYPE_FOLLOW_KEYWORDS:
                raise Decline
            field, after_type = self.field()
            fields.append(field)
        self.expect("}")
        cls = ast.Entity if word == "entity" else ast.Struct
        return cls(self.v[name], doc, tuple(fields), self.tspan(name))

    def field(self) -> tuple[ast.Field, bool]:
        """A field, and whether it ends with its type (see _TYPE_FOLLOW_KEYWORDS)."""
        name = self.name()
        self.expect(":")
        type_ = self.type()
        attributes = []
        while self.k[self.i] == "@":
            attributes.append(self.attribute())
        doc = self.doc()
        after_type = doc is None and not attributes
        return ast.Field(self.v[name], type_, tuple(attributes), doc, self.tspan(name)), after_type

    def attribute(self) -> ast.Attribute:
        start = self.i
        self.i += 1
        name = self.name()
        args: tuple[ast.Arg, ...] = ()
        if self.k[self.i] == "(":
            self.i += 1
            args = self.args()
        return ast.Attribute(self.v[name], args, self.span(start, self.i - 1))

    def invariant(self) -> ast.Invariant:
        self.i += 1
        name = self.name()
        entity = None
        if self.at_keyword("on"):
            self.i += 1
            entity = self.name()
        self.expect(":")
        condition = self.expr()
        self.keyword("else")
        message = self.expr()
        return ast.Invariant(
            self.v[name],
            self.v[entity] if entity is not None else None,
            condition,
            message,
            self.tspan(name),
            self.tspan(entity) if entity is not None else None,
        )

    def tool(self) -> ast.Tool:
        k = self.k
        start = self.i
        self.i += 1
        name = self.name()
        self.expect("(")
        params = []
        if k[self.i] != ")":
            while True:
                params.append(self.param())
                if k[self.i] != ",":
                    break
                self.i += 1
                if k[self.i] == ")":
                    break
        self.expect(")")
        returns = None
        if k[self.i] == "->":
            self.i += 1
            returns = self.type()
        effects = []
        while k[self.i] == "N" and (self.v[self.i] == "reads" or self.v[self.i] == "writes"):
            effects.append(self.effect())
        attributes = []
        while k[self.i] == "@":
            attributes.append(self.attribute())
        self.expect("{")
        doc = self.doc()
        body = self.statements()
        self.expect("}")
        return ast.Tool(
            self.v[name],
            tuple(params),
            returns,
            tuple(effects),
            doc,
            body,
            self.span(start, self.i - 1),
            self.tspan(name),
            tuple(attributes),
        )

    def param(self) -> ast.Param:
        name = self.name()
        self.expect(":")
        type_ = self.type()
        attributes = []
        while self.k[self.i] == "@":
            attributes.append(self.attribute())
        default = None
        if self.k[self.i] == "=":
            self.i += 1
            default = self.expr()
        doc = self.doc()
        return ast.Param(self.v[name], type_, default, doc, self.tspan(name), tuple(attributes))

    def effect(self) -> ast.Effect:
        start = self.i
        self.i += 1
        names = [self.name()]
        while self.k[self.i] == ",":
            self.i += 1
            names.append(self.name())
        return ast.Effect(
            self.v[start],
            tuple((self.v[n], self.tspan(n)) for n in names),
            self.span(start, self.i - 1),
        )

    def policy(self) -> ast.Policy:
        self.i += 1
        name = self.name()
        doc = self.doc()
        self.expect("{")
        rules = []
        while self.k[self.i] == "N":
            start = self.i
            word = self.v[start]
            self.i += 1
            if word == "before":
                subject = self.selector()
                self.keyword("require")
                rules.append(
                    ast.Rule("before", subject, self.selector(), None, self.span(start, self.i - 1))
                )
            elif word == "at":
                self.keyword("most")
                limit = int_value(self.v[self.expect("I")])
                subject = self.selector()
                rules.append(
                    ast.Rule("at_most", subject, None, limit, self.span(start, self.i - 1))
                )
            else:
                raise Decline
        self.expect("}")
        return ast.Policy(self.v[name], doc, tuple(rules), self.tspan(name))

    def transitions(self) -> ast.Transitions:
        self.i += 1
        entity = self.name()
        self.expect(".")
        field = self.name()
        self.expect("{")
        chains = []
        while True:
            groups = [self.states()]
            while self.k[self.i] == "->":
                self.i += 1
                groups.append(self.states())
            chains.append(tuple(groups))
            if self.k[self.i] == ";":
                self.i += 1
            if self.k[self.i] == "}":
                break
        self.expect("}")
        return ast.Transitions(
            self.v[entity], self.v[field], tuple(chains), self.tspan(entity), self.tspan(field)
        )

    def states(self) -> tuple[tuple[str, ast.Span], ...]:
        states = [self.enum_member()]
        while self.k[self.i] == ",":
            self.i += 1
            states.append(self.enum_member())
        return tuple((value, self.tspan(at)) for value, at in states)

    def selector(self) -> ast.Selector:
        start = self.i
        names: list[tuple[str, ast.Span]] = []
        params: list[tuple[str, ast.Span] | None] = []
        while True:
            at = self.name()
            names.append((self.v[at], self.tspan(at)))
            if self.k[self.i] == "(":
                self.i += 1
                param = self.name()
                self.expect(")")
                params.append((self.v[param], self.tspan(param)))
            else:
                params.append(None)
            if self.k[self.i] != "|":
                break
            self.i += 1
        return ast.Selector(tuple(names), tuple(params), self.span(start, self.i - 1))

    # ---- types

    def type(self) -> ast.TypeRef:
        start = self.i
        name = self.name()
        word = self.v[name]
        args: tuple[ast.TypeRef, ...] = ()
        if word == "list":
            self.expect("<")
            args = (self.type(),)
            self.expect(">")
        elif word == "map":
            self.expect("<")
            key = self.type()
            self.expect(",")
            value = self.type()
            self.expect(">")
            args = (key, value)
        optional = self.k[self.i] == "?"
        if optional:
            self.i += 1
        return ast.TypeRef(word, args, optional, self.span(start, self.i - 1))

    # ---- statements

    def statements(self) -> tuple[ast.Stmt, ...]:
        """Statements up to a closing brace."""
        k, v = self.k, self.v
        out: list[ast.Stmt] = []
        while k[self.i] != "}":
            if k[self.i] != "N":
                raise Decline
            word = v[self.i]
            start = self.i
            self.i += 1
            stmt: ast.Stmt
            if word == "let":
                name = self.name()
                type_ = None
                if k[self.i] == ":":
                    self.i += 1
                    type_ = self.type()
                self.expect("=")
                value = self.expr()
                stmt = ast.Let(v[name], type_, value, self.span(start, self.i - 1))
            elif word == "require":
                condition = self.expr()
                self.keyword("else")
                message = self.expr()
                stmt = ast.Require(condition, message, self.span(start, self.i - 1))
            elif word == "return":
                returned = None
                if k[self.i] != "}" and not (k[self.i] == "N" and v[self.i] in _RETURN_ENDS):
                    returned = self.expr()
                stmt = ast.Return(returned, self.span(start, self.i - 1))
            elif word == "set":
                target = self.target()
                self.expect("=")
                value = self.expr()
                stmt = ast.Set(target, value, self.span(start, self.i - 1))
            elif word == "if":
                stmt = self.if_rest(start)
            elif word == "for":
                var = self.name()
                self.keyword("in")
                iterable = self.expr()
                self.expect("{")
                body = self.statements()
                self.expect("}")
                stmt = ast.For(v[var], iterable, body, self.span(start, self.i - 1))
            elif word == "fail":
                message = self.expr()
                stmt = ast.Fail(message, self.span(start, self.i - 1))
            elif word == "insert":
                insert = self.insert(start)
                stmt = ast.InsertStmt(insert, self.span(start, self.i - 1))
            elif word == "delete":
                target = self.target()
                stmt = ast.Delete(target, self.span(start, self.i - 1))
            else:
                raise Decline
            out.append(stmt)
        return tuple(out)

    def if_rest(self, start: int) -> ast.If:
        condition = self.expr()
        self.expect("{")
        then = self.statements()
        self.expect("}")
        otherwise: tuple[ast.Stmt, ...] = ()
        if self.at_keyword("else"):
            self.i += 1
            if self.at_keyword("if"):
                nested_start = self.i
                self.i += 1
                otherwise = (self.if_rest(nested_start),)
            else:
                self.expect("{")
                otherwise = self.statements()
                self.expect("}")
        return ast.If(condition, then, otherwise, self.span(start, self.i - 1))

    def target(self) -> ast.Target:
        start = self.i
        root = self.name()
        steps: list[ast.AttrStep | ast.IndexStep] = []
        while True:
            kind = self.k[self.i]
            if kind == ".":
                self.i += 1
                at = self.name()
                steps.append(ast.AttrStep(self.v[at], self.tspan(at)))
            elif kind == "[":
                step_start = self.i
                self.i += 1
                key = self.expr()
                self.expect("]")
                steps.append(ast.IndexStep(key, self.span(step_start, self.i - 1)))
            else:
                break
        return ast.Target(
            self.v[root], tuple(steps), self.span(start, self.i - 1), self.tspan(root)
        )

    # ---- expressions

    def expr(self) -> ast.Expr:
        return self.binary(1)

    def binary(self, level: int) -> ast.Expr:
        """Precedence climbing over the operators binding at `level` or tighter (see _LEVELS)."""
        k, v = self.k, self.v
        start = self.i
        left: ast.Expr
        if level <= _NOT_LEVEL and k[start] == "N" and v[start] == "not":
            self.i += 1
            operand = self.binary(_NOT_LEVEL)
            left = ast.Unary("not", operand, self.span(start, self.i - 1))
        else:
            left = self.operand()
        compared = False
        while True:
            kind = k[self.i]
            op = v[self.i] if kind == "N" else kind
            op_level = _LEVELS.get(op)
            if op_level is None or op_level < level:
                return left
            self.i += 1
            if op_level == _COMPARE_LEVEL:
                # Comparisons do not chain: `a < b < c` is a syntax error.
                if compared:
                    raise Decline
                compared = True
                if op == "not":
                    self.keyword("in")
                    op = "not in"
            right = self.binary(op_level + 1)
            left = ast.Binary(op, left, right, self.span(start, self.i - 1))

    def operand(self) -> ast.Expr:
        """A unary expression: minus signs, then an atom and its postfix operations."""
        k = self.k
        start = self.i
        if k[start] == "-":
            self.i += 1
            inner = self.operand()
            return ast.Unary("-", inner, self.span(start, self.i - 1))
        kind = k[start]
        node: ast.Expr
        if kind == "N":
            word = self.v[start]
            self.i = start + 1
            if word in _ATOM_KEYWORDS:
                if word == "insert":
                    node = self.insert(start)
                else:
                    node = ast.Literal(_LITERALS[word], self.tspan(start))
            else:
                node = ast.Name(word, self.tspan(start))
        elif kind == "S":
            self.i = start + 1
            node = ast.Literal(unquote(self.v[start]), self.tspan(start))
        elif kind == "I":
            self.i = start + 1
            node = ast.Literal(int_value(self.v[start]), self.tspan(start))
        elif kind == "F":
            self.i = start + 1
            node = ast.Literal(float(self.v[start]), self.tspan(start))
        elif kind == "(":
            self.i = start + 1
            node = self.binary(1)
            self.expect(")")
        elif kind == "[":
            node = self.list_or_comprehension()
        elif kind == "{":
            node = self.map()
        else:
            raise Decline
        while True:
            kind = k[self.i]
            if kind == ".":
                self.i += 1
                at = self.name()
                node = ast.Member(node, self.v[at], self.span(start, at), self.tspan(at))
            elif kind == "(":
                self.i += 1
                node = ast.Call(node, self.args(), self.span(start, self.i - 1))
            elif kind == "[":
                self.i += 1
                keys = [self.binary(1)]
                while k[self.i] == ",":
                    self.i += 1
                    keys.append(self.binary(1))
                self.expect("]")
                node = ast.Index(node, tuple(keys), self.span(start, self.i - 1))
            else:
                return node

    def list_or_comprehension(self) -> ast.Expr:
        start = self.i
        self.i += 1
        k = self.k
        if k[self.i] == "]":
            self.i += 1
            return ast.ListLit((), self.span(start, start + 1))
        first = self.expr()
        if self.at_keyword("for"):
            self.i += 1
            var = self.name()
            self.keyword("in")
            iterable = self.expr()
            condition = None
            if self.at_keyword("if"):
                self.i += 1
                condition = self.expr()
            self.expect("]")
            return ast.Comprehension(
                first, self.v[var], iterable, condition, self.span(start, self.i - 1)
            )
        items = [first]
        while k[self.i] == ",":
            self.i += 1
            if k[self.i] == "]":
                break
            items.append(self.expr())
        self.expect("]")
        return ast.ListLit(tuple(items), self.span(start, self.i - 1))

    def map(self) -> ast.MapLit:
        start = self.i
        self.i += 1
        k = self.k
        items = []
        if k[self.i] != "}":
            while True:
                key = unquote(self.v[self.expect("S")])
                self.expect(":")
                items.append((key, self.expr()))
                if k[self.i] != ",":
                    break
                self.i += 1
                if k[self.i] == "}":
                    break
        self.expect("}")
        return ast.MapLit(tuple(items), self.span(start, self.i - 1))

    def insert(self, start: int) -> ast.Insert:
        """`insert` NAME ( args ), its keyword at start, already consumed."""
        entity = self.name()
        self.expect("(")
        args = self.args()
        return ast.Insert(self.v[entity], args, self.span(start, self.i - 1), self.tspan(entity))

    def args(self) -> tuple[ast.Arg, ...]:
        """Arguments after an opening parenthesis, through the closing one."""
        k, v = self.k, self.v
        out = []
        if k[self.i] != ")":
            while True:
                start = self.i
                name = None
                if k[start] == "N" and k[start + 1] == ":" and v[start] not in _ARG_KEYWORDS:
                    name = v[start]
                    self.i += 2
                value = self.expr()
                out.append(ast.Arg(name, value, self.span(start, self.i - 1)))
                if k[self.i] != ",":
                    break
                self.i += 1
                if k[self.i] == ")":
                    break
        self.expect(")")
        return tuple(out)
