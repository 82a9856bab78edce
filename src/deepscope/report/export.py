"""A store's runs and metrics as two flat files (CSV or Parquet) for pandas, R, spreadsheets or DuckDB.

``runs``: the columns of :meth:`Store.runs` with ``config`` as JSON text (one schema for every study;
``pd.json_normalize(runs.config.map(json.loads))`` spreads it into columns), plus the verdict headline:
``verdict`` (FAILS if any claim fails, else UNDECIDED if any is, else HOLDS; empty without verdicts),
the counts ``holds``, ``fails``, ``undecided`` and every verdict as JSON text in ``verdicts``.
``metrics``: the columns of :meth:`Store.metrics` (run_id, step, epoch, layer, metric, value) for every
run; ``layer`` is empty for run-level numbers and ``epoch`` where a study has no epochs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from deepscope.errors import DeepscopeError
from deepscope.report.aggregate import existing_store
from deepscope.store import Store
from deepscope.studies.verdict import Verdict, headline

FORMATS = ("csv", "parquet")


def runs_table(store: Store) -> pd.DataFrame:
    """:meth:`Store.runs` with ``config`` as JSON text and the verdict headline columns."""
    runs = store.runs()
    stored = store.result_values("verdicts")
    verdicts = [stored.get(rid) or [] for rid in runs["id"]]
    states = [[v["state"] for v in vs] for vs in verdicts]
    return runs.assign(
        config=[json.dumps(c, sort_keys=True) for c in runs["config"]],
        verdict=[headline([Verdict.from_dict(v) for v in vs]) if vs else None for vs in verdicts],
        holds=[s.count("HOLDS") for s in states], fails=[s.count("FAILS") for s in states],
        undecided=[s.count("UNDECIDED") for s in states],
        verdicts=[json.dumps(vs, sort_keys=True) for vs in verdicts])


def _writer(fmt: str) -> str:
    """The lower-cased format, checked (Parquet needs pyarrow)."""
    name = str(fmt).lower()
    if name not in FORMATS:
        raise DeepscopeError(f"--format {fmt!r} is not an export format; choose csv or parquet.")
    if name == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DeepscopeError("--format parquet needs pyarrow, which is not installed; install it with "
                                 "pip install 'deepscope[parquet]' (or use --format csv).") from None
    return name


def export_store(out_dir: str | os.PathLike[str], fmt: str = "csv",
                 to: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Write ``runs.<fmt>`` and ``metrics.<fmt>`` of the store in ``out_dir`` to ``to`` (default: ``out_dir``).

    Returns the two paths. Raises :class:`DeepscopeError` for a missing store, an unknown format,
    Parquet without pyarrow, or a destination that cannot be written.
    """
    fmt = _writer(fmt)
    store = existing_store(out_dir)
    folder = Path(out_dir) if to is None else Path(to)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepscopeError(f"--to {folder}: cannot create it ({exc.strerror}); pass a directory you can "
                             f"write to.") from None
    paths = folder / f"runs.{fmt}", folder / f"metrics.{fmt}"
    for table, path in zip((runs_table(store), store.metrics()), paths):
        if fmt == "csv":
            table.to_csv(path, index=False)
        else:
            table.to_parquet(path, index=False)
    return paths
