"""A stored run's own figure, drawn again from its stored summary (``study.restore`` then ``study.figure``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepscope.config import build
from deepscope.report.aggregate import RunRecord
from deepscope.report.figures import plt
from deepscope.studies.registry import STUDIES, get_study


@dataclass(frozen=True)
class Thumbnail:
    """The figure written for a run, or why there is none (exactly one of the two is set)."""

    path: Path | None
    problem: str | None


def run_figure(record: RunRecord, folder: Path) -> Thumbnail:
    """Draw ``record``'s study figure to ``folder/<study>_<run id>.png`` from its stored config and summary.

    A run that did not finish, a study not registered here, or a restore/figure that raises gives a
    :class:`Thumbnail` with the reason instead: one broken run never stops a report.
    """
    if record.status != "finished":
        return Thumbnail(None, f"no figure: the run is {record.status}")
    if record.study not in STUDIES:
        return Thumbnail(None, f"no figure: study {record.study!r} is not registered in this deepscope")
    if record.summary is None:
        return Thumbnail(None, "no figure: no summary was stored for this run")
    study = get_study(record.study)
    try:
        result = study.restore(build(study.config, record.config, "the stored config"), record.summary, record.id)
        path = Path(study.figure(result, folder / f"{record.study}_{record.id}.png"))
    except Exception as exc:  # noqa: BLE001 - any study's failure is shown on its row, never raised
        plt.close("all")
        return Thumbnail(None, f"figure failed: {type(exc).__name__}: {exc}")
    return Thumbnail(path, None)
