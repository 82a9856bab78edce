"""Optional TensorBoard mirror of the store: every metric row a run logs, also as a TensorBoard scalar.

``Store(out, tensorboard=DIR)`` (``--tensorboard DIR`` on a study command) gives each fresh run the
event files of ``DIR/<study>_<run id>/``: tag ``<layer>/<metric>`` (``<metric>`` for run-level
numbers), global step = the row's ``step``. The store stays the record; the mirror is for people who
watch runs in TensorBoard. A rerun (``--force``) replaces its run's event files, as it replaces its
rows in the store. Needs the ``tensorboard`` package (``pip install 'deepscope[tensorboard]'``).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deepscope.errors import DeepscopeError

EVENT_FILES = "events.out.tfevents.*"


def tag(layer: str, metric: str) -> str:
    """The TensorBoard tag of a metric row: ``layer/metric``, or ``metric`` for a run-level number."""
    return f"{layer}/{metric}" if layer else metric


class TensorBoardMirror:
    """Where the event files go; just a path (picklable like the :class:`~deepscope.store.Store` that holds it)."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        """Check that TensorBoard can be written (the package is installed, ``log_dir`` can be a directory)."""
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise DeepscopeError("--tensorboard needs the tensorboard package, which is not installed; install it "
                                 "with pip install 'deepscope[tensorboard]' (or drop --tensorboard).") from None
        self.log_dir = Path(log_dir)
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise DeepscopeError(f"--tensorboard {self.log_dir} is a file; pass a directory for the event files.")

    def __repr__(self) -> str:
        return f"TensorBoardMirror({str(self.log_dir)!r})"

    def run(self, study: str, run_id: str) -> RunMirror:
        """The mirror of one fresh run (its writer opens on the first rows)."""
        return RunMirror(self.log_dir / f"{study}_{run_id}")


class RunMirror:
    """One run's event files: scalars added as the run logs them, closed (flushed) when the run ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._writer: Any = None

    def add(self, rows: Iterable[tuple[int, int | None, str, str, float]]) -> None:
        """Write checked store rows ``(step, epoch, layer, metric, value)`` as scalars."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            for old in self.folder.glob(EVENT_FILES):  # a rerun replaces what the earlier run wrote
                old.unlink()
            self._writer = SummaryWriter(log_dir=str(self.folder))
        for step, _epoch, layer, metric, value in rows:
            self._writer.add_scalar(tag(layer, metric), value, global_step=step)

    def close(self) -> None:
        """Flush and close the event file (nothing to do when nothing was logged)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def remove(self) -> None:
        """Close and delete this run's event files (a run rejected for bad input leaves nothing behind)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
