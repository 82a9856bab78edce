"""Why a diffusion spectrum and not bins: the toy experiments of the DSE seed (Liao, Liu et al.,
"Assessing neural network representations during training using noise-resilient diffusion spectral
entropy", arXiv 2312.04823, 2023).

Claim: the diffusion spectral entropy DSE and mutual information DSMI follow what they should on data
whose answer is known, where the classic binned Shannon entropy CSE and mutual information CSMI
saturate, and DSE is stable under subsampling.

(a) Manifolds of growing intrinsic dimension d in a fixed ambient dimension D: N points uniform in the
    cube [0, L]^d, L = ``scale``, rotated into R^D by a random isometry (and, beside it, a d = 2 cube
    with Gaussian noise of growing standard deviation in all D coordinates, reported and drawn). DSE
    should grow with d. CSE with b bins per coordinate cannot: a point cloud of intrinsic dimension
    d >= 2 in D > log₂ N coordinates falls into nearly N distinct cells, so CSE ≈ log₂ N whatever d
    (for d = 1 a line crosses at most D(b − 1) cell walls, so CSE <= log₂(D(b − 1) + 1) there).
(b) Mutual information dialled from none to full: N points in K Gaussian clusters in R^D (centres
    N(0, ``scale``²) per coordinate, unit noise), labels equal to the cluster with probability
    ``dependence`` and uniform at random otherwise. DSMI should rise with the dependence; CSMI stays flat
    (every point has its own cell, so conditional and size-matched entropies are both log₂ n_c).
(c) Subsampling: DSE of n = 250 ... points of the embedded MNIST training images (flattened, 28x28,
    pixels in [0, 1]) against its value at the largest n.

Verdicts (thresholds fixed before any run):

- (a) DSE grows with intrinsic dimension: Spearman ρ(d, DSE) >= 0.9 (>= 4 dimensions);
- (a) CSE saturates: at every d >= 2, CSE >= 0.95 log₂ N;
- (b) DSMI rises with the dependence: Spearman ρ(dependence, DSMI) >= 0.9 (>= 4 levels);
- (b) CSMI saturates: its range over the dial is at most 10% of DSMI's;
- (c) DSE is stable under subsampling: every |DSE(n)/DSE(n_max) − 1| <= 0.1 (>= 3 sizes).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.config import ConfigError, setting
from deepscope.data import load_dataset
from deepscope.metrics.entropy import binned_entropy, diffusion_spectral_entropy
from deepscope.metrics.manifolds import embed, hypercube
from deepscope.metrics.mutual_information import (NegativeEstimateWarning, binned_mutual_information,
                                                  diffusion_spectral_mutual_information)
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.bootstrap import spearman
from deepscope.studies.verdict import Evidence, Verdict, check

NAME = "dse-toy"
CLAIM = ("On toy data with a known answer, DSE grows with intrinsic dimension and DSMI with the dependence on the "
         "labels while binned entropy and MI saturate, and DSE is stable under subsampling (Liao, Liu et al. 2023).")
RHO = 0.9              # Spearman rho of DSE with d and of DSMI with the dependence, at least
CSE_SATURATED = 0.95   # CSE / log2 N at every d >= 2, at least
CSMI_FLAT = 0.1        # range of CSMI over the dial / range of DSMI, at most
SUBSAMPLE_BAND = 0.1   # |DSE(n) / DSE(n_max) - 1|, at most
MIN_LEVELS = 4
MIN_SIZES = 3


@dataclass
class DSEToyConfig:
    """The three toy experiments (seconds on a CPU)."""

    n: int = setting(500, "points in experiments (a) and (b)", min=20)
    ambient: int = setting(64, "ambient dimension D of (a) and (b)", min=2)
    dims: list[int] = setting([1, 2, 4, 8, 16, 32], "intrinsic dimensions of (a)", item_min=1, distinct=True)
    noise: list[float] = setting([0.0, 0.5, 1.0, 2.0, 4.0], "noise standard deviations of the d = 2 cloud of (a)",
                                 item_min=0, nonempty=True)
    dependence: list[float] = setting([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "label dependence levels of (b), in [0, 1]",
                                      item_min=0, distinct=True)
    clusters: int = setting(10, "clusters (and label values) of (b)", min=2)
    sizes: list[int] = setting([250, 500, 1000, 2000], "subsample sizes of (c), from the embedded MNIST training "
                                                       "images (at most 4,000)", item_min=20, distinct=True)
    scale: float = setting(10.0, "side of the cubes of (a) and spread of the cluster centres of (b)", gt=0)
    sigma: float = setting(10.0, "Gaussian kernel bandwidth of DSE/DSMI (the seed: 10)", gt=0)
    t: float = setting(1.0, "diffusion time (the seed: 1)", gt=0)
    bins: int = setting(2, "bins per coordinate of CSE/CSMI (the seed: 2)", min=2)
    seed: int = setting(0, "seed of every draw", min=0)


def check_config(config: DSEToyConfig) -> None:
    """The dial is a probability; the dimensions fit the ambient space."""
    if any(q > 1 for q in config.dependence):
        raise ConfigError("dependence", f"levels are probabilities and must lie in [0, 1]; got {config.dependence}")
    if max(config.dims) > config.ambient:
        raise ConfigError("dims", f"go up to {max(config.dims)} but the ambient dimension is {config.ambient}; "
                                  f"pass dims at most --ambient")


@dataclass
class DSEToyResult:
    config: DSEToyConfig
    manifolds: list[dict[str, float]]   # per d: d, dse, cse
    noisy: list[dict[str, float]]       # per noise level: noise, dse, cse
    dial: list[dict[str, float]]        # per dependence: dependence, dsmi, csmi
    subsamples: list[dict[str, float]]  # per size: n, dse, cse
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def column(self, table: str, key: str) -> list[float]:
        return [row[key] for row in getattr(self, table)]

    def summary(self) -> dict[str, Any]:
        return {"manifolds": self.manifolds, "noisy": self.noisy, "dial": self.dial, "subsamples": self.subsamples,
                "config": asdict(self.config), "run_id": self.run_id}


# -- the experiments ---------------------------------------------------------------------------------------

def run(config: DSEToyConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> DSEToyResult:
    """All three experiments; every value recorded in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink), force=force)


def _entropies(config: DSEToyConfig, X: torch.Tensor) -> dict[str, float]:
    return {"dse": diffusion_spectral_entropy(X, config.sigma, config.t, seed=config.seed),
            "cse": binned_entropy(X, config.bins)}


def _cube(config: DSEToyConfig, d: int, seed: int) -> torch.Tensor:
    return embed(config.scale * hypercube(config.n, d, seed=seed), config.ambient, how="rotate", seed=seed + 1)


def _dial(config: DSEToyConfig, dependence: float) -> dict[str, float]:
    """Clustered points and labels that follow the cluster with probability ``dependence``."""
    g = torch.Generator().manual_seed(config.seed)
    centres = config.scale * torch.randn(config.clusters, config.ambient, generator=g, dtype=torch.float64)
    cluster = torch.arange(config.n) % config.clusters
    X = centres[cluster] + torch.randn(config.n, config.ambient, generator=g, dtype=torch.float64)
    follow = torch.rand(config.n, generator=g) < dependence
    labels = torch.where(follow, cluster, torch.randint(config.clusters, (config.n,), generator=g))
    with warnings.catch_warnings():  # a negative binned MI is reported as 0 (see binned_mutual_information)
        warnings.simplefilter("ignore", NegativeEstimateWarning)
        return {"dependence": dependence,
                "dsmi": diffusion_spectral_mutual_information(X, clusters=labels, sigma=config.sigma, t=config.t,
                                                              seed=config.seed),
                "csmi": binned_mutual_information(X, clusters=labels, bins=config.bins, seed=config.seed)}


def _run(config: DSEToyConfig, sink: Run | None) -> DSEToyResult:
    mnist = load_dataset("mnist", split="train").flat().double()
    if max(config.sizes) > len(mnist):
        raise ConfigError("sizes", f"go up to {max(config.sizes)} but the embedded MNIST training split has "
                                   f"{len(mnist)} images")
    manifolds = [{"d": d, **_entropies(config, _cube(config, d, config.seed))} for d in config.dims]
    plane = _cube(config, 2, config.seed)
    noise = torch.randn(plane.shape, generator=torch.Generator().manual_seed(config.seed + 2), dtype=torch.float64)
    noisy = [{"noise": s, **_entropies(config, plane + s * noise)} for s in config.noise]
    dial = [_dial(config, q) for q in config.dependence]
    order = torch.randperm(len(mnist), generator=torch.Generator().manual_seed(config.seed))
    subsamples = [{"n": size, **_entropies(config, mnist[order[:size]])} for size in config.sizes]
    if sink is not None:
        rows = [(0, f"{table}/{key}={row[key]}", name, value, None)
                for table, key, rows_ in (("manifolds", "d", manifolds), ("noisy", "noise", noisy),
                                          ("dial", "dependence", dial), ("subsamples", "n", subsamples))
                for row in rows_ for name, value in row.items() if name != key]
        sink.log_many(rows)
    return DSEToyResult(config, manifolds, noisy, dial, subsamples)


def from_summary(config: DSEToyConfig, summary: dict[str, Any], run_id: str) -> DSEToyResult:
    return DSEToyResult(config, summary["manifolds"], summary["noisy"], summary["dial"], summary["subsamples"],
                        run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def verdict(result: DSEToyResult) -> list[Verdict]:
    c = result.config
    dims, dse = result.column("manifolds", "d"), result.column("manifolds", "dse")
    grows = check("(a) DSE grows with the intrinsic dimension", "Spearman rho(d, DSE)", spearman(dims, dse), RHO,
                  ">=", Evidence(len(dims), MIN_LEVELS, "dimensions", "a trend"))
    above_one = [row["cse"] / math.log2(c.n) for row in result.manifolds if row["d"] >= 2]
    saturates = check("(a) CSE saturates at log2 N for every d >= 2", "smallest CSE / log2 N over d >= 2",
                      min(above_one) if above_one else math.nan, CSE_SATURATED, ">=",
                      Evidence(len(above_one), 1, "dimensions >= 2", "the saturation"))
    levels, dsmi = result.column("dial", "dependence"), result.column("dial", "dsmi")
    csmi = result.column("dial", "csmi")
    rises = check("(b) DSMI rises with the label dependence", "Spearman rho(dependence, DSMI)",
                  spearman(levels, dsmi), RHO, ">=", Evidence(len(levels), MIN_LEVELS, "levels", "a trend"))
    dsmi_range = max(dsmi) - min(dsmi)
    flat = check("(b) CSMI saturates over the dial", "range of CSMI / range of DSMI",
                 (max(csmi) - min(csmi)) / dsmi_range if dsmi_range > 0 else math.nan, CSMI_FLAT, "<=",
                 Evidence(len(levels), MIN_LEVELS, "levels", "a range"))
    sizes, values = result.column("subsamples", "n"), result.column("subsamples", "dse")
    reference = values[int(np.argmax(sizes))]
    worst = max(abs(v / reference - 1) for v in values) if reference > 0 else math.nan
    stable = check("(c) DSE is stable under subsampling", "largest |DSE(n) / DSE(n_max) - 1|", worst,
                   SUBSAMPLE_BAND, "<=", Evidence(len(sizes), MIN_SIZES, "sizes", "a band"))
    return [grows, saturates, rises, flat, stable]


# -- output --------------------------------------------------------------------------------------------------

def _table(title: str, key: str, rows: list[dict[str, float]], columns: tuple[str, ...]) -> list[str]:
    lines = ["", title, f"{key:>10} " + " ".join(f"{col:>8}" for col in columns)]
    lines += [f"{row[key]:>10g} " + " ".join(f"{row[col]:>8.3f}" for col in columns) for row in rows]
    return lines


def report(result: DSEToyResult) -> str:
    c = result.config
    lines = [f"DSE toys: N={c.n} points in D={c.ambient}, sigma {c.sigma:g}, t {c.t:g}, {c.bins} bins per coordinate "
             f"(log2 N = {math.log2(c.n):.3f})"]
    lines += _table(f"(a) cube [0, {c.scale:g}]^d rotated into R^{c.ambient}", "d", result.manifolds, ("dse", "cse"))
    lines += _table("(a) the d = 2 cube with Gaussian noise", "noise", result.noisy, ("dse", "cse"))
    lines += _table(f"(b) {c.clusters} clusters, labels follow the cluster with probability", "dependence",
                    result.dial, ("dsmi", "csmi"))
    lines += _table("(c) embedded MNIST training images, subsampled", "n", result.subsamples, ("dse", "cse"))
    return "\n".join(lines)


def figure(result: DSEToyResult, path: str | Path) -> Path:
    """DSE and CSE (or DSMI and CSMI) against each experiment's dial, one panel per experiment."""
    panels = [("manifolds", "d", ("dse", "cse"), "intrinsic dimension d"),
              ("noisy", "noise", ("dse", "cse"), "noise std (d = 2)"),
              ("dial", "dependence", ("dsmi", "csmi"), "label dependence"),
              ("subsamples", "n", ("dse", "cse"), "points n (MNIST)")]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, (table, key, columns, label) in zip(axes, panels):
        for column in columns:
            ax.plot(result.column(table, key), result.column(table, column), marker="o", label=column.upper())
        ax.set_xlabel(label)
        ax.legend(fontsize=8)
    axes[0].axhline(math.log2(result.config.n), color="grey", ls=":", lw=1)
    axes[0].set_xscale("log", base=2)
    axes[3].set_xscale("log", base=2)
    axes[0].set_ylabel("bits")
    return save_figure(fig, path, dpi=100)


STUDY = Study(
    name=NAME, claim=CLAIM, config=DSEToyConfig,
    presets={
        "quick": Preset("500 points in 64 dimensions: cubes of dimension 1 to 32, a noisy plane, 10 clusters with "
                        "label dependence 0 to 1; MNIST subsamples of 250 to 2,000 images"),
        "paper": Preset("GPU run (or minutes on a CPU): the toy flavours at the seed's scale, 2,000 points and "
                        "MNIST subsamples up to 4,000 (exact spectra of 4,000 x 4,000 kernels)",
                        {"n": 2000, "sizes": [500, 1000, 2000, 4000]}),
        "tiny": Preset("seconds, for tests: 60 points in 16 dimensions",
                       {"n": 60, "ambient": 16, "dims": [1, 2, 4, 8], "noise": [0.0, 1.0],
                        "dependence": [0.0, 0.5, 1.0], "clusters": 3, "sizes": [40, 80, 120]}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary,
    quick_seconds=5, check=check_config,
    below_minimum={"dims": [1, 2], "dependence": [0.0, 1.0], "sizes": [40, 80]},
)
