"""Loading tau-bench's documents into the specs and exporting them gives the same documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envscale.conformance.taubench import canonical, environment

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "conformance" / "taubench"


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_export_reproduces_the_documents(domain: str) -> None:
    if not DATA.is_dir():
        pytest.skip("../shared/conformance is not beside the checkout")
    env, layout = environment(ROOT / "specs" / f"{domain}.domain", ROOT / "specs" / f"{domain}.layout.json", DATA / domain)
    exported = layout.export(env)
    for table in layout.tables:
        original = json.loads((DATA / domain / table.file).read_text(encoding="utf-8"))
        assert canonical(exported[table.name]) == canonical(original), table.name
