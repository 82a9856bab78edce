"""Where runs live: one SQLite file per output directory, read back as pandas DataFrames.

A run's id is a hash of its canonical (study, config, seed), so starting a finished config again
finds it instead of running it twice. See :mod:`deepscope.store.sqlite` for the tables and the
guarantee that an interrupted run never looks finished.
"""
from deepscope.store.ids import canonical_config, run_id
from deepscope.store.sqlite import Run, Store
from deepscope.store.table import format_run, format_runs_table

__all__ = ["Store", "Run", "run_id", "canonical_config", "format_run", "format_runs_table"]
