"""A reference of the spec language for a model to write specs by, generated from the code.

The grammar's rules come from `dsl/grammar.lark` (its sections, rules and comments), the types
from `compiler/types.py`, the field attributes from `compiler/check_entities.py`, the built-ins
(signatures, argument types, keywords) from `compiler/builtins.py` and the diagnostic codes from
`dsl/diagnostics.py`, so the text changes when the language does. What the grammar cannot say
(what a statement or attribute means) is a note per rule or attribute below; tests fail when a
rule, attribute or built-in has none. The example at the end is checked and compiled by a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from envscale.compiler import types as t
from envscale.compiler.builtins import BUILTINS, CONSTANT_CALLS
from envscale.compiler.check_entities import ATTRIBUTES, STRUCT_ATTRIBUTES
from envscale.dsl.diagnostics import CODES
from envscale.dsl.grammar import GRAMMAR

# What a field or parameter attribute means; the argument counts come from the compiler.
ATTRIBUTE_NOTES: dict[str, str] = {
    "key": "the primary key (several @key fields make a composite key)",
    "unique": "no two records share the value",
    "index": "an SQL index on the field",
    "default": "the value when none is given: a constant, or now()/today()",
    "check": "a condition on the record's own fields, an SQL CHECK (holds where the field is none)",
    "external": "the record's address, left out of its shown form",
    "sparse": "an optional field left out of the shown form when none",
    "derived": "computed from the record's other fields on every write; no tool sets it",
    "hidden": "stored and readable in tools, left out of every tool result",
    "choices": "on a str or int tool parameter: the values its schema offers (enum); the body "
    "still checks them",
    "as_written": "a str, int or float field that keeps a value of another of those types "
    "when a tool writes one (an SQL ANY column), as a model that does not validate on "
    "assignment does",
    "as_sent": "on a tool parameter: the argument reaches the body as sent, unvalidated; what "
    "the body cannot do with a value of another type fails the call",
}
PARAMETER_ATTRIBUTES = ("choices", "as_sent")

# What a statement or declaration does beyond its syntax, by grammar rule.
RULE_NOTES: dict[str, str] = {
    "domain_decl": "exactly one per spec: name, description, fixed clock, the agent's policy text",
    "extends": "the spec is a version of the base spec: its declarations replace the base's of "
    "the same kind and name, new ones are added, clock and policy are inherited unless given",
    "remove_decl": "in a spec that extends another, leaves out one of the base's declarations",
    "replace_decl": "in a spec that extends another, a declaration that must take the place of "
    "the base's of the same kind and name (a plain one replaces it too, or is added)",
    "enum_decl": "a closed set of names; `E.member` in expressions",
    "struct_decl": "a nested value stored as JSON; `S(f: ...)` makes one",
    "entity_decl": "a table; needs a @key field; a field typed by another entity is a reference",
    "invariant_decl": "a condition on every record of E (or over the database), checked after "
    "every write that could break it; `else` gives the message",
    "tool_decl": "the tool's description is the first string of the body; reads/writes are "
    "inferred and may be omitted; parameters are the tool's JSON schema",
    "transitions_decl": "every tool write of the field is checked against them",
    "policy_decl": "episode rules: `before S require T` (T must have run first), "
    "`at most N S`; S and T are tool names joined by |, or reads, writes, any",
    "let_stmt": "binds a name; `let o = Order[id]` fails the call when no record has that key",
    "require_stmt": "fails the call with the message unless the condition holds",
    "fail_stmt": "fails the call with the message; the database is left as before the call",
    "set_stmt": "writes a field of a record (paths like o.lines[0].price too)",
    "insert_stmt": "inserts a record, `insert E(field: value, ...)`; as an expression it is the "
    "new record",
    "delete_stmt": "deletes a record (`delete o`) or a map entry (`delete o.map[k]`)",
    "for_stmt": "loops over a list",
    "if_stmt": "branches; `else if` chains",
    "return_stmt": "the tool's result; a tool declaring `-> T` returns on every path",
}

TYPE_NOTES = (
    "Types: {primitives}; an enum, struct or entity name; list<T>; map<K, V> (K str or an "
    "enum); T? is optional (may be none). A field typed by an entity is a reference (its key "
    "plus a foreign key), also inside list<E>, map<K, E> and struct fields; a tool parameter "
    "typed by an entity takes its key. Dates and datetimes are ISO text."
)

EXPRESSION_NOTES = (
    "E[key] looks a record up (a missing key is a tool error); E.get(key) gives it or none; "
    "E.where(field: value, ...) the matching records; E.all() every record. r.field reads a "
    "field and follows references (o.customer.email). [x.f for x in xs if cond] is a "
    'comprehension; {"k": v} a map; S(f: v) a struct value; E.member an enum member. '
    "`x in xs`, `not in`; `and`, `or`, `not` on bools; / is true division, % takes the "
    "divisor's sign; none compares equal only to none, and ordering a none is a tool error. "
    'After `require x != none else "..."` an optional x has its plain type.'
)

RULES_OF_THUMB = (
    "Write every tool as a read or write of the entities: look records up by key, check what "
    'must hold with require ... else "message", then set, insert or delete. New keys come '
    'from next_key(E, "PREFIX", width) or free_key(E, "FIRST"). A tool that fetches outside '
    "information (weather, rates) is a lookup in an entity keyed by its arguments. Names may "
    "not begin with _ or be Python keywords. Strings are double-quoted; comments start with #."
)

EXAMPLE = """\
domain shop "A small web shop." clock "2024-05-15T15:00:00"
  policy "You help customers with their orders. Confirm every change with the customer first."

enum OrderStatus { pending, shipped, cancelled }

struct Line { sku: str  price: float  quantity: int @default(1) }

entity Customer {
  customer_id: str @key
  email:       str @unique "Contact email"
}

entity Order {
  order_id: str @key
  customer: Customer
  status:   OrderStatus @default(pending)
  lines:    list<Line>
  total:    float @check(total >= 0)
  placed:   datetime @default(now())
}

invariant small_orders on Order: len(lines) <= 50 else "An order holds at most 50 lines"

transitions Order.status { pending -> shipped; pending -> cancelled }

tool get_order(order_id: str "The order id, e.g. O0001") -> Order {
  "Look an order up by its id."
  return Order[order_id]
}

tool find_orders(customer_id: str "The customer's id", status: OrderStatus? = none) -> list<Order> {
  "The customer's orders, optionally of one status."
  let c = Customer[customer_id]
  return [o for o in Order.where(customer: c.customer_id) if status == none or o.status == status]
}

tool place_order(customer_id: str, sku: str, price: float, quantity: int = 1) -> Order {
  "Place an order of one item."
  require price > 0 else "The price must be positive"
  require quantity >= 1 else format("Invalid quantity {}", quantity)
  let c = Customer[customer_id]
  return insert Order(order_id: next_key(Order, "O", 4), customer: c.customer_id,
                      lines: [Line(sku: sku, price: price, quantity: quantity)],
                      total: round(price * quantity, 2))
}

tool cancel_order(order_id: str, reason: str @choices("no longer needed", "mistake")) -> Order {
  "Cancel a pending order."
  let o = Order[order_id]
  require o.status == pending else "Only pending orders can be cancelled"
  set o.status = cancelled
  return o
}

policy identify "Look the order up before changing it." {
  before cancel_order require get_order
}
"""


@dataclass(frozen=True)
class Rule:
    name: str  # as the grammar spells it, without the leading `?`
    alternatives: tuple[str, ...]
    notes: tuple[str, ...]  # the grammar's own comments on it


def _clean(text: str) -> tuple[str, str | None]:
    """A grammar line without its `-> alias` and with its `//` comment apart."""
    comment = None
    if "//" in text:
        text, comment = text.split("//", 1)
        comment = comment.strip().rstrip(".")
    text = re.sub(r"\s*->\s*\w+\s*$", "", text.rstrip())
    return " ".join(text.split()), comment


_RULE_START = re.compile(r"^[?!]?([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)$")
_SECTION = re.compile(r"^//\s*-+\s*([a-z ]+?)\s*-+\s*$")


def grammar_sections(text: str) -> list[tuple[str, list[Rule]]]:
    """The grammar's rules and tokens by its `// ---- section ----` headers."""
    sections: list[tuple[str, list[Rule]]] = [("start", [])]
    current: list[tuple[str, list[str], list[str]]] = []

    def flush() -> None:
        for name, alts, notes in current:
            sections[-1][1].append(Rule(name, tuple(alts), tuple(notes)))
        current.clear()

    pending_notes: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("%"):
            continue
        if m := _SECTION.match(stripped):
            flush()
            sections.append((m.group(1), []))
            pending_notes.clear()
            continue
        if stripped.startswith("//"):
            # The file's header is about the parser, not the language.
            if sections[-1][0] != "start":
                pending_notes.append(stripped.lstrip("/ ").rstrip("."))
            continue
        if (m := _RULE_START.match(line)) and not line[0].isspace():
            body, comment = _clean(m.group(2))
            notes = [*pending_notes, *([comment] if comment else [])]
            pending_notes.clear()
            current.append((m.group(1), [body] if body else [], notes))
        elif stripped.startswith("|") and current:
            body, comment = _clean(stripped[1:])
            current[-1][1].append(body)
            if comment:
                current[-1][2].append(comment)
    flush()
    return [(name, rules) for name, rules in sections if rules]


def _type_name(ty: t.Type) -> str:
    return str(ty)


def builtin_lines() -> list[str]:
    lines = []
    for b in BUILTINS.values():
        extra = []
        if b.params:
            shown = [_type_name(p) for p in b.params[: b.max_args]]
            extra.append("arguments " + ", ".join(shown))
        if b.keywords:
            extra.append("keywords " + ", ".join(f"{k}:" for k in b.keywords))
        if b.returns is not None:
            extra.append(f"gives {_type_name(b.returns)}")
        if b.name in CONSTANT_CALLS:
            extra.append("may be a field @default")
        if b.sql is not None:
            extra.append("usable in @check")
        extra.append(b.arity)
        lines.append(f"- {b.summary} [{'; '.join(extra)}]")
    return lines


def attribute_lines() -> list[str]:
    lines = []
    for name, count in ATTRIBUTES.items():
        form = f"@{name}(...)" if count else f"@{name}"
        where = "fields of entities and structs" if name in STRUCT_ATTRIBUTES else "entity fields"
        lines.append(f"- {form}: {ATTRIBUTE_NOTES[name]} ({where})")
    for name in PARAMETER_ATTRIBUTES:
        form = f"@{name}(v, ...)" if name == "choices" else f"@{name}"
        lines.append(f"- {form}: {ATTRIBUTE_NOTES[name]} (tool parameters)")
    return lines


def _rule_text(rule: Rule) -> str:
    head = f"{rule.name}: " + (rule.alternatives[0] if rule.alternatives else "")
    rest = [f"    | {alt}" for alt in rule.alternatives[1:]]
    notes = list(rule.notes)
    if rule.name in RULE_NOTES:
        notes.append(RULE_NOTES[rule.name])
    text = "\n".join([head, *rest])
    if notes:
        text += "\n    # " + "; ".join(notes)
    return text


@cache
def language_reference() -> str:
    """The whole reference as plain text."""
    parts = [
        "# The envscale spec language",
        "A spec is one .domain file: a domain declaration, then enums, structs, entities, "
        "invariants, transitions, tools and policies in any order. The grammar below is Lark "
        "EBNF: quoted text is literal, [x] optional, x* repeated, NAME/STRING/INT/FLOAT tokens.",
    ]
    for section, rules in grammar_sections(GRAMMAR.read_text(encoding="utf-8")):
        parts.append(f"## {section.capitalize()}")
        if section == "types":
            parts.append(TYPE_NOTES.format(primitives=" ".join(t.PRIMITIVES)))
        if section == "expressions":
            parts.append(EXPRESSION_NOTES)
        parts.append("\n".join(_rule_text(rule) for rule in rules))
    parts.append("## Attributes\n" + "\n".join(attribute_lines()))
    parts.append("## Built-in functions\n" + "\n".join(builtin_lines()))
    parts.append("## How to write tools\n" + RULES_OF_THUMB)
    parts.append("## Example\n```\n" + EXAMPLE + "```")
    parts.append(
        "## Diagnostic codes\n" + "\n".join(f"{code} {meaning}" for code, meaning in CODES.items())
    )
    return "\n\n".join(parts) + "\n"
