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


STRUCTS = """domain sr "References inside structs."

struct Link { next: Part?  many: list<Part>  spares: list<Spare>  weight: int }

entity Spare {
  spare_id: int @key
}

entity Part {
  part_id: str @key
  link: Link
}

tool get_part(part_id: str) -> Part {
  return Part[part_id]
}
"""


def test_references_inside_structs_name_made_records_only(tmp_path) -> None:
    """A struct's references name records made before (none, for the first record of the
    entity itself; none at all of an entity asked for zero), never made-up keys."""
    spec = tmp_path / "sr.domain"
    spec.write_text(STRUCTS, encoding="utf-8")
    domain = envscale.load(spec)
    data = generate_data(domain, 1, {"Spare": 0, "Part": 6})
    parts = data["Part"]
    assert len(parts) == 6 and data["Spare"] == []
    keys = [p["part_id"] for p in parts]
    for i, part in enumerate(parts):
        link = part["link"]
        assert link["next"] in (None, *keys[:i]) and set(link["many"]) <= set(keys[:i])
        assert link["spares"] == []
    assert any(p["link"]["next"] or p["link"]["many"] for p in parts)
    domain.environment(data).close()
