"""A job's limits reach the environments its workers build, and its job file."""

from __future__ import annotations

import json

from envscale.jobs.generate import JOB_FILE, Job, run_tasks
from envscale.runtime.limits import Limits
from tests.rollout.episode_fixtures import CLINIC, clinic_tasks


def test_the_limits_of_a_job_reach_its_episodes(tmp_path) -> None:
    tasks = clinic_tasks(4)
    run_tasks(Job([str(CLINIC)], tmp_path / "default", seed=1, progress=False), tasks)
    tight = Job([str(CLINIC)], tmp_path / "tight", seed=1, progress=False, limits=Limits(steps=1))
    run_tasks(tight, tasks)
    assert "limits" not in json.loads((tmp_path / "default" / JOB_FILE).read_text())
    assert json.loads((tmp_path / "tight" / JOB_FILE).read_text())["limits"] == {"steps": 1}
    default = (tmp_path / "default" / "trajectories.jsonl").read_text()
    limited = (tmp_path / "tight" / "trajectories.jsonl").read_text()
    assert "(limit steps=1)" in limited and "(limit steps=" not in default
