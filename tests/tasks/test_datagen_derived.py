"""Generated data with derived fields the fuzzer's specs found broken: a derived datetime, and
a derived field of a record that refers to itself."""

from __future__ import annotations

import envscale
from envscale.tasks.datagen import generate_data

SPEC = """domain dg "Derived times and self references."

entity Visit {
  visit_id: str @key
  start: datetime
  ends: datetime @derived(add_minutes(start, 30))
  day: date @derived(date(start))
}

entity Node {
  node_id: str @key
  parent: Node
  weight: int
  heavy: bool @derived(weight >= weight)
}

tool get_visit(visit_id: str) -> Visit {
  return Visit[visit_id]
}
"""


def test_derived_dates_and_self_references_are_generated_and_load(tmp_path) -> None:
    spec = tmp_path / "dg.domain"
    spec.write_text(SPEC, encoding="utf-8")
    domain = envscale.load(spec)
    notes: list[str] = []
    data = generate_data(domain, 0, 3, notes=notes)
    assert notes == [] and len(data["Visit"]) == len(data["Node"]) == 3
    for visit in data["Visit"]:
        assert visit["ends"] > visit["start"] and visit["start"].startswith(visit["day"])
    assert any(n["parent"] == n["node_id"] for n in data["Node"])  # one refers to itself
    assert all(n["heavy"] is True for n in data["Node"])  # computed, not the placeholder
    domain.environment(data).close()  # the runtime agrees with every derived value
