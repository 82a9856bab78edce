"""Figures: PNG/SVG through matplotlib's non-interactive backend."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402


def draw_separation(ax: Axes, log_d: Sequence[float], slope: float, intercept: float, pearson_r: float,
                    title: str = "") -> None:
    """log D per layer as points, the least-squares line, and r (3 significant digits) in the legend."""
    layers = np.arange(len(log_d))
    ax.plot(layers, log_d, "o", color="tab:blue", label="log D (per layer)")
    if np.isfinite(slope):
        ax.plot(layers, intercept + slope * layers, "-", color="tab:red",
                label=f"fit: r = {pearson_r:.3g}, ρ = {np.exp(slope):.3g}")
    ax.set_xlabel("layer")
    ax.set_ylabel("log D (natural log)")
    ax.set_xticks(layers)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> Path:
    """Lay out ``fig``, write it to ``path`` (its folder made if needed; the suffix picks PNG or SVG), close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_separation(log_d: Sequence[float], slope: float, intercept: float, pearson_r: float,
                    path: str | Path, *, title: str = "") -> Path:
    """Save the separation plot of one run to ``path`` (the suffix picks PNG or SVG)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    draw_separation(ax, log_d, slope, intercept, pearson_r, title)
    return save_figure(fig, path, dpi=120)
