"""Real trajectories for the viewer's tests: scripted episodes on shipped specs, some cut short
so that they fail, some of a dual-control domain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from envscale.jobs.generate import Job, generate

ROOT = Path(__file__).resolve().parents[2]
RETAIL = ROOT / "specs" / "retail.domain"
TELECOM = ROOT / "specs" / "telecom.domain"


@dataclass(frozen=True)
class Episodes:
    whole: Path  # a job's folder: retail and telecom episodes, all of them ended
    cut: Path  # a job's folder: retail episodes cut after three agent turns
    mixed: Path  # both jobs' trajectories and tasks in one folder, without a job.json


@pytest.fixture(scope="session")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> Episodes:
    base = tmp_path_factory.mktemp("episodes")
    whole, cut, mixed = base / "whole", base / "cut", base / "mixed"
    generate(Job([str(RETAIL), str(TELECOM)], whole, tasks=5, progress=False))
    # a seed whose cut episodes include writes left half done (states other than the gold)
    generate(Job([str(RETAIL)], cut, tasks=5, seed=2, max_steps=3, progress=False))
    mixed.mkdir()
    for name in ("tasks.jsonl", "trajectories.jsonl"):
        text = (whole / name).read_text("utf-8") + (cut / name).read_text("utf-8")
        (mixed / name).write_text(text, "utf-8")
    return Episodes(whole, cut, mixed)
