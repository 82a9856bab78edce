"""The aggregate plot of one study: each claim's measured value per configuration, mean ± std over
seeds (each seed's value beside it), with the paper's threshold drawn across."""
from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes

from deepscope.report.aggregate import Group, claim_table, claims_by_key, group_labels
from deepscope.report.figures import plt, save_figure

COLUMNS = 3  # panels per row
_INTERVAL = re.compile(r"within \[([^,\]]+), ([^\]]+)\]")


def draw_threshold(ax: Axes, threshold: float, direction: str) -> None:
    """The claim's threshold: a dashed line at ``threshold``, or the allowed band of an interval claim."""
    band = _INTERVAL.fullmatch(direction)
    if band:
        low, high = (float(v) for v in band.groups())
        ax.axhspan(low, high, color="tab:green", alpha=0.15, label=f"claim: {direction}")
    else:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold: {direction} {threshold:g}")


def _tick(label: str, runs: int) -> str:
    return textwrap.fill(label, 22) + f"\n({runs} run{'s' * (runs != 1)})"


def plot_claims(groups: Sequence[Group], path: str | Path) -> Path | None:
    """Save one panel per claim of ``groups`` (one study's) to ``path``; None when there are no claims.

    A panel shows, per group, the mean of the measured values with a ± one-standard-deviation bar
    (sample std over seeds; none for a single run) and each run's value as a grey dot.
    """
    claims = claim_table(groups)
    if not claims:
        return None
    ticks = [_tick(label, len(g.runs)) for label, g in zip(group_labels(groups), groups)]
    columns = min(COLUMNS, len(claims))
    rows = -(-len(claims) // columns)
    width = max(4.2, 0.9 * len(groups) + 1.5)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, 3.4 * rows), squeeze=False)
    by_group = [claims_by_key(g) for g in groups]
    for ax, (claim, quantity, threshold, direction) in zip(axes.flat, claims):
        measured = [(i, s) for i, s in enumerate(stats.get((claim, quantity)) for stats in by_group)
                    if s is not None and s.n > 0]
        for k, (i, stats) in enumerate(measured):
            ax.plot(np.full(stats.n, i + 0.12), stats.values, ".", color="grey", alpha=0.7, ms=5,
                    label=None if k else "each run")
            ax.errorbar(i, stats.mean, yerr=stats.std if stats.n > 1 else None, fmt="o", color="tab:blue",
                        capsize=4, label=None if k else "mean ± std over seeds")
        if not measured:
            ax.text(0.5, 0.5, "not measured in any run", transform=ax.transAxes, ha="center", color="grey")
        draw_threshold(ax, threshold, direction)
        ax.margins(y=0.15)
        ax.set_title(textwrap.fill(claim, 48), fontsize=8)
        ax.set_ylabel(quantity, fontsize=8)
        ax.set_xticks(range(len(groups)), ticks, fontsize=7, rotation=30 if len(groups) > 3 else 0,
                      ha="right" if len(groups) > 3 else "center")
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.legend(fontsize=7)
    for ax in axes.flat[len(claims):]:
        ax.axis("off")
    return save_figure(fig, path, dpi=90)
