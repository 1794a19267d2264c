"""Where domains are made: in this process, in local worker processes, or on a Ray cluster.

`run_jobs` yields `(index, outcome)` as each job finishes, in any order, with a bounded
number in flight; the caller writes each result as it comes, so a killed run keeps what was
finished. Local workers exit when the parent dies (as the generate job's do).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from envscale.jobs.executors import map_pool, map_ray
from envscale.synth.domains import DomainJob, DomainOutcome, make_domain

EXECUTORS = ("local", "ray")


def run_jobs(
    jobs: Sequence[DomainJob],
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
) -> Iterator[tuple[int, DomainOutcome]]:
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor '{executor}' (local or ray)")
    if executor == "ray":
        yield from map_ray(make_domain, jobs, workers, ray_address)
    elif workers > 1 and len(jobs) > 1:
        yield from map_pool(make_domain, jobs, min(workers, len(jobs)))
    else:
        for n, job in enumerate(jobs):
            yield n, make_domain(job)
