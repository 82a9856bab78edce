"""One run of a sweep as a job any process can do, and the plan of which runs a store still needs.

A :class:`Job` is plain data (study name, resolved settings, run id), so it pickles to a worker
process or a Ray task; :func:`run_job` rebuilds the config there and runs it through the study's
``run`` (validation, reuse and atomic recording included). :func:`plan` compares a sweep's runs
with what the store already holds, so a sweep started again runs only what is missing.
"""
from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from deepscope.errors import DeepscopeError
from deepscope.store import Store
from deepscope.store.sqlite import INTERRUPTED
from deepscope.store.table import headline
from deepscope.studies.registry import get_study
from deepscope.sweep.spec import Point

# What a planned run needs, by the status its id has in the store.
RUN, SKIP = "run", "skip"


@dataclass(frozen=True)
class Job:
    """One run to do: the study, its resolved settings, the run id they hash to, and a short label."""

    study: str
    settings: dict[str, Any]
    run_id: str
    label: str

    @classmethod
    def of(cls, point: Point) -> Job:
        return cls(point.study, point.settings(), point.run_id, point.label())


@dataclass
class Outcome:
    """What became of a job: ``status`` is finished, diverged, failed or rejected (bad input met late)."""

    run_id: str
    status: str
    seconds: float
    verdict: str = "-"
    error: str = ""


@dataclass(frozen=True)
class Planned:
    """A job and what the store says of it: ``action`` is RUN or SKIP, ``why`` says why in words."""

    job: Job
    action: str
    why: str


def run_job(job: Job, out_dir: str | os.PathLike[str]) -> Outcome:
    """Run ``job`` into the store of ``out_dir`` and say how it ended (Ctrl-C propagates)."""
    study = get_study(job.study)
    start = time.perf_counter()
    try:
        config = study.configure(job.settings)
        result = study.run(config, Store(out_dir), progress=False)
    except DeepscopeError as exc:  # bad input met late (e.g. data files that are not there): no record kept
        return Outcome(job.run_id, "rejected", time.perf_counter() - start, error=str(exc))
    except Exception as exc:  # the run is recorded as failed with this text
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Outcome(job.run_id, "failed", time.perf_counter() - start, error=text)
    seconds = time.perf_counter() - start
    if result.diverged:
        return Outcome(job.run_id, "diverged", seconds, error=str(result.message))
    verdicts = [v.to_dict() for v in study.verdicts(result)]
    return Outcome(job.run_id, "reused" if result.reused else "finished", seconds, headline(verdicts))


def run_job_elsewhere(job: Job) -> tuple[Outcome, dict[str, Any] | None]:
    """Run ``job`` into a store of its own and return the outcome and the exported run.

    For workers that do not share the driver's disk (a Ray cluster): the driver imports the
    exported run into its store in one transaction (:meth:`Store.import_run`).
    """
    with tempfile.TemporaryDirectory(prefix="deepscope-job-") as tmp:
        outcome = run_job(job, tmp)
        store = Store(tmp)
        found = store.find(job.study, job.settings)
        return outcome, (store.export_run(job.run_id) if found is not None else None)


def outcome_from_store(store: Store, row: Mapping[str, Any]) -> Outcome:
    """The outcome of an ended run, as its store row (:meth:`Store.find`) records it."""
    verdicts = store.result_values("verdicts").get(row["id"]) if row["status"] == "finished" else None
    return Outcome(row["id"], row["status"], float(row["wall_seconds"] or "nan"), headline(verdicts),
                   row["error"] or "")


def _decide(store: Store, row: pd.Series | None, retry_failed: bool) -> tuple[str, str]:
    if row is None:
        return RUN, "new"
    status = row["status"]
    if status in ("finished", "diverged"):
        return SKIP, status
    if status == "failed":
        if row["error"] == INTERRUPTED:
            return RUN, "interrupted: rerun"
        return (RUN, "failed: rerun (--retry-failed)") if retry_failed else \
            (SKIP, "failed (--retry-failed reruns it)")
    alive = store.owner_alive(row)
    if alive is False:
        return RUN, f"interrupted (its process {row['pid']} is gone): rerun"
    where = f"process {row['pid']}" if alive else f"host {row['host']}"
    return SKIP, f"running in {where} now"


def plan(points: tuple[Point, ...] | list[Point], store: Store, *, retry_failed: bool = False) -> list[Planned]:
    """What each run of a sweep needs, given the store: new, interrupted and (with ``retry_failed``)
    failed runs are run; finished and diverged runs are kept; a run another live process is doing
    is left to it."""
    rows = {row["id"]: row for _, row in store.runs().iterrows()}
    planned = []
    for point in points:
        action, why = _decide(store, rows.get(point.run_id), retry_failed)
        planned.append(Planned(Job.of(point), action, why))
    return planned

