"""Plain-text views of runs, as printed by ``deepscope runs``: a table of many, or one run whole."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from deepscope.report.plain import text_table

SHORT_ID = 8        # characters of the run id shown; any unique prefix is accepted back
HEADER = ("id", "study", "status", "started (UTC)", "wall s", "verdict", "settings")
RIGHT = ("wall s",)

Defaults = Callable[[str], "Mapping[str, Any] | None"]


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config dict as ``{dotted.key: value}``."""
    if not isinstance(config, dict):
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key in sorted(config):
        flat.update(_flatten(config[key], f"{prefix}.{key}" if prefix else key))
    return flat


def _value(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def changed_settings(config: Mapping[str, Any], defaults: Mapping[str, Any] | None) -> str:
    """``key=value`` for each setting that differs from the study's defaults (all of them if unknown)."""
    flat = _flatten(dict(config))
    base = _flatten(dict(defaults)) if defaults is not None else {}
    parts = [f"{k}={_value(v)}" for k, v in flat.items() if defaults is None or k not in base or base[k] != v]
    return " ".join(parts) if parts else "(defaults)"


def headline(verdicts: Any) -> str:
    """The headline of stored verdicts: the first claim's state and measured value, '+N' for more claims."""
    if not verdicts:
        return "-"
    first = verdicts[0]
    measured = first.get("measured")
    text = f"{first.get('state', '-')} {first.get('quantity', '')} {measured:.4g}" if measured is not None \
        else f"{first.get('state', '-')}"
    return text + (f" (+{len(verdicts) - 1})" if len(verdicts) > 1 else "")


def _cells(run: pd.Series, defaults: Defaults, verdicts: Mapping[str, Any]) -> tuple[str, ...]:
    wall = "-" if pd.isna(run["wall_seconds"]) else f"{run['wall_seconds']:.1f}"
    started = str(run["started_at"])[:16].replace("T", " ")
    return (str(run["id"])[:SHORT_ID], str(run["study"]), str(run["status"]), started, wall,
            headline(verdicts.get(run["id"])), changed_settings(run["config"], defaults(str(run["study"]))))


def format_runs_table(df: pd.DataFrame, out_dir: str | os.PathLike[str] | None = None, *,
                      defaults: Defaults = lambda study: None, verdicts: Mapping[str, Any] | None = None) -> str:
    """``Store.runs()`` as an aligned table, or ``"no runs in <out_dir>"`` when empty.

    Ids are cut to their first 8 characters (a prefix any store query accepts); ``started`` is UTC
    to the minute; ``wall s`` is ``-`` while a run has not ended; ``verdict`` is the headline of
    the stored verdicts; ``settings`` lists what differs from ``defaults(study)`` (the whole
    config when the study is unknown). A ``running`` run with no live process was interrupted.
    """
    if df.empty:
        return f"no runs in {out_dir}" if out_dir is not None else "no runs"
    verdicts = verdicts or {}
    return text_table(HEADER, [_cells(run, defaults, verdicts) for _, run in df.iterrows()], RIGHT)


def format_run(run: Mapping[str, Any], results: Mapping[str, Any], metrics: pd.DataFrame) -> str:
    """One run whole: its record, every setting, the verdicts, the summary and its metrics table."""
    lines = [f"run {run['id']}  study {run['study']}  status {run['status']}",
             f"started {run['started_at']}  ended {run['ended_at'] or '-'}  wall {run['wall_seconds'] or '-'} s",
             f"deepscope {run['deepscope_version']}  torch {run['torch_version']}  python {run['python_version']}"]
    if run.get("error"):
        lines.append(f"error: {run['error']}")
    lines += ["", "settings:"] + [f"  {k} = {_value(v)}" for k, v in _flatten(dict(run["config"])).items()]
    for verdict in results.get("verdicts", []):
        lines.append(f"\nverdict: {verdict.get('state')}: {verdict.get('detail')}")
    summary = results.get("summary")
    if isinstance(summary, dict):
        scalars = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}
        lines += ["", "summary:"] + [f"  {k} = {v}" for k, v in scalars.items()]
    if not metrics.empty:
        lines += ["", f"metrics ({len(metrics)} rows):", metrics.drop(columns="run_id").to_string(index=False)]
    return "\n".join(lines)
