"""Where a sweep's jobs run: one after another, in a local process pool, or on a Ray cluster.

Each executor calls ``done(job, outcome)`` as jobs end, in the order they end.

- ``serial``: in this process.
- ``process``: a pool of ``workers`` spawned processes, each limited to ``threads`` intra-op
  threads (torch and the BLAS behind numpy), all writing to the one SQLite store (WAL; writes
  queue on its lock). A worker that dies (killed, out of memory) breaks the pool: the runs that
  ended are read back from the store, the rest are resubmitted to a fresh pool; a run whose
  worker died twice is recorded as failed. Workers die with the driver (Linux: parent-death
  signal), so a killed driver leaves no orphan writing to the store.
- ``ray``: one Ray task per job (``threads`` CPUs each) on the cluster at ``address`` (default: a
  local one started for the sweep). A task writes into a store of its own and returns the run,
  which the driver imports into its store in one transaction: results land in the driver's
  ``--out`` whatever node ran them, and no shared disk is needed.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from deepscope.errors import DeepscopeError
from deepscope.store import Store
from deepscope.store.sqlite import utc_now
from deepscope.sweep.jobs import Job, Outcome, outcome_from_store, run_job, run_job_elsewhere

EXECUTORS = ("serial", "process", "ray")
MAX_WORKER_DEATHS = 2  # a job whose worker died this many times is recorded as failed, not retried again
Done = Callable[[Job, Outcome], None]


def limit_threads(threads: int | None) -> None:
    """Bound torch's intra-op threads and the BLAS/OpenMP pools of numpy and scipy to ``threads``."""
    if threads is None:
        return
    import threadpoolctl
    import torch

    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(limits=threads)


def _init_worker(threads: int | None) -> None:
    """A pool worker: bounded threads, Ctrl-C left to the driver, and death with the driver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops the pool; a half-done run is then rerun
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the driver died before the line above ran
            os._exit(1)
    limit_threads(threads)


def run_serial(jobs: Sequence[Job], out: str, done: Done, *, threads: int | None = None) -> None:
    limit_threads(threads)
    for job in jobs:
        done(job, run_job(job, out))


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Terminate the workers now (their half-done runs stay ``running`` with a dead owner: rerun later)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def run_process(jobs: Sequence[Job], out: str, done: Done, *, workers: int, threads: int | None) -> None:
    store = Store(out)
    deaths: Counter[str] = Counter()
    pending = list(jobs)
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools mid-use
    while pending:
        since = utc_now()
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,))
        futures = {pool.submit(run_job, job, out): job for job in pending}
        pending = []
        broken = False
        try:
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = futures.pop(future)
                    try:
                        done(job, future.result())
                    except BrokenProcessPool:
                        broken = True
                        pending.append(job)
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        if broken:
            pending = _after_breakage(store, pending, since, deaths, done)


def _after_breakage(store: Store, jobs: list[Job], since: str, deaths: Counter[str], done: Done) -> list[Job]:
    """Sort the jobs of a broken pool (started at ``since``): those that ended in it are reported from
    the store, the others are retried; one left ``running`` was on the worker that died."""
    retry = []
    for job in jobs:
        row = store.find(job.study, job.settings)
        if row is not None and row["started_at"] >= since:  # started in this pool
            if row["status"] != "running":
                done(job, outcome_from_store(store, row))
                continue
            deaths[job.run_id] += 1
            if deaths[job.run_id] >= MAX_WORKER_DEATHS:
                error = f"its worker process died {deaths[job.run_id]} times (killed, or out of memory)"
                store.fail_stale(job.run_id, error)
                done(job, Outcome(job.run_id, "failed", float("nan"), error=error))
                continue
        retry.append(job)
    return retry


def run_ray(jobs: Sequence[Job], out: str, done: Done, *, threads: int | None, address: str | None,
            workers: int) -> None:
    try:
        import ray
    except ImportError:
        raise DeepscopeError("--executor ray needs Ray, which is not installed; pip install 'deepscope[ray]' "
                             "(or use --executor process on one machine).") from None
    started = not ray.is_initialized()
    if started:
        options = {"address": address} if address else {"num_cpus": workers * (threads or 1)}
        try:
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise DeepscopeError(f"--address {address}: cannot connect to a Ray cluster there ({exc}); start one "
                                 f"with `ray start --head` or leave --address out for a local one.") from None
    store = Store(out)
    task = ray.remote(num_cpus=threads or 1, max_retries=MAX_WORKER_DEATHS - 1)(_ray_job)
    refs = {task.remote(job, threads): job for job in jobs}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            job = refs.pop(ready[0])
            try:
                outcome, payload = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                done(job, Outcome(job.run_id, "failed", float("nan"), error=f"Ray task failed: {exc}"[:500]))
                continue
            if payload is not None:
                store.import_run(payload)
            done(job, outcome)
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _ray_job(job: Job, threads: int | None) -> tuple[Outcome, dict | None]:
    limit_threads(threads)
    return run_job_elsewhere(job)


def execute(jobs: Sequence[Job], out: str, done: Done, *, executor: str = "serial", workers: int = 1,
            threads: int | None = None, address: str | None = None) -> None:
    """Run ``jobs`` into the store of ``out`` with the named executor, calling ``done`` as each ends."""
    if executor == "serial":
        run_serial(jobs, out, done, threads=threads)
    elif executor == "process":
        run_process(jobs, out, done, workers=workers, threads=threads)
    elif executor == "ray":
        run_ray(jobs, out, done, threads=threads, address=address, workers=workers)
    else:
        raise DeepscopeError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}.")
