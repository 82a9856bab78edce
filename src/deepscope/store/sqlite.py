"""The SQLite store: one ``deepscope.sqlite`` per output directory, holding runs, metrics and results.

Tables:

- ``runs``: one row per run; ``id`` is :func:`deepscope.store.ids.run_id` of (study, config, seed).
- ``metrics``: a long table ``(run_id, step, epoch, layer, metric, value)``; ``step`` counts
  iterations (updates made), ``epoch`` the completed epochs at that step (NULL where a study has
  no epochs); ``layer`` is ``''`` for run-level numbers such as the final loss.
- ``results``: ``(run_id, key, value)`` with JSON values, for run-level results that are not numbers
  per layer (a verdict, a fitted curve).

A run is written so that it is never seen as finished unless it is: :meth:`Store.start` commits the
row with status ``running``; metrics are buffered and flushed; :meth:`Run.finish` writes the last
metrics, the results and status ``finished`` in one transaction. A process killed hard leaves the
row at ``running``; the row names its owner (``host``, ``pid``), so :meth:`Store.owner_alive` tells
a live run from an interrupted one, and starting its config again replaces it.

Each operation opens its own short-lived connection in WAL mode, so a :class:`Store` is just a
path: cheap to create, safe to pass to worker processes. Several processes may write at once:
writes take the lock up front (``BEGIN IMMEDIATE``), wait for it (busy timeout) and retry when
SQLite still reports the database locked, so concurrent workers queue instead of failing.
"""
from __future__ import annotations

import json
import operator
import os
import platform
import socket
import sqlite3
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from deepscope import __version__
from deepscope.errors import DeepscopeError
from deepscope.metrics.registry import canonical_metric
from deepscope.store.ids import JSON, canonical, canonical_config, resolve_seed, run_id, stable_json
from deepscope.store.tensorboard import TensorBoardMirror

DB_NAME = "deepscope.sqlite"
SCHEMA_VERSION = 3  # 2: metrics.epoch; 3: runs.host and runs.pid (who is running it)
STATUSES = ("running", "finished", "failed", "diverged")
FLUSH_EVERY = 10_000  # buffered metric rows written in their own transaction while a run is live
BUSY_TIMEOUT = 60     # seconds a connection waits for another writer's lock
LOCK_RETRIES = 5      # further attempts when SQLite still reports "database is locked"
INTERRUPTED = "interrupted"  # the error text of a run stopped by Ctrl-C (it is rerun, not kept as a failure)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER,
    status TEXT NOT NULL CHECK (status IN {STATUSES}),
    error TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    wall_seconds REAL,
    deepscope_version TEXT,
    torch_version TEXT,
    python_version TEXT,
    host TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER,
    layer TEXT NOT NULL DEFAULT '',
    metric TEXT NOT NULL,
    value REAL
);
CREATE INDEX IF NOT EXISTS metrics_run_id ON metrics(run_id);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
"""

RUN_COLUMNS = ["id", "study", "status", "seed", "started_at", "ended_at", "wall_seconds", "error", "config",
               "deepscope_version", "torch_version", "python_version", "host", "pid"]
_MIGRATIONS = {  # from version -> the statements that bring a store to the next version
    1: "ALTER TABLE metrics ADD COLUMN epoch INTEGER;",  # a store written before epochs were recorded
    2: "ALTER TABLE runs ADD COLUMN host TEXT; ALTER TABLE runs ADD COLUMN pid INTEGER;",  # before owners
}
METRIC_COLUMNS = ["run_id", "step", "epoch", "layer", "metric", "value"]

Row = tuple[int, int | None, str, str, float]


def _retry_locked(action: Any, *args: Any) -> Any:
    """``action(*args)``, retried with back-off while SQLite reports the database locked or busy."""
    for attempt in range(LOCK_RETRIES + 1):
        try:
            return action(*args)
        except sqlite3.OperationalError as exc:
            if attempt == LOCK_RETRIES or not any(word in str(exc) for word in ("locked", "busy")):
                raise
            time.sleep(0.05 * 2 ** attempt)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (signal 0 checks without signalling).

    A zombie (killed, not yet reaped by its parent) counts as dead: it runs nothing.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc (not Linux), or it ended meanwhile
        return True
    return state not in ("Z", "X")


def utc_now() -> str:
    """Return the current time as ISO 8601 UTC with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _torch_version() -> str:
    """Return torch.__version__; imported here so that reading a store never pays for importing torch."""
    import torch

    return torch.__version__


def _metric_row(step: Any, layer: Any, metric: Any, value: Any, epoch: Any = None) -> Row:
    """Check one metric row and return it as plain (step, epoch, layer, metric, value)."""
    try:
        step = operator.index(step)
    except TypeError:
        raise DeepscopeError(f"step must be an int; got {step!r} ({type(step).__name__}).") from None
    try:
        epoch = None if epoch is None else operator.index(epoch)
    except TypeError:
        raise DeepscopeError(f"epoch must be an int or None; got {epoch!r} ({type(epoch).__name__}).") from None
    if not isinstance(layer, str):
        raise DeepscopeError(f"layer must be a str ('' for run-level metrics); got {layer!r}.")
    if not isinstance(metric, str) or not metric:
        raise DeepscopeError(f"metric must be a non-empty str naming the quantity; got {metric!r}.")
    try:
        value = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise DeepscopeError(f"value of metric {metric!r} at step {step} must be one number "
                             f"(a float, a numpy scalar or a one-element tensor); got {value!r}.") from None
    return step, epoch, layer, metric, value


class Store:
    """Runs, metrics and results of one output directory, in ``<out_dir>/deepscope.sqlite``.

    >>> store = Store("out")                                  # doctest: +SKIP
    >>> with store.start("esl", {"lr": 0.1}, seed=0) as run:  # doctest: +SKIP
    ...     if not run.reused:
    ...         run.log(100, "fc1", "esl", 0.93)
    ...         run.finish({"verdict": {"holds": True}})
    """

    def __init__(self, out_dir: str | os.PathLike[str], tensorboard: str | os.PathLike[str] | None = None) -> None:
        """Open (creating if needed) the store of ``out_dir``; the directory is created if missing.

        ``tensorboard``: a directory where each fresh run's metric rows are also written as TensorBoard
        scalars (:mod:`deepscope.store.tensorboard`; needs the tensorboard package).
        """
        self.tensorboard = None if tensorboard is None else TensorBoardMirror(tensorboard)
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise DeepscopeError(f"output directory {self.out_dir} exists but is a file; pass a directory.")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeepscopeError(f"cannot create the output directory {self.out_dir} ({exc.strerror}); pass a "
                                 f"directory you can write to.") from None
        self.path = self.out_dir / DB_NAME
        with self._connect(transaction=False) as con:
            con.execute("PRAGMA journal_mode = WAL")  # persistent in the file; readers never block the writer
        with self._connect() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, *_MIGRATIONS, SCHEMA_VERSION):
                raise DeepscopeError(f"{self.path} has store schema version {version} but this deepscope "
                                     f"reads version {SCHEMA_VERSION}; use a matching deepscope or a new --out.")
            scripts = [_SCHEMA] if version == 0 else [_MIGRATIONS[old] for old in range(version, SCHEMA_VERSION)]
            for statement in (part for script in scripts for part in script.split(";") if part.strip()):
                con.execute(statement)  # one by one: executescript would commit the transaction first
            if version != SCHEMA_VERSION:
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"Store({str(self.out_dir)!r})"

    @contextmanager
    def _connect(self, write: bool = True, transaction: bool = True) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside one transaction: committed on success, rolled back on any exception.

        A write transaction takes the write lock when it begins (``BEGIN IMMEDIATE``), so two
        processes never both read and then collide upgrading to a write; waiting for the lock is
        bounded by :data:`BUSY_TIMEOUT` and retried :data:`LOCK_RETRIES` times with back-off.
        ``transaction=False`` yields the bare connection (for pragmas that cannot run in one).
        """
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise DeepscopeError(f"cannot open the store {self.path}: {exc}.") from exc
        try:
            con.execute("PRAGMA foreign_keys = ON")
            if not transaction:
                yield con
                return
            _retry_locked(con.execute, "BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            _retry_locked(con.commit)
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise DeepscopeError(f"{self.path} is not a deepscope store (not an SQLite file); "
                                     f"move it away or choose another output directory.") from exc
            raise
        finally:
            con.close()

    # ----------------------------------------------------------------- writing

    def start(self, study: str, config: Any, *, seed: int | None = None, force: bool = False) -> Run:
        """Start the run of ``config`` under ``study`` with ``seed``, or reuse it if it already finished.

        If a finished run with the same id exists and ``force`` is False, return it with
        ``reused=True`` (read its ``metrics()`` and ``results()``; it cannot be written). Otherwise
        delete any old metrics and results of that id and commit a fresh row with status ``running``.
        """
        plain = canonical_config(config)
        seed = resolve_seed(plain, seed)
        rid = run_id(study, plain, seed)
        versions = (__version__, _torch_version(), platform.python_version())
        with self._connect() as con:
            old = con.execute("SELECT status FROM runs WHERE id = ?", (rid,)).fetchone()
            if old is not None and old[0] == "finished" and not force:
                return Run(self, rid, study, plain, seed, reused=True)
            con.execute("DELETE FROM metrics WHERE run_id = ?", (rid,))
            con.execute("DELETE FROM results WHERE run_id = ?", (rid,))
            con.execute(
                "INSERT INTO runs (id, study, config, seed, status, error, started_at, ended_at, wall_seconds, "
                "deepscope_version, torch_version, python_version, host, pid) "
                "VALUES (?, ?, ?, ?, 'running', NULL, ?, NULL, NULL, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET status = 'running', error = NULL, started_at = excluded.started_at, "
                "ended_at = NULL, wall_seconds = NULL, deepscope_version = excluded.deepscope_version, "
                "torch_version = excluded.torch_version, python_version = excluded.python_version, "
                "host = excluded.host, pid = excluded.pid",
                (rid, study, stable_json(plain), seed, utc_now(), *versions, socket.gethostname(), os.getpid()))
        return Run(self, rid, study, plain, seed, reused=False)

    # ----------------------------------------------------------------- reading

    def _resolve(self, con: sqlite3.Connection, prefix: str) -> str:
        """Return the one run id that starts with ``prefix``; raise if none or several do."""
        if not isinstance(prefix, str) or not prefix:
            raise DeepscopeError(f"run id must be a non-empty string (a full id or a unique prefix); got {prefix!r}.")
        ids = [r[0] for r in con.execute("SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6",
                                         (len(prefix), prefix))]
        if not ids:
            raise DeepscopeError(f"no run with id {prefix!r} in {self.path}; `deepscope runs` lists the ids.")
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise DeepscopeError(f"run id prefix {prefix!r} is ambiguous ({shown}); give more characters.")
        return ids[0]

    def _run_frame(self, where: str = "", params: tuple[Any, ...] = ()) -> pd.DataFrame:
        """Return run rows (newest first) as a DataFrame with ``config`` parsed into dicts."""
        with self._connect(write=False) as con:
            rows = con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs {where} "
                               f"ORDER BY started_at DESC, id", params).fetchall()
        df = pd.DataFrame(rows, columns=RUN_COLUMNS)
        df["seed"] = df["seed"].astype("Int64")
        df["pid"] = df["pid"].astype("Int64")
        df["wall_seconds"] = df["wall_seconds"].astype("float64")
        df["config"] = [json.loads(c) for c in df["config"]]
        return df

    def runs(self, study: str | None = None) -> pd.DataFrame:
        """Return one row per run (of ``study`` if given), newest first.

        Columns: id, study, status, seed, started_at, ended_at, wall_seconds, error, config (a dict),
        deepscope_version, torch_version, python_version. Status ``running`` with no live process
        behind it means the run was interrupted.
        """
        return self._run_frame("WHERE study = ?", (study,)) if study is not None else self._run_frame()

    def get(self, run_id: str) -> dict[str, Any]:
        """Return the row of one run (a full id or a unique prefix) as a dict, ``config`` parsed."""
        with self._connect(write=False) as con:
            rid = self._resolve(con, run_id)
        return self._run_frame("WHERE id = ?", (rid,)).iloc[0].to_dict()

    def find(self, study: str, config: Any, seed: int | None = None) -> dict[str, Any] | None:
        """Return the row of the run of (``study``, ``config``, ``seed``) whatever its status, or None."""
        df = self._run_frame("WHERE id = ?", (run_id(study, config, seed),))
        return None if df.empty else df.iloc[0].to_dict()

    def metrics(self, run_id: str | None = None, metric: str | None = None, layer: str | None = None,
                study: str | None = None) -> pd.DataFrame:
        """Return metric rows (columns run_id, step, epoch, layer, metric, value), filtered by what is given.

        ``run_id`` may be a unique prefix; ``layer=''`` selects run-level metrics. ``metric`` is the
        name the metric was asked for by: ``twonn`` (or its alias ``id``) finds the ``twonn`` rows,
        and a metric with several parts finds them all (``nc`` finds ``nc.nc1``, ``nc.nc2_equinorm``,
        ...). Rows come ordered by run, step and logging order; ``epoch`` is missing (<NA>) where
        the study has no epochs. A NaN value (e.g. the loss of a diverged run) reads back as NaN.
        """
        clauses, params = [], []
        with self._connect(write=False) as con:
            if run_id is not None:
                clauses.append("m.run_id = ?")
                params.append(self._resolve(con, run_id))
            if metric is not None:
                name = canonical_metric(metric)
                clauses.append("(m.metric = ? OR substr(m.metric, 1, ?) = ?)")
                params += [name, len(name) + 1, name + "."]
            for column, value in (("m.layer", layer), ("r.study", study)):
                if value is not None:
                    clauses.append(f"{column} = ?")
                    params.append(value)
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = con.execute(f"SELECT m.run_id, m.step, m.epoch, m.layer, m.metric, m.value FROM metrics m "
                               f"JOIN runs r ON r.id = m.run_id {where} ORDER BY m.run_id, m.step, m.rowid",
                               params).fetchall()
        df = pd.DataFrame(rows, columns=METRIC_COLUMNS)
        return df.astype({"step": "int64", "epoch": "Int64", "value": "float64"})

    def results(self, run_id: str) -> dict[str, JSON]:
        """Return the results of one run (a full id or a unique prefix) as a dict of JSON values."""
        with self._connect(write=False) as con:
            rid = self._resolve(con, run_id)
            rows = con.execute("SELECT key, value FROM results WHERE run_id = ? ORDER BY key", (rid,)).fetchall()
        return {key: json.loads(value) for key, value in rows}

    def result_values(self, key: str) -> dict[str, JSON]:
        """Return ``{run id: value}`` of result ``key`` for every run that has it (e.g. ``'verdicts'``)."""
        with self._connect(write=False) as con:
            rows = con.execute("SELECT run_id, value FROM results WHERE key = ?", (key,)).fetchall()
        return {rid: json.loads(value) for rid, value in rows}


    def owner_alive(self, run: Mapping[str, Any]) -> bool | None:
        """Whether the process that started a ``running`` run (a row of :meth:`runs`) still lives.

        True or False when it ran on this machine (its pid is checked); None when it ran on another
        host, which this machine cannot see. A ``running`` run whose owner is dead was interrupted.
        """
        if run.get("host") != socket.gethostname() or run.get("pid") is None or pd.isna(run.get("pid")):
            return None
        return _pid_alive(int(run["pid"]))

    def fail_stale(self, run_id: str, error: str) -> None:
        """Record a ``running`` run whose process is gone as ``failed`` with ``error`` (others are left as they are)."""
        with self._connect() as con:
            con.execute("UPDATE runs SET status = 'failed', error = ?, ended_at = ? WHERE id = ? AND status = 'running'",
                        (error, utc_now(), run_id))

    def export_run(self, run_id: str) -> dict[str, Any]:
        """One run whole, as plain data: its row, metric rows and results (see :meth:`import_run`)."""
        with self._connect(write=False) as con:
            rid = self._resolve(con, run_id)
            row = con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (rid,)).fetchone()
            metrics = con.execute("SELECT step, epoch, layer, metric, value FROM metrics WHERE run_id = ? "
                                  "ORDER BY rowid", (rid,)).fetchall()
            results = con.execute("SELECT key, value FROM results WHERE run_id = ?", (rid,)).fetchall()
        return {"run": dict(zip(RUN_COLUMNS, row)), "metrics": metrics, "results": results}

    def import_run(self, payload: Mapping[str, Any]) -> str:
        """Write a run exported by :meth:`export_run` (from another store) here, replacing its id, atomically.

        This is how a worker that wrote into a store of its own (on another machine of a Ray cluster)
        hands its run to the driver's store: all of it lands in one transaction or none of it does.
        """
        run = dict(payload["run"])
        rid = run["id"]
        with self._connect() as con:
            con.execute("DELETE FROM runs WHERE id = ?", (rid,))  # cascades to its metrics and results
            con.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
                        [run[c] for c in RUN_COLUMNS])
            con.executemany("INSERT INTO metrics (run_id, step, epoch, layer, metric, value) VALUES (?, ?, ?, ?, ?, ?)",
                            [(rid, *row) for row in payload["metrics"]])
            con.executemany("INSERT INTO results (run_id, key, value) VALUES (?, ?, ?)",
                            [(rid, *row) for row in payload["results"]])
        return rid


class Run:
    """One run being written (or a finished one being reused); made by :meth:`Store.start`.

    Attributes: ``id``, ``study``, ``config`` (canonical dict), ``seed``, ``reused`` and ``status``.
    As a context manager it finishes the run on a clean exit (if nothing closed it yet) and records
    ``failed`` with the exception text on any exception, KeyboardInterrupt included, then re-raises.
    """

    def __init__(self, store: Store, id: str, study: str, config: dict[str, JSON], seed: int | None,
                 *, reused: bool) -> None:
        self.store, self.id, self.study, self.config, self.seed, self.reused = store, id, study, config, seed, reused
        self.status = "finished" if reused else "running"
        self._pending: list[Row] = []
        self._t0 = time.perf_counter()
        self._mirror = store.tensorboard.run(study, id) if store.tensorboard is not None and not reused else None

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, study={self.study!r}, seed={self.seed}, status={self.status!r}" + \
            (", reused=True)" if self.reused else ")")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.reused or self.status != "running":
            return
        if exc is None:
            self.finish()
        else:
            self.fail("".join(traceback.format_exception_only(exc_type, exc)).strip())

    def _check_open(self, action: str) -> None:
        """Raise unless this run may still be written."""
        if self.reused:
            raise DeepscopeError(f"cannot {action} run {self.id}: it was reused from a finished run and is "
                                 f"read-only; check `run.reused` first, or pass force=True to start() to re-run it.")
        if self.status != "running":
            raise DeepscopeError(f"cannot {action} run {self.id}: it is already {self.status}; "
                                 f"call store.start(...) again to re-run it.")

    def log(self, step: int, layer: str, metric: str, value: float, *, epoch: int | None = None) -> None:
        """Record one number: ``metric`` of ``layer`` ('' for the whole run) at ``step`` (in ``epoch``)."""
        self.log_many([(step, layer, metric, value, epoch)])

    def log_many(self, rows: Iterable[tuple]) -> None:
        """Record many ``(step, layer, metric, value[, epoch])`` rows; all are checked before any is kept."""
        self._check_open("log to")
        checked = []
        for row in rows:
            if not isinstance(row, (tuple, list)) or len(row) not in (4, 5):
                raise DeepscopeError(f"each metric row must be (step, layer, metric, value[, epoch]); got {row!r}.")
            checked.append(_metric_row(*row))
        self._pending.extend(checked)
        if self._mirror is not None:
            self._mirror.add(checked)
        if len(self._pending) >= FLUSH_EVERY:
            with self.store._connect() as con:
                self._write_pending(con)

    def _write_pending(self, con: sqlite3.Connection) -> None:
        """Insert the buffered metric rows on ``con`` (inside the caller's transaction)."""
        con.executemany("INSERT INTO metrics (run_id, step, epoch, layer, metric, value) VALUES (?, ?, ?, ?, ?, ?)",
                        [(self.id, *row) for row in self._pending])
        self._pending.clear()

    def _close(self, status: str, error: str | None, results: Mapping[str, Any] | None = None) -> None:
        """Write buffered metrics, ``results`` and the final ``status`` in one transaction."""
        encoded = []
        if results is not None:
            if not isinstance(results, Mapping):
                raise DeepscopeError(f"results must be a dict of named results; got {type(results).__name__}.")
            encoded = [(self.id, key, stable_json(value)) for key, value in canonical(results, "results").items()]
        with self.store._connect() as con:
            self._write_pending(con)
            con.executemany("INSERT OR REPLACE INTO results (run_id, key, value) VALUES (?, ?, ?)", encoded)
            con.execute("UPDATE runs SET status = ?, error = ?, ended_at = ?, wall_seconds = ? WHERE id = ?",
                        (status, error, utc_now(), time.perf_counter() - self._t0, self.id))
        self.status = status
        if self._mirror is not None:
            self._mirror.close()

    def finish(self, results: Mapping[str, Any] | None = None) -> None:
        """Write the remaining metrics, ``results`` (JSON-able values) and status ``finished`` atomically."""
        self._check_open("finish")
        self._close("finished", None, results)

    def fail(self, error: str) -> None:
        """Record status ``failed`` with ``error``, keeping the metrics logged so far."""
        self._check_open("fail")
        self._close("failed", str(error))

    def discard(self) -> None:
        """Delete this run's record (its row, metrics and results): the input was rejected, nothing ran.

        A rejected invocation must not look like a run that failed; the framework discards the record
        when a study raises :class:`DeepscopeError` (bad input met only once the run had started).
        """
        self._check_open("discard")
        self._pending.clear()
        with self.store._connect() as con:
            con.execute("DELETE FROM runs WHERE id = ?", (self.id,))
        self.status = "discarded"
        if self._mirror is not None:
            self._mirror.remove()

    def diverge(self, reason: str) -> None:
        """Record status ``diverged`` (e.g. the loss became NaN) with ``reason``, keeping the metrics so far."""
        self._check_open("mark diverged")
        self._close("diverged", str(reason))

    def metrics(self) -> pd.DataFrame:
        """Return this run's stored metrics (rows still buffered in a live run are not included)."""
        return self.store.metrics(run_id=self.id)

    def results(self) -> dict[str, JSON]:
        """Return this run's stored results."""
        return self.store.results(self.id)
