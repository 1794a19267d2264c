"""A hostile model endpoint: every way it misbehaves loses at most its own episode, with the
reason, and the jobs around it finish and resume; the fuzzer reports a job that does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import envscale
from envscale import jsonl
from envscale.fuzz import endpoints
from envscale.fuzz.endpoints import (
    CALL_KINDS,
    HTTP_KINDS,
    RESPONSE_LIMIT,
    SHAPE_KINDS,
    TEXT_KINDS,
    HostileModel,
    Kind,
)
from envscale.fuzz.report import EPISODE_RECORD
from envscale.jobs import executors, generate
from envscale.jobs.executors import Worker, WorkerSetup, WorkItem
from envscale.records import EpisodeError, Trajectory, TrajectoryReader
from envscale.rollout.dialogue import BackendConfig
from tests.rollout.episode_fixtures import CLINIC, clinic_tasks

KINDS = HTTP_KINDS + SHAPE_KINDS + CALL_KINDS + TEXT_KINDS
ATTACKS = {a.name: a for a in endpoints.ATTACKS}


def one_episode(kind: Kind):
    """The first clinic task's episode against a server that always answers as `kind` does."""
    domain = envscale.load(CLINIC)
    with HostileModel([kind], seed=0) as model:
        setup = WorkerSetup(
            domains=(("0", str(CLINIC), tuple(sorted(domain.files.items()))),),
            agent=BackendConfig(
                "openai",
                model="hostile",
                base_url=model.url,
                timeout=endpoints.TIMEOUT,
                retries=1,
                max_response_bytes=RESPONSE_LIMIT,
            ),
            user=BackendConfig("scripted", options=(("greeting_rate", 0.0),)),
            seed=0,
            max_steps=endpoints.MAX_STEPS,
        )
        worker = Worker(setup)
        worker.agent.client.sleep = lambda seconds: None
        [outcome] = worker.run([WorkItem("0", clinic_tasks()[0], 0)])
    return outcome


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_failure_of_the_endpoint_is_one_recorded_episode(kind: Kind) -> None:
    outcome = one_episode(kind)
    if kind.lost:
        assert isinstance(outcome, EpisodeError), outcome
        assert kind.reason in outcome.error and "internal error" not in outcome.error
    else:
        assert isinstance(outcome, Trajectory), outcome
        line = jsonl.dumps(outcome.to_dict())
        line.encode("utf-8")
        assert Trajectory.from_line(line, "test").to_dict() == outcome.to_dict()


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_generate_and_eval_against_a_hostile_endpoint_run_clean(name: str) -> None:
    tally = ATTACKS[name].run(4, 11)
    assert tally.tried >= 2
    assert not tally.examples, "\n".join(f"{p.kind}: {p.detail}" for p in tally.examples)


def test_an_episode_the_job_drops_is_reported(monkeypatch) -> None:
    run = Worker.run
    monkeypatch.setattr(
        Worker,
        "run",
        lambda self, items: [o for o in run(self, items) if not isinstance(o, EpisodeError)],
    )
    tally = ATTACKS["endpoints.shape"].run(6, 0)
    assert tally.counts.get(EPISODE_RECORD, 0) > 0
    assert any("recorded nowhere" in p.detail for p in tally.examples)


def test_a_rerun_that_redoes_finished_episodes_is_reported(monkeypatch) -> None:
    class ForgetfulReader(TrajectoryReader):
        def read(self, path: str | Path) -> Iterator[Trajectory]:  # sees no finished episode
            return iter([])

    monkeypatch.setattr(generate, "TrajectoryReader", ForgetfulReader)
    tally = ATTACKS["endpoints.text"].run(4, 0)
    details = [p.detail for p in tally.examples]
    assert any("recorded 2 times" in d for d in details), details
    assert any("asked" in d and "finished episode" in d for d in details), details


def test_an_exception_that_is_no_backend_failure_loses_one_episode(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(executors, "run_episode", broken)
    [lost] = Worker(WorkerSetupFor.scripted()).run([WorkItem("0", clinic_tasks()[0], 0)])
    assert isinstance(lost, EpisodeError) and lost.error == "internal error: KeyError: 'a bug'"


class WorkerSetupFor:
    @staticmethod
    def scripted() -> WorkerSetup:
        domain = envscale.load(CLINIC)
        return WorkerSetup(
            domains=(("0", str(CLINIC), tuple(sorted(domain.files.items()))),),
            agent=BackendConfig("scripted"),
            user=BackendConfig("scripted"),
            seed=0,
            max_steps=4,
        )
