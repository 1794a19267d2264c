"""Where episodes run: in this process, in a pool of local processes, or on a Ray cluster.

Every executor takes the same picklable `WorkerSetup` and chunks of work items, and yields
`(chunk number, results)` as chunks finish (a trajectory, or the error that stopped
the episode), with a bounded number in flight. Workers
build their domains, agent and user once and keep them for every chunk they run.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from envscale.records import EpisodeError, Task, Trajectory
from envscale.rollout.agents import make_agent
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.episode import BackendFailure, DomainRuntime, episode_id, run_episode
from envscale.rollout.users import make_user
from envscale.runtime.domain import Domain
from envscale.runtime.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class WorkerSetup:
    domains: tuple[
        tuple[str, str | None, tuple[tuple[str, str], ...]], ...
    ]  # (key, spec path, files)
    agent: BackendConfig
    user: BackendConfig
    seed: int
    max_steps: int
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True)
class WorkItem:
    domain: str  # a key of WorkerSetup.domains
    task: Task
    trial: int


Outcome = Trajectory | EpisodeError


class Worker:
    def __init__(self, setup: WorkerSetup) -> None:
        self.setup = setup
        self.runtimes = {
            key: DomainRuntime(Domain(dict(files), limits=setup.limits), spec_path)
            for key, spec_path, files in setup.domains
        }
        self.agent = make_agent(setup.agent)
        self.user = make_user(setup.user)

    def run(self, items: Sequence[WorkItem]) -> list[Outcome]:
        out: list[Outcome] = []
        for item in items:
            try:
                out.append(
                    run_episode(
                        self.runtimes[item.domain],
                        item.task,
                        self.agent,
                        self.user,
                        seed=self.setup.seed,
                        trial=item.trial,
                        max_steps=self.setup.max_steps,
                    )
                )
            except BackendFailure as error:  # loses this episode, not the job
                out.append(self._lost(item, str(error)))
            except Exception as error:  # a bug of envscale: the episode says so, the job goes on
                out.append(self._lost(item, f"internal error: {type(error).__name__}: {error}"))
        return out

    def _lost(self, item: WorkItem, reason: str) -> EpisodeError:
        return EpisodeError(
            id=episode_id(item.task.id, item.trial),
            domain=self.runtimes[item.domain].domain.name,
            error=reason[:2000],
        )


_WORKER: Worker | None = None
_WORKER_SETUP: WorkerSetup | None = None


def _worker(setup: WorkerSetup) -> Worker:
    global _WORKER, _WORKER_SETUP
    if _WORKER is None or setup != _WORKER_SETUP:
        _WORKER, _WORKER_SETUP = Worker(setup), setup
    return _WORKER


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent was killed (SIGKILL leaves no time to stop the pool) ends too."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _watch_parent(parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


@contextmanager
def _lasting_objects_set_aside() -> Iterator[None]:
    """While episodes run, the objects alive before them (domains, tasks, generated data)
    are left out of the cyclic collector's scans: they outlive every episode, and scanning
    them again on each collection is most of the collector's work."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _init_process(setup: WorkerSetup, parent: int) -> None:
    _watch_parent(parent)
    _worker(setup)
    gc.freeze()  # the process exists to run episodes: see _lasting_objects_set_aside


def _run_in_process(items: Sequence[WorkItem]) -> list[Outcome]:
    assert _WORKER is not None
    return _WORKER.run(items)


def run_inline(
    setup: WorkerSetup, chunks: Sequence[Sequence[WorkItem]]
) -> Iterator[tuple[int, list[Outcome]]]:
    worker = _worker(setup)
    with _lasting_objects_set_aside():
        for n, chunk in enumerate(chunks):
            yield n, worker.run(chunk)


def run_pool(
    setup: WorkerSetup,
    chunks: Sequence[Sequence[WorkItem]],
    workers: int,
    start_method: str = "spawn",
) -> Iterator[tuple[int, list[Outcome]]]:
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_process, initargs=(setup, os.getpid())
    ) as pool:
        yield from _bounded(
            lambda chunk: pool.submit(_run_in_process, chunk), chunks, 2 * workers, _wait_futures
        )


def _wait_futures(pending: dict[Any, int]) -> list[tuple[int, Any]]:
    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    out = []
    for future in done:
        n = pending.pop(future)
        out.append((n, future.result()))
    return out


def _bounded(submit, chunks, limit, wait_some) -> Iterator[tuple[int, Any]]:
    pending: dict[Any, int] = {}
    queue = iter(enumerate(chunks))
    try:
        while True:
            while len(pending) < limit:
                nxt = next(queue, None)
                if nxt is None:
                    break
                pending[submit(nxt[1])] = nxt[0]
            if not pending:
                return
            yield from wait_some(pending)
    finally:
        for handle in pending:
            if isinstance(handle, Future):
                handle.cancel()


def _ray_chunk(setup: WorkerSetup, items: Sequence[WorkItem]) -> list[Outcome]:
    return _worker(setup).run(items)


def run_ray(
    setup: WorkerSetup, chunks: Sequence[Sequence[WorkItem]], workers: int, address: str | None
) -> Iterator[tuple[int, list[Outcome]]]:
    with ray_session(workers, address) as ray:
        remote = ray.remote(_ray_chunk)
        setup_ref = ray.put(setup)
        yield from _bounded(
            lambda chunk: remote.remote(setup_ref, chunk),
            chunks,
            _ray_limit(ray, workers),
            lambda pending: _ray_wait(ray, pending),
        )


def map_pool(
    fn: Callable[[Any], Any], items: Sequence[Any], workers: int, recycle: int | None = None
) -> Iterator[tuple[int, Any]]:
    """`(index, fn(item))` as each finishes, on `workers` spawned processes that exit when
    this one dies, each replaced after `recycle` items if given; `fn` and the items must
    pickle."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_watch_parent,
        initargs=(os.getpid(),),
        max_tasks_per_child=recycle,
    ) as pool:
        yield from _bounded(lambda item: pool.submit(fn, item), items, 2 * workers, _wait_futures)


def map_ray(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    address: str | None,
    recycle: int | None = None,
) -> Iterator[tuple[int, Any]]:
    """`(index, fn(item))` as each finishes, on a Ray cluster (a local one of `workers` CPUs
    when `address` is None), each worker replaced after `recycle` items if given."""
    with ray_session(workers, address) as ray:
        remote = ray.remote(max_calls=recycle)(fn) if recycle else ray.remote(fn)
        limit = _ray_limit(ray, workers)
        yield from _bounded(remote.remote, items, limit, lambda pending: _ray_wait(ray, pending))


@contextmanager
def ray_session(workers: int, address: str | None) -> Iterator[Any]:
    """The ray module, initialised (joined to the cluster at `address`, or a local one of
    `workers` CPUs) unless it already was, and shut down afterwards if this started it."""
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
        yield ray
    finally:
        if started:
            ray.shutdown()


def _ray_limit(ray: Any, workers: int) -> int:
    return 2 * max(workers, int(ray.cluster_resources().get("CPU", workers)))


def _ray_wait(ray: Any, pending: dict[Any, int]) -> list[tuple[int, Any]]:
    ready, _ = ray.wait(list(pending), num_returns=1)
    return [(pending.pop(ref), ray.get(ref)) for ref in ready]
