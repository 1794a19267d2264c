"""Where domains are made: in this process, in local worker processes, or on a Ray cluster.

`run_jobs` yields `(index, outcome)` as each job finishes, in any order, with a bounded
number in flight; the caller writes each result as it comes, so a killed run keeps what was
finished. Local workers exit when the parent dies (as the generate job's do).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

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
        yield from _ray(jobs, workers, ray_address)
    elif workers > 1 and len(jobs) > 1:
        yield from _pool(jobs, min(workers, len(jobs)))
    else:
        for n, job in enumerate(jobs):
            yield n, make_domain(job)


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _init_process(parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _pool(jobs: Sequence[DomainJob], workers: int) -> Iterator[tuple[int, DomainOutcome]]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_process, initargs=(os.getpid(),)
    ) as pool:
        pending: dict[Future, int] = {}
        queue = iter(enumerate(jobs))
        try:
            while True:
                while len(pending) < 2 * workers and (nxt := next(queue, None)) is not None:
                    pending[pool.submit(make_domain, nxt[1])] = nxt[0]
                if not pending:
                    return
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def _ray(
    jobs: Sequence[DomainJob], workers: int, address: str | None
) -> Iterator[tuple[int, DomainOutcome]]:
    try:  # ray is an optional extra, imported only when this executor is chosen
        import ray
    except ImportError:
        raise RuntimeError("the ray executor needs ray: pip install 'envscale[ray]'") from None
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {
            "address": address,
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        if address is None:
            options["num_cpus"] = max(1, workers)
        ray.init(**options)
    try:
        remote = ray.remote(make_domain)
        limit = 2 * max(workers, int(ray.cluster_resources().get("CPU", workers)))
        pending: dict[Any, int] = {}
        queue = iter(enumerate(jobs))
        while True:
            while len(pending) < limit and (nxt := next(queue, None)) is not None:
                pending[remote.remote(nxt[1])] = nxt[0]
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()
