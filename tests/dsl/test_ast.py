"""The generic visit of the AST: children from the dataclass fields, walk, height."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from envscale.dsl import ast
from envscale.dsl.parser import parse

ROOT = Path(__file__).resolve().parents[2]

SOURCE = """
domain d "x"
entity E { id: str @key @check(len(id) > 0)  tags: map<str, list<int>> }
tool t(n: int = 1 + 2) -> int writes E {
  let m = {"a": [n, -n]}
  for k in keys(m) { if k != "a" { set m[k] = [n] } else { delete m[k] } }
  require not (n in [x * 2 for x in range(3) if x > 0]) else "no"
  insert E(id: "e", tags: m)
  return E["e"].id.len
}
"""


def module() -> ast.Module:
    parsed, diagnostics = parse(SOURCE, "t.domain")
    assert parsed is not None, diagnostics
    return parsed


def _reachable_by_fields(node: object) -> list[object]:
    """Every node under `node`, found by reading all of its fields, whatever their declared type."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):
            stack.extend(current)
        elif dataclasses.is_dataclass(current) and not isinstance(current, ast.Span):
            found.append(current)
            stack.extend(getattr(current, f.name) for f in dataclasses.fields(current))
    return found


def test_walk_reaches_every_node_that_the_fields_hold() -> None:
    for spec in [
        SOURCE,
        *(p.read_text(encoding="utf-8") for p in (ROOT / "specs").glob("*.domain")),
    ]:
        parsed, _ = parse(spec, "t.domain")
        assert parsed is not None
        walked = list(ast.walk(parsed))
        assert sorted(map(id, walked)) == sorted(map(id, _reachable_by_fields(parsed)))
        assert all(isinstance(n, ast.NODE_TYPES) for n in walked)


def test_walk_is_preorder_in_source_order() -> None:
    tool = next(d for d in module().declarations if isinstance(d, ast.Tool))
    names = [n.id for n in ast.walk(tool) if isinstance(n, ast.Name)]
    assert names == ["n", "n", "keys", "m", "k", "k", "n", "k", "n", "x", "range", "x", "m", "E"]
    spans = [(n.span.line, n.span.column) for n in ast.walk(*tool.body) if isinstance(n, ast.Stmt)]
    assert spans == sorted(spans)


def test_children_follow_the_fields() -> None:
    call = ast.Call(ast.Name("f", _SPAN), (ast.Arg(None, ast.Literal(1, _SPAN), _SPAN),), _SPAN)
    assert ast.children(call) == [call.func, call.args[0]]
    mapping = ast.MapLit((("a", call), ("b", call.func)), _SPAN)
    assert ast.children(mapping) == [call, call.func]
    assert ast.children(ast.Literal("x", _SPAN)) == []
    effect = ast.Effect("reads", (("E", _SPAN),), _SPAN)
    assert ast.children(effect) == []


def test_height_counts_nodes_on_the_longest_path() -> None:
    leaf = ast.Literal(1, _SPAN)
    assert ast.height(leaf) == 1
    chain: ast.Expr = leaf
    for _ in range(500):  # deeper than the recursion limit allows a recursive count
        chain = ast.Unary("-", chain, _SPAN)
    assert ast.height(chain) == 501
    assert ast.height(ast.Binary("+", chain, leaf, _SPAN)) == 502


_SPAN = ast.Span("t.domain", 1, 1, 1, 2)
