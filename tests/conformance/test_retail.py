"""specs/retail.domain reproduces tau-bench's retail domain: every visible and sealed case matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envscale.conformance.taubench import environment, replay_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
TAUBENCH = (ROOT / ".." / "shared" / "conformance" / "taubench").resolve()
DATA = TAUBENCH / "retail"
CASE_FILES = ["retail/probes.jsonl", "retail/tasks.dev.jsonl", "retail/tasks.train.jsonl",
              "sealed/retail.test.sealed.jsonl"]

pytestmark = pytest.mark.skipif(
    not (DATA / "users.json").is_file(),
    reason=f"tau-bench conformance data not found at {DATA} (it lives in ../shared next to the repository)",
)


@pytest.fixture(scope="module")
def retail():
    return environment(SPECS / "retail.domain", SPECS / "retail.layout.json", DATA)


@pytest.mark.parametrize("name", CASE_FILES)
def test_every_case_matches(retail, name: str) -> None:
    env, layout = retail
    result = replay_file(env, layout, TAUBENCH / name)
    assert result.total > 0
    shown = "\n".join(m.render() for m in result.mismatches[:5])
    assert result.matched == result.total, f"{result.matched}/{result.total} cases match\n{shown}"


def test_tool_schemas_match_taubench(retail) -> None:
    env, _ = retail

    def shape(tool: dict) -> tuple:
        params = tool["function"]["parameters"]
        properties = {name: {k: v for k, v in prop.items() if k != "description"}
                      for name, prop in params["properties"].items()}
        return properties, sorted(params["required"])

    theirs = {t["function"]["name"]: shape(t) for t in json.loads((DATA / "tools.json").read_text())}
    ours = {t["function"]["name"]: shape(t) for t in json.loads(env.domain.files["tools.json"])}
    assert ours == theirs
