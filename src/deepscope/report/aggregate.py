"""A store's runs as a report reads them: grouped by study, then by config up to the seed.

Runs whose configs differ only in ``seed`` are repeats of one experiment (a sweep writes several
seeds per config): a :class:`Group`. For each claim a group's runs were judged on, :class:`ClaimStats`
holds the measured values (one per run that measured it) and their mean ± sample standard deviation
over seeds, the error bar the report draws.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepscope.errors import DeepscopeError
from deepscope.store import Store
from deepscope.store.ids import stable_json
from deepscope.store.sqlite import DB_NAME
from deepscope.studies.registry import STUDIES

SEED = "seed"


def existing_store(out_dir: str | os.PathLike[str]) -> Store:
    """The store already in ``out_dir``; raise (never create one) when the directory or its store is missing."""
    store_dir = os.fspath(out_dir)
    if not os.path.isdir(store_dir):
        raise DeepscopeError(f"--out {store_dir}: no such directory; pass the --out of earlier runs (default: runs).")
    if not os.path.isfile(os.path.join(store_dir, DB_NAME)):
        raise DeepscopeError(f"--out {store_dir}: no runs there (no {DB_NAME}); run a study with --out "
                             f"{store_dir} first, or pass the directory that holds {DB_NAME}.")
    return Store(store_dir)


@dataclass(frozen=True)
class RunRecord:
    """One stored run: its row, its stored verdicts (dicts) and summary (None unless it finished)."""

    id: str
    study: str
    status: str
    seed: int | None
    config: dict[str, Any]
    error: str | None
    wall_seconds: float | None
    verdicts: tuple[dict[str, Any], ...]
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class ClaimStats:
    """One claim over a group's runs: the finite measured values, each run's state, the paper's threshold."""

    claim: str
    quantity: str
    threshold: float
    direction: str
    values: tuple[float, ...]
    states: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        """Mean of the measured values (nan when none was measured)."""
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (ddof 1); 0 for a single run, nan for none."""
        if not self.values:
            return math.nan
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    def state_counts(self) -> dict[str, int]:
        """``{state: runs}`` in the order HOLDS, FAILS, UNDECIDED, leaving out states no run has."""
        return {s: self.states.count(s) for s in ("HOLDS", "FAILS", "UNDECIDED") if s in self.states}


@dataclass(frozen=True)
class Group:
    """Runs of one study whose configs are equal once ``seed`` is left out, ordered by seed."""

    study: str
    settings: dict[str, Any]
    runs: tuple[RunRecord, ...]

    @property
    def seeds(self) -> list[int | None]:
        return [run.seed for run in self.runs]

    def claims(self) -> list[ClaimStats]:
        """Each claim any run was judged on, in first-seen order, with its values over the runs."""
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in self.runs:
            for v in run.verdicts:
                found.setdefault((v["claim"], v["quantity"]), []).append(v)
        stats = []
        for (claim, quantity), verdicts in found.items():
            values = tuple(float(v["measured"]) for v in verdicts
                           if v.get("measured") is not None and math.isfinite(v["measured"]))
            stats.append(ClaimStats(claim, quantity, float(verdicts[0]["threshold"]), str(verdicts[0]["direction"]),
                                    values, tuple(str(v["state"]) for v in verdicts)))
        return stats


def load_runs(store: Store) -> list[RunRecord]:
    """Every run of ``store`` with its stored verdicts and summary."""
    runs = store.runs()
    verdicts, summaries = store.result_values("verdicts"), store.result_values("summary")
    return [RunRecord(id=str(row.id), study=str(row.study), status=str(row.status),
                      seed=None if _missing(row.seed) else int(row.seed),
                      config=dict(row.config), error=None if _missing(row.error) else str(row.error),
                      wall_seconds=None if _missing(row.wall_seconds) else float(row.wall_seconds),
                      verdicts=tuple(verdicts.get(row.id) or ()), summary=summaries.get(row.id))
            for row in runs.itertuples(index=False)]


def _missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA."""
    return value is None or bool(pd.isna(value))


def _study_order(study: str) -> tuple[int, str]:
    """Registered studies in registry order, then any others by name."""
    names = list(STUDIES)
    return (names.index(study), "") if study in names else (len(names), study)


def _settings_order(settings: Mapping[str, Any]) -> list[tuple[str, int, float, str]]:
    """Sort key of a group's settings: key by key, numbers by value (lr 0.05 < 0.1, width 20 < 100)."""
    def value(v: Any) -> tuple[int, float, str]:
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        return (0, float(v), "") if number else (1, 0.0, stable_json(v))
    return [(k, *value(settings[k])) for k in sorted(settings)]


def group_runs(records: Iterable[RunRecord]) -> dict[str, list[Group]]:
    """``{study: groups}``, studies in registry order; a study's groups ordered by their settings."""
    buckets: dict[str, dict[str, list[RunRecord]]] = {}
    for record in records:
        settings = {k: v for k, v in record.config.items() if k != SEED}
        buckets.setdefault(record.study, {}).setdefault(stable_json(settings), []).append(record)
    grouped = {}
    for study in sorted(buckets, key=_study_order):
        groups = [Group(study, {k: v for k, v in runs[0].config.items() if k != SEED},
                        tuple(sorted(runs, key=lambda r: (r.seed is None, r.seed or 0, r.id))))
                  for runs in buckets[study].values()]
        grouped[study] = sorted(groups, key=lambda g: _settings_order(g.settings))
    return grouped


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def group_labels(groups: Sequence[Group]) -> list[str]:
    """A short name per group: the settings whose values differ between the groups (``key=value ...``).

    One group (or groups that differ in nothing shown) is called ``all runs``.
    """
    keys = sorted({k for g in groups for k in g.settings})
    varying = [k for k in keys if len({stable_json(g.settings.get(k)) for g in groups}) > 1]
    labels = [" ".join(f"{k}={_shown(g.settings.get(k))}" for k in varying) for g in groups]
    return [label or "all runs" for label in labels]


def claim_table(groups: Sequence[Group]) -> list[tuple[str, str, float, str]]:
    """The claims of a study across its groups, first-seen order: (claim, quantity, threshold, direction)."""
    seen: dict[tuple[str, str], tuple[str, str, float, str]] = {}
    for group in groups:
        for c in group.claims():
            seen.setdefault((c.claim, c.quantity), (c.claim, c.quantity, c.threshold, c.direction))
    return list(seen.values())


def claims_by_key(group: Group) -> Mapping[tuple[str, str], ClaimStats]:
    """A group's claim statistics keyed by (claim, quantity)."""
    return {(c.claim, c.quantity): c for c in group.claims()}
