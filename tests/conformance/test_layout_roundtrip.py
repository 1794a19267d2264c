"""Loading tau-bench's documents into the specs and exporting them gives the same documents."""

from __future__ import annotations

import json

import pytest

from envscale.conformance.taubench import canonical

from .conftest import TAUBENCH, taubench_environment


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_export_reproduces_the_documents(domain: str) -> None:
    env, layout = taubench_environment(domain)
    exported = layout.export(env)
    for table in layout.tables:
        original = json.loads((TAUBENCH / domain / table.file).read_text(encoding="utf-8"))
        assert canonical(exported[table.name]) == canonical(original), table.name
