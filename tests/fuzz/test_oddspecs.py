"""Generated odd-but-valid specs run end to end, and the attack reports a stage that breaks."""

from __future__ import annotations

import json

import pytest

from envscale.compiler.build import compile_source
from envscale.fuzz import oddspecs
from envscale.fuzz.report import ESCAPED_EXCEPTION, FAILED_LATER, STATE_CHANGED
from envscale.fuzz.specgen import odd_spec
from envscale.runtime.environment import CallResult, Environment


def test_generated_specs_pass_check_and_differ() -> None:
    texts = [odd_spec(seed) for seed in range(1000, 1100)]  # beyond the seeds run below
    assert len(set(texts)) == len(texts)
    assert odd_spec(1007) == texts[7]  # the same seed, the same text
    for seed, text in enumerate(texts, 1000):
        files, diagnostics, _ = compile_source(text, "odd.domain")
        assert files is not None, (seed, [f"{d.code} {d.message}" for d in diagnostics])


def test_generated_specs_cover_the_language() -> None:
    text = "\n".join(odd_spec(seed) for seed in range(300))
    for piece in [
        "map<",
        "list<",
        "?",
        "@unique",
        "@index",
        "@default(now())",
        "@check(",
        "@external",
        "@sparse",
        "invariant",
        ".where(",
        ".all()",
        ".get(",
        "insert ",
        "delete ",
        "for ",
        "else if",
        "require ",
        "fail ",
        "next_key(",
        "format(",
        "evaluate(",
        "@choices(",
        "before writes require",
        "at most",
        "sorted(",
        "days_between(",
        "tool ",
        "() ->",
    ]:
        assert piece in text, piece


NEWER = {
    "@derived(": "@derived(",
    "@hidden": "@hidden",
    "transitions": "\ntransitions ",
    "add_hours": "add_hours(",
    "add_minutes": "add_minutes(",
    "hours_between": "hours_between(",
    "minutes_between": "minutes_between(",
    "money": "money(",
    "a format spec": "{:,.2f}",
}


def _refs(shape: object, inside: str = "") -> set[str]:
    """Where a manifest shape holds a reference: "list", "map" or "" (the node itself)."""
    if not isinstance(shape, dict):
        return set()
    found = {inside} if shape.get("ref") else set()
    for kind in ("list", "map"):
        found |= _refs(shape.get(kind), inside or kind)
    return found


def test_generated_specs_use_the_newer_language_at_a_fair_share() -> None:
    """Each newer piece in a fair share of generated specs: read from the texts and, for
    references in collections and structs, from the compiled manifests."""
    texts = [odd_spec(seed) for seed in range(200)]
    shares = {name: sum(piece in t for t in texts) / len(texts) for name, piece in NEWER.items()}
    held: dict[str, int] = {"list<E>": 0, "map<K, E>": 0, "an entity in a struct": 0}
    for text in texts[:80]:
        manifest = json.loads(compile_source(text, "odd.domain")[0]["manifest.json"])
        fields = [f for info in manifest["entities"].values() for f in info["fields"]]
        where = set().union(*(_refs(f.get("shape")) for f in fields))
        held["list<E>"] += "list" in where
        held["map<K, E>"] += "map" in where
        struct_fields = [f for fs in manifest.get("structs", {}).values() for f in fs]
        held["an entity in a struct"] += any(_refs(f.get("shape")) for f in struct_fields)
    shares |= {name: n / 80 for name, n in held.items()}
    rare = {name: share for name, share in shares.items() if share < 0.1}
    assert not rare, shares


def test_a_few_hundred_generated_specs_run_end_to_end() -> None:
    tally = oddspecs.run(200, 0)
    assert tally.tried == 200
    assert tally.problems == 0, [f"{p.kind}: {p.detail}\n{p.reproducer}" for p in tally.examples]


GENERATE = oddspecs.generate_data


def _fewer_silently(domain, seed, size, notes):
    data = GENERATE(domain, seed, size, notes=notes)
    return {name: records[:-1] for name, records in data.items()}


def _broken_record(domain, seed, size, notes):
    data = GENERATE(domain, seed, size, notes=notes)
    for records in data.values():
        if records:
            records[0] = {**records[0], "no_such_field": 1}
    return data


def _raising_call(self, name, arguments=None, side="agent"):
    raise RuntimeError("boom")


def _rollback_keeping_changes(self, name, message, saved=True):
    if saved:
        self.db.end_savepoint(keep=True)
    self.db.touched_in_call = []
    return CallResult(name, False, error=message)


def _raising_compile(text, file):
    raise RecursionError("deep")


@pytest.mark.parametrize(
    ("target", "name", "replacement", "kind", "words"),
    [
        (oddspecs, "generate_data", _fewer_silently, FAILED_LATER, "no word of why"),
        (oddspecs, "generate_data", _broken_record, FAILED_LATER, "generated data refused"),
        (Environment, "call", _raising_call, FAILED_LATER, "boom"),
        (Environment, "_rollback", _rollback_keeping_changes, STATE_CHANGED, "failed with"),
        (oddspecs, "compile_source", _raising_compile, ESCAPED_EXCEPTION, "check raised"),
    ],
)
def test_a_broken_stage_is_reported(monkeypatch, target, name, replacement, kind, words) -> None:
    monkeypatch.setattr(target, name, replacement)
    tally = oddspecs.run(15, 0)
    assert tally.counts.get(kind, 0) > 0, tally
    assert any(words in p.detail for p in tally.examples if p.kind == kind), tally.examples
    assert all(p.reproducer.startswith("odd_spec(") for p in tally.examples)


def test_a_call_that_raises_is_an_escaped_exception(monkeypatch) -> None:
    real = Environment.call

    def raising_after_sampling(self, name, arguments=None, side="agent"):
        if isinstance(arguments, list):  # one of the invalid calls only the attack makes
            raise RuntimeError("escaped")
        return real(self, name, arguments, side)

    monkeypatch.setattr(Environment, "call", raising_after_sampling)
    tally = oddspecs.run(10, 0)
    assert tally.counts.get(ESCAPED_EXCEPTION, 0) > 0, tally
