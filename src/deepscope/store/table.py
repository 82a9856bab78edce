"""Plain-text table of runs, as printed by ``deepscope runs``."""
from __future__ import annotations

import os
from typing import Any

import pandas as pd

SHORT_ID = 8        # characters of the run id shown; any unique prefix is accepted back
CONFIG_WIDTH = 48   # characters of the config summary before it is cut with "..."
HEADER = ("id", "study", "status", "seed", "started (UTC)", "wall s", "config")
RIGHT = {"seed", "wall s"}


def _flatten(config: Any, prefix: str = "") -> list[str]:
    """Return ``key=value`` strings of a nested config dict, nested keys joined by dots."""
    if not isinstance(config, dict):
        return [f"{prefix}={config}"]
    parts = []
    for key in sorted(config):
        parts.extend(_flatten(config[key], f"{prefix}.{key}" if prefix else key))
    return parts


def config_summary(config: Any, width: int = CONFIG_WIDTH) -> str:
    """Return a one-line ``key=value ...`` summary of a config, cut to ``width`` characters."""
    text = " ".join(_flatten(config))
    return text if len(text) <= width else text[:width - 3] + "..."


def _cells(run: pd.Series) -> tuple[str, ...]:
    """Return the table cells of one run row."""
    seed = "-" if pd.isna(run["seed"]) else str(int(run["seed"]))
    wall = "-" if pd.isna(run["wall_seconds"]) else f"{run['wall_seconds']:.1f}"
    started = str(run["started_at"])[:16].replace("T", " ")
    return (str(run["id"])[:SHORT_ID], str(run["study"]), str(run["status"]), seed, started, wall,
            config_summary(run["config"]))


def format_runs_table(df: pd.DataFrame, out_dir: str | os.PathLike[str] | None = None) -> str:
    """Return ``Store.runs()`` as an aligned plain-text table, or ``"no runs in <out_dir>"`` when empty.

    Ids are cut to their first 8 characters (a prefix any store query accepts); ``started`` is UTC to the
    minute; ``wall s`` is ``-`` while a run has not ended. A ``running`` run with no live process was
    interrupted.
    """
    if df.empty:
        return f"no runs in {out_dir}" if out_dir is not None else "no runs"
    rows = [HEADER, *(_cells(run) for _, run in df.iterrows())]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if name in RIGHT else cell.ljust(w) for cell, w, name in zip(row, widths, HEADER)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
