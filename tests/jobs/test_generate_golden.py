"""The bytes a generation job writes for a seed, pinned: sampling, the scripted agent's and
user's words, the tool results, the filters and the file layout all go into them. A change
that is meant to alter them regenerates the golden file with `pytest --update-golden`."""

from __future__ import annotations

from pathlib import Path

from envscale import records
from envscale.jobs.generate import Job, generate
from envscale.records import Trajectory
from tests.rollout.episode_fixtures import ROOT

RETAIL = ROOT / "specs" / "retail.domain"
GOLDEN = Path(__file__).parent / "golden" / "retail_trajectories.jsonl"


def test_retail_job_writes_the_pinned_bytes(tmp_path, golden):
    job = Job([str(RETAIL)], tmp_path / "out", tasks=6, trials=2, seed=5, progress=False)
    generate(job)
    path = tmp_path / "out" / "trajectories.jsonl"
    written = list(records.read_jsonl(path, Trajectory))
    # The pinned episodes go through every filter and both of the scripted agent's paths.
    assert len(written) == 12
    assert all(set(t.filters) == {"valid", "state", "exact"} for t in written)
    assert any(t.meta.model_extra.get("mistake") for t in written)
    assert any(not t.meta.model_extra.get("mistake") for t in written)
    golden(GOLDEN, path.read_text(encoding="utf-8"))
