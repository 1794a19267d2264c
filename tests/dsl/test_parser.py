"""The parser: every construct of the grammar becomes the expected AST, with its span."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from envscale.dsl import ast
from envscale.dsl.parser import parse, parse_with_lark

FIXTURES = Path(__file__).parent / "fixtures"


def parse_ok(source: str) -> ast.Module:
    module, diagnostics = parse(source, "t.domain")
    assert module is not None, diagnostics
    assert diagnostics == []
    return module


def decls(source: str) -> tuple[ast.Decl, ...]:
    return parse_ok(source).declarations


def plain(node: Any) -> Any:
    """A node without its spans, for comparing shapes."""
    if isinstance(node, ast.Span):
        return None
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (
            type(node).__name__,
            {
                f.name: plain(getattr(node, f.name))
                for f in dataclasses.fields(node)
                if "span" not in f.name
            },
        )
    if isinstance(node, tuple):
        return tuple(plain(x) for x in node)
    return node


def sexpr(e: Any) -> str:
    """A compact prefix form of an expression: precedence made visible."""
    match e:
        case ast.Literal(value=str() as v):
            return repr(v)
        case ast.Literal(value=v):
            return repr(v)
        case ast.Name(id=name):
            return name
        case ast.Member(obj=obj, attr=attr):
            return f"(. {sexpr(obj)} {attr})"
        case ast.Index(obj=obj, keys=keys):
            return f"([] {sexpr(obj)} {' '.join(sexpr(k) for k in keys)})"
        case ast.Call(func=func, args=args):
            return f"(call {sexpr(func)}{''.join(' ' + sexpr(a) for a in args)})"
        case ast.Arg(name=None, value=value):
            return sexpr(value)
        case ast.Arg(name=name, value=value):
            return f"{name}={sexpr(value)}"
        case ast.Unary(op=op, operand=operand):
            return f"({op} {sexpr(operand)})"
        case ast.Binary(op=op, left=left, right=right):
            return f"({op} {sexpr(left)} {sexpr(right)})"
        case ast.ListLit(items=items):
            return "[" + " ".join(sexpr(i) for i in items) + "]"
        case ast.MapLit(items=items):
            return "{" + " ".join(f"{k!r}:{sexpr(v)}" for k, v in items) + "}"
        case ast.Comprehension(element=el, var=var, iterable=it, condition=cond):
            tail = f" if {sexpr(cond)}" if cond is not None else ""
            return f"[{sexpr(el)} for {var} in {sexpr(it)}{tail}]"
        case ast.Insert(entity=entity, args=args):
            return f"(insert {entity}{''.join(' ' + sexpr(a) for a in args)})"
    raise AssertionError(e)


def expr(text: str) -> ast.Expr:
    (tool,) = decls(f"tool t() {{ return {text} }}")
    assert isinstance(tool, ast.Tool)
    (ret,) = tool.body
    assert isinstance(ret, ast.Return) and ret.value is not None
    return ret.value


def body(text: str) -> tuple[ast.Stmt, ...]:
    (tool,) = decls(f"tool t() {{ {text} }}")
    assert isinstance(tool, ast.Tool)
    return tool.body


def tref(name: str, *args: Any, optional: bool = False) -> Any:
    return ("TypeRef", {"name": name, "args": tuple(args), "optional": optional})


# ---- declarations ------------------------------------------------------------


def test_domain_with_clock_and_inline_policy() -> None:
    (d,) = decls('domain shop "A shop." clock "2024-05-15T15:00:00" policy "Be nice."')
    assert isinstance(d, ast.Domain)
    assert (d.name, d.description, d.clock, d.policy, d.policy_file) == (
        "shop",
        "A shop.",
        "2024-05-15T15:00:00",
        "Be nice.",
        None,
    )
    assert (d.span.line, d.span.column, d.span.end_column) == (1, 8, 12)
    assert d.clock_span is not None and d.clock_span.column == 29
    assert d.policy_span is not None and d.policy_span.column == 58


def test_domain_with_policy_file_and_no_clock() -> None:
    (d,) = decls('domain shop "A shop." policy from "shop.policy.md"')
    assert isinstance(d, ast.Domain)
    assert (d.clock, d.policy, d.policy_file) == (None, None, "shop.policy.md")


def test_bare_domain() -> None:
    (d,) = decls('domain shop "A shop."')
    assert isinstance(d, ast.Domain)
    assert (d.clock, d.policy, d.policy_file, d.clock_span, d.policy_span) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_enum_with_doc_and_trailing_comma() -> None:
    (e,) = decls('enum Status "Order states." { pending, delivered , cancelled, }')
    assert isinstance(e, ast.Enum)
    assert (e.name, e.doc, e.members) == (
        "Status",
        "Order states.",
        ("pending", "delivered", "cancelled"),
    )
    assert [s.column for s in e.member_spans] == [31, 40, 52]


def test_struct() -> None:
    (s,) = decls('struct Item "a line item" { sku: str  price: float "unit price" }')
    assert plain(s) == (
        "Struct",
        {
            "name": "Item",
            "doc": "a line item",
            "fields": (
                ("Field", {"name": "sku", "type": tref("str"), "attributes": (), "doc": None}),
                (
                    "Field",
                    {"name": "price", "type": tref("float"), "attributes": (), "doc": "unit price"},
                ),
            ),
        },
    )


def test_entity_field_types() -> None:
    (e,) = decls("""
        entity Order {
          id: str
          n: int
          ok: bool?
          user: User
          items: list<Item>
          tags: map<str, int>?
          nested: list<map<str, list<int?>>>
        }
    """)
    assert isinstance(e, ast.Entity)
    assert [plain(f.type) for f in e.fields] == [
        tref("str"),
        tref("int"),
        tref("bool", optional=True),
        tref("User"),
        tref("list", tref("Item")),
        tref("map", tref("str"), tref("int"), optional=True),
        tref("list", tref("map", tref("str"), tref("list", tref("int", optional=True)))),
    ]


def test_entity_every_attribute() -> None:
    (e,) = decls("""
        entity User "People." {
          user_id: str @key
          email: str @unique "Contact email"
          name: str @index
          tags: list<str> @default([])
          total: float @check(total >= 0) @default(0.0)
          odd: int @custom(1, x: 2,)
        }
    """)
    assert isinstance(e, ast.Entity)
    assert e.doc == "People."
    got = {f.name: [(a.name, [sexpr(x) for x in a.args]) for a in f.attributes] for f in e.fields}
    assert got == {
        "user_id": [("key", [])],
        "email": [("unique", [])],
        "name": [("index", [])],
        "tags": [("default", ["[]"])],
        "total": [("check", ["(>= total 0)"]), ("default", ["0.0"])],
        "odd": [("custom", ["1", "x=2"])],
    }
    assert e.fields[1].doc == "Contact email"
    key = e.fields[0].attributes[0]
    assert (key.span.line, key.span.column, key.span.end_column) == (3, 24, 28)


def test_composite_key() -> None:
    (e,) = decls("entity Shelf { room: str @key  slot: int @key  label: str? }")
    assert isinstance(e, ast.Entity)
    assert [f.name for f in e.fields if any(a.name == "key" for a in f.attributes)] == [
        "room",
        "slot",
    ]


def test_invariant_with_and_without_on() -> None:
    on, off = decls("""
        invariant nonneg on Order: total >= 0 else "negative total"
        invariant few: count(Order.all()) < 10 else format("{} orders", 10)
    """)
    assert isinstance(on, ast.Invariant) and isinstance(off, ast.Invariant)
    assert (on.name, on.entity, sexpr(on.condition), sexpr(on.message)) == (
        "nonneg",
        "Order",
        "(>= total 0)",
        "'negative total'",
    )
    assert on.entity_span is not None and (on.entity_span.line, on.entity_span.column) == (2, 29)
    assert (off.entity, off.entity_span) == (None, None)
    assert sexpr(off.condition) == "(< (call count (call (. Order all))) 10)"


def test_tool_signature() -> None:
    (tool,) = decls("""
        tool cancel(order_id: str "The id", reason: str = "no" "Why", n: int = -1,) -> Order?
            reads User, Item writes Order reads Log {
          "Cancel an order."
          return none
        }
    """)
    assert isinstance(tool, ast.Tool)
    assert tool.name == "cancel" and tool.doc == "Cancel an order."
    assert [(p.name, p.type.name, p.doc) for p in tool.params] == [
        ("order_id", "str", "The id"),
        ("reason", "str", "Why"),
        ("n", "int", None),
    ]
    assert [sexpr(p.default) if p.default else None for p in tool.params] == [None, "'no'", "(- 1)"]
    assert plain(tool.returns) == tref("Order", optional=True)
    assert [(e.kind, [n for n, _ in e.entities]) for e in tool.effects] == [
        ("reads", ["User", "Item"]),
        ("writes", ["Order"]),
        ("reads", ["Log"]),
    ]
    assert (tool.name_span.line, tool.name_span.column) == (2, 14)
    assert (tool.span.line, tool.span.column, tool.span.end_line) == (2, 9, 6)


def test_tool_without_params_return_effects_or_doc() -> None:
    (tool,) = decls("tool ping() { }")
    assert isinstance(tool, ast.Tool)
    assert (tool.params, tool.returns, tool.effects, tool.doc, tool.body) == (
        (),
        None,
        (),
        None,
        (),
    )


def test_tool_doc_is_only_the_first_string() -> None:
    (tool,) = decls('tool t() { "doc" fail "no" }')
    assert isinstance(tool, ast.Tool)
    assert tool.doc == "doc"
    assert plain(tool.body) == (("Fail", {"message": ("Literal", {"value": "no"})}),)


def test_policy_rules() -> None:
    (p,) = decls("""
        policy identify "Identify first" {
          before writes require get_user | find_user
          at most 2 cancel | refund
          before any require auth
        }
    """)
    assert isinstance(p, ast.Policy)
    assert (p.name, p.doc) == ("identify", "Identify first")
    got = [
        (
            r.kind,
            [n for n, _ in r.subject.names],
            [n for n, _ in r.requirement.names] if r.requirement else None,
            r.limit,
        )
        for r in p.rules
    ]
    assert got == [
        ("before", ["writes"], ["get_user", "find_user"], None),
        ("at_most", ["cancel", "refund"], None, 2),
        ("before", ["any"], ["auth"], None),
    ]
    assert (p.rules[1].span.line, p.rules[1].span.column) == (4, 11)
    assert p.rules[0].requirement is not None
    assert [s.column for _, s in p.rules[0].requirement.names] == [33, 44]


def test_policy_rules_bind_parameters() -> None:
    (p,) = decls("""
        policy own {
          before writes | cancel(order_id) require verify(user_id) | admin
        }
    """)
    assert isinstance(p, ast.Policy)
    (rule,) = p.rules
    assert rule.requirement is not None
    assert [n for n, _ in rule.subject.names] == ["writes", "cancel"]
    assert [b and b[0] for b in rule.subject.params] == [None, "order_id"]
    assert [b and b[0] for b in rule.requirement.params] == ["user_id", None]
    bound = rule.requirement.params[0]
    assert bound is not None and (bound[1].line, bound[1].column) == (3, 59)
    # The selector spans its closing parenthesis.
    assert (rule.subject.span.column, rule.subject.span.end_column) == (18, 43)


def test_all_declarations_in_order() -> None:
    module = parse_ok((FIXTURES / "mini.domain").read_text(encoding="utf-8"))
    assert [type(d).__name__ for d in module.declarations] == [
        "Domain",
        "Enum",
        "Struct",
        "Entity",
        "Entity",
        "Invariant",
        "Tool",
        "Tool",
        "Policy",
    ]


# ---- statements --------------------------------------------------------------


def test_let_with_and_without_type() -> None:
    a, b = body("let x = 1  let y: list<int>? = none")
    assert plain(a) == ("Let", {"name": "x", "type": None, "value": ("Literal", {"value": 1})})
    assert isinstance(b, ast.Let)
    assert plain(b.type) == tref("list", tref("int"), optional=True)


def test_require_and_fail() -> None:
    r, f = body('require x > 0 else format("bad {}", x)  fail "no"')
    assert isinstance(r, ast.Require) and isinstance(f, ast.Fail)
    assert (sexpr(r.condition), sexpr(r.message)) == ("(> x 0)", "(call format 'bad {}' x)")
    assert sexpr(f.message) == "'no'"


def test_set_targets() -> None:
    a, b, c = body('set x = 1  set o.status = cancelled  set o.items[i + 1].tags["k"] = 2')
    assert isinstance(a, ast.Set) and isinstance(b, ast.Set) and isinstance(c, ast.Set)
    assert (a.target.root, a.target.steps) == ("x", ())
    assert [s.name for s in b.target.steps if isinstance(s, ast.AttrStep)] == ["status"]
    steps = c.target.steps
    assert [type(s).__name__ for s in steps] == ["AttrStep", "IndexStep", "AttrStep", "IndexStep"]
    assert isinstance(steps[1], ast.IndexStep) and sexpr(steps[1].key) == "(+ i 1)"
    assert (c.target.root_span.column, c.target.span.column) == (53, 53)


def test_insert_statement_and_delete() -> None:
    ins, dele, dele_item = body(
        'insert Order(order_id: "x", total: 1.5)  delete o  delete o.items[0]'
    )
    assert isinstance(ins, ast.InsertStmt)
    assert sexpr(ins.insert) == "(insert Order order_id='x' total=1.5)"
    assert ins.insert.entity_span.column == 19
    assert isinstance(dele, ast.Delete) and dele.target.root == "o"
    assert isinstance(dele_item, ast.Delete) and len(dele_item.target.steps) == 2


def test_for() -> None:
    (loop,) = body("for i in o.items { set t = t + i.price  delete i }")
    assert isinstance(loop, ast.For)
    assert (loop.var, sexpr(loop.iterable)) == ("i", "(. o items)")
    assert [type(s).__name__ for s in loop.body] == ["Set", "Delete"]


def test_if_else_if_else() -> None:
    (stmt,) = body('if a { fail "a" } else if b { return 1 } else { set x = 2 }')
    assert isinstance(stmt, ast.If)
    assert sexpr(stmt.condition) == "a"
    assert [type(s).__name__ for s in stmt.then] == ["Fail"]
    (nested,) = stmt.otherwise
    assert isinstance(nested, ast.If)
    assert sexpr(nested.condition) == "b"
    assert [type(s).__name__ for s in nested.otherwise] == ["Set"]


def test_if_without_else() -> None:
    (stmt,) = body("if a { }")
    assert isinstance(stmt, ast.If)
    assert (stmt.then, stmt.otherwise) == ((), ())


def test_return_with_and_without_value() -> None:
    a, b = body("return  return 1")
    assert plain(a) == ("Return", {"value": None})
    assert plain(b) == ("Return", {"value": ("Literal", {"value": 1})})


# ---- expressions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "1"),
        ("2.5", "2.5"),
        ("1.5e3", "1500.0"),
        ('"s"', "'s'"),
        ('"a\\"b\\n"', "'a\"b\\n'"),
        ("true", "True"),
        ("false", "False"),
        ("none", "None"),
        ("x", "x"),
        ("(x)", "x"),
        ("-x", "(- x)"),
        ("--x", "(- (- x))"),
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("8 / 4 % 3", "(% (/ 8 4) 3)"),
        ("-a * b", "(* (- a) b)"),
        ("a + b == c * d", "(== (+ a b) (* c d))"),
        ("a != b", "(!= a b)"),
        ("a <= b", "(<= a b)"),
        ("a >= b", "(>= a b)"),
        ("a < b", "(< a b)"),
        ("a > b", "(> a b)"),
        ("a or b and c", "(or a (and b c))"),
        ("a and b or c", "(or (and a b) c)"),
        ("a or b or c", "(or (or a b) c)"),
        ("not a and b", "(and (not a) b)"),
        ("not not a", "(not (not a))"),
        ("not a == b", "(not (== a b))"),
        ("x in [1, 2]", "(in x [1 2])"),
        ("x not in ys", "(not in x ys)"),
        ("not x in ys", "(not (in x ys))"),
        ("a + 1 in ys and b", "(and (in (+ a 1) ys) b)"),
        ("[]", "[]"),
        ("[1, 2, 3,]", "[1 2 3]"),
        ("[[1], []]", "[[1] []]"),
        ("[i.price for i in o.items]", "[(. i price) for i in (. o items)]"),
        ("[i for i in xs if i > 0]", "[i for i in xs if (> i 0)]"),
        ("{}", "{}"),
        ('{"a": 1, "b": x + 1,}', "{'a':1 'b':(+ x 1)}"),
        ("Order[id]", "([] Order id)"),
        ("Shelf[room, slot]", "([] Shelf room slot)"),
        ("o.user.email", "(. (. o user) email)"),
        ("f()", "(call f)"),
        ('f(1, by: "x", desc: true,)', "(call f 1 by='x' desc=True)"),
        ("Order.where(user: u)", "(call (. Order where) user=u)"),
        ("a.b[1](x).c", "(. (call ([] (. a b) 1) x) c)"),
        ("xs[0][1]", "([] ([] xs 0) 1)"),
        ("-o.total", "(- (. o total))"),
        ('insert Order(order_id: "x")', "(insert Order order_id='x')"),
        ("insert Log()", "(insert Log)"),
        ("len([insert Log()]) + 1", "(+ (call len [(insert Log)]) 1)"),
    ],
)
def test_expression(text: str, expected: str) -> None:
    assert sexpr(expr(text)) == expected


def test_expression_spans() -> None:
    e = expr("a.b + f(x, 1)")
    # "tool t() { return " is 18 characters: the expression starts at column 19.
    assert isinstance(e, ast.Binary)
    assert (e.span.line, e.span.column, e.span.end_column) == (1, 19, 32)
    assert isinstance(e.left, ast.Member)
    assert (e.left.span.column, e.left.span.end_column) == (19, 22)
    assert (e.left.attr_span.column, e.left.attr_span.end_column) == (21, 22)
    assert isinstance(e.right, ast.Call)
    assert (e.right.span.column, e.right.span.end_column) == (25, 32)
    assert [a.span.column for a in e.right.args] == [27, 30]


def test_multiline_spans() -> None:
    module = parse_ok('domain d "x"\n\ntool t() {\n  let x =\n    1 +\n    2\n}\n')
    tool = module.declarations[1]
    assert isinstance(tool, ast.Tool)
    (let,) = tool.body
    assert isinstance(let, ast.Let)
    assert (let.span.line, let.span.column, let.span.end_line, let.span.end_column) == (4, 3, 6, 6)
    assert (let.value.span.line, let.value.span.column, let.value.span.end_line) == (5, 5, 6)


def test_insert_as_expression_in_let() -> None:
    (let,) = body('let n = insert Order(order_id: "x")')
    assert isinstance(let, ast.Let) and isinstance(let.value, ast.Insert)
    assert let.value.entity == "Order"


# ---- lexical -----------------------------------------------------------------


def test_comments_are_ignored() -> None:
    with_comments = parse_ok("""
        # leading comment
        domain d "x"  # trailing
        entity E {  # here
          k: str @key # a key
          # between fields
        }
        tool t() { return "# not a comment" } # after
    """)
    without = parse_ok(
        """domain d "x" entity E { k: str @key } tool t() { return "# not a comment" }"""
    )
    assert plain(with_comments.declarations) == plain(without.declarations)


def test_triple_quoted_strings_are_dedented() -> None:
    (d,) = decls(
        'domain d "x" policy """\n    First line.\n      Indented more.\n    Last "quoted" '
        'line.\n  """'
    )
    assert isinstance(d, ast.Domain)
    assert d.policy == 'First line.\n  Indented more.\nLast "quoted" line.'


def test_single_line_triple_quoted_string() -> None:
    (d,) = decls('domain d """one line"""')
    assert isinstance(d, ast.Domain) and d.description == "one line"


def test_keywords_are_contextual() -> None:
    """Where only a name can follow, a keyword of the spec language is read as a name."""
    (e,) = decls("entity E { on: str @key  at: int  policy: str  most: int  clock: str }")
    assert isinstance(e, ast.Entity)
    assert [f.name for f in e.fields] == ["on", "at", "policy", "most", "clock"]
    assert sexpr(expr("o.on + at")) == "(+ (. o on) at)"


def test_keyword_out_of_place_is_named_in_the_hint() -> None:
    module, diagnostics = parse('domain d "x"\nlet x = 1', "t.domain")
    assert module is None
    (d,) = diagnostics
    assert (d.code, d.span.line, d.span.column) == ("E001", 2, 1)
    assert d.hint is not None and d.hint.startswith("'let' is a reserved word; expected")


def test_empty_source_parses_to_no_declarations() -> None:
    assert parse_ok("").declarations == ()
    assert parse_ok("  # only a comment\n").declarations == ()


def test_a_keyword_running_into_a_name_is_a_syntax_error() -> None:
    # Where only `in` may follow, Lark's contextual lexer would read `index` as `in dex`.
    source = 'tool t(reason: str) -> bool { return reason index ["a"] }'
    for module, diagnostics in (parse(source, "t.domain"), parse_with_lark(source, "t.domain")):
        assert module is None
        assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("E001", 1, 45)]
