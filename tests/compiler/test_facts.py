"""The check facts of the manifest: small structured readings of each check's conjuncts."""

from __future__ import annotations

import json

from envscale.api import compile_source

SPEC = """
domain d "Facts." clock "2024-05-15T12:00:00"
entity Leg {
  code: str @key @check(len(code) == 6)
  origin: str @check(len(origin) >= 3 and len(origin) <= 4)
  destination: str @check(destination != origin and 3 == len(destination))
  low: int @check(0 <= low)
  high: int @check(high <= 100 and low <= high)
  size: str @check(size in ["S", "M", "L"])
  note: str @check(note != "" or low > 5)
  rate: float @check(rate > -1.5)
}
invariant ordered on Leg: low < high else "low below high"
"""


def facts() -> list[dict]:
    files, diagnostics, _ = compile_source(SPEC, "d.domain")
    assert files is not None, [d.message for d in diagnostics]
    return json.loads(files["manifest.json"])["entities"]["Leg"]["facts"]


def test_each_known_conjunct_is_one_fact():
    found = [{k: v for k, v in fact.items() if k != "check"} for fact in facts()]
    assert found == [
        {"field": "code", "of": "len", "op": "==", "value": 6},
        {"field": "origin", "of": "len", "op": ">=", "value": 3},
        {"field": "origin", "of": "len", "op": "<=", "value": 4},
        {"field": "destination", "op": "!=", "other": "origin"},
        {"field": "destination", "of": "len", "op": "==", "value": 3},
        {"field": "low", "op": ">=", "value": 0},
        {"field": "high", "op": "<=", "value": 100},
        {"field": "low", "op": "<=", "other": "high"},
        {"field": "size", "op": "in", "values": ["S", "M", "L"]},
        {"field": "rate", "op": ">", "value": -1.5},
        {"field": "low", "op": "<", "other": "high"},
    ]


def test_facts_name_their_check():
    checks = [fact["check"] for fact in facts()]
    assert checks[0] == "Leg.code#1 (d.domain)"
    assert checks[-1] == "ordered (d.domain)"
